"""Timed games on the in-process grid: three real servers on one Clock, each
with its own wall clock offset.

Commands go to each server's node directly (what the AMP responders call),
so that a test decides which servers a request reaches and when.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from game import errors as wire
from game.server.gamelog import JOIN, MOVE, Command
from tests.server.grid import SERVERS, Grid
from tests.server.helpers import TOKEN_A, TOKEN_B

START_S = 1_700_000_000.0
START = int(START_S * 1000)
GAME = "timed"
TUNING: dict[str, Any] = {"clock_skew": 1.0, "flag_grace": 3.0}


class TimedGridCase(SynchronousTestCase):
    offsets: dict[int, int] = {1: 0, 2: 400, 3: -400}

    def setUp(self) -> None:
        self.grid = Grid(self, clock_offsets=self.offsets, **TUNING)
        self.grid.clock.rightNow = START_S
        self.grid.start()

    def now(self) -> int:
        """The shared clock in ms (each server reads it with its offset)."""
        return round(self.grid.clock.seconds() * 1000)

    def on(self, servers: tuple[int, ...], request: Any) -> list[Any]:
        """Send a request to each of ``servers``; their answers (or errors)."""
        answers: list[Any] = []
        for server_id in servers:
            try:
                deferred: Deferred[str] = request(self.grid.node(server_id))
            except wire.WireError as error:
                answers.append(error)
                continue
            self.grid.quiet()
            results: list[Any] = []
            deferred.addBoth(results.append)
            self.grid.quiet()
            answers.append(results[0].value if hasattr(results[0], "value") else results[0])
        return answers

    def start_game(self, via: tuple[int, ...] = SERVERS) -> int:
        """Create and join (live:10+0) on the servers ``via``, the others
        catching up (``SyncGame``); the join's time (the clock's start)."""
        at = self.now()
        self.on(
            via, lambda node: node.create_game(GAME, "connect4", "alice", 0, TOKEN_A, "live:10+0")
        )
        join = Command(JOIN, 1, TOKEN_B, player="bobby", at=at)
        answers = self.on(via, lambda node: node.change_game(GAME, join))
        self.assertTrue(all(isinstance(a, str) for a in answers), answers)
        others = tuple(i for i in SERVERS if i not in via)
        self.on(others, lambda node: node.sync_game(GAME))
        self.assertEqual({self.document(i)["version"] for i in SERVERS}, {2})
        return at

    def document(self, server_id: int) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.grid.documents(server_id)[GAME])
        return loaded


class ServersEndGamesAloneTests(TimedGridCase):
    def test_each_server_ends_the_game_with_the_same_event(self) -> None:
        joined = self.start_game()
        deadline = joined + 10_000
        # Server 2's clock is 400 ms ahead: it ends the game first, alone.
        self.grid.run((deadline + 3_000 - 400 - self.now()) / 1000 + 0.01)
        self.assertEqual(
            [self.document(i)["status"] for i in SERVERS], ["active", "finished", "active"]
        )
        self.grid.run(1.0)
        documents = self.grid.assert_converged(self)
        document = json.loads(documents[GAME])
        self.assertEqual(document["result"], {"winner": 1, "reason": "time"})
        self.assertEqual(document["version"], 3)
        self.assertEqual(
            {self.grid.node(i).replica.game(GAME).event_json[-1] for i in SERVERS},  # type: ignore[union-attr]
            {
                json.dumps(
                    {
                        "at": deadline,
                        "seat": 0,
                        "token": self.grid.node(1).replica.game(GAME).tokens[0],
                        "type": "timeout",
                    },
                    separators=(",", ":"),
                )
            },  # type: ignore[union-attr]
        )
        self.assertFalse(self.grid.log.text().count("discarded"))

    def test_a_server_down_during_the_wait(self) -> None:
        joined = self.start_game()
        self.grid.stop(3)
        self.grid.run((joined + 10_000 + 3_000 - self.now()) / 1000 + 5)
        self.assertEqual(self.document(1)["status"], "finished")
        self.grid.start_server(3)
        self.grid.run_until(lambda: self.grid.serving() == list(SERVERS), limit=20)
        self.grid.run(0.1)
        self.assertEqual(self.document(3)["result"], {"winner": 1, "reason": "time"})
        self.grid.assert_converged(self)


class RaceTests(TimedGridCase):
    """A move stamped before the deadline against a server's own timeout."""

    # Server 2's clock is 5 s ahead (far beyond clock_skew): it times out
    # games while the other two still accept moves stamped in time.
    offsets = {1: 0, 2: 5_000, 3: 0}

    def test_an_acknowledged_move_survives_a_timeout(self) -> None:
        joined = self.start_game(via=(1, 3))
        deadline = joined + 10_000
        # Server 2 ends the game at its own deadline + grace: real time deadline - 2 s.
        self.grid.run((deadline - 2_000 - self.now()) / 1000 + 0.01)
        self.assertEqual(self.document(2)["result"], {"winner": 1, "reason": "time"})
        # Now (deadline - 2 s) seat 0 moves, stamped in time: servers 1 and 3
        # accept, server 2 no longer can (its game is at version 3).
        move = Command(MOVE, 2, TOKEN_A, move="4", at=self.now())
        answers = self.on(SERVERS, lambda node: node.change_game(GAME, move))
        self.assertIsInstance(answers[0], str)
        self.assertEqual(answers[0], answers[2])  # acknowledged: two identical answers
        self.assertIsInstance(answers[1], wire.StaleVersion)
        acknowledged = json.loads(answers[0])
        # Read repair on the odd one out (the client's SyncGame): the majority wins.
        self.on((2,), lambda node: node.sync_game(GAME))
        self.assertEqual(self.document(2), acknowledged)
        self.assertIn("discarded 1 local event(s)", self.grid.log.text())
        documents = self.grid.assert_converged(self)
        self.assertEqual(json.loads(documents[GAME])["moves"], ["4"])
        # The game goes on, with seat 1's deadline; server 2 ends it again, early,
        # and the majority's own timeouts agree with it byte for byte.
        self.grid.run(30)
        documents = self.grid.assert_converged(self)
        self.assertEqual(json.loads(documents[GAME])["result"], {"winner": 0, "reason": "time"})

    def test_a_provisional_move_may_lose_to_two_timeouts(self) -> None:
        """The other side of the rule: a move only one server took is not
        acknowledged, and the two timeouts win."""
        self.grid.node(3).clock_offset_ms = 5_000
        joined = self.start_game(via=(1,))
        self.grid.run((joined + 8_000 - self.now()) / 1000 + 0.01)
        move = Command(MOVE, 2, TOKEN_A, move="4", at=self.now())
        answers = self.on(SERVERS, lambda node: node.change_game(GAME, move))
        self.assertIsInstance(answers[0], str)
        self.assertIsInstance(answers[1], wire.StaleVersion)
        self.assertIsInstance(answers[2], wire.StaleVersion)
        self.on((1,), lambda node: node.sync_game(GAME))
        self.assertEqual(self.document(1)["result"], {"winner": 1, "reason": "time"})
        self.grid.assert_converged(self)
