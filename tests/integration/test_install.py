"""The editable install `make test` makes: code changes live, and `twistd replgame` visible."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(*command: str | Path, cwd: Path) -> str:
    # Away from the project, so that the working directory is not what puts it on sys.path.
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def test_the_installed_game_package_is_this_checkout(tmp_path: Path) -> None:
    where = run(sys.executable, "-c", "import game; print(game.__file__)", cwd=tmp_path)
    assert Path(where.strip()).resolve() == PROJECT / "game" / "__init__.py"


def test_twistd_lists_the_replgame_plugin(tmp_path: Path) -> None:
    assert "replgame" in run(BIN / "twistd", "--help", cwd=tmp_path).split()


def test_twistd_replgame_reads_its_options_from_this_checkout(tmp_path: Path) -> None:
    usage = run(BIN / "twistd", "replgame", "--help", cwd=tmp_path)
    assert "--id=" in usage
    assert "--rebuild" in usage
