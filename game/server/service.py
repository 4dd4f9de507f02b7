# Twisted's services, serverFromString and Failure.check have no annotations; calls into
# them are untyped (untyped-calls-exclude misses super() calls), the rest is strict.
# mypy: disable-error-code=no-untyped-call
"""The running server as a tree of twistd services.

:func:`game.server.tap.makeService` composes them, without any I/O; each
does its I/O in ``startService``, after twistd has daemonised.  The root,
:class:`ServerService`, starts its children in order and stops them in
reverse order, each only once the ones after it have stopped:

- ``storage`` locks and opens the database and loads the index; it closes
  it last, once everything else has stopped;
- ``anti-entropy`` runs a round every ``anti_entropy_interval`` (a round
  does nothing until the node serves); it stops once the running round ends;
- ``peers`` dials both peers; stopping closes the links, so a running
  sync fails fast;
- ``node`` polls the peers, catches up, then serves; stopping refuses new
  work, finishes the pending commit, and closes every connection once the
  answers that commit released are written;
- ``listener`` listens, once the database is open;
- ``metrics`` (only with a ``metrics`` endpoint in the config) serves
  ``/livez``, ``/readyz`` and ``/metrics`` over HTTP, and from then on the
  node counts requests and commits (both start in one reactor turn, before
  any connection is accepted); it stops listening first.
"""

from __future__ import annotations

import atexit
import gc
import os
from collections.abc import Callable
from typing import NoReturn

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import IServiceCollection, MultiService, Service
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.endpoints import serverFromString
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IReactorCore,
    IReactorTCP,
    IReactorTime,
    IStreamClientEndpoint,
    IStreamServerEndpoint,
)
from twisted.logger import ILogObserver, Logger
from twisted.python.components import Componentized
from twisted.python.failure import Failure
from zope.interface import implementer

from game.config import ClusterConfig, ServerConfig
from game.endpoints import client_endpoint
from game.server.commit import GroupCommitter
from game.server.connection import ServerFactory
from game.server.health import operator_site
from game.server.limits import FileLimitTooLow, raise_file_limit
from game.server.metrics import ServerMetrics
from game.server.node import ServerNode
from game.server.peers import PeerLink
from game.server.replica import Replica
from game.server.storage import (
    DataDirectoryInUse,
    Storage,
    StorageError,
    UnreadableDatabase,
)

log = Logger(namespace="replgame.service")

#: Exit status for a database that cannot be read (PROTOCOL.md).
EXIT_UNREADABLE_DATABASE = 2
#: Exit status after a commit failed (disk full, I/O error).
EXIT_COMMIT_FAILED = 3
#: How long SIGTERM waits for connections to take their last answers.
DRAIN_TIMEOUT = 2.0


def exit_server(status: int, message: str) -> NoReturn:
    """Log why, and exit.  Raised from ``startService``, SystemExit stops
    twistd with ``status`` (from an errback it would only be logged)."""
    log.critical("{why}", why=message)
    raise SystemExit(status)


def peer_endpoints(
    reactor: IReactorTCP, config: ClusterConfig
) -> Callable[[ServerConfig], IStreamClientEndpoint]:
    """How this server dials a peer: TCP, or TLS verified against ``tls_ca``."""

    def dial(peer: ServerConfig) -> IStreamClientEndpoint:
        return client_endpoint(
            reactor, peer.peer_host, peer.peer_port, config.tls_ca, config.tuning.catchup_timeout
        )

    return dial


