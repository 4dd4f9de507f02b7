"""``replgame bot --open`` (game/client/opponent.py), which the Xvfb test plays
against: it creates an open game, waits for a person, plays only its seat."""

from __future__ import annotations

import random
from typing import Any

from twisted.internet.defer import succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from game import errors as wire
from game.client.opponent import POLL, run_open_bots
from tests.client_gui.helpers import document
from tests.client_gui.test_controller import ok, refused


class ScriptedServers:
    """Holds one game; a "person" joins and moves when the test says so."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.game: dict[str, Any] | None = None
        self.moves: list[str] = []
        self.players: tuple[str | None, str | None] = ("bot0", None)
        self.creates = 0

    def doc(self) -> dict[str, Any]:
        assert self.game is not None
        return document("connect4", self.moves, players=self.players, game_id=self.game["id"])

    def create_game(self, game_id: str, kind: str, player: str, token: str, seat: int) -> Any:
        self.creates += 1
        self.game = {"id": game_id, "token": token}
        self.players = (player, None)
        return succeed(ok(self.doc()))

    def get_game(self, game_id: str) -> Any:
        return succeed(ok(self.doc()))

    def make_move(self, game_id: str, version: int, move: str, token: str) -> Any:
        assert self.game is not None and token == self.game["token"]
        current = self.doc()
        if current["to_move"] != 0 or version != current["version"]:
            return succeed(refused(wire.NotYourTurn("not yours")))
        self.moves.append(move)
        return succeed(ok(self.doc()))


class OpenBotTests(SynchronousTestCase):
    def test_waits_for_a_person_and_plays_its_seat_only(self) -> None:
        servers = ScriptedServers()
        lines: list[str] = []
        done = run_open_bots(
            servers,  # type: ignore[arg-type]
            1,
            "connect4",
            random.Random(3),
            clock=servers.clock,
            stall_timeout=60,
            announce=lines.append,
        )
        self.assertEqual(servers.creates, 1)
        self.assertIn("waiting for an opponent", lines[0])
        servers.clock.advance(5 * POLL)
        self.assertEqual(servers.moves, [])  # nobody joined: no move
        servers.players = ("bot0", "person")
        servers.clock.advance(POLL)
        self.assertEqual(len(servers.moves), 1)  # the bot, black, moved once
        servers.clock.advance(5 * POLL)
        self.assertEqual(len(servers.moves), 1)  # and waits for the person
        while not self.successResultOf_or_none(done):
            servers.moves.append(next(m for m in "1234567" if m in servers.doc()["legal"]))
            servers.clock.advance(POLL)
        report = self.successResultOf(done)
        self.assertEqual(len(report.finished), 1)
        self.assertEqual(report.finished[0].moves, len(servers.moves))
        self.assertEqual(report.abandoned, [])

    def test_abandons_when_nobody_comes(self) -> None:
        servers = ScriptedServers()
        done = run_open_bots(
            servers,  # type: ignore[arg-type]
            1,
            "connect4",
            random.Random(3),
            clock=servers.clock,
            stall_timeout=10,
        )
        servers.clock.advance(11)
        servers.clock.advance(POLL)
        report = self.successResultOf(done)
        self.assertEqual(len(report.abandoned), 1)
        self.assertIn("nothing happened", report.abandoned[0].reason)

    def successResultOf_or_none(self, deferred: Any) -> Any:
        results: list[Any] = []
        deferred.addBoth(lambda result: results.append(result) or result)
        return results[0] if results else None
