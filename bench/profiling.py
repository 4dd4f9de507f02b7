"""Where the time goes: ``python -m bench.profiling [--games 100000]``.

Not a benchmark: the diagnosis of the targets the benchmarks measure,
with the standard library's cProfile (no extra tool), printed as tables
and written to ``bench/results/profiling.json``.

- ``cpu``: CPU time (``/proc/PID/stat``) per move of every process of each
  side, one game (or writer) at a time, then 16 at once, for a few seconds
  each, with no profiler attached: what a move costs on this 2-core machine.
- ``floor``: the same CPU time per request of a stock AMP server that
  answers at once (no decision, no storage) and of stock AMP clients
  (:mod:`bench.ampfloor`): what Twisted AMP alone costs per request here.
- ``storage``: our storage's commit of one move's records, alone, with
  sqlite's WAL checkpoints and without, beside a bare ``fdatasync``.
- ``commit`` and ``concurrent``: our three servers run under twistd's own
  ``--profile`` (cProfile), the client in-process under cProfile, first
  sequential moves, then 16 concurrent games; each server's wall time per
  acknowledged move is split into COMMIT (the fsync'd sqlite commit),
  staging the writes, deciding the move (rules, document), AMP, and idle.
- ``startup``: one server restarted with D stored games and 100 missed
  moves, under cProfile from its first import (``bench/profiled_twistd.py``):
  its time from exec to serving split into imports, opening the database
  (``quick_check``), loading the index, and catching up.

cProfile slows Python code (often 1.5-2x) but not the time spent waiting
in C (fsync, epoll); the shares are what to read, not the absolute times.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import ampfloor
from bench.catchup import Datasets, MissedMoves
from bench.common import (
    load_average,
    percentile,
    run_and_report,
    say,
    summary_ms,
    table,
)
from bench.servers import Cluster, RawConnection
from bench.testbed import EtcdPlayer, OursPlayer, Testbed, play
from bench.throughput import Plans, phase
from bench.workload import PlanSource, copy_dataset
from game.server.storage import Storage

NAME = "profiling"
#: The sections of a run, in order; ``--only`` picks some.
SECTIONS = ("cpu", "floor", "storage", "commit", "concurrent", "startup")


# -- reading cProfile stats ----------------------------------------------------------


def _stats(source: str | cProfile.Profile) -> dict[tuple[str, int, str], Any]:
    stats = pstats.Stats(source)
    return stats.stats  # type: ignore[attr-defined,no-any-return]


def _find(
    stats: dict[tuple[str, int, str], Any], file_end: str, name: str
) -> tuple[int, float, float]:
    """(calls, tottime, cumtime) of a function, summed over its matching entries."""
    calls, tot, cum = 0, 0.0, 0.0
    for (filename, _, funcname), (_, ncalls, tottime, cumtime, _) in stats.items():
        if funcname == name and filename.endswith(file_end):
            calls += ncalls
            tot += tottime
            cum += cumtime
    return calls, tot, cum


def _top(stats: dict[tuple[str, int, str], Any], count: int, skip: tuple[str, ...] = ()) -> list:
    rows = []
    for (filename, line, funcname), (_, ncalls, tottime, cumtime, _) in stats.items():
        label = f"{funcname} ({_short(filename)}:{line})" if line else funcname
        if any(s in label for s in skip):
            continue
        rows.append((tottime, cumtime, ncalls, label))
    rows.sort(reverse=True)
    return rows[:count]


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


IDLE = "<method 'poll' of 'select.epoll' objects>"


def server_breakdown(stats: dict[tuple[str, int, str], Any], moves: int) -> dict[str, Any]:
    """A server's wall time per acknowledged move, by what it was doing."""
    commits, _, commit = _find(stats, "game/server/storage.py", "commit")
    # SqliteMapping.commit and Storage.commit share the name: take the mapping's.
    commits_m = [v for k, v in stats.items() if k[2] == "commit" and "storage.py" in k[0]]
    if commits_m:
        commit = min(v[3] for v in commits_m)
        commits = min(v[1] for v in commits_m)
    _, _, stage = _find(stats, "game/server/storage.py", "write")
    _, _, apply = _find(stats, "game/server/replica.py", "apply")
    _, _, received = _find(stats, "game/server/connection.py", "dataReceived")
    _, idle, _ = _find(stats, "", IDLE)
    per = 1000 / max(1, moves)
    return {
        "moves": moves,
        "commits": commits,
        "moves_per_commit": moves / max(1, commits),
        "ms_per_move": {
            "sqlite COMMIT (fsync)": commit * per,
            "staging writes (pickle, sqlite upserts)": stage * per,
            "deciding (rules, document, index entry)": (apply - stage) * per,
            "AMP parsing, dispatch, answers": (received - apply) * per,
            "idle (epoll)": idle * per,
        },
        "top": [
            {
                "tottime_ms_per_move": t * per,
                "cumtime_ms_per_move": c * per,
                "calls": n,
                "function": label,
            }
            for t, c, n, label in _top(stats, 12, skip=("poll' of", "execute' of", "<module>"))
        ],
    }


