"""``replgame export`` and ``replgame import`` over the in-memory
:class:`~tests.client.cli_fakes.FakeClient` (the server's own decisions):
random games of each kind exported, imported as new games and compared."""

from __future__ import annotations

import io
import json
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from game.client.cli.choices import CliError
from game.client.cli.commands import COMMANDS
from game.client.cli.parser import build_parser
from game.client.cli.records import Step, import_steps
from game.client.cli.session import Session
from game.client.tokens import Seat, TokenStore
from game.config import ClusterConfig, default_config
from game.records import NATIVE_FORMATS, Record, export, parse
from game.rules import KINDS, Outcome
from tests.client.cli_fakes import FakeClient
from tests.records.games import random_document

#: Imports through the fake servers, per kind (each costs ~20 ms; the pure
#: round trip of :mod:`tests.records.test_roundtrip` reads 1,000 per kind).
GAMES = 100
PARSER = build_parser()


class MemoryStore(TokenStore):
    """Seat tokens kept in memory (a thousand imports write no file)."""

    def __init__(self) -> None:
        super().__init__(Path("/nonexistent/seats.json"))
        self.held: list[Seat] = []

    def seats(self, cluster: str | None = None) -> list[Seat]:
        return [s for s in self.held if cluster is None or s.cluster == cluster]

    def add(self, seat: Seat) -> None:
        self.held.append(seat)


def expected_import(document: dict[str, Any], fmt: str) -> Record:
    """The record an import of ``document`` makes: the same game, untimed,
    a loss on time left unplayed (and, from GGF, a cancelled game left open)."""
    record = Record.from_document(document)
    result = record.result
    if result is not None and result.reason == "time":
        result = None
    if fmt == "ggf" and result is not None and result.reason == "cancelled":
        result = None
    black = record.players[0] or "black"
    white = record.players[1] or "white"
    if not record.moves and (result is None or result.reason == "cancelled"):
        white = record.players[1]  # nobody joined
    return Record(record.kind, (black, white), record.moves, result)


