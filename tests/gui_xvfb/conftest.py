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
        self.xdotool(
            "mousemove", "--sync", str(left + int(x)), str(top + height - 1 - int(y)), "click", "1"
        )


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


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(tmp_path / "cluster")
    running.start()
    try:
        running.wait_serving()
        yield running
    finally:
        running.stop()
