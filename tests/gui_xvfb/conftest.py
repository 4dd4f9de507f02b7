"""A private Xvfb display and xdotool, for tests that drive real windows.

These tests start their own X server (``Xvfb -displayfd``, so the display
number is free) and never skip: CI installs xvfb and xdotool (.ci/run).
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import attrs
import pytest

from tests.gui_render.cluster import Cluster


@attrs.frozen
class Display:
    name: str

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.name}

    def xdotool(self, *arguments: str, check: bool = True) -> str:
        result = subprocess.run(
            ["xdotool", *arguments],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"xdotool {' '.join(arguments)} failed: {result.stderr}")
        return result.stdout.strip()

    def windows(self, name: str = "^replgame") -> list[str]:
        found = self.xdotool("search", "--onlyvisible", "--name", name, check=False)
        return [line for line in found.splitlines() if line.strip()]

    def wait_windows(self, count: int, timeout: float = 60.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.windows()
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} windows after {timeout} s")
            time.sleep(0.2)

    def title(self, window: str) -> str:
        return self.xdotool("getwindowname", window, check=False)

    def geometry(self, window: str) -> tuple[int, int, int, int]:
        """x, y, width, height of a window, in screen coordinates."""
        values = {}
        for line in self.xdotool("getwindowgeometry", "--shell", window).splitlines():
            key, _, value = line.partition("=")
            values[key] = int(value)
        return values["X"], values["Y"], values["WIDTH"], values["HEIGHT"]

    def click(self, window: str, x: float, y: float) -> None:
        """A left click at (x, y) in pyglet's coordinates (origin bottom left) of ``window``."""
        left, top, _, height = self.geometry(window)
        target = (left + int(x), top + height - 1 - int(y))
        # ``mousemove --sync`` waits for the pointer to move: when it is there
        # already (a second click on one button), it stalls for many seconds.
        sync = ["--sync"] if self.pointer() != target else []
        self.xdotool("mousemove", *sync, str(target[0]), str(target[1]), "click", "1")

    def pointer(self) -> tuple[int, int]:
        """Where the pointer is, in screen coordinates."""
        values = dict(
            line.partition("=")[::2]
            for line in self.xdotool("getmouselocation", "--shell").splitlines()
        )
        return int(values["X"]), int(values["Y"])


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise AssertionError(
            f"{tool} is not installed; .ci/run installs it (apt-get install xvfb xdotool)"
        )
    return path


@pytest.fixture
def display() -> Iterator[Display]:
    _require("xdotool")
    read, write = os.pipe()
    server = subprocess.Popen(
        [
            _require("Xvfb"),
            "-displayfd",
            str(write),
            "-screen",
            "0",
            "1280x1024x24",
            "-nolisten",
            "tcp",
        ],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 30)
        assert ready, "Xvfb did not report its display"
        number = os.read(read, 64).decode().strip()
        assert number.isdigit(), f"Xvfb answered {number!r}"
        yield Display(f":{number}")
    finally:
        os.close(read)
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


#: Small time tuning keeps the timed test short: a game whose deadline passed
#: ends by the servers alone 3 s later (PROTOCOL.md: flag_grace > clock_skew).
TIME_TUNING: Final = {"clock_skew": 1, "flag_grace": 3}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(tmp_path / "cluster")
    yield from _serving(running)


@pytest.fixture
def timed_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Like ``cluster``, with :data:`TIME_TUNING` added to its ``[tuning]``."""
    running = Cluster(tmp_path / "cluster")
    text = running.config_path.read_text("utf-8")
    # [tuning] is the config's last table: keys appended go into it.
    assert text.rstrip().splitlines()[-1].startswith("request_timeout"), text
    extra = "".join(f"{key} = {value}\n" for key, value in TIME_TUNING.items())
    running.config_path.write_text(text + extra, "utf-8")
    yield from _serving(running)


def _serving(running: Cluster) -> Iterator[Cluster]:
    running.start()
    try:
        running.wait_serving()
        yield running
    finally:
        running.stop()
