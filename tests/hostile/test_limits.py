"""Every argument of every command at and past its limit, and commands outside the contract.

One table per argument type (PROTOCOL.md "Identifiers and limits"): values
just inside a limit must not answer ``BAD_REQUEST``; values just past it,
empty where not allowed, invalid UTF-8 or of the wrong type must answer
exactly ``BAD_REQUEST``, and the connection stays open for the next request.
"""

from __future__ import annotations

from game import protocol as p
from tests.hostile import fuzz, support
from tests.hostile.ampwire import answer_tag, command_box, connect_raw, list_of, sleep
from tests.integration.cluster import Match, timed_test

MAX = 2**31 - 1
GAME_IDS = [
    ("a", True),
    ("Z" * 64, True),
    ("a_-9Z", True),
    ("-", True),
    ("a" * 65, False),
    ("", False),
    ("a b", False),
    ("é", False),
    ("a\n", False),
    ("a/b", False),
    ("a.b", False),
    (b"\xff", False),
]
PLAYERS = [
    ("p", True),
    ("x" * 32, True),
    ("😀" * 32, True),
    ("e\u0301" * 16, True),
    ("a b", True),
    ("漢字", True),
    ("x" * 33, False),
    ("😀" * 33, False),
    ("", False),
    (" a", False),
    ("a ", False),
    (" ", False),
    ("a\tb", False),
    ("a\nb", False),
    ("\x00", False),
    ("a\x7f", False),
    ("\u200b", False),
    ("a\u00a0", False),
    ("a\u2028b", False),
    (b"\xc3", False),
    (b"\xed\xa0\x80", False),
]
TOKENS = [
    ("!" * 16, True),
    ("~" * 128, True),
    ("a" * 15, False),
    ("a" * 129, False),
    ("a" * 16 + " ", False),
    ("a" * 16 + "\x7f", False),
    ("é" * 16, False),
    ("", False),
    (b"a" * 16 + b"\xff", False),
]
VERSIONS = [
    ("1", True),
    (str(MAX), True),
    ("0", False),
    (str(MAX + 1), False),
    ("-1", False),
    ("", False),
    ("1.0", False),
    (" 1", False),
    ("+1", False),
    ("0x1", False),
    ("1e3", False),
    ("9" * 21, False),
    (b"\xd9\xa1", False),
]
MOVES = [
    ("", True),
    ("x" * 64, True),
    ("é" * 64, True),
    ("😀" * 64, True),
    ("x" * 65, False),
    ("é" * 65, False),
    (b"\xff", False),
]
SEATS = [("0", True), ("1", True), ("2", False), ("-1", False), ("", False), ("a", False)]
KINDS = [
    ("connect4", True),
    ("reversi", True),
    ("checkers", True),
    ("", False),
    ("Connect4", False),
    ("chess", False),
    ("connect4 ", False),
]
HEX = [
    ("0" * 64, True),
    ("ab" * 32, True),
    ("AB" * 32, False),
    ("0" * 63, False),
    ("0" * 65, False),
    ("g" * 64, False),
]


def with_empty(cases, empty_valid=True):
    return [*(c for c in cases if c[0] != ""), ("", empty_valid)]


ATS = [
    ("0", True),
    (str(2**53), True),
    (str(2**53 + 1), False),
    ("-1", False),
    ("", False),
    ("1.5", False),
    ("1e3", False),
]
CLOCKS = [
    ("", True),
    ("live:10+0", True),
    ("live:10800+180", True),
    ("corr:1", True),
    ("corr:30", True),
    ("live:9+0", False),
    ("live:10801+0", False),
    ("live:300+181", False),
    ("live:0300+5", False),
    ("corr:0", False),
    ("corr:31", False),
    ("corr:03", False),
    ("live:300", False),
    ("blitz", False),
]

TABLE: dict[tuple[str, str], list[tuple[str | bytes, bool]]] = {}
for _name in ("JoinGame", "MakeMove", "Resign", "OfferDraw", "AcceptDraw", "ClaimTimeout"):
    TABLE[_name, "game_id"] = GAME_IDS
    TABLE[_name, "version"] = VERSIONS
    TABLE[_name, "token"] = TOKENS
for _name in ("CreateGame", "JoinGame", "MakeMove", "Resign", "OfferDraw", "AcceptDraw"):
    TABLE[_name, "at"] = ATS
TABLE["ClaimTimeout", "at"] = ATS
TABLE["CreateGame", "clock"] = CLOCKS
for _name in fuzz.OFFER_COMMANDS:
    TABLE[_name, "game_id"] = GAME_IDS
    TABLE[_name, "version"] = VERSIONS
    TABLE[_name, "token"] = TOKENS
