"""Tests for the ``replgame`` command line: parsing, seat choice, output
shapes, and whole subcommands and bot runs over an in-memory fake client.

:class:`FakeClient` stands for a :class:`~game.client.client.ReplicatedClient`
whose three servers run the server's own decision logic
(:mod:`game.server.gamelog`) and agree, unless a test scripts a fault; its
answers are real :class:`~game.client.client.Outcome` values decided by
:func:`game.client.majority.decide`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from game import errors as wire
from game.client import cli
from game.client.bots import run_bots
from game.client.client import NoServers, Outcome, ServerStatus, WatchUpdate
from game.client.majority import ServerAnswer, decide
from game.client.tokens import Seat, TokenStore
from game.config import default_config
from game.server.gamelog import (
    ACCEPT_DRAW,
    JOIN,
    MOVE,
    OFFER_DRAW,
    RESIGN,
    Command,
    GameLog,
    Repeat,
    create_event,
)
from game.server.gamelog import decide as decide_event

CLUSTER = default_config().cluster_id


def outcome_of(command: str, *answers: tuple[int, Any], asked: int | None = None) -> Outcome:
    """The Outcome of answers arriving in this order (a dict is a response,
    a WireError an error, another exception a failure)."""
    arrived = [ServerAnswer.from_outcome(sid, value) for sid, value in answers]
    decision = decide(arrived, asked if asked is not None else len(arrived))
    assert decision is not None
    answered = {sid for sid, _ in answers}
    pending = tuple(sid for sid in (1, 2, 3) if asked == 3 and sid not in answered)
    return Outcome(command, decision, pending)


def doc(version: int = 3, **fields: Any) -> dict[str, Any]:
    base = {
        "id": "g1",
        "kind": "connect4",
        "version": version,
        "status": "active",
        "players": ["alice", "bob"],
        "to_move": 0,
        "moves": ["4"] * (version - 2),
        "position": "4" * (version - 2),
        "legal": ["1", "2", "3", "4", "5", "6", "7"],
        "draw_offer": None,
        "result": None,
    }
    base.update(fields)
    return base


def game_answer(document: dict[str, Any]) -> dict[str, str]:
    return {"game": json.dumps(document, sort_keys=True, separators=(",", ":"))}


def seat(number: int, game_id: str = "g1", player: str = "alice") -> Seat:
    return Seat(CLUSTER, game_id, number, player, f"token-{number}-0123456789abcdef", "connect4")


# -- parsing ---------------------------------------------------------------------


class ParserTests(SynchronousTestCase):
    def temporary_directory(self) -> Path:
        directory = Path(tempfile.mkdtemp(prefix="replgame-cli-test-"))
        self.addCleanup(shutil.rmtree, directory, True)
        return directory

    def parse(self, *argv: str) -> argparse.Namespace:
        return cli.build_parser().parse_args(list(argv))

    def refuses(self, *argv: str) -> str:
        err = io.StringIO()
        with contextlib.redirect_stderr(err), self.assertRaises(SystemExit) as raised:
            self.parse(*argv)
        self.assertEqual(raised.exception.code, 2)
        return err.getvalue()

    def test_common_options_before_or_after_the_command(self) -> None:
        after = self.parse("status", "--config", "c.toml", "--json")
        before = self.parse("--config", "c.toml", "--json", "status")
        for args in (after, before):
            self.assertEqual((args.command, args.config, args.json), ("status", "c.toml", True))
        plain = self.parse("status")
        self.assertEqual((plain.config, plain.servers, plain.json), (None, None, False))

    def test_servers_and_config_exclude_each_other(self) -> None:
        self.refuses("status", "--config", "c.toml", "--servers", "a:1,b:2,c:3")

    def test_new(self) -> None:
        args = self.parse("new", "reversi", "--as", "alice")
        self.assertEqual((args.kind, args.player, args.seat), ("reversi", "alice", 0))
        self.assertEqual(self.parse("new", "checkers", "--as", "bob", "--seat", "1").seat, 1)
        self.assertIn("invalid choice", self.refuses("new", "chess", "--as", "alice"))
        self.assertIn("--as", self.refuses("new", "connect4"))
        self.assertIn("player must", self.refuses("new", "connect4", "--as", " alice"))
        self.assertIn("a seat is 0", self.refuses("new", "connect4", "--as", "a", "--seat", "2"))

    def test_game_commands(self) -> None:
        args = self.parse("move", "g1", "4", "--seat", "1")
        self.assertEqual((args.command, args.game, args.move, args.seat), ("move", "g1", "4", 1))
        self.assertIsNone(self.parse("resign", "g1").seat)
        self.assertIsNone(self.parse("draw", "g1").seat)
        self.assertEqual(self.parse("join", "g1", "--as", "bob").player, "bob")
        self.assertFalse(self.parse("watch", "g1").keep)
        self.assertIn("game_id", self.refuses("show", "not/an/id"))

    def test_games(self) -> None:
        args = self.parse("games", "--status", "active", "--kind", "reversi", "--mine")
        self.assertEqual((args.status, args.kind, args.mine), ("active", "reversi", True))
        self.refuses("games", "--status", "paused")

    def test_bot_and_cluster(self) -> None:
        args = self.parse("bot", "--games", "20")
        self.assertEqual((args.games, args.kind, args.concurrency), (20, None, 50))
        self.assertIn("at least 1", self.refuses("bot", "--games", "0"))
        self.refuses("bot")
        args = self.parse("cluster", "--config", "c.toml")
        self.assertEqual((args.run_dir, args.wait), ("replgame-run", 30.0))

    def test_every_command_has_help(self) -> None:
        for command in [*cli.COMMANDS, "cluster"]:
            out = io.StringIO()
            with contextlib.redirect_stdout(out), self.assertRaises(SystemExit) as raised:
                self.parse(command, "--help")
            self.assertEqual(raised.exception.code, 0)
            self.assertIn(f"usage: replgame {command}", out.getvalue())
            self.assertIn("--config", out.getvalue())

    def test_resolve_config(self) -> None:
        self.assertEqual(cli.resolve_config(self.parse("status")), default_config())
        servers = cli.resolve_config(self.parse("status", "--servers", "h:1,h:2,h:3"))
        self.assertEqual([s.port for s in servers.servers], [1, 2, 3])
        path = self.temporary_directory() / "c.toml"
        path.write_text(
            "".join(
                f'[[servers]]\nid = {i}\nhost = "127.0.0.1"\nport = {9000 + i}\n' for i in (1, 2, 3)
            )
        )
        loaded = cli.resolve_config(self.parse("status", "--config", str(path)))
        self.assertEqual(loaded.source, str(path))


# -- pure helpers ------------------------------------------------------------------------


class SeatChoiceTests(SynchronousTestCase):
    def test_the_one_seat_held(self) -> None:
        self.assertEqual(cli.choose_seat([seat(1)], doc(to_move=0), "move"), seat(1))
        self.assertEqual(cli.choose_seat([seat(0)], doc(), "resign"), seat(0))

    def test_both_seats_move_and_draw_for_the_side_to_move(self) -> None:
        both = [seat(0), seat(1)]
        self.assertEqual(cli.choose_seat(both, doc(to_move=1), "move").seat, 1)
        self.assertEqual(cli.choose_seat(both, doc(to_move=0), "draw").seat, 0)

    def test_both_seats_resign_needs_a_choice(self) -> None:
        both = [seat(0), seat(1)]
        with self.assertRaises(cli.CliError) as raised:
            cli.choose_seat(both, doc(), "resign")
        self.assertIn("--seat 0 (black) or --seat 1 (white)", raised.exception.message)
        self.assertEqual(cli.choose_seat(both, doc(), "resign", requested=1).seat, 1)

    def test_a_seat_not_held(self) -> None:
        with self.assertRaises(cli.CliError) as raised:
            cli.choose_seat([seat(0)], doc(), "move", requested=1)
        self.assertEqual(
            raised.exception.message, "you hold no seat 1 in game g1 (you hold seat 0)"
        )
        with self.assertRaises(cli.CliError) as raised:
            cli.choose_seat([], doc(status="open", players=["alice", None]), "move")
        self.assertIn("replgame join g1 --as NAME", raised.exception.message)
        with self.assertRaises(cli.CliError) as raised:
            cli.choose_seat([], doc(), "move")
        self.assertIn("alice (black) and bob (white)", raised.exception.message)

    def test_both_seats_of_a_finished_game(self) -> None:
        with self.assertRaises(cli.CliError) as raised:
            cli.choose_seat([seat(0), seat(1)], doc(status="finished", to_move=None), "move")
        self.assertIn("finished; nobody is to move", raised.exception.message)

    def test_draw_offer_or_accept(self) -> None:
        self.assertEqual(cli.draw_action(doc(), 0), "offer")
        self.assertEqual(cli.draw_action(doc(draw_offer=1, to_move=0), 0), "accept")
        with self.assertRaises(cli.CliError) as raised:
            cli.draw_action(doc(draw_offer=0, to_move=0), 0)
        self.assertIn("play your move, then bob (white) may accept it", raised.exception.message)
        with self.assertRaises(cli.CliError) as raised:
            cli.draw_action(doc(draw_offer=0, to_move=1), 0)
        self.assertIn("it is up to bob (white) to accept it", raised.exception.message)

    def test_game_id_prefixes(self) -> None:
        seats = [seat(0, "abcdef"), seat(0, "abc999"), seat(0, "xyz123")]
        self.assertEqual(cli.resolve_game("xy", seats), "xyz123")
        self.assertEqual(cli.resolve_game("abc", seats), "abc")  # ambiguous: as given
        self.assertEqual(cli.resolve_game("abcdef", seats), "abcdef")
        self.assertEqual(cli.resolve_game("other", seats), "other")


class OutcomeOutputTests(SynchronousTestCase):
    def test_majority_answer(self) -> None:
        outcome = outcome_of("MakeMove", (2, game_answer(doc())), (1, game_answer(doc())), asked=3)
        self.assertEqual(
            cli.outcome_fields(outcome),
            {"provisional": False, "agreed": [1, 2], "differed": [], "failed": [],
             "pending": [3], "unreachable": []},
        )  # fmt: skip
        self.assertIsNone(cli.provisional_note(outcome))
        self.assertIsNone(cli.servers_note(outcome))

    def test_one_server_only(self) -> None:
        outcome = outcome_of("MakeMove", (2, game_answer(doc())))
        fields = cli.outcome_fields(outcome, unreachable=[1, 3])
        self.assertEqual(
            fields,
            {"provisional": True, "agreed": [2], "differed": [], "failed": [], "pending": [],
             "unreachable": [1, 3]},
        )  # fmt: skip
        self.assertEqual(
            cli.provisional_note(outcome), "PROVISIONAL: only server 2 answered; no majority"
        )
        self.assertEqual(
            cli.servers_note(outcome, [1, 3]),
            "note: answer of server 2; servers 1 and 3 unreachable",
        )

    def test_all_differ(self) -> None:
        outcome = outcome_of(
            "GetGame",
            (3, game_answer(doc(5))),
            (1, game_answer(doc(4))),
            (2, wire.UnknownGame()),
        )
        fields = cli.outcome_fields(outcome)
        self.assertEqual((fields["agreed"], fields["differed"]), ([3], [1, 2]))
        self.assertEqual(
            cli.provisional_note(outcome),
            "PROVISIONAL: servers 1, 2 and 3 answered differently; no majority; "
            "showing server 3's answer",
        )

    def test_a_dissent_or_a_failure_under_a_majority(self) -> None:
        dissent = outcome_of(
            "MakeMove",
            (3, wire.StaleVersion.at(9)),
            (2, game_answer(doc())),
            (1, game_answer(doc())),
        )
        self.assertFalse(cli.outcome_fields(dissent)["provisional"])
        self.assertEqual(cli.outcome_fields(dissent)["differed"], [3])
        self.assertEqual(
            cli.servers_note(dissent),
            "note: answer of servers 1 and 2; server 3 answered differently",
        )
        failure = outcome_of(
            "MakeMove",
            (3, TimeoutError("no answer")),
            (2, game_answer(doc())),
            (1, game_answer(doc())),
        )
        self.assertEqual(cli.outcome_fields(failure)["failed"], [3])
        self.assertEqual(
            cli.servers_note(failure), "note: answer of servers 1 and 2; server 3 did not answer"
        )

    def test_refusal_message(self) -> None:
        refused = outcome_of(
            "MakeMove",
            (1, wire.IllegalMoveError("'9' is not connect4 notation")),
            (2, wire.IllegalMoveError("'9' is not connect4 notation")),
        )
        self.assertEqual(
            cli.refusal_message("move", refused),
            "move refused by the servers: ILLEGAL_MOVE ('9' is not connect4 notation)",
        )
        alone = outcome_of("MakeMove", (2, wire.NotYourTurn()))
        self.assertEqual(
            cli.refusal_message("move", alone),
            "move refused by the servers: NOT_YOUR_TURN (it is not this seat's turn); "
            "provisional: server 2 only, no majority",
        )

    def test_unreachable_message(self) -> None:
        self.assertEqual(
            cli.unreachable_message(default_config()),
            "no server reachable at 127.0.0.1:7301, 127.0.0.1:7302, 127.0.0.1:7303; "
            "start them with `replgame cluster`",
        )


class StatusOutputTests(SynchronousTestCase):
    config = default_config()

    def statuses(self, *specs: tuple[int, bool, bool, int, str]) -> list[ServerStatus]:
        return [
            ServerStatus(sid, reachable, serving, clock, 2, digest)
            if reachable
            else ServerStatus(sid, False, error="not connected")
            for sid, reachable, serving, clock, digest in specs
        ]

    def test_all_agree(self) -> None:
        statuses = self.statuses(*((i, True, True, 7, "ab" * 32) for i in (1, 2, 3)))
        text = cli.format_status(self.config, statuses)
        self.assertEqual(
            text.splitlines(),
            [
                "server  address         reachable  serving  clock  games  digest",
                "1       127.0.0.1:7301  yes        yes      7      2      abababababababab",
                "2       127.0.0.1:7302  yes        yes      7      2      abababababababab",
                "3       127.0.0.1:7303  yes        yes      7      2      abababababababab",
                "agree: yes, all 3 serve the same games at clock 7",
            ],
        )
        data = cli.status_json(self.config, statuses)
        self.assertEqual((data["agree"], data["provisional"]), (True, False))
        self.assertEqual(data["servers"][0]["digest"], "ab" * 32)

    def test_one_down_one_behind(self) -> None:
        statuses = self.statuses(
            (1, True, True, 7, "ab" * 32), (2, False, False, 0, ""), (3, True, True, 6, "cd" * 32)
        )
        text = cli.format_status(self.config, statuses)
        self.assertIn("2       127.0.0.1:7302  no         -        -      -      -", text)
        self.assertIn(
            "agree: no, server 2 unreachable, digests differ (server 1: abababababab; "
            "server 3: cdcdcdcdcdcd)",
            text,
        )
        self.assertIn("PROVISIONAL: no two serving servers hold the same games", text)
        self.assertTrue(cli.status_json(self.config, statuses)["provisional"])

    def test_not_serving_yet(self) -> None:
        statuses = self.statuses(
            (1, True, True, 7, "ab" * 32), (2, True, True, 7, "ab" * 32), (3, True, False, 0, "0")
        )
        agree, why, provisional = cli.status_summary(statuses)
        self.assertEqual((agree, why, provisional), (False, "server 3 not serving yet", False))


# -- whole commands over a fake client ---------------------------------------------------------


class FakeLink:
    def __init__(self, client: FakeClient, server_id: int) -> None:
        self.client = client
        self.server_id = server_id
        self.timeout = 5.0

    def call(self, command: Any, timeout: float | None = None, **kwargs: Any) -> Deferred[Any]:
        self.client.sent.append((self.server_id, command.commandName.decode(), kwargs))
        return succeed({"game": self.client.games[kwargs["game_id"]].document()})


class FakeClient:
    """Three agreeing servers in memory, running the server's decisions.

    ``fault(command, arguments)`` may return an Outcome (or a failed
    Deferred) to answer instead.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.games: dict[str, GameLog] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.sent: list[tuple[int, str, dict[str, Any]]] = []
        self.active = [1, 2, 3]
        self.inactive: list[int] = []
        self.fault: Callable[[str, dict[str, Any]], Any] = lambda command, arguments: None
        self.links = {sid: FakeLink(self, sid) for sid in (1, 2, 3)}
        self.answers_each: dict[int, Any] = {}

    def start(self) -> None:
        pass

    def settled(self) -> Deferred[list[int]]:
        return succeed(list(self.active))

    def stop(self) -> Deferred[None]:
        return succeed(None)

    def _answer(self, command: str, arguments: dict[str, Any], run: Callable[[], str]) -> Any:
        self.requests.append((command, arguments))
        faulty = self.fault(command, arguments)
        if faulty is not None:
            return faulty if isinstance(faulty, Deferred) else succeed(faulty)
        try:
            value: Any = {"game": run()}
        except wire.WireError as error:
            value = error
        return succeed(outcome_of(command, *((sid, value) for sid in self.active)))

    def _change(self, game_id: str, command: Command) -> str:
        game = self.games.get(game_id)
        if game is None:
            raise wire.UnknownGame()
        event = decide_event(game, command)
        if not isinstance(event, Repeat):
            game.append(event)
        return game.document()

    def create_game(self, game_id: str, kind: str, player: str, token: str, seat: int = 0) -> Any:
        def run() -> str:
            if game_id in self.games:
                raise wire.GameExists()
            self.games[game_id] = GameLog(game_id, create_event(kind, player, seat, token, game_id))
            return self.games[game_id].document()

        return self._answer("CreateGame", {"game_id": game_id, "kind": kind}, run)

    def join_game(self, game_id: str, version: int, player: str, token: str) -> Any:
        command = Command(JOIN, version, token, player=player)
        arguments = {"game_id": game_id, "version": version}
        return self._answer("JoinGame", arguments, lambda: self._change(game_id, command))

    def make_move(self, game_id: str, version: int, move: str, token: str) -> Any:
        command = Command(MOVE, version, token, move=move)
        arguments = {"game_id": game_id, "version": version, "move": move}
        return self._answer("MakeMove", arguments, lambda: self._change(game_id, command))

    def _simple(self, name: str, kind: str, game_id: str, version: int, token: str) -> Any:
        command = Command(kind, version, token)
        arguments = {"game_id": game_id, "version": version}
        return self._answer(name, arguments, lambda: self._change(game_id, command))

    def resign(self, game_id: str, version: int, token: str) -> Any:
        return self._simple("Resign", RESIGN, game_id, version, token)

    def offer_draw(self, game_id: str, version: int, token: str) -> Any:
        return self._simple("OfferDraw", OFFER_DRAW, game_id, version, token)

    def accept_draw(self, game_id: str, version: int, token: str) -> Any:
        return self._simple("AcceptDraw", ACCEPT_DRAW, game_id, version, token)

    def _read(self, game_id: str) -> str:
        if game_id not in self.games:
            raise wire.UnknownGame()
        return self.games[game_id].document()

    def get_game(self, game_id: str) -> Any:
        return self._answer("GetGame", {"game_id": game_id}, lambda: self._read(game_id))

    def sync_game(self, game_id: str) -> Any:
        return self._answer("SyncGame", {"game_id": game_id}, lambda: self._read(game_id))

    def watch(self, game_id: str, listener: Callable[[WatchUpdate], None]) -> Any:
        self.watched = (game_id, listener)
        return self

    def current(self) -> WatchUpdate | None:
        return self.latest

    latest: WatchUpdate | None = None

    def ask_each(self, command: Any, **arguments: Any) -> Deferred[dict[int, Any]]:
        self.requests.append((command.commandName.decode(), arguments))
        if self.answers_each:
            return succeed(dict(self.answers_each))
        try:
            value: Any = {"game": self._read(arguments["game_id"])}
        except wire.WireError as error:
            value = error
        return succeed({sid: value for sid in self.active})


