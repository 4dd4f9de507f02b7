"""Connection-level tests of the server: PROTOCOL.md over real AMP boxes.

Every test talks to a :class:`~tests.server.helpers.ServerHarness` (one
server, no peers, sqlite in a temporary directory, a fake clock) through
iosim transports, and checks what a client sees on the wire.
"""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path
from typing import Any, cast

from twisted.internet.defer import fail
from twisted.logger import LogLevel, capturedLogs
from twisted.protocols import amp
from twisted.test.iosim import FakeAddress

from game import errors as wire
from game import protocol as p
from game.server import paging
from game.server.connection import MAX_UNSENT
from game.server.gamelog import EMPTY_HEAD, MOVE, Command, Event, GameLog, canonical_json, decide
from game.server.index import bucket_of, format_children
from game.server.locators import ClientLocator
from game.server.peers import PeerLink, proof
from game.server.replica import event_key
from tests.server.helpers import (
    SECRET,
    TOKEN_A,
    TOKEN_B,
    TOKEN_C,
    WRONG_SECRET,
    Connection,
    ConnectionTestCase,
    ServerHarness,
    authenticate,
    long_checkers_line,
    record_located_responders,
    start_game,
    token_hashes,
)

REVERSI_START = "---------------------------OX------XO--------------------------- X"
CHECKERS_START = "B:W21,22,23,24,25,26,27,28,29,30,31,32:B1,2,3,4,5,6,7,8,9,10,11,12"
ZERO_DIGEST = "0" * 64

#: The game commands that carry a version, with their own extra arguments.
VERSIONED: dict[type[p.Command], dict[str, str]] = {
    p.JoinGame: {"player": "carol"},
    p.MakeMove: {"move": "4"},
    p.Resign: {},
    p.OfferDraw: {},
    p.AcceptDraw: {},
}


def digest_of(documents: list[str]) -> str:
    value = 0
    for document in documents:
        value ^= int.from_bytes(hashlib.sha256(document.encode()).digest(), "big")
    return f"{value:064x}"


