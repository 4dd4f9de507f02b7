"""Benchmark: many players on one cluster: ``python -m bench.players [--per-server N ...]``.

For each N (1,000, 3,000 and 10,000 clients per server), a fresh cluster of
three ``twistd replgame`` servers with the default settings, and a load
generator in :data:`WORKERS` processes (:mod:`bench.playersworker`) holding
N clients, each connected to all three servers as the real client is (one
AMP connection per server, ``Status`` every ``heartbeat``, 10 s, phases
spread).  A quarter of the clients play (pairs, reversi, random legal
moves; a game whose players finish starts a new one), at a fixed
cluster-wide rate of 200 moves/s, each move sent to all three servers and
acknowledged at the second identical answer, as ``ReplicatedClient`` does;
the rest watch a game chosen at random (``Watch`` on all three servers;
they keep watching it if it ends).

Three windows with the same clients connected: (1) idle, heartbeats only;
(2) moves, nobody watching yet; (3) moves with every watcher watching.
Each server's CPU per second comes from ``/proc/PID/stat``: heartbeats are
window 1, moves window 2 minus window 1, pushes window 3 minus window 2.
Fan-out latency is the time a watcher has the second server's push of a
version (its majority) minus the time the mover had its majority answer
for it (``time.monotonic()``, shared by the processes); it can be below
zero, since a server pushes as it answers.  A push is lost when a watcher's
connection to a server, for a version committed after that server's Watch
answer, never receives it (counted after a grace period).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

from bench.common import (
    ROOT,
    git_commit,
    holds,
    load_average,
    percentile,
    run_and_report,
    say,
    sleep,
    table,
)
from bench.common import (
    machine as this_machine,
)
from bench.servers import Cluster
from game.server.limits import SPARE_DESCRIPTORS

NAME = "players"
SIZES = (1_000, 3_000, 10_000)
QUICK_SIZES = (50,)
WORKERS = 4
QUICK_WORKERS = 2
RATE = 200.0
QUICK_RATE = 50.0
WINDOW = 10.0
QUICK_WINDOW = 0.6
HEARTBEAT = 10.0  # the default [tuning] heartbeat, which the servers run with
#: Connections opened per second, all workers together, and at once per worker.
CONNECT_RATE = 3000.0
IN_FLIGHT = 64
#: Targets of issue 15 at 10,000 clients per server.
TARGET_N = 10_000
TARGET_FANOUT_P99_MS = 150.0
TARGET_ACK_P99_MS = 30.0
TARGET_RSS_MB = 600.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: How it is measured, for docs/performance.md.
METHOD = (
    "For each N, a fresh cluster of three `twistd replgame` servers with the default settings "
    "(only ports and directories chosen; `max_connections` 10,000, `heartbeat` 10 s) and a "
    "load generator in several processes (`bench/playersworker.py`; lean clients: "
    "hand-encoded AMP boxes parsed by `game.ampframe`, so that the generator is not the "
    "bottleneck) holding N clients, each connected to all three servers as the real client "
    "is and sending `Status` every 10 s, phases spread. A quarter of the clients play "
    "(pairs, reversi, random legal moves; players whose game ends start a new one) at 200 "
    "moves/s in all, each move sent to the three servers and acknowledged at the second "
    "identical answer, as `ReplicatedClient` does; the rest each watch a game chosen at "
    "random (`Watch` on all three servers; they keep watching it if it ends). Three windows "
    "with the same clients connected: (1) idle, (2) moves with nobody watching, (3) moves "
    "with every watcher watching; each server's CPU from `/proc/PID/stat`. Fan-out latency: "
    "when a watcher has the second server's push of a version (its majority) minus when the "
    "mover had its majority answer (`time.monotonic()`, shared by the processes; below zero "
    "when the push overtakes the answer). A push is lost when a watcher's connection to a "
    "server never receives a version committed after that server's `Watch` answer (counted "
    "after a grace period, from every server). RSS per connection: RSS with the clients "
    "connected and idle minus RSS before they connected, per client connection."
)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (``/proc/PID/stat``)."""
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return float("nan")