class CommandTests(SynchronousTestCase):
    def setUp(self) -> None:
        directory = Path(tempfile.mkdtemp(prefix="replgame-cli-test-"))
        self.addCleanup(shutil.rmtree, directory, True)
        self.store = TokenStore(directory / "seats.json")
        self.client = FakeClient()

    def run_command(self, *argv: str) -> str:
        args = cli.build_parser().parse_args(list(argv))
        out = io.StringIO()
        session = cli.Session(
            Clock(), args, default_config(), out=out, store=self.store, client=self.client
        )
        self.successResultOf(Deferred.fromCoroutine(cli.COMMANDS[args.command](session)))
        return out.getvalue()

    def failing(self, *argv: str) -> cli.CliError:
        args = cli.build_parser().parse_args(list(argv))
        session = cli.Session(
            Clock(), args, default_config(), out=io.StringIO(), store=self.store, client=self.client
        )
        failure = self.failureResultOf(
            Deferred.fromCoroutine(cli.COMMANDS[args.command](session)), cli.CliError
        )
        error: cli.CliError = failure.value
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
        args = cli.build_parser().parse_args(["watch", game_id, "--json"])
        out = io.StringIO()
        session = cli.Session(
            reactor, args, default_config(), out=out, store=self.store, client=self.client
        )
        running = Deferred.fromCoroutine(cli.cmd_watch(session))
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
        args = cli.build_parser().parse_args(["watch", game_id])
        out = io.StringIO()
        session = cli.Session(
            reactor, args, default_config(), out=out, store=self.store, client=self.client
        )
        Deferred.fromCoroutine(cli.cmd_watch(session))
        _, listener = self.client.watched
        document = self.client.games[game_id].document()
        self.client.latest = WatchUpdate(game_id, document, True, (2,), {2: 1})
        listener(self.client.latest)
        self.assertEqual(out.getvalue(), "")
        reactor.advance(cli.WATCH_SETTLE)
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
