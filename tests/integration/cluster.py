"""Real three-server clusters for the integration tests.

A :class:`Cluster` writes a TOML config with three servers on 127.0.0.1
(free ports found by binding port 0), gives each server its own data
directory, pidfile and log, and runs each server as a real ``twistd -n
replgame`` child process that the tests start, stop, kill (SIGKILL), pause
(SIGSTOP/SIGCONT) and restart.  :class:`Clients` talks AMP to the servers
the way a client does: one connection per server, ``Status`` as a
heartbeat, the same command sent to several servers and the answers
compared.

Every wait here has a deadline.  Child processes come from the launcher's
blocking flavour (:mod:`game.launcher`, :class:`game.serverprocess.ServerProcess`):
``subprocess.Popen`` objects, reaped by ``poll``/``wait`` (Twisted's SIGCHLD
handling reaps only the processes it spawned), that die with the test process
(``PR_SET_PDEATHSIG``) even if it is killed itself.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
import socket
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest_twisted
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectError, ConnectionDone, ConnectionLost
from twisted.internet.protocol import Protocol
from twisted.internet.task import LoopingCall, deferLater
from twisted.protocols import amp
from twisted.python.failure import Failure

from game import launcher
from game import protocol as p
from game.localcluster import free_ports
from game.serverprocess import ServerProcess, standard_layout

HOST = "127.0.0.1"
ALL = (1, 2, 3)

#: The tuning of a test cluster: small values, so that the tests are fast.
FAST_TUNING: dict[str, float | int] = {
    "startup_wait": 1,
    "anti_entropy_interval": 1,
    "catchup_timeout": 2,
    "heartbeat": 2,
}

T = TypeVar("T")


class ServerFailed(AssertionError):
    """A server process exited, or did not reach a state, when a test needed it."""


class AddressInUse(ServerFailed, launcher.AddressInUse):
    """A server could not listen: its port was taken."""


# -- small utilities ------------------------------------------------------------


def sleep(seconds: float) -> defer.Deferred[None]:
    """A Deferred that fires after ``seconds`` on the real reactor."""
    return deferLater(reactor, seconds, lambda: None)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def new_token() -> str:
    return secrets.token_hex(16)


def new_game_id(prefix: str = "g") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def timed_test(seconds: float) -> Callable[[Callable[..., Awaitable[Any]]], Any]:
    """Make an ``async def`` test a pytest-twisted test that fails after ``seconds``.

    The deadline cancels whatever the test is waiting for, so the test fails
    with a ``TimeoutError`` instead of hanging; conftest.py adds a hard
    faulthandler exit a little later in case the reactor itself is stuck.
    """

    def decorate(test: Callable[..., Awaitable[Any]]) -> Any:
        @functools.wraps(test)
        async def guarded(*args: Any, **kwargs: Any) -> Any:
            running = defer.ensureDeferred(test(*args, **kwargs))
            timer = reactor.callLater(seconds, running.cancel)
            try:
                return await running
            except defer.CancelledError:
                if timer.called:
                    raise TimeoutError(
                        f"{test.__name__} ran over its {seconds} s deadline"
                    ) from None
                raise
            finally:
                if timer.active():
                    timer.cancel()

        guarded.deadline = seconds  # type: ignore[attr-defined]
        return pytest_twisted.ensureDeferred(guarded)

    return decorate


async def eventually(
    check: Callable[[], Awaitable[T]], timeout: float, interval: float = 0.1, what: str = ""
) -> T:
    """Run ``check`` until it passes (no AssertionError); after ``timeout``, fail with its error."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if time.monotonic() >= deadline:
                if what:
                    raise AssertionError(f"not within {timeout} s: {what}") from None
                raise
        await sleep(interval)


# -- child processes ------------------------------------------------------------


def spawn_twistd(args: Sequence[str], cwd: Path, output: Path) -> subprocess.Popen[bytes]:
    """Start ``twistd ARGS`` in ``cwd``, stdout and stderr into ``output``.

    The process is killed at the latest when the test process exits.
    """
    return launcher.spawn([*launcher.twistd_command(), *args], cwd, output)