class WireCase(ConnectionTestCase):
    """A serving server and one client connection, ``self.conn``."""

    serving = True
    tuning: dict[str, Any] = {}

    def setUp(self) -> None:
        self.server = ServerHarness(self, serving=self.serving, **self.tuning)
        self.conn = self.server.connect()

    def move(
        self, version: int, move: str, token: str = TOKEN_A, game_id: str = "g1"
    ) -> dict[str, Any]:
        return self.game(
            self.conn.call(p.MakeMove, game_id=game_id, version=version, move=move, token=token)
        )

    def status(self, connection: Connection | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = self.successResultOf((connection or self.conn).call(p.Status))
        return answer

    def assert_served(self, connection: Connection | None = None) -> None:
        """The connection is open and still answers a normal request."""
        connection = connection or self.conn
        self.assertTrue(connection.open, "the server closed the connection")
        self.assertEqual(self.status(connection)["server_id"], 1)


# -- client commands ------------------------------------------------------------------


class StatusTests(WireCase):
    def test_empty_server(self) -> None:
        self.assertEqual(
            self.status(),
            {
                "server_id": 1,
                "clock": 0,
                "games": 0,
                "serving": True,
                "protocol": 2,
                "digest": ZERO_DIGEST,
                "now": 0,
            },
        )

    def test_clock_games_and_digest(self) -> None:
        start_game(self, self.conn, "g1")
        self.game(
            self.conn.call(p.CreateGame, game_id="g2", kind="reversi", player="x", token=TOKEN_C)
        )
        self.move(2, "4")
        documents = [
            self.successResultOf(self.conn.call(p.GetGame, game_id=game_id))["game"]
            for game_id in ("g1", "g2")
        ]
        status = self.status()
        self.assertEqual((status["clock"], status["games"]), (3 + 1, 2))
        self.assertEqual(status["digest"], digest_of(documents))

    def test_reads_and_refused_commands_leave_the_clock(self) -> None:
        start_game(self, self.conn)
        before = self.status()
        self.successResultOf(self.conn.call(p.GetGame, game_id="g1"))
        self.successResultOf(self.conn.call(p.SyncGame, game_id="g1"))
        self.successResultOf(self.conn.call(p.ListGames))
        self.successResultOf(self.conn.call(p.Watch, game_id="g1"))
        self.wire_error(
            self.conn.call(p.MakeMove, game_id="g1", version=2, move="9", token=TOKEN_A),
            wire.IllegalMoveError,
        )
        self.wire_error(self.conn.call(p.GetGame, game_id="nosuch"), wire.UnknownGame)
        self.assertEqual(self.status(), before)

    def test_now_is_the_wall_clock_in_ms(self) -> None:
        self.server.clock.rightNow = 1_700_000_000.25  # no timers run
        self.assertEqual(self.status()["now"], 1_700_000_000_250)
        self.server.node.clock_offset_ms = -1500
        self.assertEqual(self.status()["now"], 1_699_999_998_750)

    def test_extra_keys_are_ignored(self) -> None:
        answer = self.successResultOf(self.conn.call_raw(b"Status", whatever=b"\xff\x00"))
        self.assertEqual((answer[b"serving"], answer[b"protocol"]), (b"True", b"2"))


class NonServingStatusTests(ConnectionTestCase):
    def test_status_answers_serving_false(self) -> None:
        server = ServerHarness(self, server_id=2, serving=False)
        answer = self.successResultOf(server.connect().call(p.Status))
        self.assertEqual(
            answer,
            {
                "server_id": 2,
                "clock": 0,
                "games": 0,
                "serving": False,
                "protocol": 2,
                "digest": ZERO_DIGEST,
                "now": 0,
            },
        )


class CreateGameTests(WireCase):
    def create(self, **kwargs: Any) -> Any:
        arguments = {"game_id": "g1", "kind": "connect4", "player": "alice", "token": TOKEN_A}
        arguments.update(kwargs)
        return self.conn.call(p.CreateGame, **arguments)

    def test_the_creator_takes_seat_0(self) -> None:
        self.assertEqual(
            self.game(self.create()),
            {
                "id": "g1",
                "kind": "connect4",
                "version": 1,
                "status": "open",
                "players": ["alice", None],
                "to_move": None,
                "moves": [],
                "position": "",
                "legal": [],
                "draw_offer": None,
                "result": None,
            },
        )

    def test_seat_1(self) -> None:
        self.assertEqual(self.game(self.create(seat=1))["players"], [None, "alice"])
        joined = self.game(
            self.conn.call(p.JoinGame, game_id="g1", version=1, player="bobby", token=TOKEN_B)
        )
        self.assertEqual(joined["players"], ["bobby", "alice"])
        self.assertEqual((joined["status"], joined["to_move"]), ("active", 0))

    def test_start_positions_and_first_moves(self) -> None:
        for kind, position, legal in [
            ("reversi", REVERSI_START, ["c4", "d3", "e6", "f5"]),
            ("checkers", CHECKERS_START, ["10-14", "10-15", "11-15", "11-16", "12-16", "9-13",
                                          "9-14"]),
            ("connect4", "", ["1", "2", "3", "4", "5", "6", "7"]),
        ]:  # fmt: skip
            document = start_game(self, self.conn, f"start-{kind}", kind)
            self.assertEqual((document["kind"], document["position"]), (kind, position))
            self.assertEqual(document["legal"], legal)

    def test_answer_is_canonical_json(self) -> None:
        text = self.successResultOf(self.create(player="Zoë ☃"))["game"]
        document = json.loads(text)
        self.assertEqual(text, canonical_json(document))
        self.assertIn("Zoë ☃", text)

    def test_repeated_creation_answers_the_current_game(self) -> None:
        start_game(self, self.conn)
        self.move(2, "4")
        again = self.game(self.create())
        self.assertEqual((again["version"], again["moves"]), (3, ["4"]))

    def test_game_exists(self) -> None:
        self.game(self.create())
        for change in [
            {"kind": "reversi"},
            {"player": "alicia"},
            {"seat": 1},
            {"token": TOKEN_C},
        ]:
            self.wire_error(self.create(**change), wire.GameExists)
        self.assertEqual(self.status()["clock"], 1)


class JoinGameTests(WireCase):
    def join(self, version: int, token: str = TOKEN_B, game_id: str = "g1") -> Any:
        return self.conn.call(
            p.JoinGame, game_id=game_id, version=version, player="bobby", token=token
        )

    def test_join_takes_the_free_seat(self) -> None:
        self.game(
            self.conn.call(p.CreateGame, game_id="g1", kind="connect4", player="al", token=TOKEN_A)
        )
        document = self.game(self.join(1))
        self.assertEqual(document["players"], ["al", "bobby"])
        self.assertEqual((document["version"], document["status"]), (2, "active"))
        self.assertEqual(document["to_move"], 0)
        self.assertEqual(document["legal"], ["1", "2", "3", "4", "5", "6", "7"])

    def test_repeated_join_answers_the_current_game(self) -> None:
        start_game(self, self.conn)
        self.move(2, "4")
        self.assertEqual(self.game(self.join(1))["version"], 3)

    def test_game_full(self) -> None:
        start_game(self, self.conn)
        self.wire_error(self.join(2, TOKEN_C), wire.GameFull)

    def test_game_over(self) -> None:
        self.game(
            self.conn.call(p.CreateGame, game_id="g1", kind="connect4", player="al", token=TOKEN_A)
        )
        self.game(self.conn.call(p.Resign, game_id="g1", version=1, token=TOKEN_A))
        self.wire_error(self.join(2), wire.GameIsOver)

    def test_a_seated_token_cannot_join(self) -> None:
        self.game(
            self.conn.call(p.CreateGame, game_id="g1", kind="connect4", player="al", token=TOKEN_A)
        )
        self.wire_error(self.join(1, TOKEN_A), wire.BadToken)


class VersionedCommandErrorTests(WireCase):
    """UNKNOWN_GAME, STALE_VERSION, BEHIND, BAD_TOKEN, GAME_OVER for every
    command that carries a version."""

    def call(self, command: type[p.Command], game_id: str, version: int, token: str) -> Any:
        return self.conn.call(
            command, game_id=game_id, version=version, token=token, **VERSIONED[command]
        )

    def test_unknown_game(self) -> None:
        for command in VERSIONED:
            self.wire_error(self.call(command, "nosuch", 1, TOKEN_A), wire.UnknownGame)

    def test_stale_version_names_the_current_version(self) -> None:
        for command in VERSIONED:
            game_id = f"stale-{command.__name__}"
            start_game(self, self.conn, game_id)
            self.move(2, "1", game_id=game_id)
            # Version 1 holds bobby's join: none of these repeats it.
            error = self.wire_error(self.call(command, game_id, 1, TOKEN_C), wire.StaleVersion)
            self.assertEqual(error.args[0], "current version 3", command.__name__)
            # And byte for byte on the wire:
            last = self.conn.received_boxes()[-1]
            self.assertEqual(last[b"_error_code"], b"STALE_VERSION")
            self.assertEqual(last[b"_error_description"], b"current version 3")

    def test_behind(self) -> None:
        for command in VERSIONED:
            game_id = f"behind-{command.__name__}"
            start_game(self, self.conn, game_id)
            for version in (3, p.MAX_VERSION):
                self.wire_error(self.call(command, game_id, version, TOKEN_A), wire.Behind)

    def test_bad_token(self) -> None:
        for command in VERSIONED:
            game_id = f"token-{command.__name__}"
            start_game(self, self.conn, game_id)
            # Joining with a seated token; anything else with a stranger's.
            token = TOKEN_A if command is p.JoinGame else TOKEN_C
            self.wire_error(self.call(command, game_id, 2, token), wire.BadToken)

    def test_game_over(self) -> None:
        for command in VERSIONED:
            game_id = f"over-{command.__name__}"
            start_game(self, self.conn, game_id)
            self.game(self.conn.call(p.Resign, game_id=game_id, version=2, token=TOKEN_A))
            token = TOKEN_C if command is p.JoinGame else TOKEN_B
            self.wire_error(self.call(command, game_id, 3, token), wire.GameIsOver)


class MakeMoveTests(WireCase):
    def test_a_move_applies(self) -> None:
        start_game(self, self.conn)
        document = self.move(2, "4")
        self.assertEqual(document["version"], 3)
        self.assertEqual((document["moves"], document["position"]), (["4"], "4"))
        self.assertEqual(document["to_move"], 1)

    def test_repeats_answer_the_current_game(self) -> None:
        start_game(self, self.conn)
        self.move(2, "4")
        self.assertEqual(self.move(2, "4")["version"], 3)
        self.move(3, "4", TOKEN_B)
        self.assertEqual(self.move(2, "4")["version"], 4)
        # Not a repeat: another move at that version.
        error = self.wire_error(
            self.conn.call(p.MakeMove, game_id="g1", version=2, move="3", token=TOKEN_A),
            wire.StaleVersion,
        )
        self.assertEqual(error.args[0], "current version 4")

    def test_not_your_turn(self) -> None:
        start_game(self, self.conn)
        self.wire_error(
            self.conn.call(p.MakeMove, game_id="g1", version=2, move="4", token=TOKEN_B),
            wire.NotYourTurn,
        )

    def test_not_your_turn_on_an_open_game(self) -> None:
        self.game(
            self.conn.call(p.CreateGame, game_id="g1", kind="connect4", player="al", token=TOKEN_A)
        )
        self.wire_error(
            self.conn.call(p.MakeMove, game_id="g1", version=1, move="4", token=TOKEN_A),
            wire.NotYourTurn,
        )

    def test_illegal_move(self) -> None:
        start_game(self, self.conn)
        for move in ("8", "0", "", "pass", "4 ", "x" * 64):
            self.wire_error(
                self.conn.call(p.MakeMove, game_id="g1", version=2, move=move, token=TOKEN_A),
                wire.IllegalMoveError,
            )
        self.assertEqual(self.status()["clock"], 2)

    def test_a_win_ends_the_game(self) -> None:
        start_game(self, self.conn)
        for version, column in enumerate("1212121", start=2):
            document = self.move(version, column, (TOKEN_A, TOKEN_B)[version % 2])
        self.assertEqual(document["status"], "finished")
        self.assertEqual(document["result"], {"winner": 0, "reason": "four in a row"})
        self.assertEqual((document["to_move"], document["legal"]), (None, []))


class ResignTests(WireCase):
    def test_resigning_an_active_game(self) -> None:
        start_game(self, self.conn)
        document = self.game(self.conn.call(p.Resign, game_id="g1", version=2, token=TOKEN_B))
        self.assertEqual(document["status"], "finished")
        self.assertEqual(document["result"], {"winner": 0, "reason": "resigned"})
        self.assertEqual(document["version"], 3)

    def test_resigning_an_open_game_cancels_it(self) -> None:
        self.game(
            self.conn.call(p.CreateGame, game_id="g1", kind="reversi", player="al", token=TOKEN_A)
        )
        document = self.game(self.conn.call(p.Resign, game_id="g1", version=1, token=TOKEN_A))
        self.assertEqual(document["result"], {"winner": None, "reason": "cancelled"})
        self.assertEqual(document["status"], "finished")


class DrawTests(WireCase):
    def offer(self, version: int, token: str = TOKEN_A) -> Any:
        return self.conn.call(p.OfferDraw, game_id="g1", version=version, token=token)

    def accept(self, version: int, token: str = TOKEN_B) -> Any:
        return self.conn.call(p.AcceptDraw, game_id="g1", version=version, token=token)

    def test_offer_move_accept(self) -> None:
        start_game(self, self.conn)
        self.assertEqual(self.game(self.offer(2))["draw_offer"], 0)
        self.assertEqual(self.move(3, "4")["draw_offer"], 0)  # the offer stands
        document = self.game(self.accept(4))
        self.assertEqual(document["result"], {"winner": None, "reason": "draw agreed"})
        self.assertEqual((document["status"], document["draw_offer"]), ("finished", None))

    def test_a_move_of_the_opponent_declines(self) -> None:
        start_game(self, self.conn)
        self.game(self.offer(2))
        self.move(3, "4")
        self.assertIsNone(self.move(4, "4", TOKEN_B)["draw_offer"])

    def test_draw_pending(self) -> None:
        start_game(self, self.conn)
        self.game(self.offer(2))
        self.wire_error(self.offer(3), wire.DrawPending)

    def test_offer_out_of_turn(self) -> None:
        start_game(self, self.conn)
        self.wire_error(self.offer(2, TOKEN_B), wire.NotYourTurn)

    def test_offer_on_an_open_game(self) -> None:
        self.game(
            self.conn.call(p.CreateGame, game_id="g1", kind="connect4", player="al", token=TOKEN_A)
        )
        self.wire_error(self.offer(1), wire.NotYourTurn)

    def test_no_draw_offer(self) -> None:
        start_game(self, self.conn)
        self.wire_error(self.accept(2, TOKEN_A), wire.NoDrawOffer)
        # Nor can a seat accept its own offer.
        self.game(self.offer(2))
        self.wire_error(self.accept(3, TOKEN_A), wire.NoDrawOffer)

    def test_accept_out_of_turn(self) -> None:
        start_game(self, self.conn)
        self.game(self.offer(2))
        self.wire_error(self.accept(3, TOKEN_B), wire.NotYourTurn)

    def test_accept_on_an_open_game(self) -> None:
        self.game(
            self.conn.call(p.CreateGame, game_id="g1", kind="connect4", player="al", token=TOKEN_A)
        )
        self.wire_error(self.accept(1, TOKEN_A), wire.NotYourTurn)


class ReadTests(WireCase):
    def test_get_game_answers_the_last_document(self) -> None:
        start_game(self, self.conn)
        moved = self.successResultOf(
            self.conn.call(p.MakeMove, game_id="g1", version=2, move="3", token=TOKEN_A)
        )
        self.assertEqual(self.successResultOf(self.conn.call(p.GetGame, game_id="g1")), moved)

    def test_sync_game_answers_the_document(self) -> None:
        start_game(self, self.conn)
        get = self.successResultOf(self.conn.call(p.GetGame, game_id="g1"))
        self.assertEqual(self.successResultOf(self.conn.call(p.SyncGame, game_id="g1")), get)

    def test_unknown_game(self) -> None:
        for command in (p.GetGame, p.SyncGame, p.Watch):
            self.wire_error(self.conn.call(command, game_id="nosuch"), wire.UnknownGame)


class ListGamesTests(WireCase):
    def list(self, **kwargs: Any) -> tuple[list[dict[str, Any]], str]:
        answer = self.successResultOf(self.conn.call(p.ListGames, **kwargs))
        for summary in answer["games"]:
            self.assertEqual(summary, canonical_json(json.loads(summary)))
        return [json.loads(text) for text in answer["games"]], answer["next"]

    def ids(self, **kwargs: Any) -> tuple[list[str], str]:
        games, cursor = self.list(**kwargs)
        return [game["id"] for game in games], cursor

    def test_empty(self) -> None:
        self.assertEqual(self.list(), ([], ""))

    def test_summaries_sorted_by_id(self) -> None:
        start_game(self, self.conn, "c", "checkers")
        self.game(
            self.conn.call(p.CreateGame, game_id="a", kind="reversi", player="ann", token=TOKEN_C)
        )
        start_game(self, self.conn, "b")
        self.move(2, "4", game_id="b")
        games, cursor = self.list()
        self.assertEqual(
            games,
            [
                {"id": "a", "kind": "reversi", "status": "open", "players": ["ann", None],
                 "version": 1},
                {"id": "b", "kind": "connect4", "status": "active",
                 "players": ["alice", "bobby"], "version": 3},
                {"id": "c", "kind": "checkers", "status": "active",
                 "players": ["alice", "bobby"], "version": 2},
            ],
        )  # fmt: skip
        self.assertEqual(cursor, "")

    def test_filters(self) -> None:
        start_game(self, self.conn, "active1")
        start_game(self, self.conn, "finished1", "reversi")
        self.game(self.conn.call(p.Resign, game_id="finished1", version=2, token=TOKEN_A))
        self.game(
            self.conn.call(
                p.CreateGame, game_id="open1", kind="reversi", player="carol", token=TOKEN_C
            )
        )
        self.assertEqual(self.ids(status="open"), (["open1"], ""))
        self.assertEqual(self.ids(status="active"), (["active1"], ""))
        self.assertEqual(self.ids(status="finished"), (["finished1"], ""))
        self.assertEqual(self.ids(kind="reversi"), (["finished1", "open1"], ""))
        self.assertEqual(self.ids(kind="reversi", status="open"), (["open1"], ""))
        self.assertEqual(self.ids(player="bobby"), (["active1", "finished1"], ""))
        self.assertEqual(self.ids(player="carol"), (["open1"], ""))
        self.assertEqual(self.ids(player="bob"), ([], ""))
        everything = (["active1", "finished1", "open1"], "")
        self.assertEqual(self.ids(status="", kind="", player="", after=""), everything)

    def test_paging(self) -> None:
        for game_id in "edcba":
            self.server.seed_game(game_id, join=False)
        self.assertEqual(self.ids(limit=2), (["a", "b"], "b"))
        self.assertEqual(self.ids(limit=2, after="b"), (["c", "d"], "d"))
        self.assertEqual(self.ids(limit=2, after="d"), (["e"], ""))
        self.assertEqual(self.ids(limit=5), (["a", "b", "c", "d", "e"], ""))
        self.assertEqual(self.ids(limit=1, after="bb"), (["c"], "c"))
        self.assertEqual(self.ids(after="e"), ([], ""))

    def test_default_limit_is_50(self) -> None:
        ids = [f"game{n:03}" for n in range(55)]
        for game_id in ids:
            self.server.replica.create(game_id, "connect4", "alice", 0, TOKEN_A)
        self.server.settle()
        self.assertEqual(self.ids(), (ids[:50], ids[49]))
        self.assertEqual(self.ids(limit=100), (ids, ""))


# -- serving, and the order of checks ------------------------------------------------


class NotServingTests(WireCase):
    serving = False

    def test_every_command_but_status(self) -> None:
        calls: list[tuple[type[p.Command], dict[str, Any]]] = [
            (p.CreateGame, {"game_id": "g1", "kind": "connect4", "player": "a", "token": TOKEN_A}),
            (p.JoinGame, {"game_id": "g1", "version": 1, "player": "b", "token": TOKEN_B}),
            (p.MakeMove, {"game_id": "g1", "version": 2, "move": "4", "token": TOKEN_A}),
            (p.Resign, {"game_id": "g1", "version": 2, "token": TOKEN_A}),
            (p.OfferDraw, {"game_id": "g1", "version": 2, "token": TOKEN_A}),
            (p.AcceptDraw, {"game_id": "g1", "version": 2, "token": TOKEN_A}),
            (p.GetGame, {"game_id": "g1"}),
            (p.SyncGame, {"game_id": "g1"}),
            (p.ListGames, {}),
            (p.Watch, {"game_id": "g1"}),
        ]
        for command, arguments in calls:
            self.wire_error(self.conn.call(command, **arguments), wire.NotServing)
            self.assertTrue(self.conn.open, command.__name__)
        self.assertFalse(self.status()["serving"])

    def test_unwatch(self) -> None:
        # PROTOCOL.md: every command but Status may answer NOT_SERVING.
        self.wire_error(self.conn.call(p.Unwatch, game_id="g1"), wire.NotServing)

    def test_a_refused_watch_registers_nothing(self) -> None:
        self.wire_error(self.conn.call(p.Watch, game_id="g1"), wire.NotServing)
        self.assertEqual((self.server.node.watchers, self.conn.protocol.watching), ({}, set()))


class CheckOrderTests(WireCase):
    """PROTOCOL.md: BAD_REQUEST, NOT_SERVING, UNKNOWN_GAME, repeat, STALE_VERSION,
    BEHIND, BAD_TOKEN, GAME_OVER, GAME_FULL, NOT_YOUR_TURN, DRAW_PENDING,
    NO_DRAW_OFFER, ILLEGAL_MOVE."""

    def call(self, command: type[p.Command], **arguments: Any) -> Any:
        return self.conn.call(command, **arguments)

    def finished_game(self, game_id: str = "g1") -> None:
        """alice (seat 0) resigned after 4 moves: version 7, finished."""
        start_game(self, self.conn, game_id)
        for version, column in enumerate("1234", start=2):
            self.move(version, column, (TOKEN_A, TOKEN_B)[version % 2], game_id)
        self.game(self.call(p.Resign, game_id=game_id, version=6, token=TOKEN_A))

    def test_bad_request_before_not_serving(self) -> None:
        server = ServerHarness(self, serving=False)
        conn = server.connect()
        error = self.raw_error(
            conn.call_raw(
                b"MakeMove", game_id=b"g1", version=b"0", move=b"4", token=TOKEN_A.encode()
            )
        )
        self.assertEqual(error.errorCode, b"BAD_REQUEST")
        self.wire_error(
            conn.call(p.MakeMove, game_id="g1", version=1, move="4", token=TOKEN_A),
            wire.NotServing,
        )

    def test_bad_request_before_unknown_game(self) -> None:
        error = self.raw_error(
            self.conn.call_raw(
                b"MakeMove", game_id=b"nosuch", version=b"1", move=b"4" * 65, token=b"short"
            )
        )
        self.assertEqual(error.errorCode, b"BAD_REQUEST")

    def test_unknown_game_before_the_rest(self) -> None:
        self.wire_error(
            self.call(p.MakeMove, game_id="nosuch", version=99, move="zz", token=TOKEN_C),
            wire.UnknownGame,
        )

    def test_repeat_before_stale_version_and_game_over(self) -> None:
        self.finished_game()
        # The move at version 2 and the resignation at version 6, both repeated.
        self.assertEqual(self.move(2, "1")["version"], 7)
        document = self.game(self.call(p.Resign, game_id="g1", version=6, token=TOKEN_A))
        self.assertEqual((document["version"], document["status"]), (7, "finished"))

    def test_stale_version_before_bad_token_and_game_over(self) -> None:
        self.finished_game()
        error = self.wire_error(
            self.call(p.MakeMove, game_id="g1", version=3, move="9", token=TOKEN_C),
            wire.StaleVersion,
        )
        self.assertEqual(error.args[0], "current version 7")

    def test_behind_before_bad_token_and_game_over(self) -> None:
        self.finished_game()
        self.wire_error(
            self.call(p.MakeMove, game_id="g1", version=8, move="9", token=TOKEN_C), wire.Behind
        )

    def test_bad_token_before_game_over(self) -> None:
        self.finished_game()
        self.wire_error(
            self.call(p.MakeMove, game_id="g1", version=7, move="9", token=TOKEN_C), wire.BadToken
        )
        self.wire_error(
            self.call(p.JoinGame, game_id="g1", version=7, player="al", token=TOKEN_A),
            wire.BadToken,
        )

    def test_bad_token_before_game_full(self) -> None:
        start_game(self, self.conn)
        self.wire_error(
            self.call(p.JoinGame, game_id="g1", version=2, player="b", token=TOKEN_B), wire.BadToken
        )

    def test_game_over_before_game_full(self) -> None:
        self.finished_game()
        self.wire_error(
            self.call(p.JoinGame, game_id="g1", version=7, player="c", token=TOKEN_C),
            wire.GameIsOver,
        )

    def test_game_over_before_not_your_turn_and_illegal_move(self) -> None:
        self.finished_game()
        for token in (TOKEN_A, TOKEN_B):
            self.wire_error(
                self.call(p.MakeMove, game_id="g1", version=7, move="9", token=token),
                wire.GameIsOver,
            )
            self.wire_error(
                self.call(p.AcceptDraw, game_id="g1", version=7, token=token), wire.GameIsOver
            )

    def test_not_your_turn_before_draw_pending(self) -> None:
        start_game(self, self.conn)
        self.game(self.call(p.OfferDraw, game_id="g1", version=2, token=TOKEN_A))
        self.wire_error(
            self.call(p.OfferDraw, game_id="g1", version=3, token=TOKEN_B), wire.NotYourTurn
        )

    def test_not_your_turn_before_no_draw_offer(self) -> None:
        start_game(self, self.conn)
        self.wire_error(
            self.call(p.AcceptDraw, game_id="g1", version=2, token=TOKEN_B), wire.NotYourTurn
        )

    def test_not_your_turn_before_illegal_move(self) -> None:
        start_game(self, self.conn)
        self.wire_error(
            self.call(p.MakeMove, game_id="g1", version=2, move="9", token=TOKEN_B),
            wire.NotYourTurn,
        )


# -- malformed input -------------------------------------------------------------------

TA, TC = TOKEN_A.encode(), TOKEN_C.encode()
#: A well-formed request of every command with arguments (raw AMP values).
WELL_FORMED: dict[bytes, dict[str, bytes]] = {
    b"CreateGame": {"game_id": b"new1", "kind": b"connect4", "player": b"carol", "token": TC},
    b"JoinGame": {"game_id": b"g1", "version": b"2", "player": b"carol", "token": TC},
    b"MakeMove": {"game_id": b"g1", "version": b"2", "move": b"4", "token": TA},
    b"Resign": {"game_id": b"g1", "version": b"2", "token": TA},
    b"OfferDraw": {"game_id": b"g1", "version": b"2", "token": TA},
    b"AcceptDraw": {"game_id": b"g1", "version": b"2", "token": TA},
    b"GetGame": {"game_id": b"g1"},
    b"SyncGame": {"game_id": b"g1"},
    b"Watch": {"game_id": b"g1"},
    b"Unwatch": {"game_id": b"g1"},
    b"ListGames": {},
}

#: (command, argument, bad raw value): each must answer BAD_REQUEST.
MALFORMED: list[tuple[bytes, str, bytes]] = [
    # wrong type
    *[(b"MakeMove", "version", v) for v in (b"abc", b"1.5", b"", b" 2", b"2 ", b"0x2", b"+2")],
    (b"CreateGame", "seat", b"one"),
    (b"CreateGame", "seat", b""),
    (b"ListGames", "limit", b"ten"),
    # Integer out of range
    *[(b"MakeMove", "version", v) for v in (b"0", b"-1", b"2147483648", b"9" * 25)],
    (b"JoinGame", "version", b"0"),
    (b"Resign", "version", b"2147483648"),
    (b"CreateGame", "seat", b"2"),
    (b"CreateGame", "seat", b"-1"),
    (b"ListGames", "limit", b"0"),
    (b"ListGames", "limit", b"101"),
    # invalid UTF-8
    (b"GetGame", "game_id", b"g\xff"),
    (b"CreateGame", "player", b"\xc3("),
    (b"CreateGame", "token", b"\xff" * 16),
    (b"CreateGame", "kind", b"\xff"),
    (b"MakeMove", "move", b"\x80"),
    *[(b"ListGames", key, b"\xfe") for key in ("status", "kind", "player", "after")],
    # game_id
    *[(b"GetGame", "game_id", v) for v in (b"bad id", b"a/b", "é".encode(), b"x" * 65, b"",
                                           b"a\x00", b"g1\n")],
    (b"CreateGame", "game_id", b"x" * 65),
    # player
    *[(b"CreateGame", "player", v) for v in (b" alice", b"alice ", b"x" * 33, b"al\x07ice",
                                             b"", b"a\nb", "a\u200bb".encode(), b" ")],
    (b"JoinGame", "player", b"\x1b[31m"),
    # token
    *[(b"MakeMove", "token", v) for v in (b"x" * 15, b"with space 0123456789",
                                          ("é" * 16).encode(), b"x" * 129,
                                          b"abcdefgh\x7fijklmnop", b"")],
    # move, kind, ListGames status
    (b"MakeMove", "move", b"4" * 65),
    *[(b"CreateGame", "kind", v) for v in (b"chess", b"Connect4", b"")],
    *[(b"ListGames", "status", v) for v in (b"closed", b"OPEN", b"open ")],
    (b"ListGames", "kind", b"chess"),
    (b"ListGames", "player", b" x"),
    (b"ListGames", "after", b"bad id"),
]  # fmt: skip


class MalformedRequestTests(WireCase):
    def setUp(self) -> None:
        super().setUp()
        start_game(self, self.conn)
        self.document = self.successResultOf(self.conn.call(p.GetGame, game_id="g1"))

    def assert_bad_request(self, name: bytes, arguments: dict[str, bytes]) -> None:
        error = self.raw_error(self.conn.call_raw(name, **arguments))
        self.assertEqual(error.errorCode, b"BAD_REQUEST", (name, arguments))
        self.assertTrue(self.conn.open, (name, arguments))
        # The same connection still serves a normal request.
        self.assertEqual(
            self.successResultOf(self.conn.call(p.GetGame, game_id="g1")), self.document
        )

    def test_every_well_formed_request_is_answered(self) -> None:
        # The baseline of the tests below: none of these is a BAD_REQUEST.
        for number, (name, arguments) in enumerate(WELL_FORMED.items()):
            game_id = f"fresh{number}"
            if name != b"CreateGame":
                start_game(self, self.conn, game_id)
            result = self.conn.call_raw(name, **{**arguments, "game_id": game_id.encode()})
            expected = {b"JoinGame": b"GAME_FULL", b"AcceptDraw": b"NO_DRAW_OFFER"}.get(name)
            if expected is None:
                self.successResultOf(result)
            else:
                self.assertEqual(self.raw_error(result).errorCode, expected)

    def test_missing_arguments(self) -> None:
        for name, arguments in WELL_FORMED.items():
            for key in arguments:
                rest = {k: v for k, v in arguments.items() if k != key}
                self.assert_bad_request(name, rest)

    def test_malformed_values(self) -> None:
        for name, key, value in MALFORMED:
            self.assert_bad_request(name, {**WELL_FORMED[name], key: value})
        self.assertEqual(self.status()["clock"], 2)

    def test_limits_are_inclusive(self) -> None:
        create = WELL_FORMED[b"CreateGame"]
        for game_id, extra in [
            (b"x" * 64, {}),
            (b"p32", {"player": "Ω".encode() * 32}),
            (b"t16", {"token": b"!" * 16}),
            (b"t128", {"token": b"~" * 128}),
            (b"s0", {"seat": b"0"}),
            (b"s1", {"seat": b"1"}),
            (b"A-z_0-9", {}),
        ]:
            arguments = {**create, "game_id": game_id, **extra}
            self.successResultOf(self.conn.call_raw(b"CreateGame", **arguments))
        move = WELL_FORMED[b"MakeMove"]
        error = self.raw_error(self.conn.call_raw(b"MakeMove", **{**move, "move": b"4" * 64}))
        self.assertEqual(error.errorCode, b"ILLEGAL_MOVE")
        error = self.raw_error(
            self.conn.call_raw(b"MakeMove", **{**move, "version": b"2147483647"})
        )
        self.assertEqual(error.errorCode, b"BEHIND")
        for limit in (b"1", b"100"):
            self.successResultOf(self.conn.call_raw(b"ListGames", limit=limit))

    def test_unknown_extra_keys_are_ignored(self) -> None:
        answer = self.successResultOf(
            self.conn.call_raw(b"GetGame", game_id=b"g1", colour=b"\xff", version=b"x")
        )
        self.assertEqual(answer[b"game"].decode(), self.document["game"])

    def test_unknown_command(self) -> None:
        for name in (b"NoSuchCommand", b"GameChanged", b"getgame", b""):
            result = self.conn.call_raw(name, game_id=b"g1")
            self.failureResultOf(result, amp.UnhandledCommand)
            self.assertEqual(self.conn.received_boxes()[-1][b"_error_code"], b"UNHANDLED")
            self.assertTrue(self.conn.open, name)
        self.assert_served()

    def test_a_request_without_ask_keeps_the_connection(self) -> None:
        # A box without _ask is a request that wants no answer (AMP's
        # requiresAnswer=False): valid framing, so whatever its arguments or
        # name it must not close the connection (nor log an error).
        closed = []
        for box in (
            amp.AmpBox(_command=b"Status"),
            amp.AmpBox(_command=b"GetGame", game_id=b"bad id"),
            amp.AmpBox(_command=b"GetGame", game_id=b"nosuch"),
            amp.AmpBox(_command=b"NoSuchCommand"),
        ):
            connection = self.server.connect()
            connection.write(box.serialize())
            if not connection.open:
                closed.append(box)
            else:
                self.assert_served(connection)
        logged = [failure.getErrorMessage() for failure in self.flushLoggedErrors()]
        self.maxDiff = None
        self.assertEqual((closed, logged), ([], []))


class InternalErrorTests(WireCase):
    def setUp(self) -> None:
        super().setUp()
        start_game(self, self.conn)

    def assert_internal(self, result: Any) -> None:
        error = self.wire_error(result, wire.Internal)
        self.assertEqual(error.args[0], "internal server error")  # no details leak
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assert_served()

    def test_a_responder_raises(self) -> None:
        def broken(game_id: str) -> Any:
            raise RuntimeError("boom")

        self.patch(self.server.node, "get_game", broken)
        self.assert_internal(self.conn.call(p.GetGame, game_id="g1"))

    def test_a_responder_fails_later(self) -> None:
        self.patch(self.server.node, "get_game", lambda game_id: fail(RuntimeError("later")))
        self.assert_internal(self.conn.call(p.GetGame, game_id="g1"))

    def test_status(self) -> None:
        def broken() -> Any:
            raise RuntimeError("boom")

        self.patch(self.server.node, "now_ms", broken)  # what the Status responder reads
        result = self.conn.call(p.Status)
        self.wire_error(result, wire.Internal)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertTrue(self.conn.open)

    def test_a_peer_command(self) -> None:
        self.successResultOf(authenticate(self, self.conn))

        def broken() -> Any:
            raise RuntimeError("boom")

        self.patch(self.server.node, "peer_status", broken)
        self.assert_internal(self.conn.call(p.PeerStatus))


# -- group commit ------------------------------------------------------------------------


class GroupCommitTests(WireCase):
    def test_a_hundred_moves_make_one_commit(self) -> None:
        ids = [f"g{n:03}" for n in range(100)]
        created = [
            self.conn.send(p.CreateGame, game_id=i, kind="connect4", player="a", token=TOKEN_A)
            for i in ids
        ]
        self.server.settle()
        joined = [
            self.conn.send(p.JoinGame, game_id=i, version=1, player="b", token=TOKEN_B) for i in ids
        ]
        self.server.settle()
        for result in created + joined:
            self.successResultOf(result)
        commits = self.server.storage.commits

        moves = [
            self.conn.send(p.MakeMove, game_id=i, version=2, move="4", token=TOKEN_A) for i in ids
        ]
        read = self.conn.send(p.GetGame, game_id=ids[-1])
        requests = b"".join(self.conn.client_io.stream)
        del self.conn.client_io.stream[:]
        self.conn.protocol.dataReceived(requests)  # all 101 boxes at once

        self.assertEqual(self.server.storage.commits, commits)
        self.assertEqual(self.conn.pending_output(), b"")
        for result in [*moves, read]:
            self.assertNoResult(result)

        self.server.clock.advance(0)
        self.assertEqual(self.server.storage.commits, commits + 1)
        self.assertEqual(self.server.committer.last_batch_size, 100)
        self.conn.deliver()
        self.assertEqual([self.game(result)["version"] for result in moves], [3] * 100)
        self.assertEqual(self.game(read)["moves"], ["4"])


# -- limits ----------------------------------------------------------------------------


class BoxSizeTests(WireCase):
    tuning = {"max_box_bytes": 1000}

    def get_game_of_size(self, connection: Connection, size: int) -> Any:
        """A GetGame of exactly ``size`` bytes on the wire (padded with an
        unknown key), as a connection's first request (its _ask is "1")."""
        box = amp.AmpBox(_command=b"GetGame", _ask=b"1", game_id=b"g1", pad=b"")
        box[b"pad"] = b"x" * (size - len(box.serialize()))
        self.assertEqual(len(box.serialize()), size)
        return connection.call_raw(b"GetGame", game_id=b"g1", pad=box[b"pad"])

    def test_a_box_of_max_box_bytes_is_served(self) -> None:
        start_game(self, self.conn)
        self.successResultOf(self.get_game_of_size(self.server.connect(), 1000))

    def test_a_box_over_max_box_bytes_closes(self) -> None:
        start_game(self, self.conn)
        big = self.server.connect()
        result = self.get_game_of_size(big, 1001)
        self.failureResultOf(result, amp.ConnectionLost, amp.ConnectionClosed)
        self.assertFalse(big.open)
        self.assert_served()  # only that connection

    def test_the_limit_is_per_box(self) -> None:
        start_game(self, self.conn)
        results = [self.conn.send_raw(b"GetGame", game_id=b"g1", pad=b"x" * 900) for _ in range(5)]
        self.server.settle()
        for result in results:
            self.successResultOf(result)
        self.assertTrue(self.conn.open)


class FramingTests(WireCase):
    def assert_closes(self, data: bytes) -> None:
        victim = self.server.connect()
        victim.write(data)
        self.assertFalse(victim.open, data[:40])
        self.assertNotIn(victim.protocol, self.server.factory.connections)
        self.assert_served()

    def test_a_key_longer_than_255(self) -> None:
        self.assert_closes(b"\x01\x00" + b"k" * 256)

    def test_an_empty_box_then_junk(self) -> None:
        self.assert_closes(b"\x00\x00" + b"GET / HTTP/1.1\r\n\r\n")

    def test_an_answer_to_no_question(self) -> None:
        self.assert_closes(amp.AmpBox(_answer=b"77", game=b"{}").serialize())

    def test_an_error_to_no_question(self) -> None:
        box = amp.AmpBox(_error=b"77", _error_code=b"X", _error_description=b"x")
        self.assert_closes(box.serialize())

    def test_http(self) -> None:
        self.assert_closes(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


class IdleTimeoutTests(WireCase):
    def test_silence_for_three_heartbeats_closes(self) -> None:
        self.server.clock.advance(29.9)
        self.server.settle()
        self.assertTrue(self.conn.open)
        self.server.clock.advance(0.1)
        self.server.settle()
        self.assertFalse(self.conn.open)
        self.assertNotIn(self.conn.protocol, self.server.factory.connections)

    def test_a_status_every_heartbeat_keeps_it_open(self) -> None:
        for _ in range(10):
            self.server.clock.advance(10)
            self.assert_served()
        self.server.clock.advance(30)
        self.server.settle()
        self.assertFalse(self.conn.open)

    def test_watching_is_not_talking(self) -> None:
        # Only what the client sends counts: GameChanged does not keep it open.
        start_game(self, self.conn)
        other = self.server.connect()
        self.game(self.conn.call(p.Watch, game_id="g1"))
        for version in (2, 3, 4):
            self.server.clock.advance(9)
            token = (TOKEN_A, TOKEN_B)[version % 2]
            self.game(other.call(p.MakeMove, game_id="g1", version=version, move="4", token=token))
        self.assertEqual(len(self.conn.client.changes), 3)
        self.server.clock.advance(3)
        self.server.settle()
        self.assertFalse(self.conn.open)


class ShortHeartbeatTests(WireCase):
    tuning = {"heartbeat": 2.0}

    def test_three_heartbeats_of_the_tuning(self) -> None:
        self.server.clock.advance(5.9)
        self.server.settle()
        self.assertTrue(self.conn.open)
        self.server.clock.advance(0.1)
        self.server.settle()
        self.assertFalse(self.conn.open)


class UnsentOutputTests(WireCase):
    def boxes_of(self, total: int) -> list[amp.AmpBox]:
        """Boxes that serialize to ``total`` bytes in all."""
        boxes = []
        while total:
            size = min(total, 65535 + 7)
            if 0 < total - size < 8:
                size -= 8
            boxes.append(amp.AmpBox(k=b"x" * (size - 7)))
            self.assertEqual(len(boxes[-1].serialize()), size)
            total -= size
        return boxes

    def send_directly(self, total: int) -> None:
        for box in self.boxes_of(total):
            self.conn.protocol.sendBox(box)
        # These boxes are not for a client's eyes: drop them undelivered.
        del self.conn.server_io.stream[:]

    def test_one_mib_unsent_is_allowed_one_byte_more_closes(self) -> None:
        self.conn.protocol.pauseProducing()
        self.send_directly(MAX_UNSENT)
        self.assertTrue(self.conn.open)
        self.send_directly(8)
        self.assertFalse(self.conn.open)

    def test_resuming_starts_the_count_again(self) -> None:
        for _ in range(3):
            self.conn.protocol.pauseProducing()
            self.send_directly(MAX_UNSENT - 1000)
            self.conn.protocol.resumeProducing()
        self.assertTrue(self.conn.open)

    def test_output_while_not_paused_does_not_count(self) -> None:
        self.send_directly(3 * MAX_UNSENT)
        self.assertTrue(self.conn.open)

    def test_many_answers_to_a_paused_connection(self) -> None:
        self.server.seed_game("long", "checkers", long_checkers_line(300))
        answer = self.successResultOf(self.conn.call(p.GetGame, game_id="long"))
        size = len(amp.AmpBox(_answer=b"fff", game=answer["game"].encode()).serialize())
        other = self.server.connect()
        self.conn.protocol.pauseProducing()
        results = [self.conn.send(p.GetGame, game_id="long") for _ in range(MAX_UNSENT // size)]
        self.server.settle()
        self.assertTrue(self.conn.open)
        for result in results:
            self.successResultOf(result)
        results = [self.conn.send(p.GetGame, game_id="long") for _ in range(3)]
        self.server.settle()
        self.assertFalse(self.conn.open)
        for result in results:
            self.failureResultOf(result)
        self.assert_served(other)


class WatchLimitTests(WireCase):
    def setUp(self) -> None:
        super().setUp()
        self.ids = [f"w{n:03}" for n in range(101)]
        for game_id in self.ids:
            self.server.replica.create(game_id, "connect4", "alice", 0, TOKEN_A)
        self.server.settle()

    def watch_all(self, ids: list[str]) -> list[Any]:
        results = [self.conn.send(p.Watch, game_id=game_id) for game_id in ids]
        self.server.settle()
        return results

    def test_the_101st_watch_is_a_bad_request(self) -> None:
        for result in self.watch_all(self.ids[:100]):
            self.game(result)
        self.wire_error(self.conn.call(p.Watch, game_id=self.ids[100]), wire.BadRequest)
        self.assertTrue(self.conn.open)
        self.assertEqual(len(self.conn.protocol.watching), 100)
        self.assertNotIn(self.ids[100], self.server.node.watchers)
        # Watching a game again takes no new slot.
        self.game(self.conn.call(p.Watch, game_id=self.ids[0]))
        # Unwatch frees one.
        self.successResultOf(self.conn.call(p.Unwatch, game_id=self.ids[0]))
        self.game(self.conn.call(p.Watch, game_id=self.ids[100]))
        self.assertEqual(len(self.conn.protocol.watching), 100)
        # The limit is per connection.
        self.game(self.server.connect().call(p.Watch, game_id=self.ids[0]))

    def test_pipelined_watches_respect_the_limit(self) -> None:
        # While any write waits for its commit, Watch answers wait too (here
        # the client's own move, sent in the same write as the watches); 101
        # Watch requests arriving together must still register only 100.
        start_game(self, self.conn)
        move = self.conn.send(p.MakeMove, game_id="g1", version=2, move="4", token=TOKEN_A)
        results = self.watch_all(self.ids)
        self.game(move)
        outcomes = []
        for result in results:
            result.addCallbacks(lambda _: "ok", lambda failure: failure.value.tag)
            outcomes.append(self.successResultOf(result))
        self.assertEqual(outcomes.count("ok"), 100)
        self.assertEqual(outcomes.count(b"BAD_REQUEST"), 1)
        self.assertLessEqual(len(self.conn.protocol.watching), 100)


class MaxConnectionsTests(ConnectionTestCase):
    def test_beyond_the_limit_build_protocol_refuses(self) -> None:
        server = ServerHarness(self, max_connections=2)
        first = server.connect()
        second = server.connect()
        self.assertIsNone(server.factory.buildProtocol(FakeAddress()))
        self.successResultOf(second.call(p.Status))
        first.close()
        self.assertEqual(len(server.factory.connections), 1)
        third = server.connect()
        self.assertIsNone(server.factory.buildProtocol(FakeAddress()))
        self.successResultOf(third.call(p.Status))

    def test_room_for_one_link_per_peer_beyond_the_limit(self) -> None:
        """A server full of clients still takes its peers' links (they
        are told apart only after PeerProve, so the room is counted)."""
        server = ServerHarness(self, max_connections=1)
        # Only the number of peers matters to the factory.
        server.node.links = dict.fromkeys((2, 3), cast(PeerLink, None))
        for _ in range(3):
            server.connect()
        self.assertIsNone(server.factory.buildProtocol(FakeAddress()))

    def test_a_connection_the_server_closes_frees_its_slot(self) -> None:
        server = ServerHarness(self, max_connections=1)
        server.connect()
        self.assertIsNone(server.factory.buildProtocol(FakeAddress()))
        server.clock.advance(30)
        server.settle()
        self.successResultOf(server.connect().call(p.Status))


# -- watches ---------------------------------------------------------------------------


class WatchTests(WireCase):
    def setUp(self) -> None:
        super().setUp()
        start_game(self, self.conn)
        self.watcher = self.server.connect()

    def test_watch_answers_the_game_and_registers(self) -> None:
        get = self.successResultOf(self.conn.call(p.GetGame, game_id="g1"))
        self.assertEqual(self.successResultOf(self.watcher.call(p.Watch, game_id="g1")), get)
        self.assertEqual(self.server.node.watchers, {"g1": {self.watcher.protocol}})
        self.assertEqual(self.watcher.protocol.watching, {"g1"})

    def test_game_changed_comes_after_the_commit(self) -> None:
        self.game(self.watcher.call(p.Watch, game_id="g1"))
        result = self.conn.send(p.MakeMove, game_id="g1", version=2, move="4", token=TOKEN_A)
        self.conn.deliver()  # applied, not yet durable
        self.watcher.deliver()
        self.assertEqual(self.watcher.client.changes, [])
        self.assertEqual(self.watcher.pending_output(), b"")
        self.assertNoResult(result)
        self.server.clock.advance(0)
        self.server.settle()
        moved = self.successResultOf(result)["game"]
        self.assertEqual(self.watcher.client.changes, [moved])

    def test_every_change_in_order(self) -> None:
        self.game(self.watcher.call(p.Watch, game_id="g1"))
        answers = [
            self.successResultOf(
                self.conn.call(p.MakeMove, game_id="g1", version=v, move="4", token=token)
            )["game"]
            for v, token in [(2, TOKEN_A), (3, TOKEN_B), (4, TOKEN_A)]
        ]
        answers.append(
            self.successResultOf(
                self.conn.call(p.OfferDraw, game_id="g1", version=5, token=TOKEN_B)
            )["game"]
        )
        self.assertEqual(self.watcher.client.changes, answers)

    def test_refused_commands_send_nothing(self) -> None:
        self.game(self.watcher.call(p.Watch, game_id="g1"))
        self.wire_error(
            self.conn.call(p.MakeMove, game_id="g1", version=2, move="9", token=TOKEN_A),
            wire.IllegalMoveError,
        )
        self.game(self.conn.call(p.GetGame, game_id="g1"))
        self.assertEqual(self.watcher.client.changes, [])

    def test_a_watching_mover_hears_its_own_change(self) -> None:
        self.game(self.conn.call(p.Watch, game_id="g1"))
        moved = self.move(2, "4")
        self.assertEqual([json.loads(text) for text in self.conn.client.changes], [moved])

    def test_only_the_watched_game(self) -> None:
        start_game(self, self.conn, "other")
        self.game(self.watcher.call(p.Watch, game_id="g1"))
        self.move(2, "4", game_id="other")
        self.assertEqual(self.watcher.client.changes, [])

    def test_unwatch_stops_them(self) -> None:
        self.game(self.watcher.call(p.Watch, game_id="g1"))
        self.assertEqual(self.successResultOf(self.watcher.call(p.Unwatch, game_id="g1")), {})
        self.move(2, "4")
        self.assertEqual(self.watcher.client.changes, [])
        self.assertEqual((self.server.node.watchers, self.watcher.protocol.watching), ({}, set()))
        # Unwatching what is not watched is fine.
        self.successResultOf(self.watcher.call(p.Unwatch, game_id="nosuch"))

    def test_a_refused_watch_registers_nothing(self) -> None:
        self.wire_error(self.watcher.call(p.Watch, game_id="later"), wire.UnknownGame)
        self.assertEqual((self.server.node.watchers, self.watcher.protocol.watching), ({}, set()))
        start_game(self, self.conn, "later")
        self.assertEqual(self.watcher.client.changes, [])

    def test_connection_loss_unregisters(self) -> None:
        self.game(self.watcher.call(p.Watch, game_id="g1"))
        self.watcher.close()
        self.assertEqual(self.server.node.watchers, {})
        self.move(2, "4")
        self.assertEqual(self.watcher.client.changes, [])

    def test_connection_lost_while_a_watch_waits_for_the_commit(self) -> None:
        # A write is pending, so the Watch answer waits for the commit; the
        # watcher goes away before it.
        self.server.replica.create("pending", "connect4", "alice", 0, TOKEN_A)
        result = self.watcher.send(p.Watch, game_id="g1")
        self.watcher.deliver()
        self.watcher.client_io.loseConnection()
        self.watcher.deliver()
        self.assertNotIn(self.watcher.protocol, self.server.factory.connections)
        self.server.clock.advance(0)
        self.server.settle()
        self.failureResultOf(result)
        self.assertEqual(self.server.node.watchers, {})

    def test_changes_adopted_from_peers(self) -> None:
        self.game(self.watcher.call(p.Watch, game_id="g1"))
        held = self.server.replica.game("g1")
        assert held is not None
        longer = GameLog.from_events("g1", list(held.event_json))
        for move, token in [("1", TOKEN_A), ("2", TOKEN_B), ("3", TOKEN_A)]:
            event = decide(longer, Command(MOVE, longer.version, token, move=move))
            assert isinstance(event, Event)
            longer.append(event)
        self.server.replica.adopt("g1", tuple(longer.event_json))
        self.watcher.deliver()
        self.assertEqual(self.watcher.client.changes, [])
        self.server.settle()
        self.assertEqual(self.watcher.client.changes[-1:], [longer.document()])


# -- peers -----------------------------------------------------------------------------

NONCE = "cd" * 32
PEER_ONLY: list[tuple[type[p.Command], dict[str, Any]]] = [
    (p.PeerStatus, {}),
    (p.PeerTree, {"prefixes": [""]}),
    (p.PeerBucket, {"prefix": "0000", "after": ""}),
    (p.PeerBuckets, {"prefixes": ["0000"]}),
    (p.PeerEvents, {"game_id": "g1", "since": 0, "head": EMPTY_HEAD.hex()}),
    (p.PeerHistories, {"games": [f"g1 0 {EMPTY_HEAD.hex()}"]}),
    (p.PeerDump, {"after": ""}),
]


class PeerAuthenticationTests(WireCase):
    def setUp(self) -> None:
        super().setUp()
        start_game(self, self.conn)

    def assert_not_peer(self, connection: Connection | None = None) -> None:
        connection = connection or self.conn
        for command, arguments in PEER_ONLY:
            with capturedLogs() as events:
                self.wire_error(connection.call(command, **arguments), wire.NotPeer)
            refusals = [
                event
                for event in events
                if event.get("log_namespace") == "replgame.connection"
                and event.get("log_level") == LogLevel.warn
                and event.get("command") == command.__name__
            ]
            self.assertEqual(len(refusals), 1, command.__name__)
            self.assertTrue(connection.open)

    def hello(self, connection: Connection | None = None, peer_id: int = 2) -> dict[str, Any]:
        connection = connection or self.conn
        answer: dict[str, Any] = self.successResultOf(
            connection.call(p.PeerHello, server_id=peer_id, nonce=NONCE)
        )
        return answer

    def test_peer_commands_need_authentication(self) -> None:
        self.assert_not_peer()

    def test_hello_and_prove_authenticate(self) -> None:
        self.assertEqual(self.successResultOf(authenticate(self, self.conn)), {})
        self.assertEqual(self.conn.protocol.peer_id, 2)
        status = self.successResultOf(self.conn.call(p.PeerStatus))
        self.assertEqual((status["server_id"], status["clock"], status["games"]), (1, 2, 1))
        for command, arguments in PEER_ONLY:
            self.successResultOf(self.conn.call(command, **arguments))

    def test_the_callee_proves_the_secret(self) -> None:
        answer = self.hello(peer_id=3)
        self.assertEqual(answer["server_id"], 1)
        self.assertRegex(answer["nonce"], "^[0-9a-f]{64}$")
        self.assertNotEqual(answer["nonce"], NONCE)
        self.assertEqual(answer["proof"], proof(SECRET, "callee", NONCE, answer["nonce"], 3, 1))
        self.assertNotEqual(
            answer["proof"], proof(WRONG_SECRET, "callee", NONCE, answer["nonce"], 3, 1)
        )
        # The nonce is fresh on every hello.
        self.assertNotEqual(self.hello(peer_id=3)["nonce"], answer["nonce"])

    def test_a_wrong_secret_is_refused(self) -> None:
        self.wire_error(authenticate(self, self.conn, secret=WRONG_SECRET), wire.PeerRefused)
        self.assertIsNone(self.conn.protocol.peer_id)
        self.assert_not_peer()

    def test_the_callee_proof_is_not_a_caller_proof(self) -> None:
        answer = self.hello()
        self.wire_error(self.conn.call(p.PeerProve, proof=answer["proof"]), wire.PeerRefused)
        self.assert_not_peer()

    def test_prove_without_hello(self) -> None:
        self.wire_error(self.conn.call(p.PeerProve, proof="0" * 64), wire.PeerRefused)
        self.assert_not_peer()

    def test_a_hello_proves_once(self) -> None:
        answer = self.hello()
        good = proof(SECRET, "caller", NONCE, answer["nonce"], 2, 1)
        self.wire_error(self.conn.call(p.PeerProve, proof="0" * 64), wire.PeerRefused)
        # The failed attempt used the hello up: no second guess with it.
        self.wire_error(self.conn.call(p.PeerProve, proof=good), wire.PeerRefused)
        self.assert_not_peer()

    def test_a_proof_replayed_on_another_connection_fails(self) -> None:
        answer = self.hello()
        good = proof(SECRET, "caller", NONCE, answer["nonce"], 2, 1)
        self.successResultOf(self.conn.call(p.PeerProve, proof=good))
        thief = self.server.connect()
        self.hello(thief)  # same caller nonce, fresh callee nonce
        self.wire_error(thief.call(p.PeerProve, proof=good), wire.PeerRefused)
        self.assert_not_peer(thief)
        # Nor does it work a second time on the first connection.
        self.wire_error(self.conn.call(p.PeerProve, proof=good), wire.PeerRefused)

    def test_a_proof_for_another_id_fails(self) -> None:
        answer = self.hello(peer_id=2)
        claimed = proof(SECRET, "caller", NONCE, answer["nonce"], 3, 1)
        self.wire_error(self.conn.call(p.PeerProve, proof=claimed), wire.PeerRefused)
        self.assert_not_peer()

    def test_a_hello_with_our_own_id(self) -> None:
        self.wire_error(self.conn.call(p.PeerHello, server_id=1, nonce=NONCE), wire.PeerRefused)
        self.wire_error(self.conn.call(p.PeerProve, proof="0" * 64), wire.PeerRefused)
        self.assert_not_peer()

    def assert_refusal_logged(self, result: Any) -> None:
        with capturedLogs() as events:
            self.wire_error(result(), wire.PeerRefused)
        warnings = [
            event
            for event in events
            if event.get("log_namespace") == "replgame.connection"
            and event.get("log_level") == LogLevel.warn
        ]
        self.assertEqual(len(warnings), 1, [event.get("log_format") for event in events])

    def test_a_wrong_proof_is_logged(self) -> None:
        self.hello()
        self.assert_refusal_logged(lambda: self.conn.call(p.PeerProve, proof="0" * 64))

    def test_a_hello_with_our_own_id_is_logged(self) -> None:
        self.assert_refusal_logged(lambda: self.conn.call(p.PeerHello, server_id=1, nonce=NONCE))

    def test_prove_without_hello_is_logged(self) -> None:
        # docs/protocol.md: "a PeerProve without a PeerHello ... answer
        # PEER_REFUSED and are logged".
        self.assert_refusal_logged(lambda: self.conn.call(p.PeerProve, proof="0" * 64))

    def test_malformed_hello_and_prove(self) -> None:
        for arguments in [
            {"server_id": b"4", "nonce": NONCE.encode()},
            {"server_id": b"0", "nonce": NONCE.encode()},
            {"server_id": b"2", "nonce": b"AB" * 32},
            {"server_id": b"2", "nonce": b"ab" * 31},
            {"server_id": b"2"},
        ]:
            error = self.raw_error(self.conn.call_raw(b"PeerHello", **arguments))
            self.assertEqual(error.errorCode, b"BAD_REQUEST", arguments)
        error = self.raw_error(self.conn.call_raw(b"PeerProve", proof=b"xyz"))
        self.assertEqual(error.errorCode, b"BAD_REQUEST")
        self.assert_served()


class PeerCommandTests(WireCase):
    def setUp(self) -> None:
        super().setUp()
        self.successResultOf(authenticate(self, self.conn))
        self.replica = self.server.replica

    def events_of(self, game_id: str) -> list[str]:
        game = self.replica.game(game_id)
        assert game is not None
        return game.event_json

    def peer_events(self, game_id: str, since: int, head: bytes) -> dict[str, Any]:
        answer: dict[str, Any] = self.successResultOf(
            self.conn.call(p.PeerEvents, game_id=game_id, since=since, head=head.hex())
        )
        return answer

    def test_peer_status(self) -> None:
        self.server.seed_game("g1", moves=["4", "4"])
        status = self.successResultOf(self.conn.call(p.PeerStatus))
        self.assertEqual(
            status,
            {
                "server_id": 1,
                "clock": 4,
                "games": 1,
                "serving": True,
                "digest": self.replica.digest_hex(),
                "tree": format_children(self.replica.tree_children("")),
                "fresh": False,
            },
        )

    def test_peer_commands_answer_the_pages(self) -> None:
        # What each answers is game.server.paging's (tests/server/test_paging.py).
        for n in range(40):
            self.server.seed_game(f"t{n}", moves=["4"] * (n % 3))
        game = self.replica.game("t7")
        assert game is not None
        bucket = bucket_of("t7")
        requests = [f"t7 1 {game.heads[1].hex()}", f"nosuch 0 {EMPTY_HEAD.hex()}"]
        replica = self.replica
        for command, arguments, expected in [
            (p.PeerTree, {"prefixes": ["", bucket[:2]]},
             {"children": paging.tree_page(replica, ["", bucket[:2]])}),
            (p.PeerBucket, {"prefix": bucket, "after": ""},
             {"games": paging.bucket_page(replica, bucket, "").lines, "next": ""}),
            (p.PeerEvents, {"game_id": "t7", "since": 1, "head": game.heads[1].hex()},
             paging.events_page(replica, "t7", 1, game.heads[1].hex())),
            (p.PeerHistories, {"games": requests},
             {"games": paging.histories_page(replica, paging.history_requests(requests))}),
            (p.PeerDump, {"after": "t3"},
             {"games": paging.dump_page(replica, "t3").lines, "next": ""}),
        ]:  # fmt: skip
            self.assertEqual(self.successResultOf(self.conn.call(command, **arguments)), expected)

    def test_bad_requests_of_the_pages(self) -> None:
        head = EMPTY_HEAD.hex()
        for command, arguments in [
            (p.PeerTree, {"prefixes": ["abcd"]}),
            (p.PeerTree, {"prefixes": [""] * 257}),
            (p.PeerBucket, {"prefix": "abc", "after": ""}),
            (p.PeerHistories, {"games": ["g1 0"]}),
            (p.PeerHistories, {"games": [f"g{n} 0 {head}" for n in range(p.MAX_HISTORIES + 1)]}),
        ]:
            self.wire_error(self.conn.call(command, **arguments), wire.BadRequest)
        self.assert_served()

    def test_peer_events_unknown_and_damaged_games(self) -> None:
        self.wire_error(
            self.conn.call(p.PeerEvents, game_id="nosuch", since=0, head=EMPTY_HEAD.hex()),
            wire.UnknownGame,
        )
        self.server.seed_game("g1", moves=["4"])
        self.server.replica._cache.clear()
        self.server.storage.stage(event_key("g1", 2), "not the move that was played")
        self.wire_error(
            self.conn.call(p.PeerEvents, game_id="g1", since=0, head=EMPTY_HEAD.hex()),
            wire.NotServing,
        )

    def test_a_new_database_serves_no_peer_state(self) -> None:
        server = ServerHarness(self, serving=False)
        conn = server.connect()
        self.successResultOf(authenticate(self, conn))
        status = self.successResultOf(conn.call(p.PeerStatus))
        self.assertEqual((status["fresh"], status["serving"]), (True, False))
        for command, arguments in PEER_ONLY[1:]:
            self.wire_error(conn.call(command, **arguments), wire.NotServing)


# -- secrecy ---------------------------------------------------------------------------


class TokenSecrecyTests(WireCase):
    def test_no_answer_carries_a_token_or_its_hash(self) -> None:
        watcher = self.server.connect()
        create = {"game_id": "g1", "kind": "checkers", "player": "al", "token": TOKEN_A}
        self.game(self.conn.call(p.CreateGame, **create))
        self.game(watcher.call(p.Watch, game_id="g1"))
        self.game(self.conn.call(p.JoinGame, game_id="g1", version=1, player="bo", token=TOKEN_B))
        for version, command, token in [
            (2, p.OfferDraw, TOKEN_A),
            (3, p.MakeMove, TOKEN_A),
            (4, p.MakeMove, TOKEN_B),  # declines the offer
            (5, p.OfferDraw, TOKEN_A),
            (6, p.MakeMove, TOKEN_A),
            (7, p.AcceptDraw, TOKEN_B),
        ]:
            arguments = {"game_id": "g1", "version": version, "token": token}
            if command is p.MakeMove:
                legal = self.game(self.conn.call(p.GetGame, game_id="g1"))["legal"]
                arguments["move"] = legal[0]
            self.game(self.conn.call(command, **arguments))
        self.game(self.conn.call(p.CreateGame, **create))  # a repeat
        for command, arguments in [
            (p.JoinGame, {"player": "bo", "token": TOKEN_C, "version": 1}),
            (p.JoinGame, {"player": "bo", "token": TOKEN_A, "version": 8}),
            (p.MakeMove, {"move": "9-13", "token": TOKEN_C, "version": 8}),
            (p.Resign, {"token": TOKEN_B, "version": 8}),
            (p.Resign, {"token": TOKEN_C, "version": 9}),
        ]:
            self.failureResultOf(self.conn.call(command, game_id="g1", **arguments))
        self.wire_error(
            self.conn.call(p.CreateGame, game_id="g1", kind="checkers", player="al", token=TOKEN_C),
            wire.GameExists,
        )
        self.game(self.conn.call(p.GetGame, game_id="g1"))
        self.game(self.conn.call(p.SyncGame, game_id="g1"))
        self.successResultOf(self.conn.call(p.ListGames))
        self.successResultOf(self.conn.call(p.Status))
        self.assertEqual(json.loads(watcher.client.changes[-1])["result"]["reason"], "draw agreed")
        self.assertEqual(len(watcher.client.changes), 7)

        secrets = token_hashes("g1", TOKEN_A, TOKEN_B, TOKEN_C) | {TOKEN_A, TOKEN_B, TOKEN_C}
        for connection in (self.conn, watcher):
            received = bytes(connection.client.received)
            self.assertGreater(len(received), 1000)
            for secret in secrets:
                self.assertNotIn(secret.encode(), received)


# -- the bytes of the answers -----------------------------------------------------------

#: What the server answered to RecordedAnswersTests.script before its
#: responders moved to CommandLocators (and past a direct path of its own).
RECORDED = Path(__file__).parent / "data" / "game_commands.boxes"


class RecordedAnswersTests(ConnectionTestCase):
    """Game commands answer, byte for byte, what they answered when they took
    a direct path past stock AMP dispatch (and the stock path, tested equal)."""

    def script(self, conn: Connection, server: ServerHarness) -> list[str]:
        """Requests covering answers, every kind of error, BAD_REQUEST and INTERNAL."""
        notes: list[str] = []
        raw = [
            (b"CreateGame", {"game_id": b"g1", "kind": b"connect4", "player": b"alice",
                             "token": TOKEN_A.encode()}),
            (b"CreateGame", {"game_id": b"g1", "kind": b"connect4", "player": b"bob",
                             "token": TOKEN_B.encode(), "seat": b"1"}),  # GAME_EXISTS
            (b"CreateGame", {"game_id": b"g2", "kind": b"reversi", "player": b"Zo\xc3\xab",
                             "token": TOKEN_B.encode(), "seat": b"1"}),
            (b"JoinGame", {"game_id": b"g1", "version": b"1", "player": b"bob",
                           "token": TOKEN_B.encode()}),
            (b"JoinGame", {"game_id": b"g1", "version": b"2", "player": b"carol",
                           "token": TOKEN_C.encode()}),  # GAME_FULL
            (b"MakeMove", {"game_id": b"g1", "version": b"2", "move": b"4",
                           "token": TOKEN_A.encode()}),
            (b"MakeMove", {"game_id": b"g1", "version": b"2", "move": b"4",
                           "token": TOKEN_A.encode()}),  # a repeat
            (b"MakeMove", {"game_id": b"g1", "version": b"1", "move": b"4",
                           "token": TOKEN_A.encode()}),  # STALE_VERSION
            (b"MakeMove", {"game_id": b"g1", "version": b"3", "move": b"4",
                           "token": TOKEN_A.encode()}),  # NOT_YOUR_TURN
            (b"MakeMove", {"game_id": b"g1", "version": b"3", "move": b"9",
                           "token": TOKEN_B.encode()}),  # ILLEGAL_MOVE
            (b"MakeMove", {"game_id": b"g1", "version": b"3", "move": b"4",
                           "token": TOKEN_C.encode()}),  # BAD_TOKEN
            (b"MakeMove", {"game_id": b"g1", "version": b"3", "move": b"4"}),  # BAD_REQUEST
            (b"MakeMove", {"game_id": b"g 1", "version": b"3", "move": b"4",
                           "token": TOKEN_B.encode()}),  # BAD_REQUEST
            (b"MakeMove", {"game_id": b"g1", "version": b"x", "move": b"4",
                           "token": TOKEN_B.encode()}),  # BAD_REQUEST
            (b"MakeMove", {"game_id": b"g1", "version": b"3", "move": b"\xff",
                           "token": TOKEN_B.encode()}),  # BAD_REQUEST (UTF-8)
            (b"MakeMove", {"game_id": b"nope", "version": b"1", "move": b"4",
                           "token": TOKEN_B.encode()}),  # UNKNOWN_GAME
            (b"OfferDraw", {"game_id": b"g1", "version": b"3", "token": TOKEN_B.encode(),
                            "extra": b"ignored"}),
            (b"AcceptDraw", {"game_id": b"g1", "version": b"4", "token": TOKEN_B.encode()}),
            (b"AcceptDraw", {"game_id": b"g1", "version": b"4", "token": TOKEN_A.encode()}),
            (b"Resign", {"game_id": b"g1", "version": b"5", "token": TOKEN_A.encode()}),
            (b"Resign", {"game_id": b"g2", "version": b"1", "token": TOKEN_B.encode()}),
            (b"GetGame", {"game_id": b"g1"}),
            (b"GetGame", {"game_id": b"g3"}),  # UNKNOWN_GAME
        ]  # fmt: skip
        for name, arguments in raw:
            deferred = conn.call_raw(name, **arguments)
            deferred.addErrback(lambda failure: notes.append(repr(failure.value)))
        # INTERNAL, logged, with no details.
        self.patch(server.node, "get_game", lambda game_id: fail(RuntimeError("later")))
        conn.call_raw(b"GetGame", game_id=b"g1").addErrback(lambda f: None)
        self.flushLoggedErrors(RuntimeError)
        return notes

    def test_same_bytes_as_recorded(self) -> None:
        self.assert_recorded_answers()

    def test_same_bytes_through_the_stock_responders(self) -> None:
        # ClientLocator's game commands without game.server.direct.
        self.patch(ClientLocator, "locateResponder", amp.CommandLocator.locateResponder)
        self.assert_recorded_answers()

    def test_the_direct_responders_answer_the_game_commands(self) -> None:
        located = record_located_responders(self)
        server = ServerHarness(self)
        conn = server.connect()
        start_game(self, conn)
        self.successResultOf(conn.call(p.Status))
        direct, heartbeat = "game.server.direct", "game.server.heartbeat"
        self.assertEqual(
            located, [(b"CreateGame", direct), (b"JoinGame", direct), (b"Status", heartbeat)]
        )

    def assert_recorded_answers(self) -> None:
        server = ServerHarness(self)
        conn = server.connect()
        notes = self.script(conn, server)
        self.assertTrue(conn.open)
        lines = RECORDED.read_text().splitlines()
        boxes = [ast.literal_eval(line) for line in lines if not line.startswith("#")]
        recorded = b"".join(amp.AmpBox(box).serialize() for box in boxes)
        self.maxDiff = None
        self.assertEqual(conn.received_boxes(), boxes)
        self.assertEqual(bytes(conn.client.received), recorded)
        self.assertEqual(len(notes), sum(1 for box in boxes if b"_error" in box) - 1)
        # The script covers the errors it says it does.
        text = recorded.decode("utf-8", "replace")
        for tag in ("GAME_EXISTS", "GAME_FULL", "STALE_VERSION", "NOT_YOUR_TURN",
                    "ILLEGAL_MOVE", "BAD_TOKEN", "BAD_REQUEST", "UNKNOWN_GAME",
                    "NO_DRAW_OFFER", "INTERNAL"):  # fmt: skip
            self.assertIn(tag, text)
