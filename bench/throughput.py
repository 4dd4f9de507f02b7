"""Benchmark 2, throughput: ``python -m bench.throughput [--rounds 5] [--seconds 5] [--seed S]``.

C games (16 and 64) play at once, each as fast as it can: every game is a
player with its own :class:`~game.client.client.ReplicatedClient` that
creates, joins and moves until the game ends, then starts the next one.
Against it, C etcd writers, each with its own persistent connection to the
leader, put the record our server stores after each of the same steps.
Moves per second count the moves acknowledged within the window (creates
and joins are played on both sides and not counted); latency is per move.

Each round runs ours and etcd for each C, the order flipping every other
round; the figure compared is the median over rounds of ours/etcd.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import (
    MIN_ROUNDS,
    holds,
    load_average,
    median,
    percentile,
    ratio,
    say,
    summary_ms,
    table,
    windows_main,
)
from bench.testbed import EtcdPlayer, MoveFailed, OursPlayer, Testbed
from bench.workload import GamePlan, PlanSource

NAME = "throughput"
CONCURRENCY = (16, 64)
#: Issue target: at 16 concurrent games, at least 1.5x etcd's puts per second.
TARGET_16 = 1.5


class Window:
    """One timed phase: every loop plays steps until the deadline."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = 0.0
        self.deadline = 0.0
        self.latencies: list[float] = []
        self.changes = 0
        self.failures: list[str] = []

    def open(self) -> None:
        self.started = time.perf_counter()
        self.deadline = self.started + self.seconds

    def open_now(self) -> bool:
        return time.perf_counter() < self.deadline

    def record(self, command: str, elapsed: float) -> None:
        if time.perf_counter() <= self.deadline:
            self.changes += 1
            if command == "move":
                self.latencies.append(elapsed)

    @property
    def moves_per_second(self) -> float:
        return len(self.latencies) / self.seconds


class Plans:
    """Plans prepared before a window, shared by the loops; more made if they run out."""

    def __init__(self, source: PlanSource, moves: int) -> None:
        self.source = source
        self.ready = source.plans_with_moves(moves)
        self.position = 0

    def next(self) -> GamePlan:
        if self.position < len(self.ready):
            plan = self.ready[self.position]
        else:
            plan = self.source.next()
            self.ready.append(plan)
        self.position += 1
        return plan

    def rewind(self) -> None:
        self.position = 0


async def _loop(player: Any, plans: Plans, window: Window) -> None:
    while window.open_now():
        plan = plans.next()
        for step in plan.steps:
            if not window.open_now():
                return
            try:
                elapsed = await player.step(plan, step)
            except MoveFailed as error:
                window.failures.append(str(error))
                break  # a new game: this one's state is uncertain
            window.record(step.command, elapsed)


async def phase(players: list[Any], plans: Plans, seconds: float) -> Window:
    from twisted.internet.defer import DeferredList, ensureDeferred

    window = Window(seconds)
    window.open()
    await DeferredList(
        [ensureDeferred(_loop(player, plans, window)) for player in players], consumeErrors=True
    )
    return window


