"""Speed of the rules engine: ``python -m bench.rules [--samples N] [--seed S]``.

Samples positions spread over the plies of seeded random playouts and times,
per game, ``legal_moves()`` plus one ``play()`` on a freshly read position (so
that no cached move list helps), and perft from the start in nodes per second.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

from game.rules import KINDS, Position, from_text, new_game, perft

PERFT_DEPTH = {"connect4": 6, "reversi": 6, "checkers": 6}
TARGET_US = 50.0


def sample_positions(kind: str, count: int, rng: random.Random) -> list[tuple[str, int]]:
    """``count`` (text, move index) pairs from random playouts, evenly over their plies."""
    reached: list[Position] = []
    while len(reached) < 3 * count:
        position = new_game(kind)
        while position.outcome() is None:
            reached.append(position)
            position = position.play(rng.choice(position.legal_moves()))
    step = len(reached) / count
    picked = [reached[int(i * step)] for i in range(count)]
    return [(p.to_text(), rng.randrange(len(p.legal_moves()))) for p in picked]


def time_move_cycle(kind: str, text: str, index: int, repeats: int = 3) -> float:
    """Best of ``repeats`` timings (microseconds) of legal_moves() + play()."""
    best = float("inf")
    for _ in range(repeats):
        position = from_text(kind, text)
        start = time.perf_counter_ns()
        moves = position.legal_moves()
        position.play(moves[index])
        best = min(best, (time.perf_counter_ns() - start) / 1000)
    return best


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(samples: int, seed: int) -> list[dict[str, float | int | str]]:
    rows: list[dict[str, float | int | str]] = []
    for kind in KINDS:
        rng = random.Random(f"{seed}-{kind}")
        timings = [
            time_move_cycle(kind, text, i) for text, i in sample_positions(kind, samples, rng)
        ]
        depth = PERFT_DEPTH[kind]
        start = time.perf_counter()
        nodes = perft(new_game(kind), depth)
        elapsed = time.perf_counter() - start
        rows.append(
            {
                "kind": kind,
                "positions": len(timings),
                "median_us": statistics.median(timings),
                "p90_us": percentile(timings, 0.9),
                "perft_depth": depth,
                "perft_nodes": nodes,
                "perft_nodes_per_s": nodes / elapsed,
            }
        )
    return rows


def print_table(rows: list[dict[str, float | int | str]]) -> None:
    print(
        f"{'game':<10} {'positions':>9} {'median us':>10} {'p90 us':>8} "
        f"{'perft':>12} {'nodes/s':>10}  target <{TARGET_US:.0f} us"
    )
    for r in rows:
        verdict = "met" if float(r["median_us"]) < TARGET_US else "MISSED"
        print(
            f"{r['kind']:<10} {r['positions']:>9} {r['median_us']:>10.1f} {r['p90_us']:>8.1f} "
            f"{'d' + str(r['perft_depth']) + '=' + str(r['perft_nodes']):>12} "
            f"{r['perft_nodes_per_s']:>10,.0f}  {verdict}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rules", description=__doc__)
    parser.add_argument("--samples", type=int, default=1000, help="positions per game")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, seed {args.seed}, {args.samples} positions per game")
    rows = run(args.samples, args.seed)
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
