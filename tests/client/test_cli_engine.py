"""``replgame engine``'s arguments (game/client/cli/engine.py)."""

from __future__ import annotations

import argparse
import contextlib
import io

from twisted.trial.unittest import SynchronousTestCase

from game.client.cli import parser
from game.client.cli.commands import COMMANDS
from game.client.cli.engine import cmd_engine


class EngineArgumentTests(SynchronousTestCase):
    def parse(self, *argv: str) -> argparse.Namespace:
        return parser.build_parser().parse_args(list(argv))

    def refuses(self, *argv: str) -> str:
        err = io.StringIO()
        with contextlib.redirect_stderr(err), self.assertRaises(SystemExit):
            self.parse(*argv)
        return err.getvalue()

    def test_every_option(self) -> None:
        args = self.parse(
            "engine",
            "--level",
            "3",
            "--kind",
            "reversi",
            "--games",
            "2",
            "--name",
            "deep thought",
            "--clock",
            "live:300+5",
        )
        self.assertEqual(
            (args.command, args.level, args.kind, args.games, args.name, args.clock),
            ("engine", 3, "reversi", 2, "deep thought", "live:300+5"),
        )
        self.assertIs(COMMANDS["engine"], cmd_engine)

    def test_defaults(self) -> None:
        args = self.parse("engine", "--level", "1")
        self.assertEqual((args.kind, args.games, args.name, args.clock), (None, None, None, None))

    def test_level_is_required_and_1_to_5(self) -> None:
        self.assertIn("--level", self.refuses("engine"))
        self.assertIn("invalid choice", self.refuses("engine", "--level", "6"))
        self.assertIn("at least 1", self.refuses("engine", "--level", "2", "--games", "0"))