class Server(ServerProcess):
    """One server of a test cluster and its current process (if any)."""

    data: Path

    def __init__(self, cluster: Cluster, server_id: int, port: int) -> None:
        super().__init__(
            server_id,
            cluster.root,
            cluster.config_path,
            port,
            **standard_layout(cluster.root, server_id),
        )
        self.cluster = cluster

    # -- files ------------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        return self.log_file()

    @property
    def output_path(self) -> Path:
        return self.output_file()

    def log(self, run: int | None = None) -> str:
        """The log of one start (default: the latest), rotated parts included."""
        return self.read_log(run)

    def all_logs(self) -> str:
        return "".join(self.log(run) for run in range(1, self.runs + 1))

    def output(self) -> str:
        """What the process wrote to stdout and stderr (usage errors, exit messages)."""
        return self.read_output()

    # -- the process ------------------------------------------------------------

    def reap(self) -> int | None:
        """The exit status if the process has ended (reaping it), else None."""
        return self.poll()

    async def wait_exit(self, timeout: float) -> int:  # type: ignore[override]
        """Wait for the process to end on its own; its exit status."""
        status = await super().wait_exit(reactor, timeout)
        if status is None:
            raise ServerFailed(f"server {self.id} still runs after {timeout} s\n{self.tail()}")
        return status

    async def stop(self, timeout: float = 10) -> int:
        """SIGTERM (after SIGCONT if paused); SIGKILL if it is not gone in time."""
        if not self.running:
            self.kill()
            return self.reap() or 0
        self.terminate()
        try:
            return await self.wait_exit(timeout)
        except ServerFailed:
            self.kill()
            raise

    async def wait_listening(self, timeout: float = 15) -> None:  # type: ignore[override]
        """Wait until the log says the server listens.

        :raises AddressInUse: its port was taken (the process is killed).
        :raises ServerFailed: it exited, or did not listen in time.
        """
        try:
            await super().wait_listening(reactor, timeout)
        except launcher.AddressInUse as error:
            raise AddressInUse(str(error)) from None
        except launcher.StartFailed as error:
            raise ServerFailed(str(error)) from None

    async def status(self, timeout: float = 2) -> dict[str, Any]:
        """One ``Status`` over a fresh connection."""
        connection = await connect(self.port, timeout=timeout)
        try:
            return await call(connection, p.Status, timeout=timeout)
        finally:
            connection.transport.abortConnection()

    async def wait_settled(self, timeout: float = 20) -> None:
        """Wait until the process has exited or serves (whichever comes first)."""

        async def settled() -> None:
            if self.reap() is not None:
                return
            try:
                status = await self.status(timeout=1)
            except Exception as error:
                raise AssertionError(f"no status yet: {error!r}") from None
            assert status["serving"], status

        await eventually(settled, timeout, what=f"server {self.id} serves or exits")

    async def wait_serving(self, timeout: float = 20) -> dict[str, Any]:
        """Poll ``Status`` until the server says it serves; its status."""
        deadline = time.monotonic() + timeout
        last: object = None
        while True:
            status = self.reap()
            if status is not None:
                raise ServerFailed(f"server {self.id} exited with {status}\n{self.tail()}")
            try:
                answer = await self.status(timeout=1)
                if answer["serving"]:
                    return answer
                last = answer
            except (
                ConnectError,
                TimeoutError,
                defer.TimeoutError,
                ConnectionDone,
                ConnectionLost,
            ) as error:
                last = error
            if time.monotonic() > deadline:
                why = f"server {self.id} not serving after {timeout} s (last: {last!r})"
                raise ServerFailed(f"{why}\n{self.tail()}")
            await sleep(0.1)

    async def start(self, *extra: str, serving: bool = True, timeout: float = 20) -> None:
        """Spawn and wait until listening (and serving); retry once if the port is taken."""

        async def listening() -> None:
            self.spawn(*extra)
            await self.wait_listening(timeout)

        await launcher.start_retrying(listening, lambda: sleep(1))
        if serving:
            await self.wait_serving(timeout)

    async def restart(self, *extra: str, serving: bool = True) -> None:
        await self.stop()
        await self.start(*extra, serving=serving)


