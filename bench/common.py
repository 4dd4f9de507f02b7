"""What every benchmark of a cluster shares: statistics, tables, results, the machine.

Benchmarks print tables and write JSON; they never pass or fail.  Every
figure compared with a baseline is the median of per-round ratios, ours and
the baseline measured alternately in each round, because the machines they
run on are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.task import deferLater

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
MIN_ROUNDS = 5
#: The paths whose uncommitted changes a run's commit line mentions.
MEASURED = ("game", "twisted", "bench", "pyproject.toml")


# -- statistics ------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = math.ceil(fraction * len(ordered) - 1e-9)  # 1-based nearest rank
    return ordered[max(0, min(len(ordered), rank) - 1)]


def median(values: Iterable[float]) -> float:
    listed = [v for v in values if v == v]  # drop NaN
    return statistics.median(listed) if listed else float("nan")


def summary_ms(seconds: Sequence[float]) -> dict[str, float | int]:
    """Median, p99 and count of latencies given in seconds, in milliseconds."""
    return {
        "n": len(seconds),
        "p50_ms": percentile(seconds, 0.5) * 1000,
        "p99_ms": percentile(seconds, 0.99) * 1000,
        "max_ms": max(seconds) * 1000 if seconds else float("nan"),
    }


def ratio(ours: float, theirs: float) -> float:
    return ours / theirs if theirs else float("nan")


# -- the reactor -----------------------------------------------------------------


def sleep(seconds: float) -> Deferred[None]:
    return deferLater(reactor, seconds, lambda: None)


def now() -> float:
    return time.perf_counter()


# -- the machine -------------------------------------------------------------------


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def etcd_version(binary: str | None = None) -> str:
    binary = binary or shutil.which("etcd")
    if binary is None:
        return "not installed"
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    first = out.splitlines()[0] if out else "unknown"
    return first.replace("etcd Version: ", "")


def git_commit() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        # Only what runs in a benchmark: not the page a previous run wrote.
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", *MEASURED],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.splitlines()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    if not commit:
        return "unknown"
    changed = sorted({line[3:] for line in dirty if len(line) > 3})
    return f"{commit} (with uncommitted changes to {', '.join(changed)})" if changed else commit


def machine() -> dict[str, str]:
    """The machine a run happened on, for the results and docs/performance.md."""
    return {
        "nproc": str(os.cpu_count()),
        "cpu": _cpu_model(),
        "ram": _memory_gib(),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "etcd": etcd_version(),
        "load_average": load_average(),
    }


# -- output ------------------------------------------------------------------------


def fmt(value: object, digits: int = 2) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "n/a"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 100:
            return f"{value:.1f}"
        return f"{value:.{digits}f}"
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table (readable as plain text too)."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(items: Sequence[str]) -> str:
        return "| " + " | ".join(s.ljust(w) for s, w in zip(items, widths, strict=True)) + " |"

    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in cells]
    return "\n".join(out)


def say(text: str = "") -> None:
    print(text, flush=True)


def holds(value: bool) -> str:
    """A target table's "holds" cell."""
    return "yes" if value else "NO"


def run_and_report(
    name: str,
    run: Callable[[], Awaitable[dict[str, Any]]],
    render: Callable[[dict[str, Any]], str],
) -> None:
    """A benchmark's command line: run it on the real reactor, print its
    tables, write its JSON result."""
    from twisted.internet.task import react

    async def go() -> None:
        result = await run()
        say(render(result))
        say(f"wrote {write_result(name, result)}")

    react(lambda _: ensureDeferred(go()))


def windows_main(
    name: str,
    doc: str,
    run: Callable[[int, float, int], Awaitable[dict[str, Any]]],
    render: Callable[[dict[str, Any]], str],
    argv: list[str] | None = None,
) -> None:
    """The command line of a benchmark of timed windows: ``--rounds``, ``--seconds``, ``--seed``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=MIN_ROUNDS)
    parser.add_argument("--seconds", type=float, default=5.0, help="each window")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    run_and_report(name, lambda: run(args.rounds, args.seconds, args.seed), render)


def write_result(name: str, result: dict[str, Any], directory: Path | None = None) -> Path:
    """Write ``result`` (plus the machine and commit) to ``<directory>/<name>.json``."""
    directory = directory or RESULTS
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    document = {
        "benchmark": name,
        "finished": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "commit": git_commit(),
        "machine": machine(),
        **result,
    }
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    return path


async def alternate(
    rounds: int,
    steps: Sequence[tuple[str, Callable[[int], Any]]],
    on_round: Callable[[int], None] | None = None,
) -> None:
    """Run ``steps`` in order, ``rounds`` times: ours and the baseline alternate.

    The order inside a round flips every other round, so that neither side
    always runs first (a warmer cache, a quieter minute).
    """
    for r in range(rounds):
        ordered = list(steps) if r % 2 == 0 else list(reversed(steps))
        for _, step in ordered:
            await step(r)
        if on_round is not None:
            on_round(r)
