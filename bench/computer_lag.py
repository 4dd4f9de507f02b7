"""How late the reactor runs while the computer searches: ``python -m bench.computer_lag``.

A ``LoopingCall`` every 10 ms (a window's frame loop runs at ~60 Hz) on the
real reactor, while :class:`~game.client.searchpool.PoolSearch` runs level-5
searches one after another, first in a thread, then in a worker process.
Each tick makes :data:`CALLS` calls that release the GIL, as a frame's
ctypes calls into OpenGL do.  Prints, for each, how late the ticks ran and
how long one tick took (median, 90th percentile, worst).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from twisted.internet import defer, task
from twisted.internet.defer import Deferred

from game.client.searchpool import PoolSearch
from game.rules import new_game

TICK = 0.010
#: Calls releasing the GIL in one tick (a frame draws with many GL calls).
CALLS = 20
#: Mid-game positions (the engine searches longest there).
OPENINGS = {
    "connect4": ["4", "4", "3", "5", "3"],
    "reversi": ["f5", "d6", "c3", "d3", "c4"],
    "checkers": ["11-15", "23-19", "8-11", "22-17", "9-13"],
}


def positions() -> list[tuple[str, str]]:
    found = []
    for kind, moves in OPENINGS.items():
        position = new_game(kind)
        for move in moves:
            position = position.play(move)
        found.append((kind, position.to_text()))
    return found


async def measure(reactor: Any, processes: bool, rounds: int) -> dict[str, float]:
    search = PoolSearch(reactor, processes=processes)
    search.start()
    await task.deferLater(reactor, 1.5, lambda: None)  # the worker has started
    lateness: list[float] = []
    durations: list[float] = []
    last = [time.monotonic()]

    def tick() -> None:
        now = time.monotonic()
        lateness.append(max(0.0, now - last[0] - TICK))
        for _ in range(CALLS):
            time.sleep(0)  # releases the GIL, as a ctypes call does
        last[0] = time.monotonic()
        durations.append(last[0] - now)

    loop = task.LoopingCall(tick)
    loop.clock = reactor
    started = time.monotonic()
    loop.start(TICK, now=True)
    for _ in range(rounds):
        for kind, text in positions():
            await search.search(kind, text, 5, None)
    loop.stop()
    elapsed = time.monotonic() - started
    search.stop()
    return {**spread("late", lateness), **spread("tick", durations), "seconds": elapsed}


def spread(name: str, values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        f"{name}_median": 1000 * statistics.median(ordered),
        f"{name}_p90": 1000 * ordered[int(0.9 * (len(ordered) - 1))],
        f"{name}_worst": 1000 * ordered[-1],
    }


async def main(reactor: Any, rounds: int) -> None:
    for name, processes in (("thread", False), ("process", True)):
        result = await measure(reactor, processes, rounds)
        print(
            f"{name:8} ({result['seconds']:.1f} s of searching): "
            + "; ".join(
                f"{what} median {result[f'{key}_median']:.1f} ms, p90 "
                f"{result[f'{key}_p90']:.1f} ms, worst {result[f'{key}_worst']:.1f} ms"
                for key, what in (("late", "tick lateness"), ("tick", "tick duration"))
            )
        )


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="searches per position")
    args = parser.parse_args()
    task.react(lambda reactor: Deferred.fromCoroutine(main(reactor, args.rounds)))


if __name__ == "__main__":
    defer.setDebugging(False)
    run()