# -- scenarios -----------------------------------------------------------------------


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """A process's CPU time so far: (user, system) seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


async def cpu_per_move(seconds: float, seed: int, games: int = 16) -> dict[str, Any]:
    """CPU milliseconds per change of each process, ours and etcd, no profiler attached:
    one game at a time (sequential), then ``games`` at once."""
    bed = Testbed()
    await bed.start()
    ours = [OursPlayer(await bed.client()) for _ in range(games)]
    etcd = [EtcdPlayer(bed.etcd_url()) for _ in range(games)]
    assert bed.etcd is not None
    members = {
        f"member {m}{' (leader)' if m == bed.etcd.leader else ''}": p.pid
        for m, p in bed.etcd.processes.items()
    }
    out: dict[str, Any] = {}
    sides: list[tuple[str, list[Any], dict[str, int]]] = [
        ("ours", ours, {f"server {i}": bed.ours[i].pid for i in (1, 2, 3)}),
        ("etcd", etcd, members),
    ]
    try:
        for mode, count in (("sequential", 1), (f"{games} at once", games)):
            plans = Plans(PlanSource(seed, f"cpu{count}"), int(3000 * seconds))
            out[mode] = {}
            for side, players, pids in sides:
                pids = {**pids, "client (this process)": os.getpid()}
                plans.rewind()
                before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
                window = await phase(players[:count], plans, seconds)
                after = {name: _cpu_seconds(pid) for name, pid in pids.items()}
                changes = max(1, window.changes)
                per_user = {n: (after[n][0] - before[n][0]) * 1000 / changes for n in pids}
                per_system = {n: (after[n][1] - before[n][1]) * 1000 / changes for n in pids}
                per = {n: per_user[n] + per_system[n] for n in pids}
                out[mode][side] = {
                    "moves_per_s": len(window.latencies) / seconds,
                    "changes_per_move": changes / max(1, len(window.latencies)),
                    "p50_ms": percentile(window.latencies, 0.5) * 1000,
                    "cpu_ms_per_change": per,
                    "user_ms_per_change": per_user,
                    "system_ms_per_change": per_system,
                    "total_cpu_ms_per_change": sum(per.values()),
                }
    finally:
        for player in [*ours, *etcd]:
            await player.close()  # type: ignore[attr-defined]
        await bed.stop()
    return out


def storage_commits(commits: int = 600) -> dict[str, Any]:
    """Our storage's commit (a move's records, as the replica stages them), alone in
    a fresh directory, with sqlite's default WAL checkpoints and with none, and a bare
    ``fdatasync`` of 4 KB: taken in turn, one of each at a time, so that all three meet
    the same disk (which other tenants share)."""
    root = Path(tempfile.mkdtemp(prefix="replgame-bench-commit-"))
    event = "e" * 120  # one move's event row (g/<id>/<n>)
    entry = ("connect4", "active", ("alice", "bob"), 22, b"d" * 32, b"h" * 32, "0a1b", 2**63)
    storages = {
        "default checkpoints": Storage.open(root / "default"),
        "no checkpoints": Storage.open(root / "none"),
    }
    # Diagnosis only: reaches into the mapping for a connection-level pragma.
    storages["no checkpoints"]._mapping._connection.execute("PRAGMA wal_autocheckpoint=0")
    times: dict[str, list[float]] = {label: [] for label in [*storages, "bare fdatasync of 4 KB"]}
    fd = os.open(root / "fdatasync", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for n in range(commits):
            game = f"game-{n % 300:04d}"
            for label, storage in storages.items():
                storage.stage(f"g/{game}/{n // 300:08d}", event)
                storage.stage("i/" + game, entry)
                storage.stage_meta({"initialized": True, "clock": n, "digest": "0" * 64})
                started = time.perf_counter()
                storage.commit()
                times[label].append(time.perf_counter() - started)
            os.write(fd, b"x" * 4096)
            started = time.perf_counter()
            os.fdatasync(fd)
            times["bare fdatasync of 4 KB"].append(time.perf_counter() - started)
    finally:
        os.close(fd)
        for storage in storages.values():
            storage.close()
        shutil.rmtree(root, ignore_errors=True)
    return {label: summary_ms(values) for label, values in times.items()}


async def profiled_servers(
    seed: int,
    moves: int,
    seconds: float,
    scenarios: tuple[str, ...] = ("commit", "concurrent"),
    keep_stats: Path | None = None,
) -> dict[str, Any]:
    """Sequential moves, then 16 concurrent games, on three servers under cProfile.

    :param keep_stats: a directory to keep every process's cProfile stats in
        (``<scenario>-server-<i>.prof``, ``<scenario>-client.prof``), for pstats.
    """
    results: dict[str, Any] = {}
    for scenario in scenarios:
        root = Path(tempfile.mkdtemp(prefix="replgame-bench-profile-"))
        cluster = Cluster(root)
        stats_files = {i: root / f"server-{i}.prof" for i in (1, 2, 3)}
        bed = Testbed(with_etcd=False, root=root)
        bed.ours = cluster
        try:
            for i, server in cluster.servers.items():
                server.spawn(twistd=["--profile", str(stats_files[i]), "--savestats"])
            for server in cluster.servers.values():
                await server.wait_serving()
            players = [
                OursPlayer(await bed.client()) for _ in range(1 if scenario == "commit" else 16)
            ]
            profiler = cProfile.Profile()
            started = time.perf_counter()
            if scenario == "commit":
                plans = PlanSource(seed, "prof").plans_with_moves(moves)
                profiler.enable()
                timed = len(await play(players[0], plans, moves))
                profiler.disable()
                changes = timed + 2 * len(plans)
            else:
                plans_c = Plans(PlanSource(seed, "profc"), int(2000 * seconds))
                profiler.enable()
                window = await phase(players, plans_c, seconds)
                profiler.disable()
                timed, changes = len(window.latencies), window.changes
            wall = time.perf_counter() - started
            for player in players:
                await player.close()
            await cluster.stop_all()
            servers = {
                str(i): server_breakdown(_stats(str(path)), changes)
                for i, path in stats_files.items()
                if path.exists()
            }
            client = _stats(profiler)
            if keep_stats is not None:
                keep_stats.mkdir(parents=True, exist_ok=True)
                profiler.dump_stats(keep_stats / f"{scenario}-client.prof")
                for i, path in stats_files.items():
                    if path.exists():
                        shutil.copy(path, keep_stats / f"{scenario}-server-{i}.prof")
            per = 1000 / max(1, changes)
            results[scenario] = {
                "moves": timed,
                "changes": changes,
                "wall_s": wall,
                "servers": servers,
                "client_top": [
                    {"tottime_ms_per_move": t * per, "function": label}
                    for t, _, _, label in _top(client, 8, skip=("poll' of",))
                ],
                "client_idle_ms_per_move": _find(client, "", IDLE)[1] * per,
            }
        finally:
            cluster.kill_all()
            shutil.rmtree(root, ignore_errors=True)
    return results


async def startup(games: int, seed: int, datasets: Datasets | None = None) -> dict[str, Any]:
    """A restart with ``games`` stored games and 100 missed moves, under cProfile from exec."""
    root = Path(tempfile.mkdtemp(prefix="replgame-bench-profile-start-"))
    own = datasets is None
    datasets = datasets or Datasets(root / "datasets", seed)
    try:
        template, stored, _ = datasets.get(games)
        cluster = Cluster(root / "cluster")
        copy_dataset(template, [s.data for s in cluster.servers.values()])
        await cluster.start_all(timeout=600)
        await cluster.converged(timeout=600)
        connections = [await RawConnection.open(cluster[i].port) for i in (1, 2)]
        server = cluster[3]
        try:
            # Unprofiled first, for the reference time.
            await server.stop()
            await MissedMoves(stored, seed).play(connections, 100)
            plain = await server.start(timeout=600)
            await cluster.converged(timeout=600)
            await server.stop()
            await MissedMoves(stored, seed + 1).play(connections, 100)
            stats_path = root / "startup.prof"
            wrapper = [sys.executable, str(Path(__file__).with_name("profiled_twistd.py"))]
            server.spawn(wrapper=[*wrapper, str(stats_path)])
            profiled = await server.wait_serving(timeout=600)
            lines = server.catch_up_lines()
            await server.stop()
        finally:
            for connection in connections:
                connection.close()
            await cluster.stop_all()
        stats = _stats(str(stats_path))
        phases = {
            "imports (all modules)": _find(
                stats, "<frozen importlib._bootstrap>", "_find_and_load"
            )[2],
            "twistd: options, plugins, logging": _find(
                stats, "twisted/application/app.py", "getApplication"
            )[2],
            "opening the database (incl. quick_check)": _find(
                stats, "game/server/storage.py", "open"
            )[2],
            "  of which PRAGMA quick_check": _find(stats, "game/server/storage.py", "quick_check")[
                2
            ],
            "loading the index (Replica._load)": _find(stats, "game/server/replica.py", "_load")[2],
            "  of which reading the entries (Storage.load)": _find(
                stats, "game/server/storage.py", "load"
            )[2],
            "  of which index, tree and sums (Replica._build)": _find(
                stats, "game/server/replica.py", "_build"
            )[2],
            "catch-up, wall time from its log line": sum(s for _, _, s in lines),
        }
        return {
            "games": games,
            "exec_to_serving_s": plain,
            "exec_to_serving_profiled_s": profiled,
            "phases_s": phases,
            "top": [
                {"tottime_s": t, "cumtime_s": c, "calls": n, "function": label}
                for t, c, n, label in _top(stats, 12, skip=("poll' of",))
            ],
        }
    finally:
        if own:
            datasets.remove()
        shutil.rmtree(root, ignore_errors=True)


async def run(
    games: int = 100_000,
    seed: int = 1,
    datasets: Datasets | None = None,
    seconds: float = 5.0,
    moves: int = 600,
    only: tuple[str, ...] = SECTIONS,
    keep_stats: Path | None = None,
) -> dict[str, Any]:
    say(f"== profile: where the time goes (cProfile; seed {seed}, load {load_average()})")
    result: dict[str, Any] = {"seed": seed}
    if "cpu" in only:
        result["cpu"] = await cpu_per_move(seconds, seed)
    if "floor" in only:
        result["floor"] = await ampfloor.measure(min(seconds, 3.0))
    if "storage" in only:
        result["storage"] = storage_commits()
    if "commit" in only or "concurrent" in only:
        scenarios = tuple(s for s in ("commit", "concurrent") if s in only)
        result.update(await profiled_servers(seed, moves, seconds, scenarios, keep_stats))
    if "startup" in only:
        result["startup"] = await startup(games, seed, datasets)
    return result


def render(result: dict[str, Any]) -> str:
    out = ["Profile: where the time goes", ""]
    if "cpu" in result:
        out += _render_cpu(result["cpu"])
    if "floor" in result:
        out += ampfloor.render(result["floor"])
    if "storage" in result:
        out += _render_storage(result["storage"])
    out += _render_profiles(result)
    if "startup" in result:
        out += _render_startup(result["startup"])
    return "\n".join(out)


def _render_cpu(cpu: dict[str, Any]) -> list[str]:
    modes = list(cpu)
    rows = []
    for side in ("ours", "etcd"):
        for name in cpu[modes[0]][side]["cpu_ms_per_change"]:
            rows.append([side, name, *(_cpu_cell(cpu[m][side], name) for m in modes)])
        rows.append([side, "total", *(cpu[m][side]["total_cpu_ms_per_change"] for m in modes)])
    rates = "; ".join(
        f"{mode}: ours {cpu[mode]['ours']['moves_per_s']:.0f} moves/s (p50 "
        f"{cpu[mode]['ours']['p50_ms']:.2f} ms), etcd {cpu[mode]['etcd']['moves_per_s']:.0f} "
        f"puts/s (p50 {cpu[mode]['etcd']['p50_ms']:.2f} ms)"
        for mode in modes
    )
    return [
        f"CPU time per change, no profiler attached ({rates}):",
        "",
        table(
            ["side", "process", *(f"CPU ms per change, {m} (user + system)" for m in modes)], rows
        ),
        "",
    ]


def _cpu_cell(side: dict[str, Any], name: str) -> str:
    """A process's CPU ms per change, with its user and system parts when measured."""
    total = side["cpu_ms_per_change"][name]
    if "user_ms_per_change" not in side:  # a result written before the split
        return f"{total:.2f}"
    user, system = side["user_ms_per_change"][name], side["system_ms_per_change"][name]
    return f"{total:.2f} ({user:.2f} + {system:.2f})"