def waiting_seconds(pid: int) -> float:
    """Seconds the process's main thread spent runnable but waiting for a CPU
    (``/proc/PID/schedstat``): high when the machine, not the process, is busy."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    return float("nan")


class WorkerProcess(ProcessProtocol):
    """One :mod:`bench.playersworker` child: commands in, JSON events out."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.buffer = b""
        self.errors = b""
        self.waiting: dict[str, list[defer.Deferred[dict[str, Any]]]] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.ended: defer.Deferred[None] = defer.Deferred()
        self.pid = 0

    @classmethod
    def spawn(cls, options: dict[str, Any]) -> WorkerProcess:
        worker = cls(options)
        argv = [sys.executable, "-m", "bench.playersworker", json.dumps(options)]
        transport = reactor.spawnProcess(worker, sys.executable, argv, env=os.environ, path=ROOT)
        worker.pid = transport.pid
        return worker

    def outReceived(self, data: bytes) -> None:
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            event = json.loads(line)
            waiters = self.waiting.get(event["event"])
            if waiters:
                waiters.pop(0).callback(event)
            else:
                self.events.setdefault(event["event"], []).append(event)

    def errReceived(self, data: bytes) -> None:
        self.errors += data

    def processEnded(self, reason: Failure) -> None:
        why = f"a load worker exited:\n{self.errors.decode(errors='replace')[-2000:]}"
        for waiters in self.waiting.values():
            for waiter in waiters:
                waiter.errback(RuntimeError(why))
        self.waiting = {}
        self.ended.callback(None)

    def send(self, command: str, **fields: Any) -> None:
        assert self.transport is not None
        self.transport.write(json.dumps({"command": command, **fields}).encode() + b"\n")

    def next(self, event: str, timeout: float = 300) -> defer.Deferred[dict[str, Any]]:
        """The next ``event`` line (one already received, or the next to come)."""
        queued = self.events.get(event)
        if queued:
            return defer.succeed(queued.pop(0))
        waiter: defer.Deferred[dict[str, Any]] = defer.Deferred()
        self.waiting.setdefault(event, []).append(waiter)
        return waiter.addTimeout(timeout, reactor)

    def cpu(self) -> float:
        return cpu_seconds(self.pid)


async def each(
    workers: Sequence[WorkerProcess], command: str, **fields: Any
) -> list[dict[str, Any]]:
    """Send ``command`` to every worker; their answers."""
    for worker in workers:
        worker.send(command, **fields)
    results = await defer.gatherResults([worker.next(command) for worker in workers])
    return list(results)


