"""Strength of the computer player: ``python -m bench.engine [--games N] [--quick]``.

Plays, per game kind, each level against a seeded random mover and against
the level below, ``--games`` games per pair (100 by default) with the colours
alternating: games ``2k`` and ``2k + 1`` start from the same few seeded random
opening plies, the level under test black (first) in one and white in the
other.  Prints the table, writes ``bench/results/engine.json`` and the results
section of ``docs/engine.md`` (between its markers), with the time per move of
level 5.  A draw is not a win: the targets count wins only (level 5 wins at
least 98 % of its games against random and 75 % against level 4).

Games run in a pool of ``--workers`` processes (2 by default).  ``--timing``
instead times level 5 alone in one process (CPU and wall time per move) and
writes that section of ``docs/engine.md``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from game.engine import choose_move
from game.rules import KINDS, Position, new_game

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "engine.json"
DOC = ROOT / "docs" / "engine.md"
BEGIN, END = "<!-- bench.engine results -->", "<!-- /bench.engine results -->"
TIMING_BEGIN, TIMING_END = "<!-- bench.engine timing -->", "<!-- /bench.engine timing -->"
#: Games per kind of ``--timing``: level 5 against level 3, one process.
TIMING_GAMES = 4
#: Random plies played before the engines take over, so that games differ.
OPENING_PLIES = {"connect4": 3, "reversi": 4, "checkers": 4}
RANDOM = 0  # the random mover, as an opponent "level"
TARGETS = {RANDOM: 0.98, 4: 0.75}


@dataclass(frozen=True)
class Pair:
    kind: str
    level: int
    opponent: int  # RANDOM or a level

    @property
    def name(self) -> str:
        return f"{self.level} vs {'random' if self.opponent == RANDOM else self.opponent}"


@dataclass(frozen=True)
class GameResult:
    kind: str
    level: int
    opponent: int
    index: int
    result: str  # "win", "draw" or "loss", for ``level``
    plies: int
    level5_seconds: list[float] = field(default_factory=list)


def pairs(kinds: Sequence[str], levels: Sequence[int]) -> list[Pair]:
    """Each level against random, and against the level below (when both are in ``levels``)."""
    found = []
    for kind in kinds:
        for level in levels:
            found.append(Pair(kind, level, RANDOM))
            if level - 1 in levels:
                found.append(Pair(kind, level, level - 1))
    return found


def opening(kind: str, seed: int, index: int) -> Position:
    """The seeded random opening of game pair ``index // 2``."""
    rng = random.Random(f"{seed}-{kind}-opening-{index // 2}")
    position = new_game(kind)
    for _ in range(OPENING_PLIES[kind]):
        if position.outcome() is not None:
            break
        position = position.play(rng.choice(position.legal_moves()))
    return position


def play_game(task: tuple[Pair, int, int]) -> GameResult:
    """One game of ``pair``; the level under test is seat ``index % 2``."""
    pair, index, seed = task
    position = opening(pair.kind, seed, index)
    rng = random.Random(f"{seed}-{pair.kind}-{pair.name}-{index}")
    seat = index % 2
    timings: list[float] = []
    while position.outcome() is None:
        level = pair.level if position.to_move == seat else pair.opponent
        if level == RANDOM:
            move = rng.choice(position.legal_moves())
        else:
            start = time.perf_counter()
            move = choose_move(position, level)
            if level == 5:
                timings.append(time.perf_counter() - start)
        position = position.play(move)
    outcome = position.outcome()
    assert outcome is not None
    result = "draw" if outcome.winner is None else "win" if outcome.winner == seat else "loss"
    return GameResult(pair.kind, pair.level, pair.opponent, index, result, position.ply, timings)