def _render_storage(storage: dict[str, Any]) -> list[str]:
    return [
        "Our storage's commit of one move (its three records), alone, and a bare fdatasync:",
        "",
        table(
            ["commit", "n", "p50 ms", "p99 ms", "max ms"],
            [[k, v["n"], v["p50_ms"], v["p99_ms"], v["max_ms"]] for k, v in storage.items()],
        ),
        "",
    ]


def _render_profiles(result: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for scenario, title in (("commit", "sequential moves"), ("concurrent", "16 concurrent games")):
        if scenario not in result:
            continue
        data = result[scenario]
        first = next(iter(data["servers"].values()))
        headers = ["server wall time per change (ms)", *(f"server {i}" for i in data["servers"])]
        rows = [
            [label, *(s["ms_per_move"][label] for s in data["servers"].values())]
            for label in first["ms_per_move"]
        ]
        rows.append(
            [
                "changes per commit (group commit batch)",
                *(s["moves_per_commit"] for s in data["servers"].values()),
            ]
        )
        out += [
            f"Our servers under cProfile, {title} ({data['changes']:,} changes in "
            f"{data['wall_s']:.1f} s; client idle "
            f"{data['client_idle_ms_per_move']:.2f} ms/change):",
            "",
            table(headers, rows),
            "",
            "Server 1, top functions by own time:",
            "",
            table(
                ["ms per change (own)", "ms per change (incl.)", "calls", "function"],
                [
                    [t["tottime_ms_per_move"], t["cumtime_ms_per_move"], t["calls"], t["function"]]
                    for t in first["top"][:8]
                ],
            ),
            "",
        ]
    return out


def _render_startup(start: dict[str, Any]) -> list[str]:
    return [
        f"Restart with {start['games']:,} stored games and 100 missed moves: "
        f"{start['exec_to_serving_s']:.2f} s from exec to serving "
        f"({start['exec_to_serving_profiled_s']:.2f} s under cProfile):",
        "",
        table(["phase (under cProfile)", "seconds"], list(start["phases_s"].items())),
        "",
        table(
            ["own s", "incl. s", "calls", "function"],
            [[t["tottime_s"], t["cumtime_s"], t["calls"], t["function"]] for t in start["top"][:8]],
        ),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run, of {','.join(SECTIONS)} (default: all)",
    )
    parser.add_argument(
        "--keep-stats",
        type=Path,
        default=None,
        help="keep the cProfile stats of commit/concurrent in this directory (for pstats)",
    )
    args = parser.parse_args(argv)
    only = tuple(args.only.split(","))
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")

    run_and_report(
        NAME,
        lambda: run(
            args.games, args.seed, seconds=args.seconds, only=only, keep_stats=args.keep_stats
        ),
        render,
    )


if __name__ == "__main__":
    main()
