"""Tests for whole ``replgame`` commands and bot runs over an in-memory
fake client (:class:`~tests.client.cli_fakes.FakeClient`)."""

from __future__ import annotations

import io
import json
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from game import errors as wire
from game.client.bots import run_bots
from game.client.cli import watch
from game.client.cli.choices import CliError
from game.client.cli.commands import COMMANDS
from game.client.cli.parser import build_parser
from game.client.cli.session import Session
from game.client.client import NoServers
from game.client.tokens import TokenStore
from game.client.watching import WatchUpdate
from game.config import default_config
from tests.client.cli_fakes import CLUSTER, FakeClient, outcome_of


class CommandTests(SynchronousTestCase):
    def setUp(self) -> None:
        directory = Path(tempfile.mkdtemp(prefix="replgame-cli-test-"))
        self.addCleanup(shutil.rmtree, directory, True)
        self.store = TokenStore(directory / "seats.json")
        self.client = FakeClient()

    def run_command(self, *argv: str) -> str:
        args = build_parser().parse_args(list(argv))
        out = io.StringIO()
        session = Session(
            Clock(), args, default_config(), out=out, store=self.store, client=self.client
        )
        self.successResultOf(Deferred.fromCoroutine(COMMANDS[args.command](session)))
        return out.getvalue()

    def failing(self, *argv: str) -> CliError:
        args = build_parser().parse_args(list(argv))
        session = Session(
            Clock(), args, default_config(), out=io.StringIO(), store=self.store, client=self.client
        )
        failure = self.failureResultOf(
            Deferred.fromCoroutine(COMMANDS[args.command](session)), CliError
        )
        error: CliError = failure.value
        return error

    def new_game(self, kind: str = "connect4") -> str:
        data = json.loads(self.run_command("new", kind, "--as", "alice", "--json"))
        game_id: str = data["game"]["id"]
        return game_id

    def test_new_stores_the_seat(self) -> None:
        data = json.loads(self.run_command("new", "reversi", "--as", "alice", "--json"))
        game_id = data["game"]["id"]
        self.assertEqual(len(game_id), 32)
        self.assertEqual(data["seat"], 0)
        self.assertEqual(data["game"]["players"], ["alice", None])
        self.assertEqual(
            {k: data[k] for k in ("provisional", "agreed", "differed", "failed")},
            {"provisional": False, "agreed": [1, 2, 3], "differed": [], "failed": []},
        )
        (held,) = self.store.find(CLUSTER, game_id)
        self.assertEqual((held.seat, held.player, held.kind), (0, "alice", "reversi"))
        self.assertEqual(self.client.games[game_id].seat_of(held.token), 0)

    def test_join_then_play_both_seats(self) -> None:
        game_id = self.new_game()
        text = self.run_command("join", game_id, "--as", "bob")
        self.assertIn(f"joined game {game_id} as bob (white, seat 1)", text)
        self.assertEqual(len(self.store.find(CLUSTER, game_id)), 2)
        # Holding both seats, each move goes to the seat to move.
        for column in "1212121":
            self.run_command("move", game_id[:6], column)
        game = self.client.games[game_id]
        self.assertEqual(game.status, "finished")
        self.assertEqual(game.result.winner if game.result else None, 0)
        text = self.run_command("show", game_id)
        self.assertIn("result: alice (black) wins: four in a row", text)
        self.assertNotIn("PROVISIONAL", text)

    def test_refused_move(self) -> None:
        game_id = self.new_game()
        self.run_command("join", game_id, "--as", "bob")
        error = self.failing("move", game_id, "9")
        self.assertEqual(
            error.message,
            "move refused by the servers: ILLEGAL_MOVE ('9' is not connect4 notation)",
        )
        self.assertEqual(error.data["error"]["tag"], "ILLEGAL_MOVE")
        self.assertFalse(error.data["provisional"])

    def test_stale_version_is_retried_once_after_a_sync(self) -> None:
        game_id = self.new_game()
        self.run_command("join", game_id, "--as", "bob")
        stale = [True]

        def fault(command: str, arguments: dict[str, Any]) -> Any:
            if command == "MakeMove" and stale[0]:
                stale[0] = False
                return outcome_of(
                    command, (1, wire.StaleVersion.at(3)), (2, wire.StaleVersion.at(3))
                )
            return None

        self.client.fault = fault
        data = json.loads(self.run_command("move", game_id, "4", "--json"))
        self.assertEqual(data["game"]["moves"], ["4"])
        commands = [name for name, _ in self.client.requests[-4:]]
        self.assertEqual(commands, ["GetGame", "MakeMove", "SyncGame", "MakeMove"])

    def test_provisional_move_is_marked(self) -> None:
        game_id = self.new_game()
        self.run_command("join", game_id, "--as", "bob")
        self.client.active = [2]
        self.client.inactive = [1, 3]
        text = self.run_command("move", game_id, "4")
        self.assertIn("PROVISIONAL: only server 2 answered; no majority", text)
        self.assertIn("note: answer of server 2; servers 1 and 3 unreachable", text)
        data = json.loads(self.run_command("move", game_id, "4", "--json"))
        self.assertTrue(data["provisional"])
        self.assertEqual((data["agreed"], data["unreachable"]), ([2], [1, 3]))

    def test_draw_offer_then_accept(self) -> None:
        game_id = self.new_game()
        self.run_command("join", game_id, "--as", "bob")
        text = self.run_command("draw", game_id)
        self.assertIn("alice (black) offered a draw", text)
        self.run_command("move", game_id, "4")
        data = json.loads(self.run_command("draw", game_id, "--json"))
        self.assertEqual(data["action"], "accept")
        self.assertEqual(data["game"]["result"], {"winner": None, "reason": "draw agreed"})

    def test_resign_needs_a_seat_when_both_are_held(self) -> None:
        game_id = self.new_game()
        self.run_command("join", game_id, "--as", "bob")
        self.assertIn("--seat", self.failing("resign", game_id).message)
        data = json.loads(self.run_command("resign", game_id, "--seat", "1", "--json"))
        self.assertEqual(data["game"]["result"], {"winner": 0, "reason": "resigned"})

    def test_unknown_game(self) -> None:
        self.assertEqual(
            self.failing("move", "nosuch", "4").message, "no game nosuch on the servers"
        )
        self.assertEqual(self.failing("show", "nosuch").message, "no game nosuch on the servers")

    def test_an_answer_that_is_not_a_game_document(self) -> None:
        game_id = self.new_game()
        malformed = {"game": json.dumps({"id": game_id, "version": 1})}

        def fault(command: str, arguments: dict[str, Any]) -> Any:
            return outcome_of(command, (1, malformed), (2, malformed))

        self.client.fault = fault
        unreadable = "unreadable answer from the servers: game document has no 'result' field"
        self.assertEqual(self.failing("move", game_id, "4").message, unreadable)
        self.assertEqual(self.failing("join", game_id, "--as", "bob").message, unreadable)
        self.client.answers_each = {1: malformed, 2: malformed, 3: malformed}
        self.assertEqual(self.failing("show", game_id).message, unreadable)

    def test_show_repairs_the_server_that_differs(self) -> None:
        game_id = self.new_game()
        current = self.client.games[game_id].document()
        self.client.answers_each = {
            1: {"game": current},
            2: {"game": current},
            3: wire.UnknownGame(),
        }
        data = json.loads(self.run_command("show", game_id, "--json"))
        self.assertEqual((data["agreed"], data["differed"], data["repaired"]), ([1, 2], [3], [3]))
        self.assertEqual(self.client.sent, [(3, "SyncGame", {"game_id": game_id})])
        self.assertFalse(data["provisional"])

    def test_watch_draws_each_change_until_the_end(self) -> None:
        game_id = self.new_game()
        self.run_command("join", game_id, "--as", "bob")
        reactor = MemoryReactorClock()
        args = build_parser().parse_args(["watch", game_id, "--json"])
        out = io.StringIO()
        session = Session(
            reactor, args, default_config(), out=out, store=self.store, client=self.client
        )
        running = Deferred.fromCoroutine(watch.cmd_watch(session))
        _, listener = self.client.watched
        game = self.client.games[game_id]
        documents = {game.version: game.document()}

        def update(shown: int, provisional: bool = False, **versions: int) -> WatchUpdate:
            held = {int(k[1:]): v for k, v in versions.items()}
            agreed = tuple(sid for sid, v in sorted(held.items()) if v == shown)
            return WatchUpdate(game_id, documents[shown], provisional, agreed, held)

        # The first answers come one by one: nothing is drawn until all are in.
        listener(update(2, True, s1=2))
        self.assertEqual(out.getvalue(), "")
        listener(update(2, s1=2, s2=2))
        listener(update(2, s1=2, s2=2, s3=2))
        frames = [json.loads(line) for line in out.getvalue().splitlines()]
        self.assertEqual(len(frames), 1)
        self.assertEqual((frames[0]["game"]["version"], frames[0]["provisional"]), (2, False))
        self.assertEqual(frames[0]["versions"], {"1": 2, "2": 2, "3": 2})
        # A server ahead of the majority changes nothing that is shown.
        self.run_command("move", game_id, "4")
        documents[3] = game.document()
        listener(update(2, s1=2, s2=3, s3=2))
        self.assertEqual(len(out.getvalue().splitlines()), 1)
        listener(update(3, s1=3, s2=3, s3=2))
        for column in "141414":  # black completes column 4
            self.run_command("move", game_id, column)
        documents[9] = game.document()
        self.assertNoResult(running)
        listener(update(9, True, s1=9, s2=3, s3=2))
        self.assertNoResult(running)  # a provisional end is not the end
        listener(update(9, s1=9, s2=9, s3=2))
        self.successResultOf(running)
        frames = [json.loads(line) for line in out.getvalue().splitlines()]
        self.assertEqual([f["game"]["version"] for f in frames], [2, 3, 9, 9])
        self.assertEqual([f["provisional"] for f in frames], [False, False, True, False])
        self.assertEqual(frames[-1]["game"]["result"], {"winner": 0, "reason": "four in a row"})

    def test_watch_draws_what_it_has_after_a_second(self) -> None:
        game_id = self.new_game()
        reactor = MemoryReactorClock()
        args = build_parser().parse_args(["watch", game_id])
        out = io.StringIO()
        session = Session(
            reactor, args, default_config(), out=out, store=self.store, client=self.client
        )
        Deferred.fromCoroutine(watch.cmd_watch(session))
        _, listener = self.client.watched
        document = self.client.games[game_id].document()
        self.client.latest = WatchUpdate(game_id, document, True, (2,), {2: 1})
        listener(self.client.latest)
        self.assertEqual(out.getvalue(), "")
        reactor.advance(watch.WATCH_SETTLE)
        self.assertIn("PROVISIONAL: only server 2 holds this version; no majority", out.getvalue())
        self.assertIn("watching on servers 2: v1", out.getvalue())

    def test_no_server_reachable(self) -> None:
        self.client.active = []
        self.client.inactive = [1, 2, 3]
        self.assertIn("no server reachable at 127.0.0.1:7301", self.failing("show", "g1").message)


