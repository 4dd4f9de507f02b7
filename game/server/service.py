"""The running server: opens its database, listens, links to its peers.

Built by :mod:`game.server.tap` without any I/O; everything that touches the
disk or the network happens in :meth:`ReplgameService.startService`, after
twistd has daemonised.
"""

from __future__ import annotations

import atexit
import gc
import os
from typing import Any

from twisted.application import service
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.endpoints import serverFromString
from twisted.internet.error import CannotListenError
from twisted.logger import Logger
from twisted.python.failure import Failure

from game.config import ClusterConfig
from game.endpoints import client_endpoint
from game.server.commit import GroupCommitter
from game.server.connection import ServerFactory
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


class ReplgameService(service.Service):
    """One replgame server: storage, replica, peer links and the listener."""

    def __init__(
        self,
        server_id: int,
        config: ClusterConfig,
        data_directory: str,
        reactor: Any,
        rebuild: bool = False,
    ) -> None:
        self.server_id = server_id
        self.config = config
        self.data_directory = data_directory
        self.reactor = reactor
        self.rebuild = rebuild
        self.storage: Storage | None = None
        self.committer: GroupCommitter | None = None
        self.node: ServerNode | None = None
        self.links: dict[int, PeerLink] = {}
        self.port: Any = None
        self.factory: ServerFactory | None = None

    def startService(self) -> None:
        super().startService()
        me = self.config.server(self.server_id)
        log.info(
            "replgame server {server_id} using {source}; data in {data}",
            server_id=self.server_id,
            source=self.config.source,
            data=self.data_directory,
        )
        self.storage = self._open_storage()
        self.committer = GroupCommitter(self.storage, self.reactor, on_failure=self._commit_failed)
        try:
            replica = Replica(self.storage, self.committer)
        except Exception as error:  # a record that does not read back
            self._exit(
                EXIT_UNREADABLE_DATABASE,
                f"cannot read database {self.storage.path}: {error}. Start the server with "
                "--rebuild to move it aside and rebuild the database from the peers.",
            )
        # What start-up made so far (modules, the index) lives as long as the
        # server: keep the cyclic collector (off since makeService) from ever
        # traversing it again, and turn it back on.
        gc.freeze()
        gc.enable()
        secret = self.config.require_secret()
        timeout = self.config.tuning.catchup_timeout
        self.node = node = ServerNode(
            self.server_id, self.config, replica, self.links, self.reactor
        )
        for peer in self.config.peers_of(self.server_id):
            endpoint = client_endpoint(
                self.reactor, peer.peer_host, peer.peer_port, self.config.tls_ca, timeout
            )
            self.links[peer.id] = PeerLink(
                my_id=self.server_id,
                peer=peer,
                secret=secret,
                endpoint=endpoint,
                clock=self.reactor,
                timeout=timeout,
                heartbeat=self.config.tuning.heartbeat,
                on_ready=node.peer_ready,
            )
        self.factory = factory = ServerFactory(node, secret, self.reactor)
        # Endpoints from strings listen at once: a failure is known here, and
        # exiting from startService (not from an errback) stops twistd.
        failed: list[Failure] = []
        serverFromString(self.reactor, me.listen).listen(factory).addCallbacks(
            self._listening, failed.append
        )
        if failed:
            self._cannot_listen(failed[0], me.listen)
        node.start()
        for link in self.links.values():
            link.start()

    def _open_storage(self) -> Storage:
        try:
            storage = Storage.open(self.data_directory, rebuild=self.rebuild)
        except UnreadableDatabase as error:
            self._exit(EXIT_UNREADABLE_DATABASE, str(error))
        except DataDirectoryInUse as error:
            self._exit(1, str(error))
        except StorageError as error:
            self._exit(1, str(error))
        if storage.moved_aside is not None:
            log.warn(
                "--rebuild: moved the old database aside to {path}; rebuilding from the peers",
                path=str(storage.moved_aside),
            )
        return storage

    def _listening(self, port: Any) -> None:
        self.port = port
        log.info("listening on {address}", address=str(port.getHost()))

    def _cannot_listen(self, failure: Failure, endpoint: str) -> None:
        reason = failure.getErrorMessage()
        if failure.check(CannotListenError):
            reason += " (is another server using this address? change port or listen in the config)"
        self._exit(1, f"cannot listen on {endpoint}: {reason}")

    def _exit(self, status: int, message: str) -> Any:
        log.critical("{message}", message=message)
        if self.storage is not None and status != 0:
            self.storage.close()
            self.storage = None
        raise SystemExit(status)

    def _commit_failed(self, reason: Failure) -> None:
        if self.node is not None:
            self.node.fail()
        log.critical(
            "a commit to {path} failed ({error}); stopping with exit status {status} so that "
            "no state that is not on disk is ever served. Free disk space or fix the disk, "
            "then restart (with --rebuild if the database is damaged).",
            path=str(self.storage.path if self.storage else "?"),
            error=reason.getErrorMessage(),
            status=EXIT_COMMIT_FAILED,
        )
        # twistd exits 0 after a clean stop: report the failure once it is done.
        atexit.register(os._exit, EXIT_COMMIT_FAILED)
        self.reactor.callLater(0, self.reactor.stop)

    def stopService(self) -> Deferred[None]:
        """SIGTERM: stop taking work, finish the pending commit, write every
        answer it releases, then close."""
        super().stopService()
        if self.node is not None:
            self.node.stop()
        if self.port is not None:
            self.port.stopListening()
        if self.committer is not None:
            self.committer.close()  # commits what is pending and fires its answers
        drained = self.factory.close_all(timeout=2.0) if self.factory is not None else succeed(None)
        stopping = [drained, *(link.stop() for link in self.links.values())]

        def close(_: object) -> None:
            if self.storage is not None:
                self.storage.close()
                self.storage = None
            log.info("server {server_id} stopped", server_id=self.server_id)

        return DeferredList(stopping, consumeErrors=True).addCallback(close)
