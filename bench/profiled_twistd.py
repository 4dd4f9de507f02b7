"""``twistd`` under cProfile from its first import: ``python bench/profiled_twistd.py OUT ARGS``.

``python -m cProfile`` never writes its stats for a server stopped with
SIGTERM, because twistd ends by re-sending that signal to itself
(``twisted.application.app._exitWithSignal``); this wrapper writes them first.
"""

from __future__ import annotations

import cProfile
import sys


def main() -> None:
    out, args = sys.argv[1], sys.argv[2:]
    profiler = cProfile.Profile()
    profiler.enable()
    from twisted.application import app
    from twisted.scripts.twistd import run

    exit_with_signal = app._exitWithSignal

    def dump_then_exit(signal: int) -> None:
        profiler.disable()
        profiler.dump_stats(out)
        exit_with_signal(signal)

    app._exitWithSignal = dump_then_exit
    sys.argv = ["twistd", *args]
    try:
        run()
    finally:
        profiler.disable()
        profiler.dump_stats(out)


if __name__ == "__main__":
    main()
