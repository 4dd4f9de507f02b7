"""``replgame bot --open`` (game/client/opponent.py), which the Xvfb tests play
against: it creates an open game, waits for a person, plays only its seat; with
``flag_rate`` in a timed game it never moves and loses on time."""

from __future__ import annotations

import random
from typing import Any

from twisted.internet.defer import succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from game import errors as wire
from game.client.opponent import POLL, run_open_bots
from game.config import default_config
from tests.client_gui.helpers import document, timed
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

    def create_game(
        self, game_id: str, kind: str, player: str, token: str, seat: int, clock: str = ""
    ) -> Any:
        assert clock == "", "an untimed bot asks for no clock"
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


class TimedServers(ScriptedServers):
    """A ``live:10+0`` game whose clock starts when the person joins (at
    ``joined_ms`` on the servers' time, this clock's); the servers end it on
    time when the test says so."""

    CONTROL = "live:10+0"

    def __init__(self) -> None:
        super().__init__()
        self.config = default_config()
        self.joined_ms: int | None = None
        self.result: dict[str, Any] | None = None

    def server_now(self) -> int:
        return int(self.clock.seconds() * 1000)

    def join(self) -> None:
        self.players = ("bot0", "person")
        self.joined_ms = self.server_now()

    @property
    def deadline_ms(self) -> int:
        assert self.joined_ms is not None
        return self.joined_ms + 10_000

    def doc(self) -> dict[str, Any]:
        base = super().doc()
        if self.result is not None:
            finished = {**base, "status": "finished", "to_move": None, "legal": []}
            return timed(
                {**finished, "result": self.result, "version": base["version"] + 1},
                self.CONTROL,
                (0, 10_000),
                None,
            )
        return timed(base, self.CONTROL, (10_000, 10_000), self.joined_ms)

    def create_game(
        self, game_id: str, kind: str, player: str, token: str, seat: int, clock: str = ""
    ) -> Any:
        assert clock == self.CONTROL
        self.creates += 1
        self.game = {"id": game_id, "token": token}
        self.players = (player, None)
        return succeed(ok(self.doc()))


class FlaggingBotTests(SynchronousTestCase):
    def run_bot(self, servers: TimedServers, flag_rate: float) -> Any:
        return run_open_bots(
            servers,  # type: ignore[arg-type]
            1,
            "connect4",
            random.Random(3),
            clock=servers.clock,
            stall_timeout=5,
            time_control=TimedServers.CONTROL,
            flag_rate=flag_rate,
        )

    def test_never_moves_and_waits_for_the_game_to_end_on_time(self) -> None:
        servers = TimedServers()
        done = self.run_bot(servers, flag_rate=1.0)
        servers.clock.advance(POLL)
        servers.join()
        # Past its deadline and the servers' flag_grace, still within stall_timeout:
        # it waits (a stall_timeout shorter than the clock does not end the wait).
        grace = servers.config.tuning.flag_grace
        for _ in range(int((10 + grace + 4) / POLL)):
            servers.clock.advance(POLL)
        self.assertEqual(servers.moves, [])
        self.assertNoResult(done)
        servers.result = {"winner": 1, "reason": "time"}
        servers.clock.advance(POLL)
        report = self.successResultOf(done)
        self.assertEqual(servers.moves, [])
        self.assertEqual((report.moves, report.flagged, report.claimed), (0, 1, 0))
        self.assertEqual(report.abandoned, [])
        [result] = report.finished
        self.assertEqual((result.winner, result.reason), (1, "time"))

    def test_gives_up_stall_timeout_after_the_servers_should_have_ended_it(self) -> None:
        servers = TimedServers()
        done = self.run_bot(servers, flag_rate=1.0)
        servers.clock.advance(POLL)
        servers.join()
        grace = servers.config.tuning.flag_grace
        for _ in range(int((10 + grace + 5 + 1) / POLL)):
            servers.clock.advance(POLL)
        report = self.successResultOf(done)
        [abandoned] = report.abandoned
        self.assertIn("nothing happened", abandoned.reason)
        self.assertEqual(servers.moves, [])

    def test_without_flag_rate_it_plays_the_timed_game(self) -> None:
        servers = TimedServers()
        done = self.run_bot(servers, flag_rate=0.0)
        servers.clock.advance(POLL)
        servers.join()
        servers.clock.advance(POLL)
        self.assertEqual(len(servers.moves), 1)
        self.assertNoResult(done)


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