def run(
    games: int, seed: int, kinds: Sequence[str], levels: Sequence[int], workers: int
) -> dict[str, Any]:
    tasks = [(pair, index, seed) for pair in pairs(kinds, levels) for index in range(games)]
    started = time.monotonic()
    if workers > 1:
        with multiprocessing.Pool(workers) as pool:
            results = pool.map(play_game, tasks, chunksize=1)
    else:
        results = [play_game(task) for task in tasks]
    rows = []
    for pair in pairs(kinds, levels):
        mine = [
            r
            for r in results
            if (r.kind, r.level, r.opponent) == (pair.kind, pair.level, pair.opponent)
        ]
        counts = {k: sum(r.result == k for r in mine) for k in ("win", "draw", "loss")}
        played = len(mine)
        rows.append(
            {
                "kind": pair.kind,
                "pair": pair.name,
                "level": pair.level,
                "opponent": pair.opponent,
                "games": played,
                "wins": counts["win"],
                "draws": counts["draw"],
                "losses": counts["loss"],
                "win_rate": counts["win"] / played,
                "score": (counts["win"] + counts["draw"] / 2) / played,
                "mean_plies": statistics.fmean(r.plies for r in mine),
                "target": TARGETS.get(pair.opponent) if pair.level == 5 else None,
            }
        )
    timings = {}
    for kind in kinds:
        seconds = sorted(s for r in results if r.kind == kind for s in r.level5_seconds)
        if seconds:
            timings[kind] = {
                "moves": len(seconds),
                "median_s": statistics.median(seconds),
                "p95_s": seconds[min(len(seconds) - 1, int(0.95 * len(seconds)))],
                "max_s": seconds[-1],
            }
    return {
        "games_per_pair": games,
        "seed": seed,
        "workers": workers,
        "wall_seconds": round(time.monotonic() - started, 1),
        "rows": rows,
        "level5_timings": timings,
        "games": [asdict(r) | {"level5_seconds": len(r.level5_seconds)} for r in results],
    }


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]

    def line(items: Sequence[str]) -> str:
        return "| " + " | ".join(s.ljust(w) for s, w in zip(items, widths, strict=True)) + " |"

    return "\n".join(
        [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        + [line(r) for r in cells]
    )


def render(result: dict[str, Any]) -> str:
    """The strength table and level 5's timings, in Markdown."""
    strength = _table(
        ("kind", "pair", "wins", "draws", "losses", "win %", "score %", "target (wins)"),
        (
            (
                row["kind"],
                row["pair"],
                row["wins"],
                row["draws"],
                row["losses"],
                f"{100 * row['win_rate']:.1f}",
                f"{100 * row['score']:.1f}",
                ""
                if row["target"] is None
                else f">= {100 * row['target']:.0f} %: "
                + ("met" if row["win_rate"] >= row["target"] else "NOT MET"),
            )
            for row in result["rows"]
        ),
    )
    timings = _table(
        ("kind", "level 5 moves", "median s", "p95 s", "max s"),
        (
            (
                kind,
                t["moves"],
                f"{t['median_s']:.3f}",
                f"{t['p95_s']:.3f}",
                f"{t['max_s']:.3f}",
            )
            for kind, t in result["level5_timings"].items()
        ),
    )
    return (
        f"{result['games_per_pair']} games per pair, colours alternating, seed {result['seed']}, "
        f"{result['workers']} worker processes, {result['wall_seconds']} s of wall time.  "
        "Score % counts a draw as half a win; the targets count wins only.\n\n"
        f"{strength}\n\nTime per move of level 5 (all its moves in these games):\n\n{timings}\n"
    )


def write_doc(text: str, doc: Path = DOC, begin: str = BEGIN, end: str = END) -> None:
    """Replace a section of ``docs/engine.md`` (between its markers)."""
    page = doc.read_text()
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(page):
        raise SystemExit(f"{doc} has no {begin} ... {end} section")
    doc.write_text(pattern.sub(lambda _: f"{begin}\n{text}{end}", page))


def timing(seed: int, kinds: Sequence[str], games: int = TIMING_GAMES) -> dict[str, Any]:
    """Level 5's time per move in one process: CPU time (what a quiet machine's
    wall time would be) and wall time, over seeded games against level 3."""
    found: dict[str, Any] = {}
    for kind in kinds:
        cpu: list[float] = []
        wall: list[float] = []
        for index in range(games):
            position = opening(kind, seed, 2 * index)
            seat = index % 2
            while position.outcome() is None:
                level = 5 if position.to_move == seat else 3
                started_cpu, started = time.process_time(), time.perf_counter()
                move = choose_move(position, level)
                if level == 5 and len(position.legal_moves()) > 1:
                    cpu.append(time.process_time() - started_cpu)
                    wall.append(time.perf_counter() - started)
                position = position.play(move)
        found[kind] = {
            "moves": len(cpu),
            "cpu": _spread(cpu),
            "wall": _spread(wall),
        }
    return found


def _spread(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "median_s": statistics.median(ordered),
        "p95_s": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "max_s": ordered[-1],
    }


def render_timing(found: dict[str, Any], load: str) -> str:
    rows = []
    for kind, entry in found.items():
        for clock in ("cpu", "wall"):
            t = entry[clock]
            rows.append(
                (
                    kind,
                    clock,
                    entry["moves"],
                    f"{t['median_s']:.3f}",
                    f"{t['p95_s']:.3f}",
                    f"{t['max_s']:.3f}",
                )
            )
    return (
        f"Level 5 alone in one process (`--timing`: {TIMING_GAMES} games per kind against "
        f"level 3, moves with a choice only; load average {load}):\n\n"
        + _table(("kind", "clock", "moves", "median s", "p95 s", "max s"), rows)
        + "\n"
    )


def _load_average() -> str:
    try:
        return " ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__)
    parser.add_argument("--games", type=int, default=100, help="games per pair (default 100)")
    parser.add_argument("--quick", action="store_true", help="10 games per pair; writes nothing")
    parser.add_argument(
        "--timing", action="store_true", help="only level 5's time per move, in one process"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kind", action="append", choices=KINDS, help="only this kind")
    parser.add_argument(
        "--level", action="append", type=int, choices=range(1, 6), help="only these levels"
    )
    options = parser.parse_args(argv)
    games = 10 if options.quick else options.games
    kinds = options.kind or list(KINDS)
    levels = sorted(options.level or range(1, 6))
    if options.timing:
        text = render_timing(timing(options.seed, kinds), _load_average())
        print(text, flush=True)
        if not options.quick and options.kind is None:
            write_doc(text, begin=TIMING_BEGIN, end=TIMING_END)
        return 0
    result = run(games, options.seed, kinds, levels, options.workers)
    text = render(result)
    print(text, flush=True)
    if not options.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
        if options.kind is None and options.level is None:
            write_doc(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
