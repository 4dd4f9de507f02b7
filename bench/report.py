"""Write ``docs/performance.md`` from the latest run: ``python -m bench.report``.

Reads the JSON results and the captured output of ``make bench`` from
``bench/results/`` and writes the page: the machine, the exact commands,
the commit and seed, every table, the plot, which targets hold, what
dominates where one does not (from the profile of the same run), and the
output of ``make bench`` verbatim.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path
from typing import Any

from bench import catchup, latency, metrics_overhead, players, profiling, scale, throughput
from bench.common import RESULTS, ROOT, fmt

DOC = ROOT / "docs" / "performance.md"
OUTPUT = "output.txt"
SERVER_CODE = ("game", "twisted")


def _server_code_changed(start: str, end: str) -> bool:
    """Whether the server's code differs between two commits (True when unknown)."""
    try:
        found = subprocess.run(
            ["git", "diff", "--quiet", start, end, "--", *SERVER_CODE],
            cwd=ROOT,
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return True
    return found.returncode != 0


def _load(directory: Path, name: str) -> dict[str, Any] | None:
    path = directory / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _mean(values: Any) -> float:
    listed = list(values)
    return sum(listed) / len(listed) if listed else float("nan")


def _server_avg(data: dict[str, Any], label: str) -> float:
    return _mean(s["ms_per_move"][label] for s in data["servers"].values())


def _cpu_parts(side: dict[str, Any]) -> tuple[float, float, float]:
    """(all servers or members, the client, the total) CPU ms per change."""
    per = side["cpu_ms_per_change"]
    client = per["client (this process)"]
    return side["total_cpu_ms_per_change"] - client, client, side["total_cpu_ms_per_change"]


def _catchup_missed(cat: dict[str, Any]) -> list[str]:
    """The rebuild and large catch-up targets missed, and the largest share
    of each side's time in the catch-up benchmark's own profile."""
    missed = [
        name for name, held in cat["targets"].items() if not held and not name.startswith("100 of")
    ]
    if not missed:
        return []
    text = f"- **Rebuild and large catch-up**: missed {'; '.join(missed)}."
    profile = cat["sizes"]["100000"].get("profile")
    if profile:
        for phase, label in (("copy", "a whole copy"), ("catch_up", "the catch-up")):
            for side, who in (("requester", "server 3"), ("peers", "the peers")):
                parts = {
                    k: v for k, v in profile[phase][side].items() if not k.startswith("waiting")
                }
                top = max(parts, key=lambda k: parts[k])
                text += (
                    f" In {label}, the largest share of the CPU of {who} is {top} "
                    f"({parts[top]:.1f} of {sum(parts.values()):.1f} s under cProfile)."
                )
    return [text]


def dominates(results: dict[str, Any]) -> list[str]:
    """For each missed target, what dominates its cost, from the profile of this run."""
    out: list[str] = []
    prof = results.get("profiling")
    lat = results.get("latency")
    thr = results.get("throughput")
    cat = results.get("catchup")
    sca = results.get("scale")
    python_labels = (
        "staging writes (pickle, sqlite upserts)",
        "deciding (rules, document, index entry)",
        "AMP parsing, dispatch, answers",
    )
    if lat and not all(lat["targets"].values()):
        pooled = lat["pooled"]
        text = (
            f"- **Commit latency** (ours p50 {pooled['ours']['p50_ms']:.2f} ms, p99 "
            f"{pooled['ours']['p99_ms']:.2f} ms; etcd {pooled['etcd']['p50_ms']:.2f} / "
            f"{pooled['etcd']['p99_ms']:.2f} ms; one of our servers alone "
            f"{pooled['single']['p50_ms']:.2f} / {pooled['single']['p99_ms']:.2f} ms). "
        )
        if prof:
            ours = prof["cpu"]["sequential"]["ours"]
            per = ours["cpu_ms_per_change"]
            server = _mean(v for k, v in per.items() if k.startswith("server"))
            client = per["client (this process)"]
            seq = prof["commit"]
            commit = _server_avg(seq, "sqlite COMMIT (fsync)")
            shares = {label: _server_avg(seq, label) for label in python_labels}
            python = sum(shares.values())
            storage = prof["storage"]
            alone = storage["default checkpoints"]
            bare = storage["bare fdatasync of 4 KB"]
            text += (
                f"Per sequential move, with no profiler, each of our servers uses {server:.2f} "
                f"CPU ms and the client {client:.2f} (sending to three servers, reading and "
                "comparing their answers); a move waits for the client, then for the second "
                "of three servers, which are three Python processes sharing 2 cores with the "
                f"client (and with other tenants: load average {lat['machine']['load_average']} "
                "at the end of benchmark 1). Of a server's Python time, profiled: AMP "
                f"parsing, dispatch and answers {shares[python_labels[2]] / python:.0%}, deciding "
                f"(rules, document, index entry) {shares[python_labels[1]] / python:.0%}, "
                f"staging the three records {shares[python_labels[0]] / python:.0%}. "
            )
            if alone["p50_ms"] < server:
                text += (
                    f"The disk is not the cost: our storage's commit of one move alone takes "
                    f"{alone['p50_ms']:.2f} ms p50 (a bare fdatasync {bare['p50_ms']:.2f} ms), "
                    f"while inside the profiled servers the `COMMIT` call lasts {commit:.2f} ms "
                    "per move of wall time, mostly waiting to run again after its fsync on the "
                    "crowded CPUs. The p50 is dominated by the CPU of the Python processes on "
                    "the path (client, then two of three servers) on 2 cores. "
                )
            else:
                text += (
                    f"The commit dominates: our storage's commit of one move alone takes "
                    f"{alone['p50_ms']:.2f} ms p50 (a bare fdatasync {bare['p50_ms']:.2f} ms), "
                    f"and {commit:.2f} ms per move inside the profiled servers. "
                )
            checkpoints = storage["default checkpoints"]["p99_ms"]
            without = storage["no checkpoints"]["p99_ms"]
            text += (
                f"The p99 follows the same waits plus the commit's tail ({checkpoints:.2f} ms "
                f"p99 alone, {without:.2f} ms without WAL checkpoints"
                + (
                    "; the checkpoints that run inside some moves' commits show in it)."
                    if checkpoints > 1.5 * without
                    else "; checkpoints do not stand out this run)."
                )
            )
        out.append(text)
    if thr and not all(thr["targets"].values()):
        text = (
            f"- **Throughput** (ours/etcd at 16 games {thr['ratios']['16']:.2f}x, at 64 "
            f"{thr['ratios'].get('64', float('nan')):.2f}x). "
        )
        if prof:
            mode = next(m for m in prof["cpu"] if m != "sequential")
            ours, theirs = prof["cpu"][mode]["ours"], prof["cpu"][mode]["etcd"]
            o_servers, o_client, o_total = _cpu_parts(ours)
            per_move = o_total * ours.get("changes_per_move", 1.0)
            ceiling = 2000 / per_move
            wanted = 1.5 * theirs["moves_per_s"]
            conc = prof["concurrent"]
            batch = _mean(s["moves_per_commit"] for s in conc["servers"].values())
            commit = _server_avg(conc, "sqlite COMMIT (fsync)")
            alone = prof["storage"]["default checkpoints"]["p50_ms"]
            text += (
                f"CPU dominates. With 16 games a change costs {o_total:.2f} CPU ms across our "
                f"processes (three servers {o_servers:.2f}, client {o_client:.2f}) against "
                f"etcd's {theirs['total_cpu_ms_per_change']:.2f} per put (leader, followers "
                "and client), so on 2 cores ours cannot pass about "
                f"{ceiling:,.0f} moves/s even with the machine to itself, while 1.5x etcd's "
                f"rate in the same measurement is {wanted:,.0f} moves/s: the target needs, at "
                "the very least, the CPU per change cut to "
                f"{2000 / wanted / ours.get('changes_per_move', 1.0):.2f} ms "
                f"({2000 / wanted / per_move:.0%} of today's), and in practice well below, "
                "since no mix of processes keeps 2 cores fully busy. Below that ceiling, the "
                "commit "
                "runs on each server's reactor thread: profiled, a server spends "
                f"{commit:.2f} ms of wall time per move in `COMMIT` ({batch:.1f} moves per "
                f"commit; a commit alone costs {alone:.2f} ms), during which it neither reads "
                "nor decides the next requests."
            )
        out.append(text)
    met = results.get("metrics")
    if met and not all(met["targets"].values()):
        out.append(_metrics_missed(met))
    if cat and cat.get("targets") and not all(cat["targets"].values()):
        out += _catchup_missed(cat)
    if (
        cat
        and cat.get("targets")
        and not all(held for name, held in cat["targets"].items() if name.startswith("100 of"))
    ):
        cell = cat["sizes"]["100000"]["missed"]["100"]
        text = (
            f"- **Catch-up** of 100 missed moves among 100,000 games: "
            f"{cell['seconds']:.2f} s from exec to serving (the catch-up itself "
            f"{cell['sync_seconds']:.2f} s by the log), {cell['bytes_ratio'] * 100:.3f} % of the "
            "bytes of a whole copy. "
        )
        if prof:
            start = prof["startup"]
            phases = start["phases_s"]
            text += (
                f"Of a restart like it ({start['exec_to_serving_s']:.2f} s, "
                f"{start['exec_to_serving_profiled_s']:.2f} s under cProfile), the profile "
                f"gives: imports {phases['imports (all modules)']:.2f} s, loading the index "
                f"(`Replica._load`) {phases['loading the index (Replica._load)']:.2f} s, of "
                "which reading the entries (`Storage.load`) "
                f"{phases['  of which reading the entries (Storage.load)']:.2f} s and building "
                "the index, tree and sums (`Replica._build`) "
                f"{phases['  of which index, tree and sums (Replica._build)']:.2f} s; the catch-up "
                f"itself {phases['catch-up, wall time from its log line']:.2f} s."
                " Loading the index grows with the games held, not with what was missed."
            )
        out.append(text)
    if sca and not all(sca["targets"].values()):
        text = (
            f"- **Scale** ({sca['games']:,} games): slowest restart "
            f"{sca['restart_seconds_max']:.2f} s, slowest start of all three together "
            f"{sca['cold_start_seconds_max']:.2f} s, peak RSS {sca['peak_rss_mb']:.0f} MB. "
            "Each server loads its whole index (above) before it even listens, and started "
            "together the three load at once on 2 cores; then each catches up only once both "
            "peers have answered `PeerStatus` (or `startup_wait`, 3 s, has passed), and a "
            "peer still loading refuses the connection, which the link redials with a "
            "backoff (0.2 s, doubling up to 2 s, jittered). Loading dominates; the restart "
            "of one server, whose peers already serve, holds the target."
        )
        out.append(text)
    return out


def _metrics_missed(met: dict[str, Any]) -> str:
    """What the metrics overhead's figures say where a target is missed."""
    rows, ratios = met["per_round"], met["ratios"]
    spread = {
        label: (min(row[label] for row in rows), max(row[label] for row in rows))
        for label in ("on/off", "scraped/on")
    }
    idle = met["scrape"]["idle"]
    cores = int(met.get("machine", {}).get("nproc") or 2)
    # Three servers, each scraped every interval: CPU per second of the machine's.
    share = 3 * idle["p50_ms"] / 1000 / met["interval_s"] / cores
    counting = met.get("counting_us_per_request", float("nan"))
    noisy = any(high - low > 2 * metrics_overhead.TOLERANCE for low, high in spread.values())
    return (
        f"- **Metrics overhead** (on/off {ratios['on/off']:.3f}, per round "
        f"{spread['on/off'][0]:.3f} to {spread['on/off'][1]:.3f}; scraped/on "
        f"{ratios['scraped/on']:.3f}, per round {spread['scraped/on'][0]:.3f} to "
        f"{spread['scraped/on'][1]:.3f}). Counting adds {counting:.1f} us per request in a "
        f"server; one scrape takes {idle['p50_ms']:.2f} ms round trip on an idle server "
        f"({idle['bytes']:,} bytes, rendered in its reactor thread), so scraping three "
        f"servers every {met['interval_s'] * 1000:.0f} ms takes up to about {share:.1%} of the "
        f"{cores} cores (a round trip bounds the server's own time), which the clients and "
        "servers share when they are the bottleneck. "
        + (
            "The per-round ratios spread wider than the 3 % asked: this run's noise is as "
            "large as the effect (a quieter machine or more rounds decide it)."
            if noisy
            else "The per-round ratios agree within 3 %: the cost is not noise."
        )
    )


def render(directory: Path = RESULTS) -> str:
    run = _load(directory, "run") or {}
    results = {
        name: _load(directory, name)
        for name in ("latency", "throughput", "metrics", "catchup", "scale", "players", "profiling")
    }
    any_result = next((r for r in results.values() if r), None)
    info = run.get("machine_start") or (any_result or {}).get("machine", {})
    commit = run.get("commit_start") or (any_result or {}).get("commit", "unknown")
    commit_line = f"- commit: `{commit}`"
    if run.get("commit_end", commit) != commit:
        moved = _server_code_changed(commit.split()[0], run["commit_end"].split()[0])
        commit_line += (
            f" at the start, `{run['commit_end']}` at the end (others committed meanwhile; "
            + (
                "servers started after that ran the newer code)"
                if moved
                else "nothing under game/ or twisted/ changed between the two)"
            )
        )
    seed = run.get("seed", (any_result or {}).get("seed", "unknown"))
    output_path = directory / OUTPUT
    output = output_path.read_text(errors="replace") if output_path.exists() else ""

    lines = [
        "# Performance",
        "",
        "Generated by `make bench` (`python -m bench.report`) from the latest run; do not edit "
        "by hand. What operators compare a replicated store by: commit latency, throughput, "
        "and how fast a failed replica returns. The baseline is what an operator would pick "
        "instead for replicated durable state: a three-member etcd cluster (Raft) on the same "
        "machine, driven in the same run. Every figure compared is the median of per-round "
        "ratios, ours and the baseline alternating (at least 5 rounds): the machines are "
        "shared and noisy.",
        "",
        "## The run",
        "",
        commit_line,
        f"- seed: `{seed}`",
        f"- finished: {run.get('finished', (any_result or {}).get('finished', 'unknown'))}; "
        f"took {fmt(run.get('minutes', float('nan')), 1)} minutes",
        f"- machine: {info.get('nproc', '?')} CPUs ({info.get('cpu', '?')}), "
        f"{info.get('ram', '?')} RAM, {info.get('kernel', '?')}, Python "
        f"{info.get('python', '?')}, etcd {info.get('etcd', '?')}",
        f"- load average (1, 5, 15 min) at the start {info.get('load_average', '?')}, at the "
        f"end {run.get('load_average_end', '?')} (other engineers' tests share the machine)",
        "- everything on loopback (127.0.0.1); data directories in `/tmp`, on the same disk "
        "for both systems",
        "",
        "Commands:",
        "",
        "```",
        "make bench                       # installs etcd (root on Debian) when missing, runs:",
        f"{run.get('command', 'python -m bench')}",
        "python -m bench.report           # writes this page from bench/results/",
        f"make bench BENCH_SEED={seed}     # the same seed again",
        "python -m bench.latency | bench.throughput | bench.metrics_overhead | bench.catchup | "
        "bench.scale | bench.players | bench.profiling   # one at a time",
        "python -m bench --quick --rounds 2   # tiny sizes (what tests/bench runs)",
        "```",
        "",
        "What each side is:",
        "",
        "- **ours**: three `twistd replgame` servers as shipped (default tuning; only the "
        "ports are chosen), each with its own sqlite database (WAL, `synchronous=FULL`); "
        "moves through `ReplicatedClient`, counted when acknowledged: two identical answers, "
        "each sent only after that server's commit is on disk. **single**: the same moves to "
        "one of the three servers (server 1 of the same cluster; its peers catch those games "
        "up by anti-entropy) over a raw AMP connection.",
        "- **etcd**: Debian's `etcd-server` 3.4, three members with default settings (fsync "
        "on every commit), each `PUT` through the v3 HTTP/JSON gateway (`/v3/kv/put`) to the "
        "leader over one persistent HTTP/1.1 connection per writer (Twisted `Agent`, "
        "`HTTPConnectionPool(persistent=True)`), the value being the row our server "
        "stores for that move, its event (same bytes). Our commit also writes the "
        "game's index entry and the meta record in the same transaction.",
        "",
        "## Targets",
        "",
    ]
    target_rows = run.get("targets") or [
        {"benchmark": name, "target": t, "holds": h}
        for name, r in results.items()
        if r and name != "profiling"
        for t, h in r.get("targets", {}).items()
    ]
    lines += [
        "| benchmark | target | holds |",
        "|---|---|---|",
        *(
            f"| {r['benchmark']} | {r['target']} | {'yes' if r['holds'] else '**no**'} |"
            for r in target_rows
        ),
        "",
    ]
    missed = dominates({k: v for k, v in results.items() if v})
    if missed:
        lines += [
            "Where a target is missed, what dominates (from the profile of this run, below):",
            "",
            *missed,
            "",
        ]
    sections = [
        ("latency", "1. Commit latency", latency.render, ""),
        ("throughput", "2. Throughput", throughput.render, ""),
        ("metrics", "Metrics overhead", metrics_overhead.render, metrics_overhead.METHOD),
        ("catchup", "3. Catch-up", catchup.render, ""),
        ("scale", "4. Scale", scale.render, ""),
        ("players", "Players", players.render, players.METHOD),
    ]
    for name, title, renderer, method in sections:
        lines += [f"## {title}", ""]
        result = results[name]
        if result is None:
            lines += ["Not run (see the output below).", ""]
            continue
        body = renderer(result).split("\n", 1)[1].lstrip("\n")
        lines += [method, "", body, ""] if method else [body, ""]
    lines += [
        "## 5. Latency distributions",
        "",
        "![Latency distributions of benchmarks 1 and 2](performance-latency.png)",
        "",
    ]
    if results["profiling"] is not None:
        body = profiling.render(results["profiling"]).split("\n", 1)[1].lstrip("\n")
        lines += [
            "## Where the time goes (profile)",
            "",
            profiling.__doc__.split("\n\n", 1)[1].strip(),
            "",
            body,
            "",
        ]
    if output:
        lines += ["## The output of `make bench`, verbatim", "", "```", output.rstrip(), "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--out", type=Path, default=DOC)
    args = parser.parse_args(argv)
    args.out.write_text(render(args.results))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