def split(total: int, parts: int, step: int = 1) -> list[int]:
    """``total`` in ``parts`` near-equal shares, each a multiple of ``step``."""
    units = total // step
    return [(units // parts + (1 if i < units % parts else 0)) * step for i in range(parts)]


async def window(
    cluster: Cluster, workers: Sequence[WorkerProcess], seconds: float
) -> dict[str, Any]:
    """CPU per second of each server and of the generator over ``seconds``."""
    pids = {i: s.pid for i, s in cluster.servers.items()}
    before = {i: cpu_seconds(pid) for i, pid in pids.items()}
    waited = {i: waiting_seconds(pid) for i, pid in pids.items()}
    generator = sum(w.cpu() for w in workers)
    started = time.monotonic()
    await sleep(seconds)
    ended = time.monotonic()
    elapsed = ended - started
    return {
        "start": started,
        "end": ended,
        "servers": {str(i): (cpu_seconds(pid) - before[i]) / elapsed for i, pid in pids.items()},
        "servers_waiting": {
            str(i): (waiting_seconds(pid) - waited[i]) / elapsed for i, pid in pids.items()
        },
        "generator": (sum(w.cpu() for w in workers) - generator) / elapsed,
    }


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


async def run_size(
    per_server: int, seed: int, seconds: float, rate: float, workers_count: int
) -> dict[str, Any]:
    """One cluster, ``per_server`` clients, the three windows."""
    root = Path(tempfile.mkdtemp(prefix="replgame-bench-players-"))
    cluster = Cluster(root / "cluster")
    players = max(2, per_server // 4 // 2 * 2)
    watchers = per_server - players
    warm = min(2.0, seconds / 3)
    workers: list[WorkerProcess] = []
    try:
        # The workers start (imports) while the servers do.
        ports = [cluster[i].port for i in (1, 2, 3)]
        for index, (p, w) in enumerate(
            zip(split(players, workers_count, 2), split(watchers, workers_count), strict=True)
        ):
            options = {
                "index": index,
                "seed": seed,
                "ports": ports,
                "players": p,
                "watchers": w,
                "heartbeat": HEARTBEAT,
            }
            workers.append(WorkerProcess.spawn(options))
        await cluster.start_all()
        rss_before = {i: s.rss()[0] for i, s in cluster.servers.items()}
        await defer.gatherResults([w.next("ready", 60) for w in workers])
        started = time.monotonic()
        connected = await each(
            workers, "connect", rate=CONNECT_RATE / workers_count, in_flight=IN_FLIGHT
        )
        connect_seconds = time.monotonic() - started
        refused = sum(c["refused"] for c in connected)
        failed = sum(c["failed"] for c in connected)
        say(
            f"  N={per_server:,}: {3 * per_server:,} connections in {connect_seconds:.1f} s "
            f"({workers_count} workers; {refused} refused, {failed} failed)"
        )
        made = await each(workers, "games")
        games = [g for m in made for g in m["games"]]
        await sleep(warm)
        idle = await window(cluster, workers, seconds)
        rss_idle = {i: s.rss()[0] for i, s in cluster.servers.items()}
        await each(workers, "moves", rate=rate / workers_count)
        await sleep(warm)
        moving = await window(cluster, workers, seconds)
        started = time.monotonic()
        watched = await each(workers, "watch", games=games)
        watch_seconds = time.monotonic() - started
        await sleep(warm)
        pushing = await window(cluster, workers, seconds)
        rss_end = {i: s.rss() for i, s in cluster.servers.items()}
        stopped = await each(workers, "stop")
        await sleep(warm)
        reports = await each(workers, "report")
        for worker in workers:
            worker.send("exit")
        await defer.DeferredList([w.ended for w in workers])
        status = await cluster.converged(timeout=60)
    finally:
        for worker in workers:
            if not worker.ended.called and worker.transport is not None:
                with contextlib.suppress(ProcessExitedAlready):
                    worker.transport.signalProcess("KILL")
        await cluster.stop_all()
        shutil.rmtree(root, ignore_errors=True)
    return summarize(
        per_server,
        players,
        watchers,
        seconds,
        rate,
        {
            "connect_seconds": connect_seconds,
            "refused": refused,
            "failed": failed,
            "games": len(games),
            "games_failed": sum(m["failed"] for m in made),
            "watch_seconds": watch_seconds,
            "watch_refused": sum(w["refused"] for w in watched),
            "unanswered": sum(s["unanswered"] for s in stopped),
            "rss_before": rss_before,
            "rss_idle": rss_idle,
            "rss_end": rss_end,
            "clock": status["clock"],
        },
        [idle, moving, pushing],
        reports,
    )


def summarize(
    per_server: int,
    players: int,
    watchers: int,
    seconds: float,
    rate: float,
    run: dict[str, Any],
    windows: list[dict[str, Any]],
    reports: list[dict[str, Any]],
) -> dict[str, Any]:
    """One size's figures from the windows and the workers' reports."""
    idle, moving, pushing = windows
    acks = [a for r in reports for a in r["acks"]]
    acked_at = {(game, version): at for game, version, at, _ in acks}
    finals: dict[str, int] = {}
    for r in reports:
        finals.update(r["finals"])

    def in_window(w: dict[str, Any]) -> list[float]:
        return [latency for _, _, at, latency in acks if w["start"] <= at < w["end"]]

    moves_2, moves_3 = in_window(moving), in_window(pushing)
    by_server: dict[str, list[float]] = {"1": [], "2": [], "3": []}
    for r in reports:
        for at, server, elapsed in r["answered"]:
            if moving["start"] <= at < pushing["end"]:
                by_server[str(server)].append(elapsed)
    slowest = [
        elapsed
        for r in reports
        for at, elapsed in r["all_answered"]
        if moving["start"] <= at < pushing["end"]
    ]
    fanout: list[float] = []
    lost = 0
    expected = 0
    for r in reports:
        for game, first, received, majority_at in r["watchers"]:
            final = finals.get(game, 0)
            for server, version in first.items():
                if version is None:
                    continue
                wanted = set(range(version + 1, final + 1))
                expected += len(wanted)
                lost += len(wanted - set(received[server]))
            for version, at in majority_at.items():
                acked = acked_at.get((game, int(version)))
                if acked is not None and pushing["start"] <= acked < pushing["end"]:
                    fanout.append(at - acked)
    servers = list(idle["servers"])
    cpu = {
        s: {
            "heartbeats": idle["servers"][s],
            "moves": moving["servers"][s] - idle["servers"][s],
            "pushes": pushing["servers"][s] - moving["servers"][s],
            "window_1": idle["servers"][s],
            "window_2": moving["servers"][s],
            "window_3": pushing["servers"][s],
            "waiting_for_cpu": [w["servers_waiting"][s] for w in windows],
        }
        for s in servers
    }
    connections = 3 * per_server - run["refused"] - run["failed"]
    per_connection_kb = _mean(
        [
            (run["rss_idle"][i] - run["rss_before"][i]) * 1024 / max(1, connections / 3)
            for i in run["rss_idle"]
        ]
    )
    rss_end = {str(i): v[0] for i, v in run["rss_end"].items()}
    peak = {str(i): v[1] for i, v in run["rss_end"].items()}

    def ms(values: list[float], fraction: float) -> float:
        return percentile(values, fraction) * 1000

    return {
        "per_server": per_server,
        "players": players,
        "watchers": watchers,
        "seconds": seconds,
        "rate": rate,
        **{k: v for k, v in run.items() if not k.startswith("rss")},
        "rss_before_mb": {str(i): v for i, v in run["rss_before"].items()},
        "rss_idle_mb": {str(i): v for i, v in run["rss_idle"].items()},
        "rss_end_mb": rss_end,
        "rss_peak_mb": peak,
        "rss_max_mb": max(peak.values()),
        "rss_per_connection_kb": per_connection_kb,
        "moves_per_s_window_2": len(moves_2) / seconds,
        "moves_per_s": len(moves_3) / seconds,
        "ack_p50_ms": ms(moves_2 + moves_3, 0.5),
        "ack_p99_ms": ms(moves_2 + moves_3, 0.99),
        "acks": len(moves_2) + len(moves_3),
        "ack_window_2_p50_ms": ms(moves_2, 0.5),
        "ack_window_2_p99_ms": ms(moves_2, 0.99),
        "ack_window_3_p50_ms": ms(moves_3, 0.5),
        "ack_window_3_p99_ms": ms(moves_3, 0.99),
        "answer_ms_by_server": {
            server: {"p50": ms(values, 0.5), "p99": ms(values, 0.99), "n": len(values)}
            for server, values in by_server.items()
        },
        "third_answer_p50_ms": ms(slowest, 0.5),
        "third_answer_p99_ms": ms(slowest, 0.99),
        "fanout_n": len(fanout),
        "fanout_p50_ms": ms(fanout, 0.5),
        "fanout_p99_ms": ms(fanout, 0.99),
        "fanout_max_ms": max(fanout) * 1000 if fanout else float("nan"),
        "pushes_expected": expected,
        "pushes_received": sum(r["pushes"] for r in reports),
        "pushes_lost": lost,
        "failed_moves": sum(r["failed_moves"] for r in reports),
        "failures": [f for r in reports for f in r["failures"]][:10],
        "behind": sum(r["behind"] for r in reports),
        "generator_lag_p99_ms": max(r["lag_p99_ms"] for r in reports),
        "generator_lag_max_ms": max(r["lag_max_ms"] for r in reports),
        "links_lost": sum(r["links_lost"] for r in reports),
        "cpu": cpu,
        "cpu_mean": {
            part: _mean([cpu[s][part] for s in servers])
            for part in ("heartbeats", "moves", "pushes")
        },
        "generator_cpu": [w["generator"] for w in windows],
        "generator_max_rss_mb": max(r["max_rss_mb"] for r in reports),
    }


async def run(
    sizes: Sequence[int] = SIZES,
    seed: int = 1,
    seconds: float = WINDOW,
    rate: float = RATE,
    workers: int = WORKERS,
) -> dict[str, Any]:
    say(
        f"== players: {', '.join(f'{n:,}' for n in sizes)} clients per server, {rate:.0f} "
        f"moves/s, {seconds:g} s windows, {workers} load processes (seed {seed}, commit "
        f"{git_commit()}, load {load_average()})"
    )
    rows = []
    for n in sizes:
        row = await run_size(n, seed, seconds, rate, workers)
        say(
            f"  N={n:,}: {row['moves_per_s']:.0f} moves/s, ack p99 {row['ack_p99_ms']:.1f} ms, "
            f"fan-out p99 {row['fanout_p99_ms']:.1f} ms, {row['pushes_lost']} pushes lost, "
            f"RSS {row['rss_max_mb']:.0f} MB (load {load_average()})"
        )
        rows.append(row)
    largest = max(rows, key=lambda r: r["per_server"])
    return {
        "seed": seed,
        "sizes": list(sizes),
        "seconds": seconds,
        "rate": rate,
        "workers": workers,
        "heartbeat": HEARTBEAT,
        "open_files_hard": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
        "rows": rows,
        "targets": _targets(largest),
    }


def _targets(largest: dict[str, Any]) -> dict[str, bool]:
    """Whether each target holds at the largest size, named for the targets table."""
    at = f"{largest['per_server']:,} per server"
    return {
        f"{at}: fan-out p99 <= {TARGET_FANOUT_P99_MS:.0f} ms": largest["fanout_p99_ms"]
        <= TARGET_FANOUT_P99_MS,
        f"{at}: acknowledged-move p99 <= {TARGET_ACK_P99_MS:.0f} ms": largest["ack_p99_ms"]
        <= TARGET_ACK_P99_MS,
        f"{at}: 0 pushes lost": largest["pushes_lost"] == 0 and largest["fanout_n"] > 0,
        f"{at}: RSS <= {TARGET_RSS_MB:.0f} MB per server": largest["rss_max_mb"] <= TARGET_RSS_MB,
    }


async def run_command(quick: bool, seed: int) -> dict[str, Any]:
    """``python -m bench``'s run: the full sizes, or the smoke run's."""
    if quick:
        return await run(QUICK_SIZES, seed, QUICK_WINDOW, QUICK_RATE, QUICK_WORKERS)
    return await run(SIZES, seed)


def capacity(result: dict[str, Any]) -> str:
    """What the largest size says to an operator: how many players one
    cluster holds on this hardware, and which resource runs out first."""
    row = max(result["rows"], key=lambda r: r["per_server"])
    n = row["per_server"]
    # The results file has it; a run printing its own table reads this machine.
    machine = result.get("machine") or this_machine()
    cores = int(machine.get("nproc", os.cpu_count() or 1))
    ram_mb = _mib(machine.get("ram", ""))
    busiest = max(c["window_3"] for c in row["cpu"].values())
    held = all(result["targets"].values())
    # Linear estimates from the largest size: the servers' CPU grows with the
    # players (heartbeats, and the pushes their watching brings), memory with
    # the connections; three servers share the machine.
    limits = {"CPU": cores / (3 * busiest / n) if busiest > 0 else float("inf")}
    before = max(row["rss_before_mb"].values())
    per_player_mb = (row["rss_max_mb"] - before) / n  # at its peak, under load
    if ram_mb and per_player_mb > 0:
        limits["memory"] = (ram_mb / 3 - before) / per_player_mb
    files = result.get("open_files_hard")
    if files and files > 0:  # RLIM_INFINITY is -1
        limits["open files"] = files - SPARE_DESCRIPTORS
    first = min(limits, key=lambda k: limits[k])
    others = ", ".join(f"{k} at about {_round(v):,}" for k, v in limits.items() if k != first)
    return (
        f"For an operator: on this machine ({cores} CPUs, {machine.get('cpu', '?')}, "
        f"{machine.get('ram', '?')} RAM, the load processes on the same cores), one cluster of "
        f"three servers held {n:,} players (every player connects to all three servers: a "
        f"cluster holds as many players as one server holds connections)"
        + (", every target met. " if held else ", though not every target was met (above). ")
        + f"A quarter played {row['moves_per_s']:.0f} moves/s and the rest watched: each server "
        f"held {row['rss_max_mb']:.0f} MB at its peak ({row['rss_per_connection_kb']:.1f} KB per "
        f"connection) and the busiest used {busiest:.0%} of one core, of which heartbeats "
        f"{row['cpu_mean']['heartbeats']:.0%}; the load processes used "
        f"{row['generator_cpu'][2]:.0%} of one core in all. The first limit is a setting, "
        f"`max_connections` (default 10,000 per server). Raised, the next to run out is "
        f"{first}, at about {_round(limits[first]):,} players ({others}; CPU and memory are "
        f"linear estimates from this size at this move rate, open files the hard limit less "
        f"{SPARE_DESCRIPTORS}); the latency targets give way before the CPU is full, as the "
        f"servers start waiting for a core."
    )


def _mib(text: str) -> float:
    """``"23.5 GiB"`` (bench.common.machine's RAM) in MiB; 0 if unknown."""
    number, _, unit = text.partition(" ")
    try:
        return float(number) * {"GiB": 1024, "MiB": 1}[unit]
    except (KeyError, ValueError):
        return 0.0


def _round(value: float) -> int:
    return int(round(value, -3)) if value >= 1000 else int(value)


def render(result: dict[str, Any]) -> str:
    rows = result["rows"]
    main_rows = [
        [
            f"{r['per_server']:,}",
            f"{r['connect_seconds']:.1f}",
            r["refused"] + r["failed"],
            f"{r['moves_per_s']:.0f}",
            r["ack_p50_ms"],
            r["ack_p99_ms"],
            r["fanout_p50_ms"],
            r["fanout_p99_ms"],
            r["fanout_max_ms"],
            r["pushes_lost"],
            r["rss_max_mb"],
            r["rss_per_connection_kb"],
        ]
        for r in rows
    ]
    cpu_rows = [
        [
            f"{r['per_server']:,}",
            r["cpu_mean"]["heartbeats"] * 100,
            r["cpu_mean"]["moves"] * 100,
            r["cpu_mean"]["pushes"] * 100,
            max(c["window_3"] for c in r["cpu"].values()) * 100,
            max(c.get("waiting_for_cpu", [float("nan")] * 3)[2] for c in r["cpu"].values()) * 100,
            ", ".join(f"{g * 100:.0f}" for g in r["generator_cpu"]),
            r.get("generator_lag_p99_ms", float("nan")),
            r.get("third_answer_p99_ms", float("nan")),
            r["pushes_received"],
            r["failed_moves"],
        ]
        for r in rows
    ]
    largest = max(rows, key=lambda r: r["per_server"])
    # Recomputed in their order: the results' JSON sorts the targets' keys.
    fanout, ack, lost, rss = (holds(held) for held in _targets(largest).values())
    peak = f"{largest['rss_max_mb']:.0f} MB"
    target_rows = [
        ["fan-out p99", f"{largest['fanout_p99_ms']:.1f} ms", "<= 150 ms", fanout],
        ["acknowledged-move p99", f"{largest['ack_p99_ms']:.1f} ms", "<= 30 ms", ack],
        ["pushes lost", largest["pushes_lost"], "0", lost],
        ["RSS per server (peak)", peak, "<= 600 MB", rss],
    ]
    return "\n".join(
        [
            f"Players: N clients per server, each on all three servers; a quarter play at "
            f"{result['rate']:.0f} moves/s in all, the rest watch; {result['seconds']:g} s "
            f"windows, {result['workers']} load processes, heartbeat {result['heartbeat']:g} s",
            "",
            table(
                [
                    "N per server",
                    "connect s",
                    "refused",
                    "moves/s held",
                    "ack p50 ms",
                    "ack p99 ms",
                    "fan-out p50 ms",
                    "fan-out p99 ms",
                    "fan-out max ms",
                    "pushes lost",
                    "RSS MB (peak)",
                    "KB per connection",
                ],
                main_rows,
            ),
            "",
            table(
                [
                    "N per server",
                    "server CPU % heartbeats",
                    "moves",
                    "pushes",
                    "busiest server, window 3",
                    "server waiting for a CPU %, window 3",
                    "generator CPU % (windows 1, 2, 3)",
                    "generator lag p99 ms",
                    "slowest server's answer p99 ms",
                    "pushes received",
                    "moves not acknowledged",
                ],
                cpu_rows,
            ),
            "",
            "Server CPU is the mean of the three servers, in % of one core: heartbeats = "
            "window 1 (idle), moves = window 2 - window 1, pushes = window 3 - window 2; "
            "waiting for a CPU: the most any server's reactor thread spent runnable but not "
            "running (`/proc/PID/schedstat`), in % of the window: the machine's contention. "
            "Acknowledged-move latency: windows 2 and 3, to the second identical answer; "
            "fan-out: window 3, to the watcher's second push of a version. Generator lag: how "
            "late the busiest load process's 10 ms move timer ran (p99), i.e. how long its "
            "reactor was busy or waiting for a CPU. Slowest server's answer: a move's third "
            "answer (the majority needs only two).",
            "",
            capacity(result),
            "",
            f"Targets at {largest['per_server']:,} clients per server:",
            "",
            table(["target", "value", "target", "holds"], target_rows),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-server", type=int, nargs="+", default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=None, help="each window")
    parser.add_argument("--workers", type=int, default=None, help="load processes")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    args = parser.parse_args(argv)
    sizes = args.per_server or (QUICK_SIZES if args.quick else SIZES)
    seconds = args.seconds or (QUICK_WINDOW if args.quick else WINDOW)
    workers = args.workers or (QUICK_WORKERS if args.quick else WORKERS)
    rate = QUICK_RATE if args.quick else RATE
    run_and_report(NAME, lambda: run(sizes, args.seed, seconds, rate, workers), render)


if __name__ == "__main__":
    main()
