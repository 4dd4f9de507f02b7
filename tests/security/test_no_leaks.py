"""No client command reads a token hash or pushes state.

Every byte a client receives while a game is played through every client
command (answers, errors, ``GameChanged``) is searched for the tokens, their
stored hashes and the event form that carries them.  Names and moves shaped
like JSON stay plain values; a client cannot send a server an answer, a
``GameChanged`` or events.
"""

from __future__ import annotations

import hashlib
import json

from game import protocol as p
from tests.hostile import support
from tests.hostile.ampwire import answer_tag, command_box, connect_raw, encode_box, list_of
from tests.integration.cluster import ALL, Match, error_tag, eventually, new_token, timed_test


def secrets_of(match: Match) -> list[bytes]:
    """The tokens of a game, their stored hashes, and 16-hex-digit pieces of those."""
    found = []
    for seat, player in enumerate(match.players):
        digest = hashlib.sha256(f"{match.id}\0{seat}\0{player.token}".encode()).hexdigest()
        found += [
            player.token.encode(),
            digest.encode(),
            digest[:16].encode(),
            digest[-16:].encode(),
        ]
    return found


@timed_test(60)
async def test_no_reply_carries_a_token_or_its_hash(make_cluster, clients_for):
    cluster = make_cluster()
    await cluster.start_all()
    clients = clients_for(cluster)
    watchers = {i: await connect_raw(cluster[i].port) for i in ALL}
    game = Match(clients, "connect4")
    await game.create()
    for i, watcher in watchers.items():
        assert answer_tag(await watcher.call(b"Watch", game_id=game.id.encode())) == "OK", i
    await game.join()
    alice, bob = game.players
    await game.moves(["4", "5"])
    # Repeats answer the game.
    await clients.game(p.CreateGame, game_id=game.id, kind="connect4", player="alice",
                       token=alice.token)  # fmt: skip
    await clients.game(p.JoinGame, game_id=game.id, version=1, player="bob", token=bob.token)
    game.doc = await clients.game(p.OfferDraw, game_id=game.id, version=game.version,
                                  token=alice.token)  # fmt: skip
    await game.move("4")
    game.doc = await clients.game(p.AcceptDraw, game_id=game.id, version=game.version,
                                  token=bob.token)  # fmt: skip
    assert game.doc["result"] == {"winner": None, "reason": "draw agreed"}
    second = Match(clients, "checkers")
    await second.start()
    second.doc = await clients.game(p.Resign, game_id=second.id, version=second.version,
                                    token=second.players[1].token)  # fmt: skip
    # Errors whose descriptions could quote what they compared.
    for command, arguments in [
        (p.MakeMove, {"game_id": game.id, "version": 3, "move": "4", "token": alice.token}),
        (p.MakeMove, {"game_id": game.id, "version": 99, "move": "4", "token": alice.token}),
        (p.Resign, {"game_id": game.id, "version": game.version, "token": new_token()}),
        (
            p.JoinGame,
            {"game_id": game.id, "version": game.version, "player": "x", "token": alice.token},
        ),
        (
            p.CreateGame,
            {"game_id": game.id, "kind": "connect4", "player": "alice", "token": new_token()},
        ),
        (
            p.MakeMove,
            {
                "game_id": second.id,
                "version": second.version,
                "move": "9-13",
                "token": second.players[0].token,
            },
        ),
    ]:
        answers = await clients.call_each(command, **arguments)
        assert all(error_tag(a) for a in answers.values()), answers
        for answer in answers.values():
            text = f"{answer.value!r} {answer.getErrorMessage()}".encode()
            for secret in secrets_of(game) + secrets_of(second):
                assert secret not in text, (command.__name__, text)
    # Every read.
    reader = await connect_raw(cluster[2].port)
    for name, arguments in [
        (b"Status", {}),
        (b"GetGame", {"game_id": game.id.encode()}),
        (b"SyncGame", {"game_id": game.id.encode()}),
        (b"GetGame", {"game_id": second.id.encode()}),
        (b"ListGames", {}),
        (b"ListGames", {"player": b"alice"}),
        (b"ListGames", {"status": b"finished", "limit": b"1"}),
        (b"ListGames", {"kind": b"checkers", "after": game.id.encode()}),
        (b"Watch", {"game_id": second.id.encode()}),
        (b"Unwatch", {"game_id": second.id.encode()}),
    ]:
        box = await reader.call(name, **arguments)
        assert answer_tag(box) == "OK", (name, box)
    received = {f"watcher {i}": bytes(w.received) for i, w in watchers.items()}
    received["reader"] = bytes(reader.received)
    # The Watch answer, then a GameChanged per change: join, 3 moves, offer, accept.
    assert len(watchers[1].boxes) == 7, watchers[1].boxes
    for who, data in received.items():
        for secret in secrets_of(game) + secrets_of(second):
            assert secret not in data, f"{who} received {secret!r}"
        assert b'"token"' not in data, f"{who} received an event with a token field"
    for connection in [*watchers.values(), reader]:
        connection.abort()


