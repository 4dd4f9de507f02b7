"""Where a rebuild's and a catch-up's time goes, and what they cost the peers' clients.

Two measurements for :mod:`bench.catchup`, each in a round of its own (not
in the medians):

- :func:`profiled_sync`: server 3 rebuilds (or catches up) with every server
  under cProfile: server 3 from its exec (``bench/profiled_twistd.py``), its
  peers only while it syncs (``bench/profiled_window.py``, SIGUSR1/SIGUSR2).
  Each side's profile is split by :func:`categories` (own time of every
  function, summed by what it does).  cProfile slows Python code, not
  waiting in C: the shares are what to read.
- :func:`peer_latency`: a client of the peers (GetGame on a random game,
  one at a time) while nothing syncs, then while server 3 rebuilds from
  them: p50/p99 of each, and the ratio the issue bounds (p99 during the
  copy < 3x idle).
"""

from __future__ import annotations

import pstats
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

from twisted.internet.defer import ensureDeferred

from bench.common import percentile, sleep
from bench.servers import Cluster, RawConnection, Server
from bench.workload import StoredGame
from game import protocol as p

#: What each function's own time counts as: the first match wins.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("waiting (epoll)", ("select.epoll",)),
    (
        "sqlite: queries, inserts, commits (fsync), pickles",
        ("sqlite3", "game/server/storage.py", "shelve.py", "game/server/commit.py", "_pickle"),
    ),
    (
        "replaying events: rules, game log",
        (
            "game/rules/",
            "game/server/gamelog.py",
            "game/server/events.py",
            "game/server/offers.py",
            "game/server/gameclock.py",
            "game/server/moveclocks.py",
        ),
    ),
    ("JSON", ("json/", "_json")),
    ("SHA-256 (heads, tree)", ("_hashlib", "hashlib.py")),
    ("AMP and Twisted", ("twisted/",)),
    (
        "sync, paging, replica bookkeeping",
        (
            "game/server/sync.py",
            "game/server/paging.py",
            "game/server/replica.py",
            "game/server/dumps.py",
            "game/server/forks.py",
            "game/server/locators.py",
        ),
    ),
)
OTHER = "other (imports, start-up, the rest)"
#: The issue's bound on the serving peer's client p99 during a copy.
TARGET_P99_RATIO = 3.0


def categories(stats: pstats.Stats) -> dict[str, float]:
    """Seconds of own time by :data:`CATEGORIES`."""
    found = dict.fromkeys([name for name, _ in CATEGORIES] + [OTHER], 0.0)
    table: dict[tuple[str, int, str], Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, _, funcname), (_, _, tottime, _, _) in table.items():
        where = f"{filename}:{funcname}"
        for name, needles in CATEGORIES:
            if any(needle in where for needle in needles):
                found[name] += tottime
                break
        else:
            found[OTHER] += tottime
    return found


def _wrapper(name: str) -> list[str]:
    return [sys.executable, str(Path(__file__).with_name(name))]


async def restart_peers_profiled(cluster: Cluster, out: Path) -> None:
    """Restart servers 1 and 2 under the signal-windowed profiler."""
    for i in (1, 2):
        await cluster[i].stop()
        cluster[i].spawn(wrapper=[*_wrapper("profiled_window.py"), str(out / f"peer-{i}.prof")])
    for i in (1, 2):
        await cluster[i].wait_serving(timeout=600)


