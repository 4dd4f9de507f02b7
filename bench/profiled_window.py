"""``twistd`` with a cProfile window opened and closed by signals:
``python bench/profiled_window.py OUT ARGS``.

SIGUSR1 starts a fresh profile; SIGUSR2 stops it and writes its stats to
``OUT`` (then renames nothing: the caller waits for the file).  For a
server that serves a rebuild: its profile covers only the copy, not its own
start-up or the rounds before.
"""

from __future__ import annotations

import cProfile
import os
import signal
import sys
from types import FrameType


def main() -> None:
    out, args = sys.argv[1], sys.argv[2:]
    profiler: list[cProfile.Profile] = []

    def start(signum: int, frame: FrameType | None) -> None:
        if profiler:
            profiler.pop().disable()
        profiler.append(cProfile.Profile())
        profiler[0].enable()

    def stop(signum: int, frame: FrameType | None) -> None:
        if profiler:
            current = profiler.pop()
            current.disable()
            current.dump_stats(out + ".part")
            os.replace(out + ".part", out)

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    from twisted.scripts.twistd import run

    sys.argv = ["twistd", *args]
    run()


if __name__ == "__main__":
    main()