class ImportExportTests(SynchronousTestCase):
    def setUp(self) -> None:
        directory = Path(tempfile.mkdtemp(prefix="replgame-records-test-"))
        self.addCleanup(shutil.rmtree, directory, True)
        self.directory = directory
        self.store = MemoryStore()
        self.client = FakeClient()

    def run_command(self, *argv: str, config: ClusterConfig | None = None) -> str:
        args = PARSER.parse_args(list(argv))
        out = io.StringIO()
        session = Session(
            Clock(), args, config or default_config(), out=out, store=self.store, client=self.client
        )
        self.successResultOf(Deferred.fromCoroutine(COMMANDS[args.command](session)))
        return out.getvalue()

    def failing(self, *argv: str) -> CliError:
        args = PARSER.parse_args(list(argv))
        session = Session(
            Clock(), args, default_config(), out=io.StringIO(), store=self.store, client=self.client
        )
        failure = self.failureResultOf(
            Deferred.fromCoroutine(COMMANDS[args.command](session)), CliError
        )
        error: CliError = failure.value
        return error

    def write(self, name: str, text: str) -> str:
        path = self.directory / name
        path.write_text(text, "utf-8")
        return str(path)

    def import_document(self, document: dict[str, Any], fmt: str) -> dict[str, Any]:
        path = self.write(f"record.{fmt}", export(document, fmt))
        answer = json.loads(self.run_command("import", path, "--json"))
        game: dict[str, Any] = answer["game"]
        return game

    def test_random_games_round_trip_through_import(self) -> None:
        for kind in KINDS:
            rng = random.Random(f"import-{kind}")
            for number in range(GAMES):
                document = random_document(kind, rng, f"original-{number}")
                fmt = NATIVE_FORMATS[kind] if kind != "connect4" else "json"
                imported = self.import_document(document, fmt)
                expected = expected_import(document, fmt)
                got = attrs.evolve(Record.from_document(imported), game_id=None)
                self.assertEqual(got, expected, document)
                # Exported again, the new game's record is the original's.
                if kind != "connect4":
                    again = parse(export(imported, fmt))
                    self.assertEqual(again.moves, expected.moves)
                    self.assertEqual(again.players, expected.players)

    def test_export_writes_each_format(self) -> None:
        path = self.write("game.txt", "1. 11-15 22-18 2. 15x22 25x18 *\n")
        data = json.loads(
            self.run_command("import", path, "--black", "ann", "--white", "bo", "--json")
        )
        game_id = data["game"]["id"]
        self.assertEqual(data["imported"], 4)
        pdn = self.run_command("export", game_id[:8])
        self.assertIn('[White "bo"]\n[Black "ann"]\n[Result "*"]\n[GameType "21"]', pdn)
        self.assertIn("1. 11-15 22-18 2. 15x22 25x18 *\n", pdn)
        self.assertEqual(
            self.run_command("export", game_id, "--format", "moves"), "11-15 22-18 15x22 25x18\n"
        )
        document = json.loads(self.run_command("export", game_id, "--format", "json"))
        self.assertEqual(document["moves"], ["11-15", "22-18", "15x22", "25x18"])
        error = self.failing("export", game_id, "--format", "ggf")
        self.assertEqual(error.message, "ggf records reversi games, not checkers")
        # Both seats are the user's: the game plays on.
        self.assertEqual(len(self.store.find(default_config().cluster_id, game_id)), 2)
        self.run_command("move", game_id, "8-11")

    def test_an_illegal_record_creates_nothing(self) -> None:
        path = self.write("bad.pdn", "1. 11-15 22-18 2. 9-14 *\n")
        error = self.failing("import", path)
        self.assertEqual(
            error.message,
            f"{path}: move 2 (black): 9-14 is not legal here: a capture is required "
            "(line 1, column 19)",
        )
        self.assertEqual(self.client.requests, [])
        error = self.failing("import", self.write("x.txt", "4z"), "--kind", "connect4")
        self.assertIn("line 1, column 2: 'z' is not a column 1-7", error.message)
        error = self.failing("import", str(self.directory / "missing.pdn"))
        self.assertIn("cannot read", error.message)
        setup = self.write("setup.pdn", '[FEN "W:W18:B1,2"]\n1... 18-14 *\n')
        self.assertIn("set-up position", self.failing("import", setup).message)
        long_name = self.write("n.pdn", f'[Black "{"x" * 40}"]\n1. 11-15 *\n')
        self.assertIn("--black NAME", self.failing("import", long_name).message)
        self.assertEqual(self.client.requests, [])

    def test_text_output_names_the_new_game(self) -> None:
        text = self.run_command("import", self.write("c4.txt", "4453\n"), "--black", "ann")
        game_id = next(iter(self.client.games))
        self.assertTrue(
            text.startswith(f"imported game {game_id}: 4 moves, ann (black) v white (white)")
        )
        timed = export(random_timed_reversi(), "ggf")
        text = self.run_command("import", self.write("r.ggf", timed))
        self.assertIn("note: the record's clock (live:300+5) is not replayed: untimed", text)
        self.assertIn("note: the record ends in a loss on time", text)


def random_timed_reversi() -> dict[str, Any]:
    rng = random.Random(7)
    while True:
        document = random_document("reversi", rng)
        clock = document.get("clock")
        result = document["result"]
        if clock and clock["control"] == "live:300+5" and result and result["reason"] == "time":
            return document


class ImportStepsTests(SynchronousTestCase):
    def test_endings(self) -> None:
        moves = ("4", "4", "3")
        self.assertEqual(
            import_steps(Record("connect4", ("a", "b"), moves, Outcome(None, "draw agreed"))),
            [Step("move", 0, "4"), Step("move", 1, "4"), Step("offer", 0), Step("move", 0, "3"),
             Step("accept", 1)],
        )  # fmt: skip
        self.assertEqual(
            import_steps(Record("connect4", ("a", "b"), moves, Outcome(0, "resigned")))[-1],
            Step("resign", 1),
        )
        self.assertEqual(
            len(import_steps(Record("connect4", ("a", "b"), moves, Outcome(1, "time")))), 3
        )