class ServerService(MultiService):
    """The root: named children, started in order, stopped in reverse order
    one after the other (stock :class:`MultiService` stops them all at once)."""

    def __init__(self, server_id: int, config: ClusterConfig, data_directory: str) -> None:
        super().__init__()
        self.server_id = server_id
        self.config = config
        self.data_directory = data_directory
        #: Set on twistd's application as its log observer (``--log-format``).
        self.log_observer: ILogObserver | None = None

    def setServiceParent(self, parent: IServiceCollection) -> None:
        super().setServiceParent(parent)
        # twistd's application: it logs to this observer instead of its text one.
        if self.log_observer is not None and isinstance(parent, Componentized):
            parent.setComponent(ILogObserver, self.log_observer)

    def startService(self) -> None:
        log.info(
            "replgame server {server_id} using {source}; data in {data}",
            server_id=self.server_id,
            source=self.config.source,
            data=self.data_directory,
        )
        max_connections = self.config.tuning.max_connections
        try:
            before, after = raise_file_limit(max_connections)
        except FileLimitTooLow as error:
            exit_server(1, str(error))
        if after != before:
            log.info(
                "open files limit raised from {before} to {after} for max_connections={limit}",
                before=before,
                after=after,
                limit=max_connections,
            )
        try:
            super().startService()
        except SystemExit:
            # A later child cannot start: leave the database closed and
            # unlocked, as a clean stop would.
            for child in self:
                if isinstance(child, StorageService):
                    child.close()
            raise

    def stopService(self) -> Deferred[None]:
        """SIGTERM: stop every child in reverse order, then say so."""
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        Service.stopService(self)
        for child in reversed(list(self)):
            try:
                await maybeDeferred(child.stopService)
            except Exception:
                log.failure("stopping {child} failed", child=child.name)
        log.info("server {server_id} stopped", server_id=self.server_id)


class StorageService(Service):
    """The database: locked, opened and its index loaded in ``startService``.

    :ivar replica: the server's games, once started.
    """

    def __init__(self, data_directory: str, clock: IReactorTime, *, rebuild: bool) -> None:
        self.data_directory = data_directory
        self.clock = clock
        self.rebuild = rebuild
        self.storage: Storage | None = None
        self.committer: GroupCommitter | None = None
        self._replica: Replica | None = None

    @property
    def replica(self) -> Replica:
        if self._replica is None:
            raise RuntimeError("the storage service has not started")
        return self._replica

    def startService(self) -> None:
        super().startService()
        # Loading the index makes long-lived objects by the hundred thousand
        # and frees none: the cyclic collector would traverse them again and
        # again.  Off while loading, then freeze what was made (no later
        # collection walks it) and on again.  Measured (exec to "listening
        # on", 100,000 games, median of 9 alternating runs): 0.75 s of CPU
        # instead of 0.99 s (wall 1.77 s instead of 2.33 s).  Turning it off
        # earlier, for our imports too (in makeService), gained nothing
        # measurable (0.78 s).
        gc.disable()
        try:
            self.storage = storage = self._open()
            self.committer = GroupCommitter(storage, self.clock)
            try:
                self._replica = Replica(storage, self.committer)
            except Exception as error:  # a record that does not read back
                self.close()
                exit_server(
                    EXIT_UNREADABLE_DATABASE,
                    f"cannot read database {storage.path}: {error}. Start the server with "
                    "--rebuild to move it aside and rebuild the database from the peers.",
                )
            gc.freeze()
        finally:
            gc.enable()

    def _open(self) -> Storage:
        try:
            storage = Storage.open(self.data_directory, rebuild=self.rebuild)
        except UnreadableDatabase as error:
            exit_server(EXIT_UNREADABLE_DATABASE, str(error))
        except DataDirectoryInUse as error:
            exit_server(1, str(error))
        except StorageError as error:
            exit_server(1, str(error))
        if storage.moved_aside is not None:
            log.warn(
                "--rebuild: moved the old database aside to {path}; rebuilding from the peers",
                path=str(storage.moved_aside),
            )
        return storage

    def finish_writes(self) -> None:
        """Commit what is pending now, fire the answers it releases, and
        refuse every later write."""
        if self.committer is not None:
            self.committer.close()

    def stopService(self) -> None:
        super().stopService()
        self.finish_writes()
        self.close()

    def close(self) -> None:
        """Close the database and release its lock (again: nothing)."""
        if self.storage is not None:
            self.storage.close()
            self.storage = None