class Cluster:
    """Three servers on 127.0.0.1 with a temporary config and data directories.

    :param root: a temporary directory for the config, data, logs and pidfiles.
    :param tuning: ``[tuning]`` values over :data:`FAST_TUNING`.
    """

    def __init__(self, root: Path, **tuning: float | int) -> None:
        self.root = root
        self.secret = "integration-" + secrets.token_hex(16)
        self.tuning = {**FAST_TUNING, **tuning}
        self.config_path = root / "cluster.toml"
        self.servers: dict[int, Server] = {}
        self._assign_ports()

    def __getitem__(self, server_id: int) -> Server:
        return self.servers[server_id]

    def _assign_ports(self) -> None:
        ports = free_ports(3)
        for server_id, port in zip(ALL, ports, strict=True):
            server = self.servers.get(server_id)
            if server is None:
                self.servers[server_id] = Server(self, server_id, port)
            else:
                server.port = port
        self.write_config(self.config_path)

    def config_text(self, secret: str | None = None, **extra_tuning: Any) -> str:
        lines = ["[cluster]", f"secret = {json.dumps(secret or self.secret)}", ""]
        for server in self.servers.values():
            lines += [
                "[[servers]]",
                f"id = {server.id}",
                f'host = "{HOST}"',
                f"port = {server.port}",
                "",
            ]
        lines.append("[tuning]")
        for key, value in {**self.tuning, **extra_tuning}.items():
            lines.append(f"{key} = {value}")
        return "\n".join(lines) + "\n"

    def write_config(self, path: Path, secret: str | None = None, **extra_tuning: Any) -> Path:
        path.write_text(self.config_text(secret, **extra_tuning))
        return path

    @property
    def heartbeat(self) -> float:
        return float(self.tuning["heartbeat"])

    async def start_all(self, serving: bool = True, timeout: float = 20) -> None:
        """Start the three servers together.

        If a port was taken meanwhile (by another program, or by an outgoing
        connection's ephemeral port), pick three new ports and start again, once.
        """

        async def listening() -> None:
            for server in self.servers.values():
                server.spawn()
            for server in self.servers.values():
                await server.wait_listening(timeout)

        async def on_new_ports() -> None:
            self.kill_all()
            self._assign_ports()

        await launcher.start_retrying(listening, on_new_ports)
        if serving:
            for server in self.servers.values():
                await server.wait_serving(timeout)

    def kill_all(self) -> None:
        for server in self.servers.values():
            server.kill()

    def cleanup(self) -> None:
        """Kill and reap every process of this cluster (teardown; synchronous)."""
        self.kill_all()

    def tails(self, lines: int = 60) -> str:
        return "\n".join(server.tail(lines) for server in self.servers.values())


# -- AMP clients --------------------------------------------------------------


class ClientProtocol(amp.AMP):
    """A client connection: collects the ``GameChanged`` documents it is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.changes: list[dict[str, Any]] = []
        self.lost: defer.Deferred[None] = defer.Deferred()
        self.closed = False

    @p.GameChanged.responder
    def game_changed(self, game: str) -> dict[str, Any]:
        self.changes.append(json.loads(game))
        return {}

    def connectionLost(self, reason: Failure) -> None:
        self.closed = True
        super().connectionLost(reason)
        if not self.lost.called:
            self.lost.callback(None)


async def connect(
    port: int, timeout: float = 5, factory: Callable[[], Protocol] = ClientProtocol
) -> Any:
    endpoint = TCP4ClientEndpoint(reactor, HOST, port, timeout=timeout)
    return await connectProtocol(endpoint, factory()).addTimeout(timeout, reactor)


async def call(
    connection: amp.AMP, command: type[amp.Command], timeout: float = 10, **kwargs: Any
) -> Any:
    return await connection.callRemote(command, **kwargs).addTimeout(timeout, reactor)


class Clients:
    """One client's connections to the three servers of a cluster.

    Connections open on first use and reopen after a server closed them;
    each sends ``Status`` every half heartbeat while open, as PROTOCOL.md asks.
    """

    def __init__(self, cluster: Cluster, timeout: float = 10) -> None:
        self.cluster = cluster
        self.timeout = timeout
        self.connections: dict[int, ClientProtocol] = {}
        self._heartbeat = LoopingCall(self._beat)
        self._heartbeat.clock = reactor
        self._heartbeat.start(cluster.heartbeat / 2, now=False)

    def _beat(self) -> None:
        for connection in list(self.connections.values()):
            if not connection.closed:
                d = connection.callRemote(p.Status).addTimeout(self.cluster.heartbeat, reactor)
                d.addErrback(lambda _: None)

    def close(self) -> None:
        if self._heartbeat.running:
            self._heartbeat.stop()
        for connection in self.connections.values():
            if not connection.closed and connection.transport is not None:
                connection.transport.abortConnection()
        self.connections.clear()

    async def connection(self, server_id: int) -> ClientProtocol:
        connection = self.connections.get(server_id)
        if connection is None or connection.closed:
            connection = await connect(self.cluster[server_id].port, timeout=self.timeout)
            self.connections[server_id] = connection
        return connection

    async def call(self, server_id: int, command: type[amp.Command], **kwargs: Any) -> Any:
        timeout = kwargs.pop("timeout", self.timeout)
        connection = await self.connection(server_id)
        return await call(connection, command, timeout=timeout, **kwargs)

    async def call_each(
        self, command: type[amp.Command], servers: Iterable[int] = ALL, **kwargs: Any
    ) -> dict[int, Any]:
        """Send one command to several servers at once: ``{id: answer or Failure}``."""
        ids = list(servers)
        calls = [defer.ensureDeferred(self.call(i, command, **kwargs)) for i in ids]
        results = await defer.DeferredList(calls, consumeErrors=True)
        return {i: value for i, (_, value) in zip(ids, results, strict=True)}

    async def same(
        self, command: type[amp.Command], servers: Iterable[int] = ALL, **kwargs: Any
    ) -> Any:
        """Send to several servers; every one must succeed with byte-identical answers."""
        answers = await self.call_each(command, servers, **kwargs)
        failed = {i: a for i, a in answers.items() if isinstance(a, Failure)}
        assert not failed, f"{command.__name__} failed on {sorted(failed)}: " + "; ".join(
            f"server {i}: {f.type.__name__}: {f.getErrorMessage()}" for i, f in failed.items()
        )
        values = list(answers.values())
        assert all(v == values[0] for v in values), (
            f"{command.__name__} answers differ: {answers!r}"
        )
        return values[0]

    async def game(
        self, command: type[amp.Command], servers: Iterable[int] = ALL, **kwargs: Any
    ) -> dict[str, Any]:
        """A game command answered with byte-identical documents; the parsed document."""
        answer = await self.same(command, servers, **kwargs)
        return dict(json.loads(answer["game"]))

    async def statuses(self, servers: Iterable[int] = ALL, timeout: float = 3) -> dict[int, Any]:
        return await self.call_each(p.Status, servers, timeout=timeout)

    async def assert_converged(self, servers: Sequence[int] = ALL) -> dict[str, Any]:
        """Every server serves, with equal clock, game count and digest."""
        statuses = await self.statuses(servers)
        for i, status in statuses.items():
            assert not isinstance(status, Failure), f"server {i}: {status.getErrorMessage()}"
            assert status["serving"], f"server {i} does not serve: {status}"
        keys = {i: (s["clock"], s["games"], s["digest"]) for i, s in statuses.items()}
        assert len(set(keys.values())) == 1, f"servers differ (clock, games, digest): {keys}"
        return dict(statuses[servers[0]])


def error_tag(answer: object) -> str | None:
    """The AMP error tag of a failed answer (None for a success)."""
    if not isinstance(answer, Failure):
        return None
    tag = getattr(answer.value, "tag", None)
    if isinstance(tag, bytes):
        return tag.decode()
    error_code = getattr(answer.value, "errorCode", None)
    if isinstance(error_code, bytes):
        return error_code.decode()
    return answer.type.__name__


class Player:
    """One seat's token and the commands a player sends to the servers."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.token = new_token()


