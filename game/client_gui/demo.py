"""``make demo``: a local three-server cluster and one or more game windows.

Starts ``replgame cluster`` on free ports in a scratch directory, opens
``replgame-play`` windows on it (``--players 2``: alice and bob, so one
person can play both sides), waits until every window is closed, then stops
the cluster and removes the scratch directory.  Without a display it says
so, and how to play from the terminal instead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from game.client_gui.app import has_display
from game.localcluster import ClusterProcess, write_local_config

NAMES: Final = ("alice", "bob", "carol", "dave")

NO_DISPLAY: Final = """\
make demo: there is no display here (DISPLAY is not set), so no game window can open.
Play from the terminal instead. In one terminal, run three local servers (Ctrl-C stops them):
  .venv/bin/replgame cluster
In another, play:
  .venv/bin/replgame new connect4 --as alice      # create a game (or reversi, checkers)
  .venv/bin/replgame join GAME --as bob           # take the second seat
  .venv/bin/replgame move GAME 4                  # reversi: d3; checkers: 11-15 or 15x24x31
  .venv/bin/replgame watch GAME                   # follow the game as it is played
  .venv/bin/replgame bot --games 1 --kind connect4 --open    # or play against a bot
Or give the demo a virtual display: xvfb-run make demo
"""


def play_command() -> list[str]:
    script = Path(sys.executable).with_name("replgame-play")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from game.client_gui.app import main; main()"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--players", type=int, default=1, help="windows to open (1-4)")
    parser.add_argument("--dir", help="the scratch directory (kept); default: a temporary one")
    args = parser.parse_args(argv)
    players = max(1, min(len(NAMES), args.players))
    if not has_display():
        sys.stdout.write(NO_DISPLAY)
        return 0
    directory = Path(args.dir or tempfile.mkdtemp(prefix="replgame-demo-")).resolve()
    config = write_local_config(directory)
    cluster = ClusterProcess(directory, config)
    windows: list[subprocess.Popen[bytes]] = []
    print(f"make demo: starting a local cluster (replgame cluster --config {config})", flush=True)
    cluster.start()
    try:
        cluster.wait_serving()
        print(f"make demo: the three servers serve; log files in {directory / 'run'}", flush=True)
        env = {**os.environ, "XDG_CONFIG_HOME": str(directory / "xdg")}
        size = "980x700" if players == 1 else "760x620"
        for index in range(players):
            command = [
                *play_command(),
                "--config",
                str(config),
                "--name",
                NAMES[index],
                "--size",
                size,
                "--position",
                f"{40 + index * 500},{40 + index * 60}",
            ]
            windows.append(subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL))
        names = ", ".join(NAMES[:players])
        print(f"make demo: playing as {names}; close the window(s) to stop", flush=True)
        codes = [window.wait() for window in windows]
        failed = [code for code in codes if code not in (0, -signal.SIGINT, -signal.SIGTERM)]
        if failed:
            print(f"make demo: a window exited with code {failed[0]}", file=sys.stderr)
    except KeyboardInterrupt:
        print("make demo: interrupted", flush=True)
    except RuntimeError as error:
        print(f"make demo: {error}", file=sys.stderr)
        return 1
    finally:
        for window in windows:
            if window.poll() is None:
                window.terminate()
                try:
                    window.wait(10)
                except subprocess.TimeoutExpired:
                    window.kill()
                    window.wait()
        code = cluster.stop()
        print(f"make demo: cluster stopped (exit code {code})", flush=True)
        if not args.dir:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
