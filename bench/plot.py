"""Benchmark 5, the plot: ``python -m bench.plot [--out docs/performance-latency.png]``.

The latency distributions of benchmarks 1 and 2 (from their JSON results)
as empirical CDFs on a log scale, ours beside etcd.  Needs matplotlib, the
``bench`` extra: ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.common import RESULTS, ROOT

OUT = ROOT / "docs" / "performance-latency.png"

COLOURS = {"ours": "#1f77b4", "single": "#7fb3e0", "etcd": "#d62728"}


def _ecdf(values: list[float]) -> tuple[list[float], list[float]]:
    ordered = sorted(values)
    n = len(ordered)
    return ordered, [(i + 1) / n for i in range(n)]


def plot(latency: dict[str, Any] | None, throughput: dict[str, Any] | None, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(12, 4.6), dpi=110)
    left, right = axes
    if latency is not None:
        labels = {
            "ours": "ours, 3 servers (acknowledged by 2)",
            "single": "ours, 1 server",
            "etcd": "etcd 3.4, 3 members",
        }
        for side, label in labels.items():
            values = latency["samples_ms"].get(side, [])
            if values:
                x, y = _ecdf(values)
                left.plot(x, y, label=f"{label} (n={len(values):,})", color=COLOURS[side])
        left.set_title(
            f"1. Commit latency, sequential moves ({latency['rounds']} rounds x "
            f"{latency['moves_per_round']:,})"
        )
    if throughput is not None:
        for key, values in sorted(throughput["samples_ms"].items()):
            side, concurrency = key.split("_")
            if not values:
                continue
            x, y = _ecdf(values)
            style = "-" if concurrency == "16" else "--"
            name = "ours" if side == "ours" else "etcd"
            unit = "games" if side == "ours" else "writers"
            right.plot(
                x,
                y,
                style,
                color=COLOURS[name],
                label=f"{name}, {concurrency} {unit} (n={len(values):,})",
            )
        right.set_title(f"2. Move latency under load ({throughput['rounds']} rounds)")
    for axis in axes:
        axis.set_xscale("log")
        axis.set_xlabel("latency (ms, log scale)")
        axis.set_ylabel("fraction of moves at or below")
        axis.grid(True, which="both", alpha=0.3)
        axis.axhline(0.5, color="grey", linewidth=0.6)
        axis.axhline(0.99, color="grey", linewidth=0.6, linestyle=":")
        if any(not line.get_label().startswith("_") for line in axis.lines):
            axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    plt.close(figure)
    return out


def load(name: str, directory: Path = RESULTS) -> dict[str, Any] | None:
    path = directory / f"{name}.json"
    if not path.exists():
        return None
    result: dict[str, Any] = json.loads(path.read_text())
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    out = plot(load("latency", args.results), load("throughput", args.results), args.out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