TABLE["OfferRematch", "rematch_id"] = GAME_IDS
TABLE["OfferRematch", "rematch_token"] = TOKENS
TABLE["AcceptRematch", "rematch_token"] = TOKENS
TABLE["AcceptRematch", "at"] = ATS
for _name in ("GetGame", "SyncGame", "Watch", "Unwatch", "CreateGame", "PeerEvents", "MoveClocks"):
    TABLE[_name, "game_id"] = GAME_IDS
TABLE.update(
    {
        ("CreateGame", "kind"): KINDS,
        ("CreateGame", "player"): PLAYERS,
        ("CreateGame", "token"): TOKENS,
        ("CreateGame", "seat"): SEATS,
        ("JoinGame", "player"): PLAYERS,
        ("MakeMove", "move"): MOVES,
        ("ListGames", "status"): [
            ("", True),
            ("open", True),
            ("active", True),
            ("finished", True),
            ("OPEN", False),
            ("closed", False),
            (" open", False),
        ],
        ("ListGames", "kind"): with_empty(KINDS),
        ("ListGames", "player"): with_empty(PLAYERS),
        ("ListGames", "limit"): [
            ("1", True),
            ("100", True),
            ("0", False),
            ("101", False),
            ("", False),
            ("-1", False),
        ],
        ("ListGames", "after"): with_empty(GAME_IDS),
        ("PeerHello", "server_id"): [
            ("1", True),
            ("2", True),
            ("3", True),
            ("0", False),
            ("4", False),
            ("", False),
        ],
        ("PeerHello", "nonce"): HEX,
        ("PeerProve", "proof"): HEX,
        ("PeerTree", "prefixes"): [
            (list_of([]), True),
            (list_of(["", "0", "abc"]), True),
            (list_of(["zzzz"] * 300), True),
            (list_of([b"\xff"]), False),
        ],
        ("PeerBucket", "prefix"): [("0000", True), ("", True), ("xyz", True), (b"\xff", False)],
        ("PeerBucket", "after"): with_empty(GAME_IDS),
        ("PeerBuckets", "prefixes"): [
            (list_of([]), True),
            (list_of(["0000", "abcd"]), True),
            (list_of(["zzzz"] * 300), True),
            (list_of([b"\xff"]), False),
        ],
        ("PeerEvents", "since"): [("0", True), (str(MAX), True), ("-1", False), ("", False)],
        ("PeerEvents", "head"): HEX,
        ("PeerHistories", "games"): [
            (list_of([]), True),
            (list_of([f"g1 0 {'0' * 64}", "not a line"]), True),
            (list_of(["zzzz"] * 300), True),
            (list_of([b"\xff"]), False),
        ],
        ("PeerDump", "after"): with_empty(GAME_IDS),
    }
)


def base_arguments(name: str, game: Match) -> dict[str, bytes]:
    token = game.players[0].token.encode()
    values = {
        "game_id": game.id.encode(),
        "version": str(game.version).encode(),
        "token": token,
        "player": b"limits",
        "kind": b"connect4",
        "move": b"4",
        "seat": b"0",
        "status": b"",
        "limit": b"10",
        "after": b"",
        "server_id": b"2",
        "nonce": b"0" * 64,
        "proof": b"0" * 64,
        "prefixes": b"",
        "games": b"",
        "prefix": b"0000",
        "since": b"0",
        "head": b"0" * 64,
        "at": b"0",
        "clock": b"",
        "rematch_id": b"limits-rematch",
        "rematch_token": token,
    }
    return {argument: values[argument] for argument, _ in fuzz.arguments_of(fuzz.COMMANDS[name])}


def test_the_table_covers_every_argument_of_every_command():
    declared = {
        (command.commandName.decode(), name)
        for command in (*p.CLIENT_COMMANDS, *p.PEER_COMMANDS)
        for name, _ in fuzz.arguments_of(command)
    }
    assert declared == set(TABLE)
    # Our table and the fuzzer's oracle agree on every case.
    for (command, argument), cases in TABLE.items():
        for value, valid in cases:
            raw = value.encode() if isinstance(value, str) else value
            assert fuzz.CHECKS[command, argument](raw) == valid, (command, argument, value)


