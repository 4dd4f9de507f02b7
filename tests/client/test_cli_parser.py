"""Tests for the ``replgame`` arguments (:mod:`game.client.cli.parser`)."""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import tempfile
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from game.client.cli import parser
from game.client.cli.commands import COMMANDS
from game.client.options import resolve_config
from game.config import default_config


class ParserTests(SynchronousTestCase):
    def temporary_directory(self) -> Path:
        directory = Path(tempfile.mkdtemp(prefix="replgame-cli-test-"))
        self.addCleanup(shutil.rmtree, directory, True)
        return directory

    def parse(self, *argv: str) -> argparse.Namespace:
        return parser.build_parser().parse_args(list(argv))

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
        for command in [*COMMANDS, "cluster"]:
            out = io.StringIO()
            with contextlib.redirect_stdout(out), self.assertRaises(SystemExit) as raised:
                self.parse(command, "--help")
            self.assertEqual(raised.exception.code, 0)
            self.assertIn(f"usage: replgame {command}", out.getvalue())
            self.assertIn("--config", out.getvalue())

    def test_resolve_config(self) -> None:
        self.assertEqual(resolve_config(self.parse("status")), default_config())
        servers = resolve_config(self.parse("status", "--servers", "h:1,h:2,h:3"))
        self.assertEqual([s.port for s in servers.servers], [1, 2, 3])
        path = self.temporary_directory() / "c.toml"
        path.write_text(
            "".join(
                f'[[servers]]\nid = {i}\nhost = "127.0.0.1"\nport = {9000 + i}\n' for i in (1, 2, 3)
            )
        )
        loaded = resolve_config(self.parse("status", "--config", str(path)))
        self.assertEqual(loaded.source, str(path))