@timed_test(60)
async def test_json_in_names_and_moves_stays_a_value(make_cluster, clients_for):
    cluster = make_cluster()
    await cluster.start_all()
    clients = clients_for(cluster)
    game = Match(clients, "connect4")
    game.players[0].name = 'x","status":"finished","a":"'
    game.players[1].name = '"}]\\u0000'
    await game.start()
    assert game.doc["players"] == [game.players[0].name, game.players[1].name]
    assert game.doc["status"] == "active"
    for move in ['4","moves":["1","1"]', "4\u0000", '{"move":"4"}']:
        answers = await clients.call_each(p.MakeMove, game_id=game.id, version=game.version,
                                          move=move, token=game.players[0].token)  # fmt: skip
        assert {i: error_tag(a) for i, a in answers.items()} == {i: "ILLEGAL_MOVE" for i in ALL}
    listing = await clients.same(p.ListGames, player=game.players[0].name)
    assert [json.loads(s)["players"] for s in listing["games"]] == [game.doc["players"]]
    doc = await clients.game(p.GetGame, game_id=game.id)
    assert doc == game.doc and doc["moves"] == []


@timed_test(60)
async def test_a_client_cannot_push_answers_changes_or_events(make_cluster, clients_for):
    cluster = make_cluster()
    await cluster.start_all()
    clients = clients_for(cluster)
    game = Match(clients, "connect4")
    await game.start()
    before = await support.documents(clients, [game.id])
    statuses = await clients.statuses()
    fake = dict(game.doc, moves=["4", "4", "4"], version=99, status="finished")
    fake_text = json.dumps(fake, sort_keys=True, separators=(",", ":"))
    event = json.dumps({"move": "4", "seat": 0, "token": "0" * 64, "type": "move"})
    connection = await connect_raw(cluster[1].port)
    # A GameChanged sent to a server is an unknown command; so are peer-like pushes.
    for name, arguments in [
        (b"GameChanged", {"game": fake_text.encode()}),
        (b"PeerPush", {"game_id": game.id.encode(), "events": list_of([event])}),
        (b"AdoptGame", {"game_id": game.id.encode(), "events": list_of([event])}),
    ]:
        assert answer_tag(await connection.call(name, **arguments)) == "UNHANDLED", name
    # Peer answers need an authenticated link: a client's PeerEvents gets nothing.
    box = await connection.call(b"PeerEvents", game_id=game.id.encode(), since=b"0", head=b"0" * 64)
    assert answer_tag(box) == "NOT_PEER"
    # An unsolicited answer box is not AMP a server accepts: only this connection closes.
    other = await connect_raw(cluster[1].port)
    other.write(encode_box({b"_answer": b"1", b"game": fake_text.encode()}))
    assert await other.wait_closed(5)
    other = await connect_raw(cluster[1].port)
    other.write(encode_box({b"_error": b"1", b"_error_code": b"X", b"_error_description": b"y"}))
    assert await other.wait_closed(5)
    # Extra arguments are ignored, never stored.
    box = await connection.call(
        b"MakeMove", game_id=game.id.encode(), version=str(game.version).encode(), move=b"4",
        token=game.players[0].token.encode(), events=list_of([event]), game=fake_text.encode(),
        players=b'["mallory","mallory"]',
    )  # fmt: skip
    assert answer_tag(box) == "OK"
    game.doc = json.loads(box[b"game"])
    assert game.doc["moves"] == ["4"] and game.doc["players"] == ["alice", "bob"]
    connection.write(command_box(b"Status", b"last"))
    assert answer_tag(await connection.answer(b"last")) == "OK"
    connection.abort()
    assert json.loads(before[game.id][1]) != game.doc

    async def converged_on_the_move():
        now = await support.documents(clients, [game.id])
        assert all(json.loads(text) == game.doc for text in now[game.id].values()), now
        after = await clients.statuses()
        assert {i: s["clock"] for i, s in after.items()} == {
            i: s["clock"] + 1 for i, s in statuses.items()
        }

    await eventually(converged_on_the_move, timeout=10)