class PeerLinksService(Service):
    """The authenticated links to both peers, dialled in ``startService``
    (building an endpoint may read the CA file).

    :param links: filled with one link per peer id, shared with the node.
    :param dial: the endpoint of a peer.
    :param on_ready: called with a link each time it (re)authenticates.
    """

    def __init__(
        self,
        server_id: int,
        config: ClusterConfig,
        links: dict[int, PeerLink],
        clock: IReactorTime,
        dial: Callable[[ServerConfig], IStreamClientEndpoint],
        on_ready: Callable[[PeerLink], None],
    ) -> None:
        self.server_id = server_id
        self.config = config
        self.links = links
        self.clock = clock
        self.dial = dial
        self.on_ready = on_ready

    def startService(self) -> None:
        super().startService()
        secret = self.config.require_secret()
        for peer in self.config.peers_of(self.server_id):
            self.links[peer.id] = PeerLink(
                my_id=self.server_id,
                peer=peer,
                secret=secret,
                endpoint=self.dial(peer),
                clock=self.clock,
                timeout=self.config.tuning.catchup_timeout,
                heartbeat=self.config.tuning.heartbeat,
                on_ready=self.on_ready,
            )
        for link in self.links.values():
            link.start()

    def stopService(self) -> Deferred[None]:
        super().stopService()
        stopping = [link.stop() for link in self.links.values()]
        return Deferred.fromCoroutine(_each(stopping))


async def _each(deferreds: list[Deferred[None]]) -> None:
    for deferred in deferreds:
        await deferred


class NodeService(Service):
    """The server's behaviour (:class:`~game.server.node.ServerNode`) and its
    AMP factory, built over the opened storage in ``startService``."""

    def __init__(
        self,
        server_id: int,
        config: ClusterConfig,
        storage: StorageService,
        links: dict[int, PeerLink],
        clock: IReactorTime,
        reactor: IReactorCore,
        clock_offset_ms: int = 0,
    ) -> None:
        self.server_id = server_id
        self.config = config
        self.storage = storage
        self.clock_offset_ms = clock_offset_ms
        self.links = links
        self.clock = clock
        self.reactor = reactor
        self.node: ServerNode | None = None
        self.factory: ServerFactory | None = None

    def startService(self) -> None:
        super().startService()
        self.node = node = ServerNode(
            self.server_id,
            self.config,
            self.storage.replica,
            self.links,
            self.clock,
            clock_offset_ms=self.clock_offset_ms,
        )
        assert self.storage.committer is not None
        self.storage.committer.on_failure = self._commit_failed
        self.factory = ServerFactory(node, self.config.require_secret(), self.clock)
        node.start()

    def server_factory(self) -> IProtocolFactory:
        """The listener's factory (there once this service started)."""
        if self.factory is None:
            raise RuntimeError("the node service has not started")
        return self.factory

    def peer_ready(self, link: PeerLink) -> None:
        if self.node is not None:
            self.node.peer_ready(link)

    def anti_entropy_round(self) -> Deferred[None]:
        return self.node.anti_entropy_round() if self.node is not None else succeed(None)

    def stopService(self) -> Deferred[None]:
        """Stop taking work, finish the pending commit, write every answer it
        releases, then close the connections."""
        super().stopService()
        if self.node is not None:
            self.node.stop()
        self.storage.finish_writes()
        if self.factory is None:
            return succeed(None)
        return self.factory.close_all(timeout=DRAIN_TIMEOUT)

    def _commit_failed(self, reason: Failure) -> None:
        if self.node is not None:
            self.node.fail(f"a commit failed: {reason.getErrorMessage()}")
        storage = self.storage.storage
        log.critical(
            "a commit to {path} failed ({error}); stopping with exit status {status} so that "
            "no state that is not on disk is ever served. Free disk space or fix the disk, "
            "then restart (with --rebuild if the database is damaged).",
            path=str(storage.path if storage is not None else "?"),
            error=reason.getErrorMessage(),
            status=EXIT_COMMIT_FAILED,
        )
        # twistd exits 0 after a clean stop: report the failure once it is done.
        atexit.register(os._exit, EXIT_COMMIT_FAILED)
        self.clock.callLater(0, self.reactor.stop)


