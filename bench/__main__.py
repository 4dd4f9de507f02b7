"""Every cluster benchmark in one run: ``python -m bench [--seed S] [--quick] [--only ...]``.

Runs, in order: 1. commit latency, 2. throughput, the metrics overhead,
3. catch-up, 4. scale, the players (each starts its own servers, and etcd
where it compares with it), then the profile of where the time goes, 5. the plot;
prints every table and the targets, and writes one JSON file per benchmark under
``bench/results/`` (``python -m bench.report`` turns them into
``docs/performance.md``).  ``make bench`` runs it with the full sizes.
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import catchup, latency, metrics_overhead, players, plot, profiling, scale, throughput
from bench.common import (
    MIN_ROUNDS,
    RESULTS,
    git_commit,
    holds,
    load_average,
    machine,
    say,
    table,
)
from bench.common import write_result as write_json
from bench.etcd import EtcdMissing, find_etcd

BENCHMARKS = (
    "latency",
    "throughput",
    "metrics",
    "catchup",
    "scale",
    "players",
    "profiling",
    "plot",
)


def targets_table(results: dict[str, dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    rows = []
    for name in ("latency", "throughput", "metrics", "catchup", "scale", "players"):
        for target, held in results.get(name, {}).get("targets", {}).items():
            rows.append({"benchmark": name, "target": target, "holds": bool(held)})
    text = table(
        ["benchmark", "target", "holds"],
        [[r["benchmark"], r["target"], holds(r["holds"])] for r in rows],
    )
    return text, rows


async def run_all(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    rounds = args.rounds
    seed = args.seed
    only = set(args.only.split(",")) if args.only else set(BENCHMARKS)
    results: dict[str, dict[str, Any]] = {}
    started = time.monotonic()
    step_started = [started]

    def elapsed() -> str:
        now = time.monotonic()
        text = f"{now - step_started[0]:.0f} s; {(now - started) / 60:.1f} min in all"
        step_started[0] = now
        return text

    commit = git_commit()
    say(f"replgame cluster benchmarks: seed {seed}, commit {commit}")
    info = machine()
    say("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    say(f"command: {args.command}")
    try:
        find_etcd()
        with_etcd = True
    except EtcdMissing as error:
        with_etcd = False
        say(f"SKIPPING the etcd baseline: {error}")
    datasets = catchup.Datasets(Path(tempfile.mkdtemp(prefix="replgame-bench-data-")), seed)
    try:
        if "latency" in only and with_etcd:
            result = await latency.run(rounds, 40 if quick else args.moves, seed)
            say(latency.render(result))
            say(f"wrote {write_json('latency', result, args.results)} ({elapsed()})\n")
            results["latency"] = result
        if "throughput" in only and with_etcd:
            result = await throughput.run(rounds, 1.0 if quick else args.seconds, seed)
            say(throughput.render(result))
            say(f"wrote {write_json('throughput', result, args.results)} ({elapsed()})\n")
            results["throughput"] = result
        if "metrics" in only:
            result = await metrics_overhead.run(rounds, 1.0 if quick else args.seconds, seed)
            say(metrics_overhead.render(result))
            say(f"wrote {write_json('metrics', result, args.results)} ({elapsed()})\n")
            results["metrics"] = result
        if "catchup" in only:
            sizes = (300, 600) if quick else catchup.SIZES
            missed = (5, 50) if quick else catchup.MISSED
            idle = 0.5 if quick else 5.0
            result = await catchup.run(sizes, missed, rounds, seed, datasets, idle_seconds=idle)
            say(catchup.render(result))
            say(f"wrote {write_json('catchup', result, args.results)} ({elapsed()})\n")
            results["catchup"] = result
        if "scale" in only:
            result = await scale.run(600 if quick else scale.GAMES, rounds, seed, datasets)
            say(scale.render(result))
            say(f"wrote {write_json('scale', result, args.results)} ({elapsed()})\n")
            results["scale"] = result
        if "players" in only:
            result = await players.run_command(quick, seed)
            say(players.render(result))
            say(f"wrote {write_json('players', result, args.results)} ({elapsed()})\n")
            results["players"] = result
        if "profiling" in only and with_etcd:
            result = await profiling.run(
                600 if quick else scale.GAMES,
                seed,
                datasets,
                seconds=1.0 if quick else 5.0,
                moves=60 if quick else 600,
            )
            say(profiling.render(result))
            say(f"wrote {write_json('profiling', result, args.results)} ({elapsed()})\n")
            results["profiling"] = result
    finally:
        datasets.remove()
    if "plot" in only:
        try:
            out = plot.plot(
                plot.load("latency", args.results), plot.load("throughput", args.results), args.plot
            )
            say(f"5. Plot of the latency distributions of 1 and 2: wrote {out}\n")
        except ImportError:
            say("5. Plot skipped: matplotlib is not installed (pip install -e '.[bench]')\n")
    text, rows = targets_table(results)
    minutes = (time.monotonic() - started) / 60
    say("Targets (ratios are medians of per-round ratios, ours and the baseline alternating):")
    say(text)
    say(f"\nseed {seed}; {minutes:.1f} minutes; load average now {load_average()}")
    commit_end = git_commit()
    if commit_end != commit:
        # Servers started after the change ran the new code.
        say(f"NOTE: the checkout changed during the run: {commit} -> {commit_end}")
    return {
        "seed": seed,
        "commit_start": commit,
        "commit_end": commit_end,
        "command": args.command,
        "minutes": minutes,
        "rounds": rounds,
        "quick": quick,
        "etcd": with_etcd,
        "targets": rows,
        "load_average_end": load_average(),
        "machine_start": info,
    }


def main(argv: list[str] | None = None) -> None:
    from twisted.internet.defer import ensureDeferred
    from twisted.internet.task import react

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=None, help="default: random, printed")
    parser.add_argument("--rounds", type=int, default=MIN_ROUNDS)
    parser.add_argument("--moves", type=int, default=400, help="latency: moves per side per round")
    parser.add_argument("--seconds", type=float, default=5.0, help="throughput: window per side")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {BENCHMARKS}")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--plot", type=Path, default=plot.OUT)
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = int(os.environ.get("BENCH_SEED") or random.SystemRandom().randrange(10**6))
    args.command = " ".join(
        shlex.quote(a)
        for a in [
            Path(sys.executable).name,
            "-m",
            "bench",
            *(argv if argv is not None else sys.argv[1:]),
        ]
    )
    if "--seed" not in args.command:
        args.command += f" --seed {args.seed}"

    async def go(_: Any) -> None:
        summary = await run_all(args)
        args.results.mkdir(parents=True, exist_ok=True)
        write_json("run", summary, args.results)

    react(lambda reactor: ensureDeferred(go(reactor)))


if __name__ == "__main__":
    main()
