"""The baseline: a three-member etcd cluster (Raft) on loopback, and a Twisted client.

Three ``etcd`` processes (Debian's ``etcd-server``, 3.4) with free client
and peer ports on 127.0.0.1, data directories in the benchmark's temporary
directory and the default fsync behaviour.  :class:`EtcdWriter` is one
writer: a Twisted ``Agent`` over its own ``HTTPConnectionPool`` (persistent,
one connection) that sends ``PUT``s through etcd's v3 HTTP/JSON gateway
(``POST /v3/kv/put``), like our client sends ``MakeMove`` over one AMP
connection per server.
"""

from __future__ import annotations

import base64
import json
import shutil
import time
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, succeed
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web.client import Agent, HTTPConnectionPool, ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import IBodyProducer
from zope.interface import implementer  # type: ignore[import-untyped]

from bench.common import sleep
from bench.servers import HOST, free_ports
from game.launcher import kill_and_reap, spawn

MEMBERS = ("m1", "m2", "m3")
DEBIAN_PACKAGE = "etcd-server"


class EtcdMissing(RuntimeError):
    """No ``etcd`` binary: the baseline cannot run."""


def how_to_install() -> str:
    return (
        "etcd is not installed: the baseline of the commit-latency and throughput benchmarks "
        f"is a three-member etcd cluster. On Debian: `sudo apt-get install -y {DEBIAN_PACKAGE}` "
        "(etcd 3.4; `make bench` does this itself when run as root), or put an etcd 3.4 "
        "binary on PATH."
    )


def find_etcd() -> str:
    """The path of the ``etcd`` binary.

    :raises EtcdMissing: there is none, with how to install it.
    """
    for candidate in (shutil.which("etcd"), "/usr/bin/etcd", "/usr/local/bin/etcd"):
        if candidate and Path(candidate).exists():
            return candidate
    raise EtcdMissing(how_to_install())


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@implementer(IBodyProducer)
class BytesProducer:
    """A request body already in memory (no thread, unlike FileBodyProducer's cooperator)."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.length = len(body)

    def startProducing(self, consumer: Any) -> Deferred[None]:
        consumer.write(self.body)
        return succeed(None)

    def pauseProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass


class _Body(Protocol):
    """Collects a response body (``readBody`` warns about the pool's transport)."""

    def __init__(self, done: Deferred[bytes]) -> None:
        self.done = done
        self.parts: list[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        self.parts.append(data)

    def connectionLost(self, reason: Failure) -> None:  # type: ignore[override]
        if reason.check(ResponseDone, PotentialDataLoss):
            self.done.callback(b"".join(self.parts))
        else:
            self.done.errback(reason)


def read_body(response: Any) -> Deferred[bytes]:
    done: Deferred[bytes] = Deferred()
    response.deliverBody(_Body(done))
    return done


class EtcdError(RuntimeError):
    """etcd answered something other than success."""


class EtcdWriter:
    """One writer: sequential requests over one persistent HTTP/1.1 connection."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.pool = HTTPConnectionPool(reactor, persistent=True)
        self.pool.maxPersistentPerHost = 1
        self.pool.cachedConnectionTimeout = 600
        self.agent = Agent(reactor, pool=self.pool, connectTimeout=5)
        self._headers = Headers({b"Content-Type": [b"application/json"]})

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.agent.request(
            b"POST",
            f"{self.url}{path}".encode(),
            self._headers,
            BytesProducer(json.dumps(body).encode()),  # type: ignore[arg-type]
        )
        data = await read_body(response)
        if response.code != 200:
            raise EtcdError(f"{path}: HTTP {response.code}: {data[:200]!r}")
        answer: dict[str, Any] = json.loads(data)
        return answer

    async def put(self, key: bytes, value: bytes) -> dict[str, Any]:
        """One ``PUT``; answered once the cluster committed it (a majority's fsync)."""
        return await self.post("/v3/kv/put", {"key": b64(key), "value": b64(value)})

    async def close(self) -> None:
        await self.pool.closeCachedConnections()


class EtcdCluster:
    """Three etcd members on 127.0.0.1, default settings but for addresses and directories."""

    def __init__(self, root: Path) -> None:
        self.binary = find_etcd()
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        ports = free_ports(6)
        self.client_ports = dict(zip(MEMBERS, ports[:3], strict=True))
        self.peer_ports = dict(zip(MEMBERS, ports[3:], strict=True))
        self.processes: dict[str, Any] = {}
        self.leader: str | None = None

    def url(self, member: str) -> str:
        return f"http://{HOST}:{self.client_ports[member]}"

    def start(self) -> None:
        initial = ",".join(f"{m}=http://{HOST}:{self.peer_ports[m]}" for m in MEMBERS)
        token = f"bench-{time.time_ns()}"
        for member in MEMBERS:
            argv = [
                self.binary,
                "--name",
                member,
                "--data-dir",
                str(self.root / member),
                "--listen-client-urls",
                self.url(member),
                "--advertise-client-urls",
                self.url(member),
                "--listen-peer-urls",
                f"http://{HOST}:{self.peer_ports[member]}",
                "--initial-advertise-peer-urls",
                f"http://{HOST}:{self.peer_ports[member]}",
                "--initial-cluster",
                initial,
                "--initial-cluster-token",
                token,
                "--initial-cluster-state",
                "new",
            ]
            self.processes[member] = spawn(argv, self.root, self.root / f"{member}.log")

    async def wait_ready(self, timeout: float = 60) -> str:
        """Wait for a leader that every member knows; the leader's name."""
        deadline = time.monotonic() + timeout
        last: object = None
        probe = {m: EtcdWriter(self.url(m)) for m in MEMBERS}
        try:
            while time.monotonic() < deadline:
                for member, process in self.processes.items():
                    if process.poll() is not None:
                        log = (self.root / f"{member}.log").read_text(errors="replace")
                        raise EtcdError(f"etcd {member} exited:\n{log[-2000:]}")
                try:
                    ids: dict[str, str] = {}
                    leaders = set()
                    for member, writer in probe.items():
                        answer = await writer.post("/v3/maintenance/status", {})
                        ids[member] = str(answer["header"]["member_id"])
                        leaders.add(str(answer.get("leader", "0")))
                    if len(leaders) == 1 and "0" not in leaders:
                        (leader_id,) = leaders
                        named = [m for m, i in ids.items() if i == leader_id]
                        if named:
                            # A first put proves the cluster commits.
                            await probe[named[0]].put(b"bench/ready", b"1")
                            self.leader = named[0]
                            return named[0]
                    last = (ids, leaders)
                except Exception as error:  # not listening yet, no leader yet
                    last = error
                await sleep(0.2)
        finally:
            for writer in probe.values():
                await writer.close()
        raise EtcdError(f"etcd cluster not ready in {timeout} s: {last!r}")

    def stop(self) -> None:
        for process in self.processes.values():
            kill_and_reap(process)
        self.processes.clear()

    def rss(self) -> dict[str, float]:
        from bench.servers import rss_mib

        return {m: rss_mib(p.pid)[0] for m, p in self.processes.items() if p.poll() is None}