class Listener(StreamServerEndpointService):
    """The server's listening port, opened in ``startService`` once the
    database is open (so that "listening on" means answering), and the
    process's exit when it cannot listen.

    :param description: the endpoint string (``listen`` in the config);
        parsed in ``startService``, since parsing ``ssl:`` reads files.
    :param factory_of: the protocol factory, asked for at start.
    """

    def __init__(
        self,
        reactor: IReactorCore,
        description: str,
        factory_of: Callable[[], IProtocolFactory],
    ) -> None:
        super().__init__(None, None)
        self.reactor = reactor
        self.description = description
        self.factory_of = factory_of
        self.port: IListeningPort | None = None

    def privilegedStartService(self) -> None:
        # twistd calls this before any startService, when the database is
        # not open yet; listen from startService instead (which calls it).
        if self.running:
            super().privilegedStartService()

    def startService(self) -> None:
        failures: list[Failure] = []
        self.factory = self.factory_of()
        self.endpoint = _Reporting(
            serverFromString(self.reactor, self.description), self._listening, failures.append
        )
        super().startService()
        # Endpoints from strings listen at once: a failure is known here.
        if failures:
            reason = failures[0].getErrorMessage()
            if failures[0].check(CannotListenError):
                reason += (
                    " (is another server using this address? change port or listen in the config)"
                )
            exit_server(1, f"cannot listen on {self.description}: {reason}")

    def _listening(self, port: IListeningPort) -> None:
        self.port = port
        log.info("listening on {address}", address=str(port.getHost()))


class MetricsListener(Listener):
    """The operators' HTTP endpoint (``metrics`` in the config): the
    server's metrics, wired into the started node, and its health."""

    def __init__(self, reactor: IReactorCore, description: str, node: NodeService) -> None:
        super().__init__(reactor, description, self._site)
        self.node_service = node
        self.metrics: ServerMetrics | None = None

    def _site(self) -> IProtocolFactory:
        node, factory = self.node_service.node, self.node_service.factory
        committer = self.node_service.storage.committer
        if node is None or factory is None or committer is None:
            raise RuntimeError("the node service has not started")
        self.metrics = metrics = ServerMetrics()
        node.metrics = metrics
        committer.on_commit = metrics.committed
        metrics.watch(node, factory.client_connections)
        return operator_site(metrics.registry, node.not_ready_reason)

    def _listening(self, port: IListeningPort) -> None:
        # Not "listening on": tests and tools read that line as the AMP port.
        self.port = port
        log.info("metrics, /livez and /readyz over HTTP on {address}", address=str(port.getHost()))


@implementer(IStreamServerEndpoint)
class _Reporting:
    """An endpoint that reports how its ``listen`` went (a failure is
    consumed: :class:`Listener` exits with its own message)."""

    def __init__(
        self,
        endpoint: IStreamServerEndpoint,
        listening: Callable[[IListeningPort], None],
        failed: Callable[[Failure], None],
    ) -> None:
        self.endpoint = endpoint
        self.listening = listening
        self.failed = failed

    def listen(  # type: ignore[override]  # None once a failure is consumed
        self, factory: IProtocolFactory
    ) -> Deferred[IListeningPort | None]:
        def report(port: IListeningPort) -> IListeningPort:
            self.listening(port)
            return port

        def fail(failure: Failure) -> None:
            self.failed(failure)

        listening: Deferred[IListeningPort] = self.endpoint.listen(factory)
        return listening.addCallbacks(report, fail)
