"""``MoveClocks``: the clocks after each move, replayed from a game's events
(:mod:`game.server.moveclocks`), and the command through one server."""

from __future__ import annotations

import json
import random
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from game import errors as wire
from game import protocol as p
from game.server.events import ACCEPT_TAKEBACK, Event
from game.server.gamelog import (
    JOIN,
    MOVE,
    OFFER_DRAW,
    RESIGN,
    Command,
    GameLog,
    create_event,
    decide,
)
from game.server.moveclocks import clocks_json, move_clocks
from game.timecontrol import DAY_MS
from tests.server.helpers import (
    TOKEN_A,
    TOKEN_B,
    ConnectionTestCase,
    ServerHarness,
    record_located_responders,
)

TOKENS = (TOKEN_A, TOKEN_B)


def new_game(control: str = "live:10+2", kind: str = "connect4") -> GameLog:
    return GameLog("g", create_event(kind, "alice", 0, TOKEN_A, "g", control))


def act(game: GameLog, kind: str, seat: int, at: int | None, move: str | None = None) -> None:
    """Decide and append one command of ``seat`` (replayed: no server clock)."""
    player = "bobby" if kind == JOIN else None
    command = Command(kind, game.version, TOKENS[seat], player=player, move=move, at=at)
    event = decide(game, command)
    assert isinstance(event, Event)
    game.append(event)


class MoveClocksTests(SynchronousTestCase):
    def test_known_times_give_the_known_clocks(self) -> None:
        game = new_game("live:10+2")
        act(game, JOIN, 1, 1_000)  # the clock starts
        act(game, MOVE, 0, 3_500, "4")  # black spent 2.5 s: 10 - 2.5 + 2
        act(game, MOVE, 1, 4_000, "5")  # white spent 0.5 s: 10 - 0.5 + 2
        act(game, OFFER_DRAW, 0, 5_000)  # black's turn: 1 s of black's
        act(game, MOVE, 0, 6_000, "4")  # and 1 s more: 9.5 - 1 - 1 + 2
        self.assertEqual(move_clocks(game), [9_500, 11_500, 9_500])
        self.assertEqual(clocks_json(move_clocks(game)), "[9500,11500,9500]")
        self.assertEqual(game.clock.remaining if game.clock else None, [9_500, 11_500])
        act(game, RESIGN, 1, 8_000)  # spends black's time, after the last move
        self.assertEqual(move_clocks(game), [9_500, 11_500, 9_500])

    def test_correspondence_resets_to_the_days_per_move(self) -> None:
        game = new_game("corr:2")
        act(game, JOIN, 1, 0)
        act(game, MOVE, 0, 3_600_000, "4")
        act(game, MOVE, 1, 2 * DAY_MS, "4")
        self.assertEqual(move_clocks(game), [2 * DAY_MS, 2 * DAY_MS])

    def test_untimed_and_moveless_games(self) -> None:
        untimed = GameLog("g", create_event("connect4", "alice", 0, TOKEN_A, "g"))
        act(untimed, JOIN, 1, None)
        act(untimed, MOVE, 0, None, "4")
        self.assertEqual(move_clocks(untimed), [])
        self.assertEqual(clocks_json([]), "[]")
        timed = new_game()
        self.assertEqual(move_clocks(timed), [])
        act(timed, JOIN, 1, 5)
        self.assertEqual(move_clocks(timed), [])

    def test_each_clock_is_the_movers_clock_the_server_had_then(self) -> None:
        # The law: replaying gives what the live clock said right after each move.
        rng = random.Random(14)
        for control in ("live:60+0", "live:120+5", "corr:1"):
            for _ in range(20):
                game = new_game(control, rng.choice(("connect4", "reversi", "checkers")))
                at = rng.randrange(10**6)
                act(game, JOIN, 1, at)
                seen: list[int] = []
                while game.status == "active" and len(seen) < 40:
                    seat = game.position.to_move
                    at += rng.randrange(0, 1_500)
                    if rng.random() < 0.1 and game.draw_offer is None:
                        act(game, OFFER_DRAW, seat, at)
                        continue
                    act(game, MOVE, seat, at, rng.choice(game.position.legal_moves()))
                    assert game.clock is not None
                    seen.append(game.clock.remaining[seat])
                    self.assertEqual(move_clocks(game), seen)
                self.assertEqual(len(move_clocks(game)), len(game.moves))

    def test_a_takeback_keeps_the_clocks_of_the_moves_kept(self) -> None:
        # Timed games refuse takebacks today; were one appended, the answer
        # would still be one clock per move of the document.
        game = new_game()
        act(game, JOIN, 1, 0)
        act(game, MOVE, 0, 1_000, "4")
        act(game, MOVE, 1, 2_000, "4")
        token = game.tokens[1]
        assert token is not None
        game.append(Event(ACCEPT_TAKEBACK, 1, token))
        self.assertEqual(len(game.moves), len(move_clocks(game)))


