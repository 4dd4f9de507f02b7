"""Tests for game.admin: ``replgame-admin``'s arguments, data directory, output and exits."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from game.admin import main
from game.server.storage import DATABASE_NAME
from tests.server.test_backup import seeded


class AdminTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="test_admin-"))
        self.addCleanup(shutil.rmtree, self.root, True)
        cwd = os.getcwd()
        os.chdir(self.root)  # the config's data directories are relative to it
        self.addCleanup(os.chdir, cwd)
        self.config = self.root / "cluster.toml"
        lines = ['[cluster]\nsecret = "s3cret-for-the-admin-tests"\n']
        for server_id in (1, 2, 3):
            lines.append(
                f'[[servers]]\nid = {server_id}\nhost = "127.0.0.1"\nport = {7300 + server_id}\n'
                f'data = "var/{server_id}"\n'
            )
        self.config.write_text("\n".join(lines))
        server = seeded(self.root / "var" / "2", games=3)
        self.expected = server.snapshot()
        server.close()

    def run_admin(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(argv))
            except SystemExit as exit:
                code = int(exit.code or 0)
        return code, out.getvalue(), err.getvalue()

    def test_backup_then_restore(self) -> None:
        code, out, err = self.run_admin("backup", "--config", str(self.config), "--id", "2", "b")
        self.assertEqual((code, err), (0, ""))
        games, clock, digest = self.expected
        self.assertRegex(
            out,
            rf"^backed up server 2 to b: {games} games, clock {clock}, digest {digest[:16]}, "
            r"\d+ bytes in \d+\.\d\d s\n$",
        )
        code, out, err = self.run_admin("restore", "b", "--config", str(self.config), "--id", "3")
        self.assertEqual((code, err), (0, ""))
        self.assertIn(f"restored b into var/3/{DATABASE_NAME}: {games} games", out)
        self.assertIn("start server 3 now: it catches up from its peers", out)
        self.assertEqual(out.count("\n"), 1)
        self.assertTrue((self.root / "var" / "3" / DATABASE_NAME).exists())

    def test_data_overrides_the_config(self) -> None:
        code, out, _ = self.run_admin("backup", "--id", "1", "--data", "var/2", "b")
        self.assertEqual(code, 0)
        self.assertIn("3 games", out)

    def test_restore_refuses_a_server_with_data(self) -> None:
        self.run_admin("backup", "--config", str(self.config), "--id", "2", "b")
        code, out, err = self.run_admin("restore", "b", "--config", str(self.config), "--id", "2")
        self.assertEqual((code, out), (1, ""))
        self.assertTrue(err.startswith("replgame-admin: restore failed: data directory var/2 "))
        self.assertNotIn("Traceback", err)

    def test_user_errors_are_one_line(self) -> None:
        cases = [
            (("restore", "absent", "--data", "x"), "restore failed: absent: no such file"),
            (("backup", "--data", "nowhere", "b"), "backup failed: no database at nowhere/"),
            (("backup", "b"), "give --id N"),
            (("backup", "--config", "missing.toml", "--id", "1", "b"), "missing.toml"),
            (("backup", "--config", str(self.config), "--id", "7", "b"), "no server with id 7"),
        ]
        (self.root / "notadb").write_bytes(b"not sqlite" * 100)
        cases.append((("restore", "notadb", "--data", "y"), "not a readable replgame database"))
        for argv, expected in cases:
            code, out, err = self.run_admin(*argv)
            self.assertEqual((code, out), (1, ""), argv)
            self.assertIn(expected, err, argv)
            self.assertEqual(err.count("\n"), 1, err)
            self.assertTrue(err.startswith("replgame-admin: "), err)

    def test_usage_error(self) -> None:
        code, _, err = self.run_admin("backup")
        self.assertEqual(code, 2)
        self.assertIn("FILE", err)
