"""What the hostile, security and storage-fault tests share.

- :func:`rss_kib`: a process's resident memory, from ``/proc/PID/status``.
- :class:`Monitor`: a well-behaved client in its own process (``monitor.py``)
  that times every answer while a server is attacked.
- :func:`log_problems`: lines of a server log that show a bug (tracebacks,
  INTERNAL answers, unhandled errors).
- :func:`protected_games`: games in several states, created on all three
  servers before an attack, whose documents must not change.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from game import protocol as p
from tests.integration.cluster import Clients, Cluster, Match

MONITOR = Path(__file__).with_name("monitor.py")

#: Log lines that mean a bug, whatever the input was.
BUG_PATTERNS = re.compile(
    r"Traceback \(most recent call last\)|INTERNAL error|Unhandled Error|"
    r"Unhandled error in Deferred|Dropping connection!|while receiving response to command"
)


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """``VmRSS`` (or another ``Vm*`` field) of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def log_problems(text: str, context: int = 3) -> list[str]:
    """Every log line matching :data:`BUG_PATTERNS`, with the lines after it."""
    lines = text.splitlines()
    found = []
    for number, line in enumerate(lines):
        if BUG_PATTERNS.search(line):
            found.append("\n".join(lines[number : number + 1 + context]))
    return found


class Monitor:
    """``monitor.py`` connected to one server for the duration of an attack."""

    def __init__(self, port: int, game_id: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(MONITOR), str(port), game_id],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != b"ready":
            _, err = self.process.communicate(timeout=10)
            raise AssertionError(f"the monitor did not start: {line!r} {err.decode()}")

    def stop(self) -> dict[str, Any]:
        """Stop it; its report (requests, max_latency, slow, problems)."""
        out, err = self.process.communicate(input=b"", timeout=60)
        lines = out.decode().strip().splitlines()
        if self.process.returncode != 0 or not lines:
            raise AssertionError(f"the monitor failed ({self.process.returncode}): {err.decode()}")
        report: dict[str, Any] = json.loads(lines[-1])
        return report

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


async def protected_games(clients: Clients) -> dict[str, dict[str, Any]]:
    """Games in several states on all three servers; ``{id: {"doc", "match", "open"}}``.

    Their tokens stay here: an attacker that does not know them must not
    change these games.
    """
    games: dict[str, dict[str, Any]] = {}

    async def keep(match: Match, is_open: bool = False) -> None:
        games[match.id] = {"match": match, "open": is_open}

    active = Match(clients, "connect4", "protected-c4-active")
    await active.start()
    await active.moves(["4", "4", "3"])
    await keep(active)

    offered = Match(clients, "reversi", "protected-reversi-draw-offered")
    await offered.start()
    await offered.moves(["d3", "c3"])
    offered.doc = await clients.game(
        p.OfferDraw, game_id=offered.id, version=offered.version, token=offered.mover().token
    )
    await keep(offered)

    resigned = Match(clients, "checkers", "protected-checkers-resigned")
    await resigned.start()
    await resigned.moves(["11-15", "22-18"])
    resigned.doc = await clients.game(
        p.Resign, game_id=resigned.id, version=resigned.version, token=resigned.players[1].token
    )
    await keep(resigned)

    won = Match(clients, "connect4", "protected-c4-won")
    await won.start()
    await won.moves(["1", "2", "1", "2", "1", "2", "1"])
    await keep(won)

    unicode_names = Match(clients, "checkers", "protected-unicode")
    unicode_names.players[0].name = "Zoë 😀 漢字"
    unicode_names.players[1].name = "e\u0301" * 16
    await unicode_names.start()
    await keep(unicode_names)

    waiting = Match(clients, "reversi", "protected-open")
    await waiting.create()
    await keep(waiting, is_open=True)

    for game_id, entry in games.items():
        answer = await clients.same(p.GetGame, game_id=game_id)
        entry["doc"] = answer["game"]
    return games


async def documents(clients: Clients, game_ids: list[str]) -> dict[str, dict[int, str]]:
    """``{game_id: {server_id: document text or error}}`` from all three servers."""
    result: dict[str, dict[int, str]] = {}
    for game_id in game_ids:
        answers = await clients.call_each(p.GetGame, game_id=game_id)
        result[game_id] = {
            i: a["game"] if isinstance(a, dict) else f"error: {a!r}" for i, a in answers.items()
        }
    return result


def cluster_logs(cluster: Cluster) -> dict[int, str]:
    return {i: server.all_logs() for i, server in cluster.servers.items()}