class MoveClocksCommandTests(ConnectionTestCase):
    def setUp(self) -> None:
        self.server = ServerHarness(self)
        self.conn = self.server.connect()

    def at(self, ms: int) -> int:
        """Set the server's clock to ``ms`` and stamp a command with it."""
        self.server.clock.advance(ms / 1000 - self.server.clock.seconds())
        return ms

    def call(self, command: type[p.Command], **arguments: Any) -> dict[str, Any]:
        return self.game(self.conn.call(command, game_id="t1", **arguments))

    def clocks(self, game_id: str = "t1") -> str:
        answer = self.successResultOf(self.conn.call(p.MoveClocks, game_id=game_id))
        self.assertEqual(set(answer), {"clocks"})  # no token, no hash
        text: str = answer["clocks"]
        return text

    def test_a_timed_game_over_the_wire(self) -> None:
        self.call(p.CreateGame, kind="connect4", player="alice", token=TOKEN_A, clock="live:10+2")
        self.assertEqual(self.clocks(), "[]")
        self.call(p.JoinGame, version=1, player="bobby", token=TOKEN_B, at=self.at(1_000))
        self.call(p.MakeMove, version=2, move="4", token=TOKEN_A, at=self.at(3_500))
        self.call(p.MakeMove, version=3, move="5", token=TOKEN_B, at=self.at(4_000))
        self.call(p.OfferDraw, version=4, token=TOKEN_A, at=self.at(5_000))
        document = self.call(p.MakeMove, version=5, move="4", token=TOKEN_A, at=self.at(6_000))
        self.assertEqual(self.clocks(), "[9500,11500,9500]")
        self.assertEqual(document["clock"]["remaining"], [9_500, 11_500])
        self.assertEqual(json.loads(self.clocks()), [9_500, 11_500, 9_500])

    def test_an_untimed_game_answers_an_empty_list(self) -> None:
        self.call(p.CreateGame, kind="connect4", player="alice", token=TOKEN_A)
        self.call(p.JoinGame, version=1, player="bobby", token=TOKEN_B)
        self.call(p.MakeMove, version=2, move="4", token=TOKEN_A)
        self.assertEqual(self.clocks(), "[]")

    def test_errors(self) -> None:
        self.wire_error(self.conn.call(p.MoveClocks, game_id="nothing"), wire.UnknownGame)
        self.wire_error(self.conn.call(p.MoveClocks, game_id="no/id"), wire.BadRequest)
        self.assertTrue(self.conn.open)
        starting = ServerHarness(self, serving=False).connect()
        self.wire_error(starting.call(p.MoveClocks, game_id="t1"), wire.NotServing)

    def test_answered_by_the_stock_responder(self) -> None:
        located = record_located_responders(self)
        self.wire_error(self.conn.call(p.MoveClocks, game_id="nothing"), wire.UnknownGame)
        self.assertEqual(located, [(b"MoveClocks", "twisted.protocols.amp")])

    def test_declared(self) -> None:
        self.assertIn(p.MoveClocks, p.CLIENT_COMMANDS)
        tags = set(p.MoveClocks.errors.values())
        self.assertEqual(tags, {b"BAD_REQUEST", b"NOT_SERVING", b"INTERNAL", b"UNKNOWN_GAME"})
