"""Our three servers for a benchmark: real ``twistd replgame`` processes, as shipped.

The config names three servers on 127.0.0.1 (free ports) and has no
``[tuning]`` table: every timeout and limit is the default.  Each server has
its own data directory, pidfile and one log per start; processes come from
the launcher's blocking flavour (:class:`game.serverprocess.ServerProcess`):
they die with the benchmark and are reaped with ``poll``/``wait``.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectError, ConnectionDone, ConnectionLost
from twisted.internet.protocol import connectionDone
from twisted.internet.task import LoopingCall
from twisted.protocols import amp
from twisted.python.failure import Failure

from bench.common import sleep
from game import protocol as p
from game.config import ClusterConfig, load_config
from game.localcluster import free_ports
from game.serverprocess import ServerProcess, standard_layout

HOST = "127.0.0.1"
IDS = (1, 2, 3)


def rss_mib(pid: int) -> tuple[float, float]:
    """Resident set size now and at its peak (VmRSS, VmHWM), in MiB."""
    values = {"VmRSS": 0.0, "VmHWM": 0.0}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in values:
                values[key] = int(line.split()[1]) / 1024
    return values["VmRSS"], values["VmHWM"]


class ServerFailed(RuntimeError):
    """A server exited, or did not serve in time."""


class StatusProtocol(amp.AMP):
    """A bare client connection (no votes, no retries): what a third-party client sends."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closed = True
        super().connectionLost(reason)


def abort(protocol: amp.AMP) -> None:
    """Close a connection at once (no waiting for unsent data)."""
    if protocol.transport is not None:
        protocol.transport.abortConnection()  # type: ignore[attr-defined]


async def connect(port: int, timeout: float = 5) -> StatusProtocol:
    endpoint = TCP4ClientEndpoint(reactor, HOST, port, timeout=timeout)
    protocol: StatusProtocol = await connectProtocol(endpoint, StatusProtocol()).addTimeout(
        timeout, reactor
    )
    return protocol


class RawConnection:
    """One AMP connection to one server, kept alive with ``Status`` as PROTOCOL.md asks."""

    def __init__(self, protocol: StatusProtocol, heartbeat: float) -> None:
        self.protocol = protocol
        self._beat = LoopingCall(self._status)
        self._beat.clock = reactor
        self._beat.start(heartbeat / 2, now=False)

    @classmethod
    async def open(cls, port: int, heartbeat: float = 10.0) -> RawConnection:
        return cls(await connect(port), heartbeat)

    def _status(self) -> None:
        if not self.protocol.closed:
            self.protocol.callRemote(p.Status).addErrback(lambda _: None)

    def call(self, command: type[amp.Command], timeout: float = 30, **kwargs: Any) -> Any:
        return self.protocol.callRemote(command, **kwargs).addTimeout(timeout, reactor)

    def close(self) -> None:
        if self._beat.running:
            self._beat.stop()
        if not self.protocol.closed:
            abort(self.protocol)


_CAUGHT_UP = re.compile(r"caught up with server (\d+): .*?; (\d+) bytes received in ([0-9.]+) s")
_REBUILT = re.compile(r"rebuilt (\d+) game\(s\) .*?: (\d+) bytes received in ([0-9.]+) s")


class Server(ServerProcess):
    """One of our servers and its current process."""

    def __init__(self, cluster: Cluster, server_id: int, port: int) -> None:
        super().__init__(
            server_id,
            cluster.root,
            cluster.config_path,
            port,
            **standard_layout(cluster.root, server_id),
        )
        self.cluster = cluster
        #: ``time.perf_counter()`` just before the exec of the current process.
        self.exec_at = 0.0

    @property
    def log_path(self) -> Path:
        return self.log_file()

    def log(self) -> str:
        return self.read_log()

    def spawn(  # type: ignore[override]
        self, data: Path | None = None, wrapper: Sequence[str] = (), twistd: Sequence[str] = ()
    ) -> None:
        """Exec ``twistd -n replgame`` now; :attr:`exec_at` is when.

        :param data: another data directory than this server's own.
        :param wrapper: a command to run twistd's arguments with instead of ``twistd``
            (``[python, -m, bench.profiled_twistd, OUT]``).
        :param twistd: more twistd options (``--profile ...``).
        """
        self.exec_at = time.perf_counter()
        super().spawn(data=data, twistd_options=twistd, twistd=wrapper or None)

    async def wait_serving(self, timeout: float = 120, poll: float = 0.01) -> float:
        """Poll ``Status`` until it says ``serving``.

        :returns: seconds from the exec of the process to that answer.
        """
        deadline = time.monotonic() + timeout
        connection: StatusProtocol | None = None
        try:
            while True:
                if not self.running:
                    raise ServerFailed(f"server {self.id} exited\n{self.tail()}")
                if time.monotonic() > deadline:
                    raise ServerFailed(
                        f"server {self.id} not serving in {timeout} s\n{self.tail()}"
                    )
                try:
                    if connection is None or connection.closed:
                        connection = await connect(self.port, timeout=2)
                    answer = await connection.callRemote(p.Status).addTimeout(5, reactor)
                    if answer["serving"]:
                        return time.perf_counter() - self.exec_at
                except (
                    ConnectError,
                    ConnectionDone,
                    ConnectionLost,
                    defer.TimeoutError,
                    TimeoutError,
                ):
                    connection = None
                await sleep(poll)
        finally:
            if connection is not None and not connection.closed:
                abort(connection)

    async def start(self, timeout: float = 120) -> float:
        self.spawn()
        return await self.wait_serving(timeout)

    async def stop(self, timeout: float = 30) -> None:  # type: ignore[override]
        """SIGTERM, then SIGKILL if it is not gone in time."""
        if self.process is None:
            return
        self.terminate()
        await self.wait_exit(reactor, timeout, interval=0.02)
        self.kill()
        self.process = None

    def kill(self) -> None:
        super().kill()
        self.process = None

    def rss(self) -> tuple[float, float]:
        return rss_mib(self.pid)

    def catch_up_lines(self) -> list[tuple[int, int, float]]:
        """``(peer, bytes, seconds)`` of each "caught up with server N" line before serving."""
        log = self.log()
        end = log.find("serving clients")
        return [(int(a), int(b), float(c)) for a, b, c in _CAUGHT_UP.findall(log[: max(end, 0)])]

    def rebuilt_line(self) -> tuple[int, int, float] | None:
        """``(games, bytes, seconds)`` of the "rebuilt G game(s)" line, if any."""
        found = _REBUILT.findall(self.log())
        return (int(found[-1][0]), int(found[-1][1]), float(found[-1][2])) if found else None


