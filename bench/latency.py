"""Benchmark 1, commit latency: ``python -m bench.latency [--rounds 5] [--moves 400] [--seed S]``.

Sequential moves, one at a time, in games played out in advance:

- ours: through :class:`~game.client.client.ReplicatedClient` to our three
  servers, as shipped; a move counts when its outcome is acknowledged (two
  identical answers, each sent after that server's fsync'd commit);
- single: the same moves to one of our servers only, over a raw AMP connection;
- etcd: a ``PUT`` of the row our server stores for the move (its event,
  same bytes) to a three-member etcd cluster's leader, through its v3
  HTTP/JSON gateway over one persistent connection from a Twisted client.

In each round the three run one after the other (the order flips every
other round) on the same games; the figures compared are the medians over
rounds of the per-round ratios of p50 and p99.
"""

from __future__ import annotations

import argparse
from typing import Any

from bench.common import (
    MIN_ROUNDS,
    alternate,
    holds,
    load_average,
    median,
    percentile,
    ratio,
    run_and_report,
    say,
    summary_ms,
    table,
)
from bench.testbed import EtcdPlayer, OursPlayer, SinglePlayer, Testbed, play
from bench.workload import PlanSource

NAME = "latency"
SIDES = ("ours", "single", "etcd")
LABELS = {
    "ours": "ours: 3 servers, acknowledged by 2",
    "single": "ours: 1 server (raw AMP)",
    "etcd": "etcd 3.4: 3 members, PUT to leader",
}
#: Issue targets: p50 at most 0.8x etcd's, p99 at most 1.0x.
TARGET_P50 = 0.8
TARGET_P99 = 1.0


async def run(rounds: int = MIN_ROUNDS, moves: int = 400, seed: int = 1) -> dict[str, Any]:
    say(
        f"== 1. commit latency: {rounds} rounds x {moves} sequential moves per side "
        f"(seed {seed}, load {load_average()})"
    )
    bed = Testbed()
    await bed.start()
    players: dict[str, Any] = {}
    try:
        players["ours"] = OursPlayer(await bed.client())
        players["single"] = await SinglePlayer.open(bed.ours[1].port)
        players["etcd"] = EtcdPlayer(bed.etcd_url())
        # Warm up every side (connections, caches) on a game of its own.
        warm = PlanSource(seed, "warm", max_moves=20).plans_with_moves(20)
        for player in players.values():
            await play(player, warm, 20)

        samples: dict[str, list[list[float]]] = {side: [] for side in SIDES}
        plans_of_round: dict[int, Any] = {}

        def step(side: str) -> Any:
            async def go(r: int) -> None:
                if r not in plans_of_round:
                    plans_of_round[r] = PlanSource(seed, f"r{r}").plans_with_moves(moves)
                samples[side].append(await play(players[side], plans_of_round[r], moves))

            return go

        def report_round(r: int) -> None:
            cells = "  ".join(
                f"{side} p50 {percentile(samples[side][r], 0.5) * 1000:.2f} ms" for side in SIDES
            )
            say(f"  round {r + 1}/{rounds}: {cells}  (load {load_average()})")

        await alternate(rounds, [(side, step(side)) for side in SIDES], report_round)
    finally:
        for player in players.values():
            await player.close()
        await bed.stop()
    return summarize(samples, rounds, moves, seed)


def summarize(
    samples: dict[str, list[list[float]]], rounds: int, moves: int, seed: int
) -> dict[str, Any]:
    per_round = []
    for r in range(rounds):
        row: dict[str, float] = {}
        for side in SIDES:
            row[f"{side}_p50_ms"] = percentile(samples[side][r], 0.5) * 1000
            row[f"{side}_p99_ms"] = percentile(samples[side][r], 0.99) * 1000
        for side in ("ours", "single"):
            row[f"{side}_etcd_p50"] = ratio(row[f"{side}_p50_ms"], row["etcd_p50_ms"])
            row[f"{side}_etcd_p99"] = ratio(row[f"{side}_p99_ms"], row["etcd_p99_ms"])
        per_round.append(row)
    ratios = {
        key: median(row[key] for row in per_round)
        for key in ("ours_etcd_p50", "ours_etcd_p99", "single_etcd_p50", "single_etcd_p99")
    }
    pooled = {side: summary_ms([x for r in samples[side] for x in r]) for side in SIDES}
    targets = {
        "p50 <= 0.8x etcd": ratios["ours_etcd_p50"] <= TARGET_P50,
        "p99 <= etcd": ratios["ours_etcd_p99"] <= TARGET_P99,
    }
    return {
        "seed": seed,
        "rounds": rounds,
        "moves_per_round": moves,
        "pooled": pooled,
        "per_round": per_round,
        "ratios": ratios,
        "targets": targets,
        "samples_ms": {side: [x * 1000 for r in samples[side] for x in r] for side in SIDES},
    }


def render(result: dict[str, Any]) -> str:
    pooled = result["pooled"]
    lines = [
        f"1. Commit latency: sequential moves, {result['rounds']} rounds x "
        f"{result['moves_per_round']} moves per side",
        "",
        table(
            ["system", "moves", "p50 ms", "p99 ms", "max ms"],
            [
                [
                    LABELS[s],
                    pooled[s]["n"],
                    pooled[s]["p50_ms"],
                    pooled[s]["p99_ms"],
                    pooled[s]["max_ms"],
                ]
                for s in SIDES
            ],
        ),
        "",
        table(
            [
                "round",
                *(f"{s} p50" for s in SIDES),
                *(f"{s} p99" for s in SIDES),
                "ours/etcd p50",
                "ours/etcd p99",
            ],
            [
                [
                    r + 1,
                    *(row[f"{s}_p50_ms"] for s in SIDES),
                    *(row[f"{s}_p99_ms"] for s in SIDES),
                    row["ours_etcd_p50"],
                    row["ours_etcd_p99"],
                ]
                for r, row in enumerate(result["per_round"])
            ],
        ),
        "",
        table(
            ["ratio (median of per-round ratios)", "value", "target", "holds"],
            [
                [
                    "ours p50 / etcd p50",
                    result["ratios"]["ours_etcd_p50"],
                    "<= 0.80",
                    holds(result["targets"]["p50 <= 0.8x etcd"]),
                ],
                [
                    "ours p99 / etcd p99",
                    result["ratios"]["ours_etcd_p99"],
                    "<= 1.00",
                    holds(result["targets"]["p99 <= etcd"]),
                ],
                ["single p50 / etcd p50", result["ratios"]["single_etcd_p50"], "", ""],
                ["single p99 / etcd p99", result["ratios"]["single_etcd_p99"], "", ""],
            ],
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=MIN_ROUNDS)
    parser.add_argument("--moves", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    run_and_report(NAME, lambda: run(args.rounds, args.moves, args.seed), render)


if __name__ == "__main__":
    main()
