"""``ServerInfo`` (docs/protocol.md): what an operator sees of one server, in
every state, with ``/readyz``'s reason; its counts; the last catch-up
(game.server.node, game.server.catchups, game.server.locators)."""

from __future__ import annotations

import json
from typing import Any

from prometheus_client import CollectorRegistry
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import getChildForRequest
from twisted.web.test.requesthelper import DummyRequest

from game import protocol as p
from game.server.health import operator_root
from game.server.node import ServerState
from tests.server.grid import SERVERS, Grid, Match
from tests.server.helpers import (
    Connection,
    ConnectionTestCase,
    ServerHarness,
    authenticate,
    start_game,
)


def info_of(case: SynchronousTestCase, connection: Connection) -> dict[str, Any]:
    """ServerInfo over the wire, checked to be canonical JSON."""
    text = case.successResultOf(connection.call(p.ServerInfo))["info"]
    info: dict[str, Any] = json.loads(text)
    case.assertEqual(text, p.canonical_info(info))
    return info


class StatesTests(ConnectionTestCase):
    """Answered in every state, with the reason ``/readyz`` gives."""

    def setUp(self) -> None:
        self.harness = ServerHarness(self, serving=False)
        self.node = self.harness.node
        self.connection = self.harness.connect()
        self.root = operator_root(CollectorRegistry(), self.node.not_ready_reason)

    def readyz(self) -> tuple[int, str]:
        request = DummyRequest([b"readyz"])
        body = getChildForRequest(self.root, request).render(request)
        return request.responseCode or 200, body.decode("utf-8").rstrip("\n")

    def assert_state(self, state: str, reason: str | None) -> None:
        info = info_of(self, self.connection)
        self.assertEqual((info["state"], info["reason"]), (state, reason))
        status, body = self.readyz()
        if reason is None:
            self.assertEqual((status, body), (200, "ok"))
        else:
            self.assertEqual((status, body), (503, info["reason"]))

    def test_every_state(self) -> None:
        self.assert_state("starting", "server 1 is starting")
        self.node._enter(ServerState.WAITING_FOR_SEED, "test")
        self.assert_state("waiting for a seeded peer", "server 1 is waiting for a seeded peer")
        self.node.catching_up_from = (2,)
        self.node._enter(ServerState.CATCHING_UP, "test")
        self.assert_state("catching up", "server 1 is catching up from server(s) 2")
        self.node._enter(ServerState.SERVING, "test")
        self.assert_state("serving", None)
        self.node.stop()
        self.assert_state("stopping", "server 1 is stopping")
        self.node.fail()
        self.assert_state("failed", "server 1 is failed: storage failed (a commit failed)")

    def test_fields_before_serving(self) -> None:
        self.harness.clock.advance(90)
        self.connection.close()  # idle past client_idle_timeout meanwhile
        info = info_of(self, self.harness.connect())
        self.assertEqual(
            info,
            {
                "server_id": 1,
                "state": "starting",
                "reason": "server 1 is starting",
                "started": 0,
                "now": 90_000,
                "uptime": 90.0,
                "connections": 1,
                "watches": 0,
                "peers": [],
                "last_catch_up": None,
                "metrics": self.harness.config.server(1).metrics,
            },
        )
        self.assertEqual(info["metrics"], "tcp:7401:interface=127.0.0.1")

    def test_only_internal_is_declared(self) -> None:
        self.assertEqual(set(p.ServerInfo.errors.values()), {b"INTERNAL"})
        self.assertIn(p.ServerInfo, p.CLIENT_COMMANDS)


