"""``replgame-play``'s command line: the cluster options and what happens
before a window opens (no pyglet, no reactor)."""

from __future__ import annotations

import contextlib
import io

from twisted.trial.unittest import SynchronousTestCase

from game.client_gui import app


class CommandLineTests(SynchronousTestCase):
    def run_app(self, *argv: str) -> tuple[int | str | None, str]:
        """Run ``replgame-play ARGV`` up to the window; the exit code and stderr."""
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            try:
                code: int | str | None = app.run(app.build_parser().parse_args(list(argv)))
            except SystemExit as exit:
                code = exit.code
        return code, err.getvalue()

    def test_cluster_options(self) -> None:
        args = app.build_parser().parse_args(["--servers", "a:1,b:2,c:3", "--name", "alice"])
        self.assertEqual((args.config, args.servers, args.name), (None, "a:1,b:2,c:3", "alice"))
        err = io.StringIO()
        with contextlib.redirect_stderr(err), self.assertRaises(SystemExit):
            app.build_parser().parse_args(["--config", "c.toml", "--servers", "a:1,b:2,c:3"])
        self.assertIn("not allowed with argument", err.getvalue())

    def test_bad_config(self) -> None:
        code, err = self.run_app("--servers", "h:1,h:2")
        self.assertEqual(code, 2)
        self.assertTrue(err.startswith("replgame-play: --servers: "), err)

    def test_no_display_suggests_the_same_cluster(self) -> None:
        self.patch(app, "has_display", lambda: False)
        code, err = self.run_app("--servers", "h:1,h:2,h:3")
        self.assertEqual(code, 3)
        self.assertIn("there is no display", err)
        self.assertIn("replgame status --servers h:1,h:2,h:3 ", err)