class Cluster:
    """Three servers on 127.0.0.1 with the default tuning (only the ports are ours).

    :ivar metrics: whether the config gives each server a ``metrics``
        endpoint (on :attr:`metrics_ports`); off by default, switched by
        :meth:`write_config`.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.config_path = root / "cluster.toml"
        ports = free_ports(6)
        self.servers = {i: Server(self, i, port) for i, port in zip(IDS, ports[:3], strict=True)}
        self.metrics_ports = dict(zip(IDS, ports[3:], strict=True))
        self.secret = f"bench-{secrets.token_hex(16)}"
        self.metrics = False
        self.write_config(metrics=False)

    def write_config(self, metrics: bool) -> None:
        """Write the config, with a ``metrics`` endpoint per server or with
        none; the servers started from then on read it."""
        self.metrics = metrics
        lines = ["[cluster]", f'secret = "{self.secret}"', ""]
        for server in self.servers.values():
            lines += ["[[servers]]", f"id = {server.id}", f'host = "{HOST}"']
            lines += [f"port = {server.port}"]
            if metrics:
                port = self.metrics_ports[server.id]
                lines += [f'metrics = "tcp:{port}:interface={HOST}"']
            lines += [""]
        self.config_path.write_text("\n".join(lines))

    def metrics_urls(self) -> list[str]:
        """Each server's ``/metrics`` URL (answered only while :attr:`metrics` is on)."""
        return [f"http://{HOST}:{port}/metrics" for port in self.metrics_ports.values()]

    def __getitem__(self, server_id: int) -> Server:
        return self.servers[server_id]

    @property
    def config(self) -> ClusterConfig:
        return load_config(self.config_path)

    async def start_all(self, timeout: float = 120) -> dict[int, float]:
        """Start the three together; seconds from each one's exec to serving."""
        for server in self.servers.values():
            server.spawn()
        return {i: await server.wait_serving(timeout) for i, server in self.servers.items()}

    async def stop_all(self) -> None:
        for server in self.servers.values():
            await server.stop()

    def kill_all(self) -> None:
        for server in self.servers.values():
            server.kill()

    async def converged(self, timeout: float = 120) -> dict[str, Any]:
        """Wait until the three serve with equal clock, game count and digest."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            try:
                answers = []
                for server in self.servers.values():
                    connection = await connect(server.port, timeout=2)
                    try:
                        answers.append(await connection.callRemote(p.Status).addTimeout(5, reactor))
                    finally:
                        abort(connection)
                keys = {(a["clock"], a["games"], a["digest"], a["serving"]) for a in answers}
                if len(keys) == 1 and answers[0]["serving"]:
                    return dict(answers[0])
                last = answers
            except (ConnectError, ConnectionDone, ConnectionLost, defer.TimeoutError) as error:
                last = error
            await sleep(0.2)
        raise ServerFailed(f"the servers did not converge in {timeout} s: {last!r}")


def socket_bytes_received(pid: int, remote_ports: set[int]) -> int | None:
    """Bytes the kernel received on ``pid``'s TCP connections to those ports (``ss -ti``).

    Counts everything a server's own links to its peers carried since they
    opened, whoever the log lines credit it to.

    :returns: ``None`` without ``ss`` (iproute2).
    """
    try:
        out = subprocess.run(
            ["ss", "-tinpH", "state", "established"], capture_output=True, text=True, timeout=30
        ).stdout
    except FileNotFoundError:
        return None
    total = 0
    matched = False
    for line in out.splitlines():
        if line and not line[0].isspace():
            fields = line.split()
            remote = fields[3] if len(fields) > 3 else ""
            port = remote.rsplit(":", 1)[-1]
            matched = f"pid={pid}," in line and port.isdigit() and int(port) in remote_ports
        elif matched:
            found = re.search(r"bytes_received:(\d+)", line)
            if found:
                total += int(found.group(1))
            matched = False
    return total
