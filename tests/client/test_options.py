"""Tests for :mod:`game.client.options`: the options that name a cluster."""

from __future__ import annotations

import argparse
import contextlib
import io
import os

from twisted.trial.unittest import SynchronousTestCase

from game.client.options import add_cluster_options, cluster_options_text, resolve_config
from game.config import ConfigError, default_config

CLUSTER = "".join(
    f'[[servers]]\nid = {i}\nhost = "127.0.0.1"\nport = {9000 + i}\n' for i in (1, 2, 3)
)


def parser(*, with_subcommand: bool = False) -> argparse.ArgumentParser:
    """A parser with the cluster options, on a subcommand too if asked (as ``replgame``)."""
    top = argparse.ArgumentParser(prog="test")
    add_cluster_options(top)
    if with_subcommand:
        commands = top.add_subparsers(dest="command", required=True)
        add_cluster_options(commands.add_parser("status"), suppress_defaults=True)
    return top


class ParsingTests(SynchronousTestCase):
    def refuses(self, top: argparse.ArgumentParser, *argv: str) -> str:
        err = io.StringIO()
        with contextlib.redirect_stderr(err), self.assertRaises(SystemExit) as raised:
            top.parse_args(list(argv))
        self.assertEqual(raised.exception.code, 2)
        return err.getvalue()

    def test_neither(self) -> None:
        args = parser().parse_args([])
        self.assertEqual((args.config, args.servers), (None, None))

    def test_each(self) -> None:
        self.assertEqual(parser().parse_args(["--config", "c.toml"]).config, "c.toml")
        self.assertEqual(parser().parse_args(["--servers", "a:1,b:2,c:3"]).servers, "a:1,b:2,c:3")

    def test_exclusive(self) -> None:
        message = self.refuses(parser(), "--config", "c.toml", "--servers", "a:1,b:2,c:3")
        self.assertIn("not allowed with argument", message)

    def test_before_or_after_a_subcommand(self) -> None:
        top = parser(with_subcommand=True)
        for argv in (["--config", "c.toml", "status"], ["status", "--config", "c.toml"]):
            args = top.parse_args(argv)
            self.assertEqual((args.command, args.config, args.servers), ("status", "c.toml", None))
        self.refuses(top, "status", "--config", "c.toml", "--servers", "a:1,b:2,c:3")

    def test_help(self) -> None:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), self.assertRaises(SystemExit):
            parser().parse_args(["--help"])
        self.assertIn("--config PATH", out.getvalue())
        self.assertIn("--servers HOST:PORT,HOST:PORT,HOST:PORT", out.getvalue())


class ResolveTests(SynchronousTestCase):
    def test_default(self) -> None:
        self.assertEqual(resolve_config(parser().parse_args([])), default_config())
        # A namespace without the options (a subparser's suppressed defaults).
        self.assertEqual(resolve_config(argparse.Namespace()), default_config())

    def test_servers(self) -> None:
        config = resolve_config(parser().parse_args(["--servers", "h:1,h:2,h:3"]))
        self.assertEqual([s.port for s in config.servers], [1, 2, 3])
        self.assertEqual(config.source, "--servers h:1,h:2,h:3")

    def test_config(self) -> None:
        directory = self.mktemp()
        os.makedirs(directory)
        path = os.path.join(directory, "c.toml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(CLUSTER)
        config = resolve_config(parser().parse_args(["--config", path]))
        self.assertEqual((config.source, config.server(3).port), (path, 9003))

    def test_errors(self) -> None:
        error = self.assertRaises(
            ConfigError, resolve_config, parser().parse_args(["--servers", "h:1,h:2"])
        )
        self.assertIn("--servers: ", str(error))
        missing = os.path.join(self.mktemp(), "missing.toml")
        error = self.assertRaises(
            ConfigError, resolve_config, parser().parse_args(["--config", missing])
        )
        self.assertEqual(str(error), f"configuration file not found: {missing}")


class TextTests(SynchronousTestCase):
    def test_as_given(self) -> None:
        self.assertEqual(cluster_options_text(parser().parse_args([])), "")
        self.assertEqual(cluster_options_text(argparse.Namespace()), "")
        self.assertEqual(
            cluster_options_text(parser().parse_args(["--config", "c.toml"])), " --config c.toml"
        )
        self.assertEqual(
            cluster_options_text(parser().parse_args(["--servers", "a:1,b:2,c:3"])),
            " --servers a:1,b:2,c:3",
        )

    def test_quoted_for_the_shell(self) -> None:
        args = parser().parse_args(["--config", "my cluster.toml"])
        self.assertEqual(cluster_options_text(args), " --config 'my cluster.toml'")