async def profiled_sync(cluster: Cluster, out: Path, data: Path | None) -> dict[str, Any]:
    """Start server 3 (stopped) under cProfile, its peers' window open
    meanwhile; each side's categories once it serves.

    :param data: a fresh data directory for a whole copy, or ``None`` (its own: a catch-up).
    """
    server = cluster[3]
    for i in (1, 2):
        (out / f"peer-{i}.prof").unlink(missing_ok=True)
        cluster[i].signal(signal.SIGUSR1)
    own = out / "server-3.prof"
    server.spawn(data=data, wrapper=[*_wrapper("profiled_twistd.py"), str(own)])
    seconds = await server.wait_serving(timeout=600)
    for i in (1, 2):
        cluster[i].signal(signal.SIGUSR2)
    await server.stop()
    peers: dict[str, float] = {}
    for i in (1, 2):
        path = out / f"peer-{i}.prof"
        deadline = time.monotonic() + 60
        while not path.exists() and time.monotonic() < deadline:
            await sleep(0.1)
        for name, value in categories(pstats.Stats(str(path))).items():
            peers[name] = peers.get(name, 0.0) + value
    return {
        "seconds_profiled": seconds,
        "requester": categories(pstats.Stats(str(own))),
        "peers": peers,
        "requester_top": top_functions(pstats.Stats(str(own))),
        "peer_top": {i: top_functions(pstats.Stats(str(out / f"peer-{i}.prof"))) for i in (1, 2)},
    }


def top_functions(stats: pstats.Stats, count: int = 12) -> list[list[Any]]:
    """``[own seconds, calls, function]`` of the costliest functions, waiting left out."""
    table: dict[tuple[str, int, str], Any] = stats.stats  # type: ignore[attr-defined]
    rows = [
        [round(tottime, 3), calls, f"{filename.rsplit('site-packages/', 1)[-1]}:{line}:{name}"]
        for (filename, line, name), (_, calls, tottime, _, _) in table.items()
        if "epoll" not in name
    ]
    return sorted(rows, reverse=True)[:count]


async def _probe(
    connections: list[RawConnection], games: list[StoredGame], rng: random.Random, until: Any
) -> list[list[float]]:
    """GetGame on random games, one request at a time per peer, until ``until()``."""
    samples: list[list[float]] = [[] for _ in connections]
    while not until():
        for n, connection in enumerate(connections):
            game = rng.choice(games)
            started = time.perf_counter()
            await connection.call(p.GetGame, game_id=game.game_id)
            samples[n].append(time.perf_counter() - started)
        await sleep(0.005)
    return samples


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "count": len(samples),
        "p50_ms": percentile(samples, 0.5) * 1000,
        "p99_ms": percentile(samples, 0.99) * 1000,
        "max_ms": max(samples) * 1000,
    }


async def peer_latency(
    cluster: Cluster, games: list[StoredGame], fresh: Path, seed: int, idle_seconds: float = 5.0
) -> dict[str, Any]:
    """Peers' GetGame latency idle, then while server 3 (stopped) rebuilds into ``fresh``."""
    rng = random.Random(f"{seed}-probe")
    connections = [await RawConnection.open(cluster[i].port) for i in (1, 2)]
    server: Server = cluster[3]
    try:
        ends = time.monotonic() + idle_seconds
        idle = await _probe(connections, games, rng, lambda: time.monotonic() > ends)
        server.spawn(data=fresh)
        done: list[float] = []
        waiting = ensureDeferred(server.wait_serving(timeout=600)).addCallback(done.append)
        during = await _probe(connections, games, rng, lambda: bool(done))
        await waiting
    finally:
        for connection in connections:
            connection.close()
    rebuilt = server.rebuilt_line()
    source = _source_peer(server.log())
    out: dict[str, Any] = {"seconds": done[0], "games": rebuilt[0] if rebuilt else None}
    for n, i in enumerate((1, 2)):
        out[f"peer_{i}"] = {"idle": _summary(idle[n]), "during": _summary(during[n])}
    out["source"] = source
    key = f"peer_{source}" if source else "peer_1"
    out["p99_ratio"] = out[key]["during"]["p99_ms"] / max(out[key]["idle"]["p99_ms"], 1e-9)
    out["holds"] = out["p99_ratio"] < TARGET_P99_RATIO
    return out


def _source_peer(log: str) -> int | None:
    """The peer a rebuild copied from, from its "rebuilt ... from server N" line."""
    marker = log.rfind("rebuilt ")
    if marker < 0:
        return None
    line = log[marker : log.find("\n", marker)]
    words = line.split("from server ")
    return int(words[1].split(":")[0]) if len(words) > 1 else None
