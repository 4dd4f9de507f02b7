"""Tests for the operators' endpoints (game.server.metrics, game.server.health):
known requests give known counts, ``/readyz`` in every state, ``/livez``, and
every family of PROTOCOL.md in ``/metrics``; all on one in-memory server."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource, getChildForRequest
from twisted.web.test.requesthelper import DummyRequest

from game import errors as wire
from game import protocol as p
from game.localcluster import write_local_config
from game.server.health import operator_root
from game.server.metrics import COMMIT_BUCKETS, FAMILIES, ServerMetrics
from game.server.node import ServerState
from game.server.tap import Options, makeService
from tests.server.helpers import TOKEN_A, TOKEN_B, ConnectionTestCase, ServerHarness, start_game


def metered(case: ConnectionTestCase, **options: Any) -> tuple[ServerHarness, ServerMetrics]:
    """A harness whose node counts, as the service tree wires it; each
    request takes 2 ms on the fake timer."""
    harness = ServerHarness(case, **options)
    ticks = itertools.count(step=0.002)
    metrics = ServerMetrics(timer=lambda: next(ticks))
    harness.node.metrics = metrics
    harness.committer.on_commit = metrics.committed
    metrics.watch(harness.node, lambda: len(harness.factory.connections))
    return harness, metrics


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def get(root: Resource, path: bytes) -> tuple[int, bytes, DummyRequest]:
    """Render ``GET /path`` with a DummyRequest: (status, body, request)."""
    request = DummyRequest([path])
    body = getChildForRequest(root, request).render(request)
    assert isinstance(body, bytes)
    return request.responseCode or 200, body, request


class RequestCountTests(ConnectionTestCase):
    def setUp(self) -> None:
        self.harness, self.metrics = metered(self)
        self.registry = self.metrics.registry
        connection = self.harness.connect()
        start_game(self, connection)  # CreateGame, JoinGame
        move = {"game_id": "g1", "token": TOKEN_A, "move": "4"}
        self.game(connection.call(p.MakeMove, version=2, **move))
        stale = {**move, "move": "5"}  # not a repeat, which would answer the game
        self.wire_error(connection.call(p.MakeMove, version=2, **stale), wire.StaleVersion)
        self.wire_error(connection.call(p.GetGame, game_id="nowhere"), wire.UnknownGame)
        self.successResultOf(connection.call(p.Status))
        self.successResultOf(connection.call(p.Watch, game_id="g1"))

    def test_requests_by_command_and_result(self) -> None:
        counts = {
            ("CreateGame", "ok"): 1,
            ("JoinGame", "ok"): 1,
            ("MakeMove", "ok"): 1,
            ("MakeMove", "STALE_VERSION"): 1,
            ("GetGame", "UNKNOWN_GAME"): 1,
            ("Status", "ok"): 1,
            ("Watch", "ok"): 1,
        }
        for (command, result), count in counts.items():
            self.assertEqual(
                value(self.registry, "replgame_requests_total", command=command, result=result),
                count,
                (command, result),
            )
        samples = [
            sample
            for family in self.registry.collect()
            if family.name == "replgame_requests"
            for sample in family.samples
            if sample.name == "replgame_requests_total"
        ]
        self.assertEqual(sum(sample.value for sample in samples), sum(counts.values()))

    def test_request_durations(self) -> None:
        # Two readings of the fake timer per request: 2 ms each.
        self.assertEqual(
            value(self.registry, "replgame_request_duration_seconds_count", command="MakeMove"), 2
        )
        total = value(self.registry, "replgame_request_duration_seconds_sum", command="MakeMove")
        self.assertAlmostEqual(total or 0, 0.004)

    def test_commits(self) -> None:
        # CreateGame, JoinGame and MakeMove: three writes, each its own turn.
        self.assertEqual(value(self.registry, "replgame_changes_per_commit_sum"), 3)
        self.assertEqual(value(self.registry, "replgame_changes_per_commit_count"), 3)
        self.assertEqual(value(self.registry, "replgame_commit_duration_seconds_count"), 3)
        self.assertEqual((COMMIT_BUCKETS[0], COMMIT_BUCKETS[-1]), (50e-6, 1.0))

    def test_state_read_at_scrape_time(self) -> None:
        registry = self.registry
        self.assertEqual(value(registry, "replgame_serving"), 1)
        self.assertEqual(value(registry, "replgame_clock"), 3)
        self.assertEqual(value(registry, "replgame_games", kind="connect4", status="active"), 1)
        self.assertEqual(value(registry, "replgame_client_connections"), 1)
        self.assertEqual(value(registry, "replgame_watches"), 1)
        self.harness.connections[0].close()
        self.harness.settle()
        self.assertEqual(value(registry, "replgame_client_connections"), 0)
        self.assertEqual(value(registry, "replgame_watches"), 0)

    def test_catch_ups(self) -> None:
        self.assertEqual(value(self.registry, "replgame_catch_ups_total", trigger="startup"), 1)
        # GetGame of a game this server lacks.
        self.assertEqual(value(self.registry, "replgame_catch_ups_total", trigger="on_demand"), 1)
        for trigger in ("anti_entropy", "read_repair"):
            self.assertEqual(value(self.registry, "replgame_catch_ups_total", trigger=trigger), 0)

    def test_node_counts_exported(self) -> None:
        node = self.harness.node
        node.sync.events_adopted = 7
        node.timeouts.ended = 2
        node.timeouts_claimed = 3
        self.assertEqual(value(self.registry, "replgame_events_adopted_total"), 7)
        self.assertEqual(value(self.registry, "replgame_timeouts_total", by="server"), 2)
        self.assertEqual(value(self.registry, "replgame_timeouts_total", by="claim"), 3)

    def test_peer_up(self) -> None:
        class Link:
            def __init__(self, ready: bool) -> None:
                self.ready = ready

        self.harness.node.links.update({2: Link(True), 3: Link(False)})  # type: ignore[dict-item]
        self.assertEqual(value(self.registry, "replgame_peer_up", peer="2"), 1)
        self.assertEqual(value(self.registry, "replgame_peer_up", peer="3"), 0)


class UncountedTests(ConnectionTestCase):
    def test_without_metrics_nothing_is_counted(self) -> None:
        harness = ServerHarness(self)
        self.assertIsNone(harness.node.metrics)
        connection = harness.connect()
        start_game(self, connection)  # answers as before
        move = connection.call(p.MakeMove, game_id="g1", version=2, move="4", token=TOKEN_A)
        self.game(move)
        # No observers: the responders are not wrapped, commits not timed,
        # and nothing lands in prometheus_client's global registry either.
        self.assertIsNone(connection.protocol.locator.metrics)
        self.assertIsNone(harness.committer.on_commit)
        self.assertIsNone(REGISTRY.get_sample_value("replgame_serving"))
        self.assertIsNone(
            REGISTRY.get_sample_value(
                "replgame_requests_total", {"command": "MakeMove", "result": "ok"}
            )
        )


class WithoutEndpointTests(SynchronousTestCase):
    """A server whose config has no ``metrics`` endpoint (``tap.makeService``)."""

    def test_no_metrics_child_no_http_port_no_observers(self) -> None:
        config = write_local_config(Path(self.mktemp()), [7301, 7302, 7303])
        options = Options()
        options.parseOptions(["--id", "1", "--config", str(config)])
        reactor = MemoryReactorClock()
        server = makeService(options, reactor=reactor)
        peers = server.getServiceNamed("peers")
        peers.dial = lambda peer: TCP4ClientEndpoint(reactor, peer.peer_host, peer.peer_port)
        self.assertNotIn("metrics", [child.name for child in server])
        server.privilegedStartService()
        server.startService()
        self.addCleanup(lambda: self.successResultOf(server.stopService()))
        self.assertEqual([port[0] for port in reactor.tcpServers], [7301])  # AMP only
        self.assertIsNone(server.getServiceNamed("node").node.metrics)
        self.assertIsNone(server.getServiceNamed("storage").committer.on_commit)


class TimeoutClaimTests(ConnectionTestCase):
    def test_claims_and_the_servers_own_timeouts_count(self) -> None:
        harness, metrics = metered(self, clock_skew=1.0, flag_grace=3.0, heartbeat=600.0)
        harness.clock.rightNow = 1_700_000_000.0
        connection = harness.connect()
        for game_id in ("t1", "t2"):
            created = connection.call(
                p.CreateGame, game_id=game_id, kind="connect4", player="alice", token=TOKEN_A,
                clock="live:10+0",
            )  # fmt: skip
            self.game(created)
            joined = connection.call(
                p.JoinGame, game_id=game_id, version=1, player="bobby", token=TOKEN_B,
                at=harness.node.now_ms(),
            )  # fmt: skip
            self.game(joined)
        harness.clock.advance(10.5)  # out of time, within flag_grace
        harness.settle()
        now = harness.node.now_ms()
        claim = connection.call(p.ClaimTimeout, game_id="t1", version=2, token=TOKEN_B, at=now)
        self.game(claim)
        self.assertEqual(value(metrics.registry, "replgame_timeouts_total", by="claim"), 1)
        self.assertEqual(value(metrics.registry, "replgame_timeouts_total", by="server"), 0)
        harness.clock.advance(3)  # flag_grace over: the server ends t2 itself
        harness.settle()
        self.assertEqual(value(metrics.registry, "replgame_timeouts_total", by="server"), 1)
        self.assertEqual(value(metrics.registry, "replgame_timeouts_total", by="claim"), 1)


class EndpointTests(ConnectionTestCase):
    def setUp(self) -> None:
        self.harness, self.metrics = metered(self, serving=False)
        self.node = self.harness.node
        self.root = operator_root(self.metrics.registry, self.node.not_ready_reason)

    def readyz(self) -> tuple[int, str]:
        status, body, _ = get(self.root, b"readyz")
        self.assertTrue(body.endswith(b"\n") and body.count(b"\n") == 1, body)
        return status, body.decode("utf-8").strip()

    def test_livez(self) -> None:
        self.assertEqual(get(self.root, b"livez")[:2], (200, b"ok\n"))

    def test_readyz_in_each_state(self) -> None:
        self.assertEqual(self.readyz(), (503, "server 1 is starting"))
        self.node._enter(ServerState.WAITING_FOR_SEED, "test")
        self.assertEqual(self.readyz(), (503, "server 1 is waiting for a seeded peer"))
        self.node.catching_up_from = (2, 3)
        self.node._enter(ServerState.CATCHING_UP, "test")
        self.assertEqual(self.readyz(), (503, "server 1 is catching up from server(s) 2, 3"))
        self.node._enter(ServerState.SERVING, "test")
        self.assertEqual(self.readyz(), (200, "ok"))
        self.node.stop()
        self.assertEqual(self.readyz(), (503, "server 1 is stopping"))
        self.node.fail()
        self.assertEqual(
            self.readyz(), (503, "server 1 is failed: storage failed (a commit failed)")
        )

    def test_readyz_when_a_commit_failed_while_serving(self) -> None:
        self.node._enter(ServerState.CATCHING_UP, "test")
        self.assertEqual(self.readyz(), (503, "server 1 is catching up"))
        self.node._enter(ServerState.SERVING, "test")
        self.node.fail("a commit failed: disk full")
        self.assertEqual(self.readyz()[0], 503)
        self.assertIn("storage failed", self.readyz()[1])

    def test_metrics_has_every_family(self) -> None:
        status, body, request = get(self.root, b"metrics")
        self.assertEqual(status, 200)
        self.assertIn(b"text/plain", request.responseHeaders.getRawHeaders(b"content-type")[0])
        text = body.decode("utf-8")
        types = {
            "replgame_serving": "gauge",
            "replgame_clock": "gauge",
            "replgame_games": "gauge",
            "replgame_requests_total": "counter",
            "replgame_request_duration_seconds": "histogram",
            "replgame_commit_duration_seconds": "histogram",
            "replgame_changes_per_commit": "histogram",
            "replgame_peer_up": "gauge",
            "replgame_catch_ups_total": "counter",
            "replgame_events_adopted_total": "counter",
            "replgame_client_connections": "gauge",
            "replgame_watches": "gauge",
            "replgame_timeouts_total": "counter",
        }
        self.assertEqual(set(types), set(FAMILIES))
        for family, kind in types.items():
            self.assertIn(f"# TYPE {family} {kind}\n", text)

    def test_two_servers_have_their_own_registries(self) -> None:
        _, metrics = metered(self)
        self.assertIsNot(metrics.registry, self.metrics.registry)
        self.assertEqual(value(metrics.registry, "replgame_serving"), 1)
        self.assertEqual(value(self.metrics.registry, "replgame_serving"), 0)
