"""Tests for the server's service tree (game.server.service, composed by
``tap.makeService``): its named children, their start and stop order, and
the exits of PROTOCOL.md, on a MemoryReactorClock (no sockets, no threads)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from twisted.application.internet import StreamServerEndpointService, TimerService
from twisted.application.service import IService, MultiService
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.error import CannotListenError
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import capturedLogs, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from game.config import ServerConfig
from game.server import service
from game.server.node import ServerState
from game.server.service import (
    EXIT_COMMIT_FAILED,
    EXIT_UNREADABLE_DATABASE,
    Listener,
    NodeService,
    PeerLinksService,
    ServerService,
    StorageService,
)
from game.server.storage import DATABASE_NAME
from game.server.tap import Options, makeService

# The built-in cluster has a metrics endpoint: the tree ends with it.
NAMES = ["storage", "anti-entropy", "peers", "node", "listener", "metrics"]


class RefusingReactor(MemoryReactorClock):
    """Every port is taken."""

    def listenTCP(self, port: int, factory: Any, backlog: int = 50, interface: str = "") -> Any:
        raise CannotListenError(interface, port, OSError(98, "Address already in use"))


class ServiceTreeTests(SynchronousTestCase):
    def make(self, reactor: MemoryReactorClock | None = None, *args: str) -> ServerService:
        self.data = Path(self.mktemp())
        options = Options()
        options.parseOptions(["--id", "1", "--data", str(self.data), *args])
        self.reactor = reactor or MemoryReactorClock()
        server = makeService(options, reactor=self.reactor)
        assert isinstance(server, ServerService)
        # Dial without name resolution (which would use threads).
        peers = server.getServiceNamed("peers")
        peers.dial = lambda peer: TCP4ClientEndpoint(self.reactor, peer.peer_host, peer.peer_port)
        self.addCleanup(self.stop, server)
        return server

    def stop(self, server: MultiService) -> None:
        if server.running:
            self.successResultOf(server.stopService())

    def start(self, server: MultiService) -> None:
        server.privilegedStartService()  # as twistd does
        server.startService()

    def test_named_children(self) -> None:
        server = self.make()
        self.assertIsInstance(server, MultiService)
        self.assertEqual([child.name for child in server], NAMES)
        kinds = [StorageService, TimerService, PeerLinksService, NodeService, Listener, Listener]
        for name, kind in zip(NAMES, kinds, strict=True):
            self.assertIsInstance(server.getServiceNamed(name), kind)
        self.assertIsInstance(server.getServiceNamed("listener"), StreamServerEndpointService)
        timer = server.getServiceNamed("anti-entropy")
        self.assertEqual(timer.step, server.config.tuning.anti_entropy_interval)

    def test_composing_does_no_io(self) -> None:
        self.make()
        self.assertFalse(self.data.exists())
        self.assertEqual((self.reactor.tcpServers, self.reactor.tcpClients), ([], []))

    def test_start_order_and_reverse_stop_order(self) -> None:
        server = self.make()
        calls: list[str] = []
        for child in server:
            for method in ("startService", "stopService"):
                original = getattr(child, method)

                def record(original: Any = original, name: str = f"{method} {child.name}") -> Any:
                    calls.append(name)
                    return original()

                setattr(child, method, record)
        self.start(server)
        self.assertEqual(calls, [f"startService {name}" for name in NAMES])
        self.assertEqual(len(self.reactor.tcpServers), 2)  # listening: AMP and metrics
        self.assertEqual(len(self.reactor.tcpClients), 2)  # dialling both peers
        self.assertEqual(server.getServiceNamed("node").node.state, ServerState.STARTING)
        self.assertTrue((self.data / DATABASE_NAME).exists())
        del calls[:]
        self.successResultOf(server.stopService())
        self.assertEqual(calls, [f"stopService {name}" for name in reversed(NAMES)])

    def test_the_listener_listens_after_the_database_is_open(self) -> None:
        server = self.make()
        server.privilegedStartService()
        self.assertEqual(self.reactor.tcpServers, [])
        with capturedLogs() as events:
            server.startService()
        texts = [event.get("log_format", "") for event in events]
        self.assertLess(
            texts.index("replgame server {server_id} using {source}; data in {data}"),
            texts.index("listening on {address}"),
        )
        # The AMP port, then the metrics endpoint's HTTP port.
        self.assertEqual([port[0] for port in self.reactor.tcpServers], [7301, 7401])

    def test_each_child_stops_once_the_later_ones_have_stopped(self) -> None:
        server = self.make()
        self.start(server)
        node = server.getServiceNamed("node")
        draining: Deferred[None] = Deferred()
        node_stop = node.stopService
        node.stopService = lambda: (node_stop(), draining)[1]
        stopped = server.stopService()
        storage = server.getServiceNamed("storage")
        peers = server.getServiceNamed("peers")
        self.assertNoResult(stopped)
        self.assertTrue(peers.running and storage.running)
        self.assertIsNotNone(storage.storage)
        with capturedLogs() as events:
            draining.callback(None)
        self.successResultOf(stopped)
        self.assertFalse(peers.running or storage.running)
        self.assertIsNone(storage.storage)
        self.assertIn("server {server_id} stopped", [e.get("log_format") for e in events])

    def test_the_node_stops_taking_work_before_connections_close(self) -> None:
        server = self.make()
        self.start(server)
        node_service = server.getServiceNamed("node")
        node = node_service.node
        states: list[ServerState] = []
        factory = node_service.factory
        close_all = factory.close_all
        factory.close_all = lambda timeout: (states.append(node.state), close_all(timeout))[1]
        self.successResultOf(server.stopService())
        self.assertEqual(states, [ServerState.STOPPING])

    def test_an_unreadable_database_exits_2_naming_the_file(self) -> None:
        server = self.make()
        self.data.mkdir()
        (self.data / DATABASE_NAME).write_bytes(b"this is not a sqlite database" * 100)
        with capturedLogs() as events, self.assertRaises(SystemExit) as exit:
            self.start(server)
        self.assertEqual(exit.exception.code, EXIT_UNREADABLE_DATABASE)
        (critical,) = [formatEvent(e) for e in events if e["log_level"].name == "critical"]
        self.assertIn(str(self.data / DATABASE_NAME), critical)
        self.assertEqual(self.reactor.tcpServers, [])  # never listened
        server.running = False  # twistd exits here; nothing to stop

    def test_a_port_in_use_exits_1_and_closes_the_database(self) -> None:
        server = self.make(RefusingReactor())
        with capturedLogs() as events, self.assertRaises(SystemExit) as exit:
            self.start(server)
        self.assertEqual(exit.exception.code, 1)
        (message,) = [formatEvent(e) for e in events if e["log_level"].name == "critical"]
        self.assertIn("cannot listen on tcp:7301:interface=127.0.0.1", message)
        self.assertIn("is another server using this address?", message)
        self.assertIsNone(server.getServiceNamed("storage").storage)
        server.running = False  # twistd exits here; nothing to stop

    def test_too_few_open_files_allowed_exits_1_before_opening_anything(self) -> None:
        def too_low(max_connections: int) -> tuple[int, int]:
            raise service.FileLimitTooLow(f"max_connections = {max_connections} needs more")

        self.patch(service, "raise_file_limit", too_low)
        server = self.make()
        with capturedLogs() as events, self.assertRaises(SystemExit) as exit:
            self.start(server)
        self.assertEqual(exit.exception.code, 1)
        (message,) = [formatEvent(e) for e in events if e["log_level"].name == "critical"]
        self.assertIn("max_connections = 10000 needs more", message)
        self.assertIsNone(server.getServiceNamed("storage").storage)
        server.running = False

    def test_the_open_files_limit_raised_is_logged(self) -> None:
        self.patch(service, "raise_file_limit", lambda max_connections: (1024, 10_064))
        server = self.make()
        with capturedLogs() as events:
            self.start(server)
        self.assertIn(
            "open files limit raised from 1024 to 10064 for max_connections=10000",
            [formatEvent(e) for e in events],
        )

    def test_rebuild_moves_the_database_aside(self) -> None:
        server = self.make()
        self.start(server)
        self.successResultOf(server.stopService())
        rebuilt = self.make(None, "--rebuild")
        self.data = Path(server.getServiceNamed("storage").data_directory)
        rebuilt.getServiceNamed("storage").data_directory = str(self.data)
        with capturedLogs() as events:
            self.start(rebuilt)
        self.assertIn(
            "--rebuild: moved the old database aside to {path}; rebuilding from the peers",
            [e.get("log_format") for e in events],
        )

    def test_a_failed_commit_fails_the_node_and_exits_3(self) -> None:
        exits: list[tuple[Any, ...]] = []
        self.patch(service.atexit, "register", lambda *args: exits.append(args))
        server = self.make()
        self.start(server)
        node_service = server.getServiceNamed("node")
        committer = server.getServiceNamed("storage").committer
        self.assertEqual(committer.on_failure, node_service._commit_failed)
        with capturedLogs() as events:
            committer.on_failure(Failure(OSError(28, "No space left on device")))
        self.assertEqual(node_service.node.state, ServerState.FAILED)
        self.assertEqual(exits, [(os._exit, EXIT_COMMIT_FAILED)])
        self.assertTrue(any(e["log_level"].name == "critical" for e in events))
        self.assertFalse(self.reactor.hasStopped)
        self.reactor.advance(0)
        self.assertTrue(self.reactor.hasStopped)

    def test_anti_entropy_waits_for_the_node(self) -> None:
        server = self.make()
        node_service = server.getServiceNamed("node")
        # Before the node exists (the timer's first call, at its start) and
        # while it does not serve, a round does nothing.
        self.successResultOf(node_service.anti_entropy_round())
        self.start(server)
        self.assertFalse(node_service.node.serving)
        self.successResultOf(node_service.anti_entropy_round())

    def test_plugin_names_the_tap_module(self) -> None:
        from twisted.plugins.replgame_plugin import replgame

        self.assertEqual(replgame.module, "game.server.tap")
        self.assertTrue(IService.providedBy(self.make()))


class PeerLinksServiceTests(SynchronousTestCase):
    def test_links_are_built_at_start_and_stopped(self) -> None:
        reactor = MemoryReactorClock()
        options = Options()
        options.parseOptions(["--id", "2", "--data", self.mktemp()])
        links: dict[int, Any] = {}
        dialled: list[ServerConfig] = []

        def dial(peer: ServerConfig) -> TCP4ClientEndpoint:
            dialled.append(peer)
            return TCP4ClientEndpoint(reactor, peer.peer_host, peer.peer_port)

        peers = PeerLinksService(2, options.config, links, reactor, dial, lambda link: None)
        self.assertEqual((links, dialled), ({}, []))
        peers.startService()
        self.assertEqual(sorted(links), [1, 3])
        self.assertEqual([peer.id for peer in dialled], [1, 3])
        self.assertEqual(len(reactor.tcpClients), 2)
        self.successResultOf(peers.stopService())
        self.assertFalse(any(link.ready for link in links.values()))