@timed_test(90)
async def test_every_argument_at_and_past_its_limit(make_cluster, clients_for):
    cluster = make_cluster()
    await cluster.start_all()
    clients = clients_for(cluster)
    game = Match(clients, "connect4", "limits-game")
    await game.start()
    connection = await connect_raw(cluster[1].port)
    cases = []
    for (name, argument), values in TABLE.items():
        base = base_arguments(name, game)
        for value, valid in values:
            arguments = dict(base)
            arguments[argument] = value.encode() if isinstance(value, str) else value
            if name == "JoinGame" and valid:
                arguments["game_id"] = b"limits-unknown"  # never join the game itself
            cases.append((name, argument, value, valid, arguments))
        if not dict(fuzz.arguments_of(fuzz.COMMANDS[name]))[argument]:
            missing = {k: v for k, v in base.items() if k != argument}
            cases.append((name, argument, "<missing>", False, missing))
    asks = {}
    for name, argument, value, valid, arguments in cases:
        ask = connection.next_ask()
        connection.write(command_box(name.encode(), ask, **arguments))
        asks[ask] = (name, argument, value, valid)
    wrong = []
    for ask, (name, argument, value, valid) in asks.items():
        box = await connection.answer(ask, timeout=20)
        tag = answer_tag(box)
        allowed = fuzz.answers_for_valid(name, 1) if valid else {"BAD_REQUEST"}
        if tag not in allowed:
            description = box.get(b"_error_description", b"").decode("utf-8", "replace")
            wrong.append(f"{name} {argument}={value!r}: {tag} ({description})")
    assert not wrong, f"{len(wrong)} of {len(asks)} cases answered wrongly:\n" + "\n".join(wrong)
    assert not connection.closed, "the connection was closed"
    assert answer_tag(await connection.call(b"Status")) == "OK"
    print(f"\n{len(asks)} limit cases on {len(TABLE)} arguments")
    connection.abort()
    assert not support.log_problems(cluster[1].log())


@timed_test(60)
async def test_watches_per_connection_stop_at_one_hundred(make_cluster, clients_for):
    cluster = make_cluster()
    await cluster.start_all()
    clients = clients_for(cluster)
    ids = []
    for n in range(101):
        match = Match(clients, "connect4", f"watch-limit-{n:03d}")
        await match.create(servers=(1,))
        ids.append(match.id)
    connection = await connect_raw(cluster[1].port)
    asks = [connection.request(b"Watch", game_id=i.encode()) for i in ids]
    tags = [answer_tag(await connection.answer(ask, 10)) for ask in asks]
    assert tags[:100] == ["OK"] * 100 and tags[100] == "BAD_REQUEST", tags[95:]
    # An Unwatch frees a slot; watching the same game again is not a new watch.
    assert answer_tag(await connection.call(b"Unwatch", game_id=ids[0].encode())) == "OK"
    assert answer_tag(await connection.call(b"Watch", game_id=ids[100].encode())) == "OK"
    assert answer_tag(await connection.call(b"Watch", game_id=ids[100].encode())) == "OK"
    assert answer_tag(await connection.call(b"Watch", game_id=ids[0].encode())) == "BAD_REQUEST"
    assert not connection.closed
    connection.abort()


@timed_test(40)
async def test_requests_without_ask_are_not_answered_and_keep_the_connection(make_cluster):
    cluster = make_cluster()
    await cluster.start_all()
    connection = await connect_raw(cluster[1].port)
    for name, arguments in [
        (b"Status", {}),
        (b"GetGame", {"game_id": b"not a game id"}),
        (b"NoSuchCommand", {}),
        (b"PeerStatus", {}),
        (b"MakeMove", {"game_id": b"x"}),
    ]:
        connection.write(command_box(name, None, **arguments))
    await sleep(0.5)
    assert connection.boxes == []
    assert answer_tag(await connection.call(b"Status")) == "OK"
    connection.abort()
    assert not support.log_problems(cluster[1].log())


@timed_test(40)
async def test_a_non_ascii_command_name_answers_unhandled(make_cluster):
    cluster = make_cluster()
    await cluster.start_all()
    connection = await connect_raw(cluster[1].port)
    box = await connection.call("Stätus".encode())
    assert answer_tag(box) == "UNHANDLED"
    assert answer_tag(await connection.call(b"Status")) == "OK"
    connection.abort()


@timed_test(40)
async def test_amp_start_tls_is_not_a_command(make_cluster):
    cluster = make_cluster()
    await cluster.start_all()
    connection = await connect_raw(cluster[1].port)
    box = await connection.call(b"StartTLS")
    assert answer_tag(box) == "UNHANDLED"
    assert answer_tag(await connection.call(b"Status", timeout=2)) == "OK"
    connection.abort()