class CountsTests(ConnectionTestCase):
    def test_connections_and_watches(self) -> None:
        harness = ServerHarness(self)
        first = harness.connect()
        start_game(self, first, "g1")
        start_game(self, first, "g2")
        second = harness.connect()
        peer = harness.connect()
        self.successResultOf(authenticate(self, peer))
        for game_id in ("g1", "g2"):
            self.successResultOf(first.call(p.Watch, game_id=game_id))
        self.successResultOf(second.call(p.Watch, game_id="g1"))
        self.successResultOf(second.call(p.Watch, game_id="g1"))  # once per connection and game
        info = info_of(self, second)
        # The peer's connection is no client's.
        self.assertEqual((info["connections"], info["watches"]), (2, 3))

        self.successResultOf(first.call(p.Unwatch, game_id="g2"))
        self.assertEqual(info_of(self, second)["watches"], 2)
        first.close()
        info = info_of(self, second)
        self.assertEqual((info["connections"], info["watches"]), (1, 1))

    def test_uptime_follows_the_clock_and_its_offset(self) -> None:
        harness = ServerHarness(self, serving=False)
        harness.node.clock_offset_ms = 5_000
        harness.clock.advance(10)
        harness.replica.mark_initialized()
        harness.clock.advance(0)
        harness.node.start()
        harness.clock.advance(3 * 3600 + 0.25)
        info = info_of(self, harness.connect())
        self.assertEqual(info["started"], 15_000)
        self.assertEqual(info["now"], harness.node.now_ms())
        self.assertEqual(info["now"], harness.node.status()["now"])
        self.assertEqual(info["uptime"], 3 * 3600 + 0.25)


class LastCatchUpTests(SynchronousTestCase):
    """The last catch-up, as the in-process cluster makes them."""

    def info(self, grid: Grid, server_id: int) -> dict[str, Any]:
        answer = grid.answer(grid.client.links[server_id].call(p.ServerInfo))
        info: dict[str, Any] = json.loads(answer["info"])
        return info

    def test_startup_catch_up_then_a_repair(self) -> None:
        grid = Grid(self)
        grid.start()
        for server_id in SERVERS:
            info = self.info(grid, server_id)
            self.assertEqual(info["peers"], [i for i in SERVERS if i != server_id])
            self.assertEqual(info["connections"], 1)
        game = Match(grid, "g1")
        game.start()
        grid.stop(3)
        game.moves("4", "4", "3")
        grid.run(0.5)
        started_at = grid.clock.seconds()
        node = grid.start_server(3)
        grid.run_until(lambda: node.serving, limit=5)
        grid.run_until(lambda: grid.client.active == list(SERVERS), limit=5)

        last = self.info(grid, 3)["last_catch_up"]
        self.assertEqual(last["trigger"], "startup")
        # Caught up with one; the other then held the same games: nothing taken from it.
        self.assertIn(last["peers"], ([1], [2]))
        self.assertEqual((last["games"], last["events"]), (1, 3))
        self.assertGreater(last["bytes"], 0)
        self.assertGreaterEqual(last["at"], round(started_at * 1000))
        self.assertLessEqual(last["at"], node.now_ms())
        self.assertEqual(set(last), {"at", "trigger", "peers", "games", "events", "bytes",
                                     "seconds"})  # fmt: skip

        # A move server 3 missed, then SyncGame on it: an on-demand catch-up.
        grid.cut("client", 3)
        game.move("5")
        grid.heal()
        grid.run_until(lambda: grid.client.active == list(SERVERS), limit=5)
        grid.answer(grid.client.links[3].call(p.SyncGame, game_id="g1"))
        last = self.info(grid, 3)["last_catch_up"]
        self.assertEqual(
            (last["trigger"], last["peers"], last["games"], last["events"]),
            ("on_demand", [1, 2], 1, 1),
        )
        # Asking again adopts nothing: the last catch-up stays.
        grid.answer(grid.client.links[3].call(p.SyncGame, game_id="g1"))
        self.assertEqual(self.info(grid, 3)["last_catch_up"], last)

    def test_anti_entropy(self) -> None:
        grid = Grid(self, anti_entropy_interval=1)
        grid.start()
        game = Match(grid, "g1")
        game.start()
        grid.cut("client", 3)
        game.moves("4", "5")
        grid.run_until(grid.converged, limit=3)
        grid.heal()
        grid.run_until(lambda: grid.client.active == list(SERVERS), limit=5)
        last = self.info(grid, 3)["last_catch_up"]
        self.assertEqual(last["trigger"], "anti_entropy")
        self.assertEqual((last["games"], last["events"]), (1, 2))
        self.assertEqual(len(last["peers"]), 1)
