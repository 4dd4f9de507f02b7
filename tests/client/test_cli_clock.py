"""Tests for the time controls of ``replgame``: ``new --clock``, clocks in
``show`` and ``watch`` (ticking, claiming on time), ``claim``, the control in
``games``, and what the text says of a game lost on time.

The fake servers do not decide timed games (the server's rules do): tests set
each game's ``clock`` field (:attr:`FakeClient.clocks`) to the moment they need.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from game.client import boards, reports
from game.client.bots import BotReport, run_bots
from game.client.cli import watch
from game.client.cli.choices import CliError
from game.client.cli.commands import COMMANDS
from game.client.cli.parser import build_parser
from game.client.cli.session import Session
from game.client.majority import ListedGame
from game.client.opponent import run_open_bots
from game.client.tokens import TokenStore
from game.client.watching import WatchUpdate
from game.config import default_config
from tests.client.cli_fakes import EPOCH, FakeClient, typed_doc


def running(deadline: int, remaining: tuple[int, int] = (300_000, 300_000)) -> dict[str, Any]:
    """A live 5+5 clock whose side to move runs out at ``deadline``."""
    return {
        "control": "live:300+5",
        "remaining": list(remaining),
        "at": EPOCH,
        "deadline": deadline,
    }


class ParserTests(SynchronousTestCase):
    def refused(self, *argv: str) -> str:
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), self.assertRaises(SystemExit):
            build_parser().parse_args(list(argv))
        return stderr.getvalue()

    def test_new_clock(self) -> None:
        args = build_parser().parse_args(["new", "connect4", "--as", "a", "--clock", "live:300+5"])
        self.assertEqual(args.clock, "live:300+5")
        args = build_parser().parse_args(["new", "connect4", "--as", "a", "--clock", "corr:3"])
        self.assertEqual(args.clock, "corr:3")
        self.assertIsNone(build_parser().parse_args(["new", "connect4", "--as", "a"]).clock)

    def test_a_bad_control_is_refused_before_anything_is_sent(self) -> None:
        message = self.refused("new", "connect4", "--as", "a", "--clock", "live:5+0")
        self.assertIn("argument --clock: base must be 10-10800 seconds", message)
        self.assertIn("e.g. live:300+5", message)
        self.assertIn("--clock", self.refused("new", "connect4", "--as", "a", "--clock", "5+3"))
        self.assertIn(
            "days must be 1-30", self.refused("bot", "--games", "1", "--clock", "corr:31")
        )

    def test_claim(self) -> None:
        args = build_parser().parse_args(["claim", "g1", "--seat", "1"])
        self.assertEqual((args.command, args.game, args.seat), ("claim", "g1", 1))

    def test_bot_clock_and_flag_rate(self) -> None:
        argv = ["bot", "--games", "4", "--clock", "live:10+0", "--flag-rate", "0.5"]
        args = build_parser().parse_args(argv)
        self.assertEqual((args.clock, args.flag_rate), ("live:10+0", 0.5))
        self.assertEqual(build_parser().parse_args(["bot", "--games", "1"]).flag_rate, 0.0)
        self.assertIn("between 0 and 1", self.refused("bot", "--games", "1", "--flag-rate", "2"))


class TimedCommandTests(SynchronousTestCase):
    def setUp(self) -> None:
        directory = Path(tempfile.mkdtemp(prefix="replgame-cli-test-"))
        self.addCleanup(shutil.rmtree, directory, True)
        self.store = TokenStore(directory / "seats.json")
        self.client = FakeClient()

    def session(self, *argv: str, reactor: Any = None) -> tuple[Session, io.StringIO]:
        args = build_parser().parse_args(list(argv))
        out = io.StringIO()
        session = Session(
            reactor or Clock(),
            args,
            default_config(),
            out=out,
            store=self.store,
            client=self.client,
        )
        return session, out

    def run_command(self, *argv: str) -> str:
        session, out = self.session(*argv)
        self.successResultOf(Deferred.fromCoroutine(COMMANDS[session.args.command](session)))
        return out.getvalue()

    def failing(self, *argv: str) -> CliError:
        session, _ = self.session(*argv)
        failure = self.failureResultOf(
            Deferred.fromCoroutine(COMMANDS[session.args.command](session)), CliError
        )
        error: CliError = failure.value
        return error

    def timed_game(self) -> str:
        """A live 5+5 game: alice (black) played 4, bob (white) is to move."""
        data = json.loads(
            self.run_command("new", "connect4", "--as", "alice", "--clock", "live:300+5", "--json")
        )
        game_id: str = data["game"]["id"]
        self.run_command("join", game_id, "--as", "bob")
        self.run_command("move", game_id, "4", "--seat", "0")
        return game_id

    def test_new_sends_the_clock_and_says_so(self) -> None:
        text = self.run_command("new", "connect4", "--as", "alice", "--clock", "live:300+5")
        ((command, arguments),) = self.client.requests
        self.assertEqual((command, arguments["clock"]), ("CreateGame", "live:300+5"))
        self.assertIn(
            "time control 5+5 (live:300+5): the clock starts when the second player joins", text
        )
        self.assertIn(
            "clock: 5+5  black 5:00  white 5:00  (starts when a second player joins)", text
        )

    def test_new_json_passes_the_clock_through(self) -> None:
        data = json.loads(
            self.run_command("new", "reversi", "--as", "alice", "--clock", "corr:3", "--json")
        )
        self.assertEqual(
            data["game"]["clock"],
            {"control": "corr:3", "remaining": [259_200_000] * 2, "at": None, "deadline": None},
        )

    def test_untimed_new_sends_no_clock(self) -> None:
        text = self.run_command("new", "connect4", "--as", "alice")
        ((_, arguments),) = self.client.requests
        self.assertNotIn("clock", arguments)
        self.assertNotIn("clock", text)

    def test_show_reads_the_running_clock_on_the_servers_scale(self) -> None:
        game_id = self.timed_game()
        self.client.clocks[game_id] = running(EPOCH + 65_000, (310_000, 42_000))
        self.client.clock.advance(2.5)
        text = self.run_command("show", game_id)
        self.assertIn(
            "status: active, bob (white) to move\nclock: 5+5  black 5:10  white 1:02 (running)\n",
            text,
        )
        self.client.clock.advance(60)
        self.assertIn("white 2.5 (running)", self.run_command("show", game_id))
        self.client.clock.advance(60)
        self.assertIn("white 0.0 (out of time)", self.run_command("show", game_id))

    def test_claim_refused_says_how_much_time_is_left(self) -> None:
        game_id = self.timed_game()
        self.client.clocks[game_id] = running(EPOCH + 42_000)
        error = self.failing("claim", game_id)
        self.assertEqual(
            error.message,
            "claim refused by the servers: TIME_LEFT; bob (white) still has 0:42 on the clock; "
            "claim again once it runs out (the servers end the game themselves 5 s after that)",
        )
        self.assertEqual(error.data["error"]["tag"], "TIME_LEFT")
        self.assertEqual(self.client.requests[-1][0], "ClaimTimeout")

    def test_claim_once_the_opponent_flagged(self) -> None:
        game_id = self.timed_game()
        self.client.clocks[game_id] = running(EPOCH + 42_000)
        self.client.clock.advance(43)
        text = self.run_command("claim", game_id)
        self.assertTrue(
            text.startswith("alice (black) claimed the game: alice (black) wins on time\n")
        )
        self.assertIn("result: alice (black) wins on time\n", text)
        self.assertIn("clock: 5+5  black 5:00  white 0.0\n", text)
        data = json.loads(self.run_command("show", game_id, "--json"))
        self.assertEqual(data["game"]["result"], {"winner": 0, "reason": "time"})

    def test_claim_on_an_untimed_game_sends_nothing(self) -> None:
        data = json.loads(self.run_command("new", "connect4", "--as", "alice", "--json"))
        game_id = data["game"]["id"]
        self.run_command("join", game_id, "--as", "bob")
        error = self.failing("claim", game_id)
        self.assertEqual(error.message, f"game {game_id} is untimed: there is no clock to claim on")
        self.assertNotIn("ClaimTimeout", [command for command, _ in self.client.requests])

    def test_claim_on_ones_own_clock_is_refused(self) -> None:
        game_id = self.timed_game()
        error = self.failing("claim", game_id, "--seat", "1")
        self.assertIn("it is your turn in game", error.message)
        self.assertNotIn("ClaimTimeout", [command for command, _ in self.client.requests])

    # -- watch -----------------------------------------------------------------------

    def watching(
        self, game_id: str, *options: str
    ) -> tuple[Deferred[None], io.StringIO, MemoryReactorClock, Any]:
        reactor = MemoryReactorClock()
        session, out = self.session("watch", game_id, *options, reactor=reactor)
        done = Deferred.fromCoroutine(watch.cmd_watch(session))
        _, listener = self.client.watched
        return done, out, reactor, listener

    def update(self, game_id: str) -> WatchUpdate:
        return WatchUpdate(
            game_id, self.client.document(game_id), False, (1, 2, 3), {1: 3, 2: 3, 3: 3}
        )

    def test_watch_ticks_once_a_second_while_a_clock_runs(self) -> None:
        game_id = self.timed_game()
        self.client.clocks[game_id] = running(EPOCH + 65_000)
        done, out, reactor, listener = self.watching(game_id)
        listener(self.update(game_id))
        self.assertIn("clock: 5+5  black 5:00  white 1:05 (running)", out.getvalue())
        self.client.clock.advance(1)
        reactor.advance(1)
        self.client.clock.advance(1)
        reactor.advance(1)
        self.assertEqual(
            out.getvalue().splitlines()[-2:],
            [
                "clock: 5+5  black 5:00  white 1:04 (running)",
                "clock: 5+5  black 5:00  white 1:03 (running)",
            ],
        )
        self.assertNoResult(done)

    def test_watch_claims_for_a_seated_watcher_once_the_opponent_flags(self) -> None:
        game_id = self.timed_game()
        self.client.clocks[game_id] = running(EPOCH + 3_000)
        done, out, reactor, listener = self.watching(game_id)
        listener(self.update(game_id))
        self.client.clock.advance(3.25)
        reactor.advance(3.25)
        claims = [
            arguments for command, arguments in self.client.requests if command == "ClaimTimeout"
        ]
        self.assertEqual(claims, [{"game_id": game_id, "version": 3}])
        self.assertIn("claimed the game on time for alice (black)\n", out.getvalue())
        listener(
            WatchUpdate(
                game_id, self.client.document(game_id), False, (1, 2, 3), {1: 4, 2: 4, 3: 4}
            )
        )
        self.successResultOf(done)
        self.assertIn("result: alice (black) wins on time", out.getvalue())
        calls = len(reactor.getDelayedCalls())
        reactor.advance(10)  # nothing ticks after the end
        self.assertEqual(len(reactor.getDelayedCalls()), calls)

    def test_watch_ends_only_once_its_claim_is_answered(self) -> None:
        game_id = self.timed_game()
        self.client.clocks[game_id] = running(EPOCH + 3_000)
        held: list[tuple[Deferred[Any], Any]] = []
        claim = self.client.claim_timeout

        def answer_later(*arguments: Any) -> Deferred[Any]:
            later: Deferred[Any] = Deferred()
            held.append((later, self.successResultOf(claim(*arguments))))
            return later

        self.client.claim_timeout = answer_later  # type: ignore[method-assign]
        done, out, reactor, listener = self.watching(game_id)
        listener(self.update(game_id))
        self.client.clock.advance(3.25)
        reactor.advance(3.25)
        # The claim's push ends the game before the claim's answer arrives.
        listener(
            WatchUpdate(
                game_id, self.client.document(game_id), False, (1, 2, 3), {1: 4, 2: 4, 3: 4}
            )
        )
        self.assertNoResult(done)
        ((later, outcome),) = held
        later.callback(outcome)
        self.successResultOf(done)
        self.assertIn("claimed the game on time for alice (black)\n", out.getvalue())

    def test_watch_json_reports_the_claim_and_does_not_tick(self) -> None:
        game_id = self.timed_game()
        self.client.clocks[game_id] = running(EPOCH + 3_000)
        _, out, reactor, listener = self.watching(game_id, "--json")
        listener(self.update(game_id))
        reactor.advance(2)
        self.assertEqual(len(out.getvalue().splitlines()), 1)
        self.client.clock.advance(3.25)
        reactor.advance(1.25)
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        self.assertEqual(lines[0]["game"]["clock"], running(EPOCH + 3_000))
        self.assertEqual(
            lines[1], {"claim": {"game_id": game_id, "version": 3, "seat": 0, "provisional": False}}
        )

    def test_a_watcher_without_a_seat_never_claims(self) -> None:
        game_id = self.timed_game()
        self.client.clocks[game_id] = running(EPOCH + 3_000)
        self.store.path.unlink()
        _, _, reactor, listener = self.watching(game_id)
        listener(self.update(game_id))
        self.client.clock.advance(30)
        reactor.advance(30)
        self.assertNotIn("ClaimTimeout", [command for command, _ in self.client.requests])


class ClockTextTests(SynchronousTestCase):
    def test_a_win_on_time(self) -> None:
        document = typed_doc(
            9, status="finished", to_move=None, legal=[], result={"winner": 1, "reason": "time"}
        )
        self.assertEqual(boards.describe_result(document), "bob (white) wins on time")

    def test_untimed_games_have_no_clock_line(self) -> None:
        self.assertIsNone(boards.clock_line(typed_doc(3), EPOCH))
        self.assertNotIn("clock", boards.render_header(typed_doc(3), EPOCH))

    def test_correspondence(self) -> None:
        clock = {
            "control": "corr:3",
            "remaining": [259_200_000] * 2,
            "at": EPOCH,
            "deadline": EPOCH + 259_200_000,
        }
        line = boards.clock_line(typed_doc(3, clock=clock), EPOCH + 3_600_000)
        self.assertEqual(line, "clock: 3 days per move  black 2d 23h (running)  white 3d 00h")

    def test_without_a_moment_the_clock_as_of_the_last_event(self) -> None:
        line = boards.clock_line(typed_doc(3, clock=running(EPOCH + 65_000)), None)
        self.assertEqual(line, "clock: 5+5  black 1:05 (running)  white 5:00")

    def test_an_unreadable_control_is_shown_as_sent(self) -> None:
        clock = {"control": "blitz", "remaining": [1, 1], "at": None, "deadline": None}
        self.assertEqual(boards.clock_line(typed_doc(3, clock=clock), EPOCH), "clock: blitz")


class GamesControlTests(SynchronousTestCase):
    def listed(self, game_id: str, **fields: object) -> ListedGame:
        summary = {"id": game_id, "kind": "connect4", "status": "active", "version": 3,
                   "players": ["alice", "bob"], **fields}  # fmt: skip
        return ListedGame(summary, False, (1, 2, 3))

    def test_a_clock_column_once_a_game_is_timed(self) -> None:
        listed = [
            self.listed("g1", clock="live:300+5"),
            self.listed("g2"),
            self.listed("g3", clock="corr:1"),
            self.listed("g4", clock="live:30+0"),
        ]
        self.assertEqual(
            reports.format_games(listed).splitlines(),
            [
                "id  kind      clock           status  version  players",
                "g1  connect4  5+5             active  3        alice vs bob",
                "g2  connect4  untimed         active  3        alice vs bob",
                "g3  connect4  1 day per move  active  3        alice vs bob",
                "g4  connect4  30s+0           active  3        alice vs bob",
                "4 games",
            ],
        )
        self.assertEqual(reports.games_json(listed, None, [])["games"][0]["clock"], "live:300+5")


class TimedBotTests(SynchronousTestCase):
    def run_bots(self, client: FakeClient, games: int, **kwargs: Any) -> BotReport:
        client.run_clocks = True
        done = run_bots(client, games, rng=random.Random(5), **kwargs)  # type: ignore[arg-type]
        for _ in range(10_000):
            if done.called:
                break
            client.clock.advance(0.25)
        report: BotReport = self.successResultOf(done)
        return report

    def test_timed_games_without_flags_read_as_before(self) -> None:
        client = FakeClient()
        report = self.run_bots(client, 3, kind="connect4", time_control="live:10+0")
        self.assertEqual((len(report.finished), report.on_time, report.flagged), (3, 0, 0))
        requests = [arguments for command, arguments in client.requests if command == "CreateGame"]
        self.assertEqual({arguments["clock"] for arguments in requests}, {"live:10+0"})
        self.assertIn(
            "time control 10s+0 (live:10+0): 0 games ended on time (0 flagged on purpose; "
            "0 ended by a bot's claim, 0 by the servers' own timeout)",
            report.describe(),
        )
        data = report.to_json()
        self.assertEqual(
            {k: data[k] for k in ("clock", "on_time", "flagged", "claimed")},
            {"clock": "live:10+0", "on_time": 0, "flagged": 0, "claimed": 0},
        )

    def test_every_game_flagged_ends_on_time_by_claims_and_by_the_servers(self) -> None:
        client = FakeClient()
        report = self.run_bots(client, 8, kind="connect4", time_control="live:10+0", flag_rate=1.0)
        self.assertEqual(report.abandoned, [])
        self.assertEqual((len(report.finished), report.on_time, report.flagged), (8, 8, 8))
        self.assertEqual(report.claimed + len(client.timed_out), 8)
        self.assertGreater(report.claimed, 0)
        self.assertGreater(len(client.timed_out), 0)
        claims = [arguments for command, arguments in client.requests if command == "ClaimTimeout"]
        self.assertEqual(len(claims), report.claimed)  # once each, never early
        for result in report.finished:
            self.assertEqual(result.reason, "time")

    def test_some_games_flagged(self) -> None:
        client = FakeClient()
        report = self.run_bots(client, 12, kind="connect4", time_control="live:10+0", flag_rate=0.5)
        self.assertEqual(report.abandoned, [])
        self.assertEqual(report.on_time, report.flagged)
        self.assertTrue(0 < report.flagged < 12, report.flagged)

    def test_untimed_runs_draw_the_same_moves_as_before(self) -> None:
        """``--flag-rate`` without ``--clock`` consumes no randomness."""
        first, second = FakeClient(), FakeClient()
        self.run_bots(first, 2, kind="reversi")
        report = self.run_bots(second, 2, kind="reversi", flag_rate=0.7)
        moves = [
            [a["move"] for c, a in client.requests if c == "MakeMove"] for client in (first, second)
        ]
        self.assertEqual(moves[0], moves[1])
        self.assertNotIn("clock", report.to_json())
        self.assertNotIn("time control", report.describe())

    def test_flag_rate_needs_a_clock(self) -> None:
        args = build_parser().parse_args(["bot", "--games", "1", "--flag-rate", "0.5"])
        session = Session(Clock(), args, default_config(), out=io.StringIO(), client=FakeClient())
        failure = self.failureResultOf(Deferred.fromCoroutine(COMMANDS["bot"](session)), CliError)
        self.assertIn("--flag-rate needs timed games", failure.value.message)


class OpenBotClaimTests(SynchronousTestCase):
    def test_the_bot_claims_when_the_persons_time_runs_out(self) -> None:
        client = FakeClient()
        client.run_clocks = True
        announced: list[str] = []
        done = run_open_bots(
            client,
            1,
            "connect4",
            random.Random(1),
            time_control="live:10+0",
            announce=announced.append,
        )
        (game_id,) = client.games
        self.assertEqual(client.clocks[game_id]["control"], "live:10+0")
        client.join_game(game_id, 1, "carol", "carol-token-0123456789")
        for _ in range(40):  # the bot moves; carol never does
            client.clock.advance(0.25)
        self.assertNoResult(done)
        claims = [arguments for command, arguments in client.requests if command == "ClaimTimeout"]
        self.assertEqual(claims, [])
        for _ in range(4):
            client.clock.advance(0.25)
        report: BotReport = self.successResultOf(done)
        claims = [arguments for command, arguments in client.requests if command == "ClaimTimeout"]
        self.assertEqual(len(claims), 1)
        self.assertEqual((report.on_time, report.claimed), (1, 1))
        self.assertEqual(report.finished[0].winner, 0)
        self.assertEqual(client.timed_out, [])
