"""``make demo PLAYERS=2`` on a virtual display: two windows; closing them
with xdotool stops everything, and ``make`` exits 0."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from tests.gui_xvfb.conftest import Display

ROOT = Path(__file__).resolve().parents[2]


def processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in command:
            found.append(f"{entry.name}: {command}")
    return found


def test_demo_with_two_players(display: Display, tmp_path: Path) -> None:
    scratch = tmp_path / "demo"
    output = (tmp_path / "make.out").open("w")
    make = subprocess.Popen(
        ["make", "--no-print-directory", "demo", "PLAYERS=2", f"DEMO_ARGS=--dir {scratch}"],
        cwd=ROOT,
        env=display.env,
        stdout=output,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        windows = display.wait_windows(2, timeout=90)
        assert len(windows) == 2
        titles = {display.title(window) for window in windows}
        deadline = time.monotonic() + 30
        while not all("Lobby" in title for title in titles) and time.monotonic() < deadline:
            time.sleep(0.2)
            titles = {display.title(window) for window in windows}
        assert titles == {"replgame \u2014 Lobby (alice)", "replgame \u2014 Lobby (bob)"}
        running = processes_mentioning(str(scratch))
        # replgame cluster, three twistd servers, two windows.
        assert len(running) >= 6, running
        for window in windows:
            display.xdotool("windowclose", window)
        assert make.wait(60) == 0, (tmp_path / "make.out").read_text()
    finally:
        if make.poll() is None:
            make.kill()
            make.wait()
        output.close()
    log = (tmp_path / "make.out").read_text()
    assert "cluster stopped" in log, log
    assert processes_mentioning(str(scratch)) == []
