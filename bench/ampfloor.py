"""The floor of a request over Twisted AMP on this machine: ``python -m bench.ampfloor``.

A stock :class:`amp.AMP` server (run as ``python -m bench.ampfloor serve``)
answers ``MakeMove`` with a canned game document after one reactor turn
(a ``callLater(0)``, as the group commit answers), deciding nothing and
storing nothing; stock AMP clients send it the same requests our client
sends, one connection each.  The CPU time per request of both ends is what
any request/answer over Twisted AMP costs here: a move of ours makes three
(one per server), each answered after a real decision and commit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.defer import Deferred, DeferredList, ensureDeferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Factory
from twisted.internet.task import deferLater
from twisted.protocols import amp

from game import protocol as p

#: A game document of a usual size (a reversi game after five moves).
DOCUMENT = (
    '{"draw_offer":null,"id":"o-cpu16-000001","kind":"reversi","legal":["c4","d3","e6","f5"],'
    '"moves":["d3","c3","c4","e3","f2"],"players":["alice","bob"],"position":'
    '"---------------------------XXX------XOX-------------------------- O","result":null,'
    '"status":"active","to_move":1,"version":7}'
)


class _Answers(amp.CommandLocator):
    """Answers every MakeMove of a reactor turn together, in the next turn."""

    def __init__(self) -> None:
        self._waiting: list[Deferred[None]] = []
        self._turn: Any = None

    def _answer_all(self) -> None:
        self._turn = None
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            waiter.callback(None)

    @p.MakeMove.responder
    def make_move(self, **_: Any) -> Deferred[dict[str, str]]:
        waiter: Deferred[None] = Deferred()
        self._waiting.append(waiter)
        if self._turn is None:
            self._turn = reactor.callLater(0, self._answer_all)  # type: ignore[attr-defined]
        return waiter.addCallback(lambda _: {"game": DOCUMENT})


def serve() -> None:
    """Listen on a free port of 127.0.0.1, print it, answer until killed."""
    answers = _Answers()
    factory = Factory.forProtocol(lambda: amp.AMP(locator=answers))
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")  # type: ignore[attr-defined]
    print(port.getHost().port, flush=True)
    reactor.run()  # type: ignore[attr-defined]


def _cpu_seconds(pid: int) -> tuple[float, float]:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


async def measure(seconds: float = 3.0, concurrency: int = 16) -> dict[str, Any]:
    """CPU ms per request of the stock server and of this process (the
    clients), ``concurrency`` requests at once, then one at a time."""
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.ampfloor", "serve"], stdout=subprocess.PIPE
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port)
        connections = [await connectProtocol(endpoint, amp.AMP()) for _ in range(concurrency)]
        out: dict[str, Any] = {}
        for mode, count in ((f"{concurrency} at once", concurrency), ("sequential", 1)):
            done = [0]
            until = time.perf_counter() + seconds
            server_before, own_before = _cpu_seconds(server.pid), os.times()
            started = time.perf_counter()
            await DeferredList(
                [ensureDeferred(_requests(c, until, done)) for c in connections[:count]]
            )
            elapsed = time.perf_counter() - started
            server_after, own_after = _cpu_seconds(server.pid), os.times()
            requests = max(1, done[0])
            out[mode] = {
                "requests_per_s": done[0] / elapsed,
                "server_ms_per_request": {
                    "user": (server_after[0] - server_before[0]) * 1000 / requests,
                    "system": (server_after[1] - server_before[1]) * 1000 / requests,
                },
                "client_ms_per_request": {
                    "user": (own_after.user - own_before.user) * 1000 / requests,
                    "system": (own_after.system - own_before.system) * 1000 / requests,
                },
            }
        for connection in connections:
            connection.transport.loseConnection()  # type: ignore[union-attr]
        await deferLater(reactor, 0.05, lambda: None)  # type: ignore[arg-type]
        return out
    finally:
        server.kill()
        server.wait()


async def _requests(connection: amp.AMP, until: float, done: list[int]) -> None:
    """MakeMove after MakeMove on one connection until ``until``, counted in ``done``."""
    version = 1
    while time.perf_counter() < until:
        await connection.callRemote(
            p.MakeMove,
            game_id="o-cpu16-000001",
            version=version,
            move="c4",
            token="t" * 22,
            at=1_700_000_000_000,
        )
        done[0] += 1
        version += 1


def render(floor: dict[str, Any]) -> list[str]:
    """Lines for the profile's report."""
    from bench.common import table

    rows = []
    for mode, values in floor.items():
        for end in ("server", "client"):
            cpu = values[f"{end}_ms_per_request"]
            rows.append(
                [
                    mode,
                    f"stock AMP {end}",
                    f"{cpu['user'] + cpu['system']:.3f} ({cpu['user']:.3f} + {cpu['system']:.3f})",
                    f"{values['requests_per_s']:,.0f}",
                ]
            )
    return [
        "The floor of one request/answer over Twisted AMP here: a stock AMP server answering "
        "MakeMove with a canned document after one reactor turn (no decision, no storage), "
        "stock AMP clients (a move of ours is three such requests, one per server):",
        "",
        table(["mode", "end", "CPU ms per request (user + system)", "requests/s"], rows),
        "",
    ]


def main() -> None:
    if sys.argv[1:] == ["serve"]:
        serve()
        return
    from twisted.internet.task import react

    def run(_: object) -> Deferred[None]:
        async def go() -> None:
            print("\n".join(render(await measure())))

        return defer.ensureDeferred(go())

    react(run)


if __name__ == "__main__":
    main()
