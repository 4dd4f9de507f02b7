"""``replgame import`` and ``export`` against three real servers in one
process (:mod:`tests.server.grid`): an imported game is acknowledged by the
servers and held identically by all three, and exports as its record."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from game.client.cli.commands import COMMANDS
from game.client.cli.parser import build_parser
from game.client.cli.session import Session
from game.client.client import ReplicatedClient
from game.client.tokens import TokenStore
from game.records import parse
from tests.server.grid import Grid, GridEndpoint

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