# -- bots ----------------------------------------------------------------------------------


class BotTests(SynchronousTestCase):
    def run_bots(self, client: FakeClient, games: int, **kwargs: Any) -> Any:
        done = run_bots(client, games, rng=random.Random(3), **kwargs)  # type: ignore[arg-type]
        for _ in range(10_000):
            if done.called:
                break
            client.clock.advance(0.5)
        return self.successResultOf(done)

    def test_games_of_each_kind_finish(self) -> None:
        client = FakeClient()
        report = self.run_bots(client, 6)
        self.assertEqual(len(report.finished), 6)
        self.assertEqual(
            sorted(r.kind for r in report.finished), sorted(["connect4", "reversi", "checkers"] * 2)
        )
        self.assertEqual(report.moves, sum(r.moves for r in report.finished))
        self.assertEqual((report.abandoned, report.disagreements), ([], []))
        for game in client.games.values():
            self.assertEqual(game.status, "finished")
        data = report.to_json()
        self.assertEqual((data["finished"], data["disagreements"]), (6, []))

    def test_one_kind(self) -> None:
        report = self.run_bots(FakeClient(), 3, kind="reversi")
        self.assertEqual({r.kind for r in report.finished}, {"reversi"})

    def test_faults_are_recorded_and_survived(self) -> None:
        """Every fifth move answers STALE_VERSION from one server and
        nothing from the others; the bots re-read and finish anyway."""
        client = FakeClient()
        count = [0]

        def fault(command: str, arguments: dict[str, Any]) -> Any:
            if command == "MakeMove":
                count[0] += 1
                if count[0] % 5 == 0:
                    return outcome_of(
                        command,
                        (1, wire.StaleVersion.at(arguments["version"] + 1)),
                        (2, TimeoutError("lost")),
                        (3, TimeoutError("lost")),
                    )
            return None

        client.fault = fault
        report = self.run_bots(client, 3, kind="connect4")
        self.assertEqual(len(report.finished), 3)
        self.assertTrue(report.disagreements)
        first = report.disagreements[0]
        self.assertEqual(
            (first.command, first.provisional, first.failed), ("MakeMove", True, (2, 3))
        )
        self.assertIn("server 1: STALE_VERSION: current version", first.describe())
        self.assertIn("server 2: failed: TimeoutError: lost", first.describe())
        self.assertGreater(report.rereads, 0)

    def test_a_game_that_cannot_progress_is_abandoned(self) -> None:
        client = FakeClient()
        client.fault = lambda command, arguments: (
            fail(NoServers("down")) if command == "MakeMove" else None
        )
        report = self.run_bots(client, 2, stall_timeout=5.0)
        self.assertEqual(len(report.abandoned), 2)
        self.assertIn("no progress for", report.abandoned[0].reason)
        self.assertIn("MakeMove: down", report.abandoned[0].reason)
        self.assertIn("abandoned", report.describe())