async def run(
    rounds: int = MIN_ROUNDS,
    seconds: float = 5.0,
    seed: int = 1,
    concurrency: tuple[int, ...] = CONCURRENCY,
) -> dict[str, Any]:
    say(
        f"== 2. throughput: {rounds} rounds x {seconds:.0f} s per side and concurrency "
        f"{', '.join(map(str, concurrency))} (seed {seed}, load {load_average()})"
    )
    bed = Testbed()
    await bed.start()
    ours: list[OursPlayer] = []
    etcd: list[EtcdPlayer] = []
    try:
        for _ in range(max(concurrency)):
            ours.append(OursPlayer(await bed.client()))
            etcd.append(EtcdPlayer(bed.etcd_url()))
        rows: dict[int, list[dict[str, Any]]] = {c: [] for c in concurrency}
        latencies: dict[str, list[float]] = {}
        expected_rate = 2000.0
        # Warm up both sides.
        warm = Plans(PlanSource(seed, "warm"), 200)
        await phase(ours[:16], warm, 1.0)
        warm.rewind()
        await phase(etcd[:16], warm, 1.0)
        for r in range(rounds):
            for c in concurrency:
                # The same games for both sides of this round and concurrency.
                plans = Plans(PlanSource(seed, f"t{c}-r{r}"), int(expected_rate * seconds * 1.5))
                windows: dict[str, Window] = {}
                order = ("ours", "etcd") if r % 2 == 0 else ("etcd", "ours")
                for side in order:
                    plans.rewind()
                    group = (ours if side == "ours" else etcd)[:c]
                    windows[side] = await phase(group, plans, seconds)
                    latencies.setdefault(f"{side}_{c}", []).extend(windows[side].latencies)
                expected_rate = max(w.moves_per_second for w in windows.values())
                row = {
                    "round": r + 1,
                    **{f"{s}_moves_per_s": windows[s].moves_per_second for s in order},
                    **{f"{s}_p50_ms": percentile(windows[s].latencies, 0.5) * 1000 for s in order},
                    **{f"{s}_p99_ms": percentile(windows[s].latencies, 0.99) * 1000 for s in order},
                    **{f"{s}_failures": len(windows[s].failures) for s in order},
                }
                row["ratio"] = ratio(row["ours_moves_per_s"], row["etcd_moves_per_s"])
                rows[c].append(row)
                for s in order:
                    for failure in windows[s].failures[:3]:
                        say(f"    {s} failure: {failure}")
                say(
                    f"  round {r + 1}/{rounds} C={c}: ours {row['ours_moves_per_s']:.0f} moves/s "
                    f"(p99 {row['ours_p99_ms']:.1f} ms), etcd {row['etcd_moves_per_s']:.0f} puts/s "
                    f"(p99 {row['etcd_p99_ms']:.1f} ms), ratio {row['ratio']:.2f} "
                    f"(load {load_average()})"
                )
    finally:
        for player in [*ours, *etcd]:
            await player.close()  # type: ignore[attr-defined]
        await bed.stop()
    ratios = {c: median(row["ratio"] for row in rows[c]) for c in concurrency}
    return {
        "seed": seed,
        "rounds": rounds,
        "seconds": seconds,
        "concurrency": list(concurrency),
        "per_round": {str(c): rows[c] for c in concurrency},
        "ratios": {str(c): ratios[c] for c in concurrency},
        "pooled": {
            key: {
                **summary_ms(values),
                "moves_per_s": median(
                    row[f"{key.split('_')[0]}_moves_per_s"] for row in rows[int(key.split("_")[1])]
                ),
            }
            for key, values in latencies.items()
        },
        "targets": {"16 games >= 1.5x etcd": ratios.get(16, float("nan")) >= TARGET_16},
        "samples_ms": {key: [x * 1000 for x in values] for key, values in latencies.items()},
    }


def render(result: dict[str, Any]) -> str:
    pooled = result["pooled"]
    summary_rows = []
    for c in result["concurrency"]:
        for side, label in (("ours", f"ours, {c} games"), ("etcd", f"etcd, {c} writers")):
            s = pooled[f"{side}_{c}"]
            summary_rows.append([label, s["moves_per_s"], s["p50_ms"], s["p99_ms"], s["n"]])
    round_rows = []
    for c in result["concurrency"]:
        for row in result["per_round"][str(c)]:
            round_rows.append(
                [
                    c,
                    row["round"],
                    row["ours_moves_per_s"],
                    row["etcd_moves_per_s"],
                    row["ratio"],
                    row["ours_p99_ms"],
                    row["etcd_p99_ms"],
                    row["ours_failures"] + row["etcd_failures"],
                ]
            )
    ratio_rows = []
    for c in result["concurrency"]:
        target = "16 games >= 1.5x etcd" if c == 16 else None
        ratio_rows.append(
            [
                f"ours / etcd moves per second, C={c}",
                result["ratios"][str(c)],
                ">= 1.50" if target else "",
                holds(result["targets"][target]) if target else "",
            ]
        )
    return "\n".join(
        [
            f"2. Throughput: {result['rounds']} rounds x {result['seconds']:.0f} s per side",
            "",
            table(
                ["system", "moves/s (median of rounds)", "p50 ms", "p99 ms", "moves timed"],
                summary_rows,
            ),
            "",
            table(
                [
                    "C",
                    "round",
                    "ours moves/s",
                    "etcd puts/s",
                    "ours/etcd",
                    "ours p99 ms",
                    "etcd p99 ms",
                    "failures",
                ],
                round_rows,
            ),
            "",
            table(["ratio (median of per-round ratios)", "value", "target", "holds"], ratio_rows),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    windows_main(NAME, __doc__, run, render, argv)


if __name__ == "__main__":
    main()