class Match:
    """A two-player game driven through :class:`Clients`, every answer compared."""

    def __init__(self, clients: Clients, kind: str, game_id: str | None = None) -> None:
        self.clients = clients
        self.kind = kind
        self.id = game_id or new_game_id(kind)
        self.players = [Player("alice"), Player("bob")]
        self.doc: dict[str, Any] = {}

    @property
    def version(self) -> int:
        return int(self.doc["version"])

    async def create(self, servers: Iterable[int] = ALL) -> dict[str, Any]:
        first = self.players[0]
        self.doc = await self.clients.game(
            p.CreateGame,
            servers,
            game_id=self.id,
            kind=self.kind,
            player=first.name,
            token=first.token,
        )
        return self.doc

    async def join(self, servers: Iterable[int] = ALL) -> dict[str, Any]:
        second = self.players[1]
        self.doc = await self.clients.game(
            p.JoinGame,
            servers,
            game_id=self.id,
            version=self.version,
            player=second.name,
            token=second.token,
        )
        return self.doc

    async def start(self, servers: Iterable[int] = ALL) -> dict[str, Any]:
        ids = list(servers)
        await self.create(ids)
        return await self.join(ids)

    def doc_text(self) -> str:
        return canonical(self.doc)

    def mover(self) -> Player:
        return self.players[self.doc["to_move"]]

    async def move(self, move: str, servers: Iterable[int] = ALL) -> dict[str, Any]:
        self.doc = await self.clients.game(
            p.MakeMove,
            servers,
            game_id=self.id,
            version=self.version,
            move=move,
            token=self.mover().token,
        )
        return self.doc

    async def moves(self, moves: Iterable[str], servers: Iterable[int] = ALL) -> dict[str, Any]:
        for move in moves:
            await self.move(move, servers)
        return self.doc


def canonical(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_BYTES_RECEIVED = re.compile(r"caught up with server (\d+): .*?; (\d+) bytes received")


def catch_up_bytes(log: str) -> list[tuple[int, int]]:
    """``(peer, bytes)`` of every "caught up with server N: ... B bytes received" line."""
    return [(int(peer), int(size)) for peer, size in _BYTES_RECEIVED.findall(log)]
