"""Benchmark 4, scale: ``python -m bench.scale [--games 100000] [--rounds 5]``.

D stored games (written through the storage module into the three data
directories) and three servers started on them together; then, in each
round, one server restarted while the other two serve.  Measured: the time
from the exec of ``twistd`` to the first ``Status`` that says ``serving``;
each server's resident memory (VmRSS) once serving, after the ListGames
load, and after reading games beyond its cache (``GetGame``); its peak
(VmHWM); and ``ListGames`` latency for several kinds of page.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.catchup import Datasets
from bench.common import (
    MIN_ROUNDS,
    holds,
    load_average,
    median,
    run_and_report,
    say,
    summary_ms,
    table,
)
from bench.servers import Cluster, RawConnection
from bench.workload import copy_dataset, database_bytes
from game import protocol as p

NAME = "scale"
GAMES = 100_000
#: Issue targets at 100,000 stored games.
TARGET_RSS_MB = 300.0
TARGET_SERVING_SECONDS = 5.0
#: Requests per kind of ListGames page.
LISTINGS = 200
#: Games read with GetGame after the listings (more than the replica's cache of 4,096).
READS = 6000


def listing_kinds(rng: random.Random, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """ListGames argument sets, by the kind of page they ask for."""
    return {
        "first page, limit 50": [{} for _ in range(LISTINGS)],
        "random cursor, limit 100": [
            {"limit": 100, "after": rng.choice(ids)} for _ in range(LISTINGS)
        ],
        "status=finished (5%), limit 50": [
            {"status": "finished", "after": rng.choice(ids)} for _ in range(LISTINGS)
        ],
        "player=<one of 997>, limit 50": [
            {"player": f"player-{rng.randrange(997)}"} for _ in range(LISTINGS // 4)
        ],
    }


async def timed_listings(connection: RawConnection, arguments: list[dict[str, Any]]) -> list[float]:
    latencies = []
    for kwargs in arguments:
        started = time.perf_counter()
        await connection.call(p.ListGames, **kwargs)
        latencies.append(time.perf_counter() - started)
    return latencies


async def run(
    games: int = GAMES, rounds: int = MIN_ROUNDS, seed: int = 1, datasets: Datasets | None = None
) -> dict[str, Any]:
    say(
        f"== 4. scale: {games:,} stored games, {rounds} restarts (seed {seed}, "
        f"load {load_average()})"
    )
    root = Path(tempfile.mkdtemp(prefix="replgame-bench-scale-"))
    own_datasets = datasets is None
    datasets = datasets or Datasets(root / "datasets", seed)
    rng = random.Random(f"{seed}-scale")
    try:
        template, stored, write_seconds = datasets.get(games)
        size = database_bytes(template)
        say(
            f"  dataset of {size / 1e6:.1f} MB written through the storage module in "
            f"{write_seconds:.1f} s"
        )
        ids = [g.game_id for g in stored]
        reads = min(READS, len(ids))
        cluster = Cluster(root / "cluster")
        copy_dataset(template, [s.data for s in cluster.servers.values()])
        starts: list[dict[str, Any]] = []
        listings: dict[str, list[float]] = {}
        memory: list[dict[str, Any]] = []
        try:
            together = await cluster.start_all(timeout=600)
            status = await cluster.converged(timeout=600)
            assert status["games"] == games, status
            for server_id, seconds in together.items():
                rss, peak = cluster[server_id].rss()
                starts.append(
                    {
                        "how": "all three together",
                        "server": server_id,
                        "seconds": seconds,
                        "rss_mb": rss,
                        "peak_mb": peak,
                    }
                )
            say(
                "  started together: "
                + ", ".join(
                    f"server {s['server']} {s['seconds']:.2f} s, {s['rss_mb']:.0f} MB"
                    for s in starts
                )
            )
            for r in range(rounds):
                server = cluster[1 + r % 3]
                await server.stop()
                seconds = await server.start(timeout=600)
                await cluster.converged(timeout=600)
                rss, peak = server.rss()
                starts.append(
                    {
                        "how": "restart, peers serving",
                        "server": server.id,
                        "seconds": seconds,
                        "rss_mb": rss,
                        "peak_mb": peak,
                    }
                )
                connection = await RawConnection.open(server.port)
                try:
                    for kind, arguments in listing_kinds(rng, ids).items():
                        latencies = await timed_listings(connection, arguments)
                        listings.setdefault(kind, []).extend(latencies)
                    after_listing = server.rss()[0]
                    for game_id in rng.sample(ids, reads):
                        await connection.call(p.GetGame, game_id=game_id)
                    after_reads, peak = server.rss()
                finally:
                    connection.close()
                memory.append(
                    {
                        "round": r + 1,
                        "server": server.id,
                        "serving_mb": rss,
                        "after_listing_mb": after_listing,
                        "after_reads_mb": after_reads,
                        "peak_mb": peak,
                    }
                )
                say(
                    f"  round {r + 1}/{rounds}: server {server.id} serving {seconds:.2f} s "
                    f"after exec; RSS {rss:.0f} MB serving, {after_reads:.0f} MB after "
                    f"{reads:,} GetGame, peak {peak:.0f} MB (load {load_average()})"
                )
        finally:
            await cluster.stop_all()
    finally:
        if own_datasets:
            datasets.remove()
        shutil.rmtree(root, ignore_errors=True)
    restarts = [s["seconds"] for s in starts if s["how"] != "all three together"]
    cold = [s["seconds"] for s in starts if s["how"] == "all three together"]
    worst_rss = max([m["peak_mb"] for m in memory] + [s["peak_mb"] for s in starts])
    return {
        "seed": seed,
        "games": games,
        "rounds": rounds,
        "reads": reads,
        "database_bytes": size,
        "write_seconds": write_seconds,
        "starts": starts,
        "memory": memory,
        "listings": {kind: summary_ms(values) for kind, values in listings.items()},
        "restart_seconds_median": median(restarts),
        "restart_seconds_max": max(restarts, default=float("nan")),
        "cold_start_seconds_max": max(cold),
        "peak_rss_mb": worst_rss,
        "targets": {
            f"{games:,} games: peak RSS < 300 MB": worst_rss < TARGET_RSS_MB,
            f"{games:,} games: restart to serving < 5 s": max(restarts, default=0)
            < TARGET_SERVING_SECONDS,
            f"{games:,} games: all three started together, serving < 5 s": max(cold)
            < TARGET_SERVING_SECONDS,
        },
    }


def render(result: dict[str, Any]) -> str:
    starts = result["starts"]
    memory = result["memory"]
    rows = [[s["how"], s["server"], s["seconds"], s["rss_mb"], s["peak_mb"]] for s in starts]
    mem_rows = [
        [
            m["round"],
            m["server"],
            m["serving_mb"],
            m["after_listing_mb"],
            m["after_reads_mb"],
            m["peak_mb"],
        ]
        for m in memory
    ]
    list_rows = [
        [kind, s["n"], s["p50_ms"], s["p99_ms"], s["max_ms"]]
        for kind, s in result["listings"].items()
    ]
    games = f"{result['games']:,}"
    targets = result["targets"]
    return "\n".join(
        [
            f"4. Scale: {games} stored games ({result['database_bytes'] / 1e6:.1f} MB database per "
            "server)",
            "",
            table(["start", "server", "exec->serving s", "RSS MB serving", "peak RSS MB"], rows),
            "",
            table(
                [
                    "round",
                    "server",
                    "RSS MB serving",
                    "after ListGames",
                    f"after {result.get('reads', READS):,} GetGame",
                    "peak (VmHWM)",
                ],
                mem_rows,
            ),
            "",
            table(["ListGames page", "requests", "p50 ms", "p99 ms", "max ms"], list_rows),
            "",
            table(
                ["target", "value", "target", "holds"],
                [
                    [
                        "peak RSS of any server",
                        f"{result['peak_rss_mb']:.0f} MB",
                        "< 300 MB",
                        holds(targets[f"{games} games: peak RSS < 300 MB"]),
                    ],
                    [
                        "exec to serving, restart with peers serving (slowest)",
                        f"{result['restart_seconds_max']:.2f} s",
                        "< 5 s",
                        holds(targets[f"{games} games: restart to serving < 5 s"]),
                    ],
                    [
                        "exec to serving, all three started together (slowest)",
                        f"{result['cold_start_seconds_max']:.2f} s",
                        "< 5 s",
                        holds(targets[f"{games} games: all three started together, serving < 5 s"]),
                    ],
                ],
            ),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=GAMES)
    parser.add_argument("--rounds", type=int, default=MIN_ROUNDS)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    run_and_report(NAME, lambda: run(args.games, args.rounds, args.seed), render)


if __name__ == "__main__":
    main()
