"""Our cluster and etcd side by side, and one game played on each, step by step.

:class:`Testbed` starts three of our servers (fresh data directories, the
default tuning) and a three-member etcd cluster, in one temporary directory.
:class:`OursPlayer`, :class:`SinglePlayer` and :class:`EtcdPlayer` each play
:class:`~bench.workload.GamePlan` steps and time every move:

- ours: :class:`~game.client.client.ReplicatedClient`, all three servers, a
  move counts when its outcome is acknowledged (two identical answers, each
  sent only after that server's commit);
- single: the same commands to server 1 only, over one raw AMP connection;
- etcd: the stored record after each step, ``PUT`` to one member over one
  persistent HTTP connection (by default the leader).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from twisted.internet import reactor

from bench.common import say
from bench.etcd import EtcdCluster, EtcdWriter
from bench.servers import Cluster, RawConnection
from bench.workload import GamePlan, Step
from game import protocol as p
from game.client.client import ReplicatedClient


class MoveFailed(RuntimeError):
    """A step was not acknowledged (an error, a provisional answer, no answer)."""


class Testbed:
    """Our three servers, and (optionally) etcd's three members, in one temporary directory."""

    def __init__(self, with_etcd: bool = True, root: Path | None = None) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="replgame-bench-"))
        self.ours = Cluster(self.root / "ours")
        self.etcd = EtcdCluster(self.root / "etcd") if with_etcd else None

    async def start(self) -> None:
        started = time.monotonic()
        await self.ours.start_all()
        if self.etcd is not None:
            self.etcd.start()
            leader = await self.etcd.wait_ready()
            say(f"  etcd: 3 members up, leader {leader} ({self.etcd.url(leader)})")
        say(f"  our 3 servers serving; testbed ready in {time.monotonic() - started:.1f} s")

    async def stop(self) -> None:
        await self.ours.stop_all()
        if self.etcd is not None:
            self.etcd.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def etcd_url(self) -> str:
        assert self.etcd is not None and self.etcd.leader is not None
        return self.etcd.url(self.etcd.leader)

    async def client(self) -> ReplicatedClient:
        """A replicated client linked to all three servers."""
        client = ReplicatedClient(self.ours.config, reactor)
        client.start()
        active = await client.settled()
        if sorted(active) != [1, 2, 3]:
            raise RuntimeError(f"the client reached only servers {active}")
        return client


class OursPlayer:
    """Plays plans through a :class:`ReplicatedClient`; a move counts when acknowledged."""

    name = "ours"

    def __init__(self, client: ReplicatedClient, prefix: str = "o") -> None:
        self.client = client
        self.prefix = prefix

    async def step(self, plan: GamePlan, step: Step) -> float:
        game_id = f"{self.prefix}-{plan.game_id}"
        started = time.perf_counter()
        if step.command == "create":
            outcome = await self.client.create_game(game_id, plan.kind, plan.players[0], step.token)
        elif step.command == "join":
            outcome = await self.client.join_game(
                game_id, step.version, plan.players[1], step.token
            )
        else:
            assert step.move is not None
            outcome = await self.client.make_move(game_id, step.version, step.move, step.token)
        elapsed = time.perf_counter() - started
        if outcome.provisional or outcome.error is not None or not outcome.decision.agreed:
            raise MoveFailed(
                f"{step.command} {game_id} v{step.version}: provisional={outcome.provisional} "
                f"error={outcome.error!r} failed={outcome.failed}"
            )
        return elapsed

    async def close(self) -> None:
        await self.client.stop()


class SinglePlayer:
    """The same commands to one server only, over one raw AMP connection."""

    name = "single"

    def __init__(self, connection: RawConnection, prefix: str = "s") -> None:
        self.connection = connection
        self.prefix = prefix

    @classmethod
    async def open(cls, port: int, prefix: str = "s") -> SinglePlayer:
        return cls(await RawConnection.open(port), prefix)

    async def step(self, plan: GamePlan, step: Step) -> float:
        game_id = f"{self.prefix}-{plan.game_id}"
        call = self.connection.call
        started = time.perf_counter()
        if step.command == "create":
            await call(
                p.CreateGame,
                game_id=game_id,
                kind=plan.kind,
                player=plan.players[0],
                token=step.token,
            )
        elif step.command == "join":
            await call(
                p.JoinGame,
                game_id=game_id,
                version=step.version,
                player=plan.players[1],
                token=step.token,
            )
        else:
            await call(
                p.MakeMove, game_id=game_id, version=step.version, move=step.move, token=step.token
            )
        return time.perf_counter() - started

    async def close(self) -> None:
        self.connection.close()


class EtcdPlayer:
    """Puts the record our server stores after each step, as etcd's client would."""

    name = "etcd"

    def __init__(self, url: str, prefix: str = "e") -> None:
        self.writer = EtcdWriter(url)
        self.prefix = prefix

    async def step(self, plan: GamePlan, step: Step) -> float:
        key = f"g/{self.prefix}-{plan.game_id}".encode()
        started = time.perf_counter()
        answer = await self.writer.put(key, step.record)
        elapsed = time.perf_counter() - started
        if "header" not in answer:
            raise MoveFailed(f"etcd put {key!r}: {answer!r}")
        return elapsed

    async def close(self) -> None:
        await self.writer.close()


Player = OursPlayer | SinglePlayer | EtcdPlayer


async def play(player: Any, plans: list[GamePlan], moves: int) -> list[float]:
    """Play ``plans`` in order, one step at a time, until ``moves`` moves are timed.

    Creates and joins are played (and not timed) on every side alike.
    """
    latencies: list[float] = []
    for plan in plans:
        for step in plan.steps:
            if len(latencies) >= moves:
                return latencies
            elapsed = await player.step(plan, step)
            if step.command == "move":
                latencies.append(elapsed)
    return latencies
