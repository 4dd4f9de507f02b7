"""``replgame import`` and ``export`` against three real servers in one
process (:mod:`tests.server.grid`): an imported game is acknowledged by the
servers and held identically by all three, and exports as its record; a
timed game's record carries its clocks after each move (``MoveClocks``)."""

from __future__ import annotations

import io
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from game import errors as wire
from game import protocol as p
from game.client.cli.commands import COMMANDS
from game.client.cli.parser import build_parser
from game.client.cli.session import Session
from game.client.client import NoAnswer, ReplicatedClient
from game.client.tokens import TokenStore
from game.records import export, parse
from game.server.locators import ClientLocator
from tests.server.grid import Grid, GridEndpoint, Match
from tests.server.helpers import TOKEN_A, TOKEN_B

#: Published games (Open Checkers Archive); the third ends 1-0: White resigned.
RECORD = Path(__file__).parent.parent / "records" / "fixtures" / "oca_2.0_first_games.pdn"


class GridRecordTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.grid = Grid(self)
        self.grid.start()
        directory = Path(tempfile.mkdtemp(prefix="replgame-grid-records-"))
        self.addCleanup(shutil.rmtree, directory, True)
        self.directory = directory
        self.store = TokenStore(directory / "seats.json")

    def run_command(self, *argv: str) -> str:
        args = build_parser().parse_args(list(argv))
        out = io.StringIO()
        client = ReplicatedClient(
            self.grid.config,
            self.grid.clock,
            endpoint_for=lambda server: GridEndpoint(self.grid, "cli", server.id),
            rng=lambda: 0.5,
        )
        session = Session(self.grid.clock, args, self.grid.config, out, self.store, client)
        done: list[Any] = []
        Deferred.fromCoroutine(COMMANDS[args.command](session)).addBoth(done.append)
        self.grid.run_until(lambda: bool(done), limit=60)
        self.grid.answer(client.stop())
        if done[0] is not None:
            done[0].raiseException()
        return out.getvalue()

    def test_import_then_export(self) -> None:
        text = RECORD.read_text().split("\n\n")[2]
        path = self.directory / "game.pdn"
        path.write_text(text)
        answer = json.loads(self.run_command("import", str(path), "--json"))
        self.assertFalse(answer["provisional"])
        game_id = answer["game"]["id"]
        documents = self.grid.assert_converged(self)
        held = json.loads(documents[game_id])
        self.assertEqual(held["result"], {"winner": 0, "reason": "resigned"})
        self.assertEqual(held["players"], ["Anderson, A.", "Wyllie, J."])
        exported = self.run_command("export", game_id)
        self.assertEqual(parse(exported).moves, parse(text).moves)
        self.assertIn('[Result "1-0"]', exported)

    def failure_of(self, deferred: Deferred[Any]) -> BaseException:
        self.grid.quiet()
        results: list[Any] = []
        deferred.addBoth(results.append)
        self.assertIsInstance(results[0], Failure)
        error: BaseException = results[0].value
        return error

    def play_timed(self, game_id: str = "timed") -> Match:
        """A live:60+1 checkers game of four moves, 1.5 s, 2.25 s, ... apart."""
        match = Match(self.grid, game_id, "checkers")
        match.acknowledged(
            self.grid.client.create_game(game_id, "checkers", "alice", TOKEN_A, clock="live:60+1")
        )
        match.acknowledged(self.grid.client.join_game(game_id, 1, "bobby", TOKEN_B))
        for number, move in enumerate(("11-15", "23-19", "8-11", "22-17")):
            self.grid.run(1.5 + 0.75 * number)
            match.move(move)
        return match

    def test_move_clocks_from_every_server_alike(self) -> None:
        match = self.play_timed()
        clocks = self.grid.answer(self.grid.client.move_clocks("timed"))
        self.assertEqual(len(clocks), 4)
        # The mover's clock right after each move: the document's, then.
        remaining = match.doc["clock"]["remaining"]
        self.assertEqual(clocks[-2:], (remaining[0], remaining[1]))
        spent = [60_000 + 1_000 - clocks[0], 60_000 + 1_000 - clocks[1]]
        self.assertTrue(all(1_000 < ms < 3_000 for ms in spent), clocks)
        answers = self.grid.answer(self.grid.client.ask_each(p.MoveClocks, game_id="timed"))
        text = "[" + ",".join(map(str, clocks)) + "]"
        self.assertEqual([answer["clocks"] for answer in answers.values()], [text] * 3)
        untimed = Match(self.grid, "untimed")
        untimed.start()
        untimed.move("4")
        self.assertEqual(self.grid.answer(self.grid.client.move_clocks("untimed")), ())
        unknown = self.grid.client.move_clocks("nothing")
        self.assertIsInstance(self.failure_of(unknown), wire.UnknownGame)

    def test_export_of_a_timed_game_has_a_clock_after_every_move(self) -> None:
        self.play_timed()
        clocks = self.grid.answer(self.grid.client.move_clocks("timed"))
        text = self.run_command("export", "timed")
        movetext = " ".join(text.split("\n\n", 1)[1].split())
        self.assertRegex(movetext, r"^1\. 11-15 \{\[%clock W0:01:00 b0:0\d:\d\d\]\} 23-19 \{")
        self.assertEqual(len(re.findall(r"(?:\d+-\d+) \{\[%clock", movetext)), 4)
        record = parse(text)
        assert record.clock is not None
        self.assertEqual(record.clock.move_clocks, tuple(ms // 1000 * 1000 for ms in clocks))
        ggf = self.run_command("export", self.reversi_game(), "--format", "ggf")
        self.assertRegex(ggf, r"TI\[01:00//\]TY\[8\]BO\[.*\]B\[f5//[0-9]+\.[0-9]{2}\];\)")

    def reversi_game(self) -> str:
        match = Match(self.grid, "timed-reversi", "reversi")
        match.acknowledged(
            self.grid.client.create_game(
                match.game_id, "reversi", "alice", TOKEN_A, clock="live:60+0"
            )
        )
        match.acknowledged(self.grid.client.join_game(match.game_id, 1, "bobby", TOKEN_B))
        self.grid.run(2.0)
        match.move("f5")
        return match.game_id

    def test_servers_without_move_clocks(self) -> None:
        # Older servers answer UNHANDLED: the record is as before, and a note says so.
        self.play_timed()
        locate = ClientLocator.locateResponder

        def older(locator: ClientLocator, name: bytes) -> object:
            return None if name == b"MoveClocks" else locate(locator, name)

        self.patch(ClientLocator, "locateResponder", older)
        failure = self.failure_of(self.grid.client.move_clocks("timed"))
        self.assertIsInstance(failure, NoAnswer)
        document = self.grid.answer(self.grid.client.get_game("timed")).document
        errors = io.StringIO()
        self.patch(sys, "stderr", errors)
        self.assertEqual(self.run_command("export", "timed"), export(document))
        self.assertIn("not after each move", errors.getvalue())
        self.assertIn("MoveClocks", errors.getvalue())
