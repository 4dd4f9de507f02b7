"""Tests for :mod:`game.client.client`: the replicated client over three
in-memory fake servers.

Each :class:`FakeServer` is an ``amp.CommandLocator`` with scripted answers.
The client reaches it through a :class:`FakeEndpoint` whose ``connect()``
joins the client's protocol to a server-side ``amp.AMP`` with
:mod:`twisted.test.iosim` transports (or refuses, for a server that is
down).  Nothing moves until :meth:`Cluster.flush`; time is a :class:`Clock`
and the redial jitter is fixed with ``rng=lambda: 0.5``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import attrs
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.protocols import amp
from twisted.test.iosim import FakeAddress, FakeTransport, IOPump, connect
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from game import errors as wire
from game import protocol as p
from game.client.client import (
    NoAnswer,
    NoServers,
    Outcome,
    ReplicatedClient,
    ServerStatus,
    WatchUpdate,
)
from game.client.majority import Listing
from game.config import default_config
from game.link import backoff

TOKEN = "alice-token-0123456789"
HEARTBEAT = 10.0
TIMEOUT = 5.0
#: The redial delays with ``rng=lambda: 0.5``: min(5, 0.25 * 2**n) * 0.75, n = 1, 2, ...
REDIAL = [0.375, 0.75, 1.5, 3.0, 3.75, 3.75, 3.75]


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def document(version: int, moves: str = "", game_id: str = "g1") -> str:
    """A canonical game document; ``moves`` varies it at equal versions."""
    return canonical(
        {
            "id": game_id,
            "kind": "connect4",
            "version": version,
            "status": "active",
            "players": ["alice", "bobby"],
            "to_move": version % 2,
            "moves": list(moves),
            "position": moves,
            "legal": ["1", "2", "3", "4", "5", "6", "7"],
            "draw_offer": None,
            "result": None,
        }
    )


def summary(game_id: str, version: int) -> str:
    return canonical(
        {
            "id": game_id,
            "kind": "connect4",
            "status": "open",
            "players": ["alice", None],
            "version": version,
        }
    )


class Hold:
    """A scripted answer that waits until the test releases it."""


HOLD = Hold()


@attrs.define(eq=False)
class Connection:
    """One client connection as the fake server sees it."""

    server_protocol: amp.AMP
    pump: IOPump
    client_io: FakeTransport
    server_io: FakeTransport

    @property
    def open(self) -> bool:
        return not (self.server_io.disconnected or self.client_io.disconnected)


class FakeServer(amp.CommandLocator):
    """One scripted replgame server, shared by all of its connections.

    ``script[name]`` is a response dict, a :class:`WireError` to raise,
    :data:`HOLD`, or a callable of the arguments returning one of these.
    Without a script entry, game commands answer from ``games``.
    """

    def __init__(self, server_id: int, clock: Clock) -> None:
        self.server_id = server_id
        self.clock = clock
        self.up = True
        self.serving = True
        self.status_clock = 0
        #: Status's ``now`` (ms) at the local time 0; None: a version 1 server (no ``now``).
        self.epoch_ms: int | None = None
        self.games: dict[str, str] = {}
        self.script: dict[str, Any] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.attempts: list[float] = []
        self.connections: list[Connection] = []
        self.held: list[tuple[str, Deferred[dict[str, Any]]]] = []

    # -- what tests look at ----------------------------------------------------

    def called(self, name: str) -> list[dict[str, Any]]:
        return [arguments for command, arguments in self.calls if command == name]

    def count(self, name: str) -> int:
        return len(self.called(name))

    @property
    def open_connections(self) -> list[Connection]:
        return [c for c in self.connections if c.open]

    def release(self, name: str, answer: Any) -> None:
        """Answer the earliest held ``name`` request (a dict or a WireError)."""
        for index, (command, deferred) in enumerate(self.held):
            if command == name:
                del self.held[index]
                if isinstance(answer, BaseException):
                    deferred.errback(answer)
                else:
                    deferred.callback(answer)
                return
        raise AssertionError(f"server {self.server_id} holds no {name}")

    def close_connections(self) -> None:
        for connection in self.connections:
            connection.server_io.loseConnection()

    def push(self, text: str) -> None:
        """Hold ``text`` and send it as ``GameChanged`` on every open connection."""
        game_id = json.loads(text).get("id")
        if game_id is not None:
            self.games[game_id] = text
        for connection in self.open_connections:
            connection.server_protocol.callRemote(p.GameChanged, game=text)

    def now_ms(self) -> int:
        """This server's clock: the local one plus :attr:`epoch_ms`."""
        assert self.epoch_ms is not None
        return self.epoch_ms + round(self.clock.seconds() * 1000)

    # -- answering -------------------------------------------------------------

    def answer(self, name: str, **arguments: Any) -> Any:
        # Only what was sent: AMP gives an absent optional argument as None.
        self.calls.append((name, {k: v for k, v in arguments.items() if v is not None}))
        if name in self.script:
            result = self.script[name]
            if callable(result):
                result = result(**arguments)
        else:
            result = self.default(name, **arguments)
        if isinstance(result, BaseException):
            raise result
        if result is HOLD:
            deferred: Deferred[dict[str, Any]] = Deferred()
            self.held.append((name, deferred))
            return deferred
        return result

    def default(self, name: str, **arguments: Any) -> Any:
        if name == "Status":
            answer = {
                "server_id": self.server_id,
                "clock": self.status_clock,
                "games": len(self.games),
                "serving": self.serving,
                "protocol": 1,
                "digest": "0" * 64,
            }
            if self.epoch_ms is not None:
                answer.update(protocol=2, now=self.now_ms())
            return answer
        if not self.serving:
            return wire.NotServing()
        if name == "Unwatch":
            return {}
        if name == "ListGames":
            return {"games": [], "next": ""}
        game_id = arguments["game_id"]
        if game_id in self.games:
            return {"game": self.games[game_id]}
        return wire.UnknownGame()

    @p.Status.responder
    def status(self) -> Any:
        return self.answer("Status")

    @p.CreateGame.responder
    def create_game(self, **arguments: Any) -> Any:
        return self.answer("CreateGame", **arguments)

    @p.JoinGame.responder
    def join_game(self, **arguments: Any) -> Any:
        return self.answer("JoinGame", **arguments)

    @p.MakeMove.responder
    def make_move(self, **arguments: Any) -> Any:
        return self.answer("MakeMove", **arguments)

    @p.Resign.responder
    def resign(self, **arguments: Any) -> Any:
        return self.answer("Resign", **arguments)

    @p.OfferDraw.responder
    def offer_draw(self, **arguments: Any) -> Any:
        return self.answer("OfferDraw", **arguments)

    @p.AcceptDraw.responder
    def accept_draw(self, **arguments: Any) -> Any:
        return self.answer("AcceptDraw", **arguments)

    @p.ClaimTimeout.responder
    def claim_timeout(self, **arguments: Any) -> Any:
        return self.answer("ClaimTimeout", **arguments)

    @p.GetGame.responder
    def get_game(self, **arguments: Any) -> Any:
        return self.answer("GetGame", **arguments)

    @p.SyncGame.responder
    def sync_game(self, **arguments: Any) -> Any:
        return self.answer("SyncGame", **arguments)

    @p.ListGames.responder
    def list_games(self, **arguments: Any) -> Any:
        return self.answer("ListGames", **arguments)

    @p.Watch.responder
    def watch(self, **arguments: Any) -> Any:
        return self.answer("Watch", **arguments)

    @p.Unwatch.responder
    def unwatch(self, **arguments: Any) -> Any:
        return self.answer("Unwatch", **arguments)


@implementer(IStreamClientEndpoint)
class FakeEndpoint:
    """Connects to a :class:`FakeServer` in memory, or refuses if it is down."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server

    def connect(self, factory: Any) -> Deferred[Any]:
        server = self.server
        server.attempts.append(server.clock.seconds())
        if not server.up:
            # Refused on the next turn, as a real connection attempt would be.
            refused: Deferred[Any] = Deferred()
            server.clock.callLater(0, refused.errback, ConnectionRefusedError())
            return refused
        client_protocol = factory.buildProtocol(FakeAddress())
        server_protocol = amp.AMP(locator=server)
        client_io = FakeTransport(client_protocol, isServer=False)
        server_io = FakeTransport(server_protocol, isServer=True)
        pump = connect(server_protocol, server_io, client_protocol, client_io, greet=False)
        server.connections.append(Connection(server_protocol, pump, client_io, server_io))
        return succeed(client_protocol)


class Cluster:
    """Three fake servers and a :class:`ReplicatedClient` on one Clock."""

    def __init__(
        self,
        case: SynchronousTestCase,
        *,
        down: tuple[int, ...] = (),
        rng: Callable[[], float] = lambda: 0.5,
    ) -> None:
        self.clock = Clock()
        self.servers = {i: FakeServer(i, self.clock) for i in (1, 2, 3)}
        for server_id in down:
            self.servers[server_id].up = False
        config = default_config()
        config = attrs.evolve(
            config,
            tuning=attrs.evolve(config.tuning, heartbeat=HEARTBEAT, request_timeout=TIMEOUT),
        )
        self.client = ReplicatedClient(
            config,
            self.clock,
            endpoint_for=lambda server: FakeEndpoint(self.servers[server.id]),
            rng=rng,
        )
        self.updates: list[WatchUpdate] = []
        case.addCleanup(self.stop)

    def __getitem__(self, server_id: int) -> FakeServer:
        return self.servers[server_id]

    def start(self) -> None:
        self.client.start()
        self.flush()

    def stop(self) -> None:
        self.client.stop()
        self.flush()

    def flush(self) -> None:
        """Deliver every byte on every connection and run every call due
        now (refusals), until nothing moves."""
        for _ in range(1000):
            moved = False
            for server in self.servers.values():
                for connection in list(server.connections):
                    moved = connection.pump.flush(advanceClock=False) or moved
            now = self.clock.seconds()
            if any(call.getTime() <= now for call in self.clock.getDelayedCalls()):
                self.clock.advance(0)
                moved = True
            if not moved:
                return
        raise AssertionError("the cluster did not settle")

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.flush()

    def run(self, seconds: float, step: float = 0.125) -> None:
        """Advance in small steps, so that calls land at their own times."""
        for _ in range(round(seconds / step)):
            self.advance(step)

    def hold_everywhere(self, name: str) -> None:
        for server in self.servers.values():
            server.script[name] = HOLD

    def listen(self, update: WatchUpdate) -> None:
        self.updates.append(update)

    def all_hold(self, game_id: str, text: str) -> None:
        for server in self.servers.values():
            server.games[game_id] = text


class ClusterCase(SynchronousTestCase):
    def cluster(self, **kwargs: Any) -> Cluster:
        cluster = Cluster(self, **kwargs)
        cluster.start()
        return cluster

    def outcome(self, cluster: Cluster, deferred: Deferred[Outcome]) -> Outcome:
        cluster.flush()
        return self.successResultOf(deferred)


# -- links: active and inactive, redial, heartbeats ---------------------------------


class ActiveInactiveTests(ClusterCase):
    def test_all_connected(self) -> None:
        cluster = self.cluster()
        self.assertEqual(cluster.client.active, [1, 2, 3])
        self.assertEqual(cluster.client.inactive, [])
        for server in cluster.servers.values():
            self.assertEqual(server.count("Status"), 1)
            self.assertEqual(len(server.open_connections), 1)

    def test_before_start_all_inactive(self) -> None:
        cluster = Cluster(self)
        self.assertEqual(cluster.client.active, [])
        self.assertEqual(cluster.client.inactive, [1, 2, 3])

    def test_refused_is_inactive(self) -> None:
        cluster = Cluster(self, down=(2,))
        cluster.client.start()
        settled = cluster.client.settled()
        cluster.flush()
        self.assertEqual(self.successResultOf(settled), [1, 3])
        self.assertEqual(cluster.client.active, [1, 3])
        self.assertEqual(cluster.client.inactive, [2])

    def test_not_active_until_status_answered(self) -> None:
        cluster = Cluster(self)
        cluster[1].script["Status"] = HOLD
        cluster.start()
        self.assertEqual(cluster.client.active, [2, 3])
        cluster[1].release("Status", cluster[1].default("Status"))
        cluster.flush()
        self.assertEqual(cluster.client.active, [1, 2, 3])

    def test_refused_server_becomes_active_when_it_comes_up(self) -> None:
        cluster = self.cluster(down=(2,))
        cluster[2].up = True
        cluster.run(REDIAL[0])
        self.assertEqual(cluster.client.active, [1, 2, 3])
        self.assertEqual(cluster.client.inactive, [])

    def test_disconnected_server_becomes_inactive(self) -> None:
        cluster = self.cluster()
        cluster[3].up = False
        cluster[3].close_connections()
        cluster.flush()
        self.assertEqual(cluster.client.active, [1, 2])
        self.assertEqual(cluster.client.inactive, [3])

    def test_disconnected_server_is_redialled(self) -> None:
        cluster = self.cluster()
        cluster[3].close_connections()
        cluster.flush()
        self.assertEqual(cluster.client.inactive, [3])
        cluster.run(REDIAL[0])
        self.assertEqual(cluster[3].attempts, [0.0, REDIAL[0]])
        self.assertEqual(cluster.client.active, [1, 2, 3])
        self.assertEqual(len(cluster[3].open_connections), 1)
        # The new connection is the one in use.
        before = cluster[3].count("GetGame")
        cluster.client.get_game("g1")
        cluster.flush()
        self.assertEqual(cluster[3].count("GetGame"), before + 1)

    def test_bytes_received_survive_a_reconnect(self) -> None:
        cluster = self.cluster()
        link = cluster.client.links[3]
        received = link.bytes_received
        self.assertGreater(received, 0)
        cluster[3].close_connections()
        cluster.flush()
        self.assertEqual(link.bytes_received, received)
        cluster.run(REDIAL[0])
        self.assertGreater(link.bytes_received, received)

    def test_link_listeners_hear_changes(self) -> None:
        cluster = Cluster(self)
        seen: list[list[int]] = []
        cluster.client.link_listeners.append(lambda client: seen.append(client.active))
        cluster.start()
        self.assertEqual(seen[-1], [1, 2, 3])
        cluster[2].close_connections()
        cluster.flush()
        self.assertEqual(seen[-1], [1, 3])

    def test_stop_closes_links_and_stops_redialling(self) -> None:
        cluster = self.cluster(down=(3,))
        cluster.client.stop()
        cluster.flush()
        self.assertEqual(cluster.client.active, [])
        for server_id in (1, 2):
            self.assertEqual(cluster[server_id].open_connections, [])
        cluster.run(30, step=0.5)
        self.assertEqual([len(s.attempts) for s in cluster.servers.values()], [1, 1, 1])
        self.assertEqual([s.count("Status") for s in cluster.servers.values()], [1, 1, 0])


class RedialScheduleTests(ClusterCase):
    def test_backoff_delays(self) -> None:
        delay = backoff(initial=0.25, cap=5.0, rng=lambda: 0.5)
        self.assertEqual([delay(n) for n in range(1, 8)], REDIAL)
        self.assertEqual(delay(0), 0.25 * 0.75)
        self.assertEqual(delay(1000), 3.75)
        self.assertEqual(backoff(initial=0.25, cap=5.0, rng=lambda: 0.0)(3), 1.0)
        self.assertEqual(backoff(initial=0.25, cap=5.0, rng=lambda: 1.0)(3), 2.0)
        self.assertEqual(backoff(initial=1.0, cap=100.0, factor=3.0, rng=lambda: 1.0)(2), 9.0)

    def intervals(self, attempts: list[float]) -> list[float]:
        return [later - earlier for earlier, later in itertools.pairwise(attempts)]

    def test_delays_grow_by_the_factor_up_to_the_cap(self) -> None:
        cluster = self.cluster(down=(2,))
        cluster.run(sum(REDIAL))
        self.assertEqual(self.intervals(cluster[2].attempts), REDIAL)
        self.assertEqual([len(cluster[i].attempts) for i in (1, 3)], [1, 1])

    def test_delays_follow_the_rng(self) -> None:
        cluster = self.cluster(down=(2,), rng=lambda: 0.0)
        cluster.run(0.25 + 0.5 + 1.0 + 2.0 + 2.5 + 2.5)
        self.assertEqual(self.intervals(cluster[2].attempts), [0.25, 0.5, 1.0, 2.0, 2.5, 2.5])

    def test_pending_redial_is_a_delayed_call(self) -> None:
        cluster = self.cluster(down=(1, 2, 3))
        self.assertEqual(
            sorted(call.getTime() for call in cluster.clock.getDelayedCalls()),
            [REDIAL[0]] * 3,
        )

    def test_schedule_restarts_after_a_connection(self) -> None:
        cluster = self.cluster(down=(2,))
        cluster.run(sum(REDIAL[:4]))  # four failed redials
        cluster[2].up = True
        cluster.run(REDIAL[4])
        self.assertEqual(cluster.client.active, [1, 2, 3])
        connected_at = cluster[2].attempts[-1]
        cluster[2].up = False
        cluster[2].close_connections()
        cluster.flush()
        cluster.run(REDIAL[0] + REDIAL[1])
        self.assertEqual(
            cluster[2].attempts[-3:],
            [connected_at, connected_at + REDIAL[0], connected_at + REDIAL[0] + REDIAL[1]],
        )


class HeartbeatTests(ClusterCase):
    def test_status_every_heartbeat_on_each_link(self) -> None:
        cluster = self.cluster()
        cluster.run(HEARTBEAT - 0.125, step=0.125)
        self.assertEqual([s.count("Status") for s in cluster.servers.values()], [1, 1, 1])
        cluster.advance(0.125)
        self.assertEqual([s.count("Status") for s in cluster.servers.values()], [2, 2, 2])
        cluster.run(2 * HEARTBEAT, step=0.5)
        self.assertEqual([s.count("Status") for s in cluster.servers.values()], [4, 4, 4])

    def test_heartbeat_updates_the_status(self) -> None:
        cluster = self.cluster()
        self.assertEqual(
            cluster.client.links[1].status, ServerStatus(1, True, True, 0, 0, "0" * 64)
        )
        cluster[1].status_clock = 7
        cluster.advance(HEARTBEAT)
        status = cluster.client.links[1].status
        assert status is not None
        self.assertEqual(status.clock, 7)

    def test_missed_heartbeat_drops_the_link(self) -> None:
        cluster = self.cluster()
        cluster[2].script["Status"] = HOLD
        cluster.advance(HEARTBEAT)
        self.assertEqual(cluster[2].count("Status"), 2)
        cluster.advance(TIMEOUT - 0.125)
        self.assertEqual(cluster.client.active, [1, 2, 3])
        cluster.advance(0.125)
        self.assertEqual(cluster.client.active, [1, 3])
        self.assertEqual(cluster.client.inactive, [2])
        self.assertEqual(cluster[2].open_connections, [])

    def test_missed_heartbeat_is_redialled(self) -> None:
        cluster = self.cluster()
        cluster[2].script["Status"] = HOLD
        cluster.advance(HEARTBEAT)
        cluster.advance(TIMEOUT)
        del cluster[2].script["Status"]
        cluster.run(REDIAL[0])
        self.assertEqual(cluster[2].attempts, [0.0, HEARTBEAT + TIMEOUT + REDIAL[0]])
        self.assertEqual(cluster.client.active, [1, 2, 3])
        self.assertEqual(len(cluster[2].open_connections), 1)
        # Heartbeats go on, on the new connection.
        before = cluster[2].count("Status")
        cluster.advance(HEARTBEAT)
        self.assertEqual(cluster[2].count("Status"), before + 1)
        self.assertEqual(cluster.client.active, [1, 2, 3])

    def test_unanswered_first_status_closes_the_connection(self) -> None:
        """A connection whose preparation failed is not left open."""
        cluster = Cluster(self)
        cluster[1].script["Status"] = HOLD
        cluster.start()
        cluster.advance(TIMEOUT)
        self.assertEqual(cluster.client.inactive, [1])
        self.assertEqual(cluster[1].open_connections, [])
        del cluster[1].script["Status"]
        cluster.run(REDIAL[0])
        self.assertEqual(cluster.client.active, [1, 2, 3])
        self.assertEqual(len(cluster[1].open_connections), 1)

    def test_statuses(self) -> None:
        cluster = self.cluster(down=(3,))
        cluster[2].status_clock = 4
        cluster[2].serving = False
        statuses = self.successResultOf(self.flushed(cluster, cluster.client.statuses()))
        self.assertEqual(statuses[0], ServerStatus(1, True, True, 0, 0, "0" * 64))
        self.assertEqual(statuses[1], ServerStatus(2, True, False, 4, 0, "0" * 64))
        self.assertEqual(statuses[2].server_id, 3)
        self.assertFalse(statuses[2].reachable)
        self.assertTrue(statuses[2].error)

    def flushed(self, cluster: Cluster, deferred: Deferred[Any]) -> Deferred[Any]:
        cluster.flush()
        return deferred


# -- requests -------------------------------------------------------------------------


class RequestTests(ClusterCase):
    def test_no_servers(self) -> None:
        cluster = self.cluster(down=(1, 2, 3))
        self.failureResultOf(cluster.client.get_game("g1"), NoServers)
        self.failureResultOf(cluster.client.list_games(), NoServers)

    def test_all_agree(self) -> None:
        cluster = self.cluster()
        cluster.all_hold("g1", document(3, "44"))
        outcome = self.outcome(cluster, cluster.client.get_game("g1"))
        self.assertFalse(outcome.provisional)
        self.assertEqual(outcome.document, document(3, "44"))
        self.assertEqual(outcome.game_document().version, 3)
        self.assertEqual(outcome.command, "GetGame")
        for server in cluster.servers.values():
            self.assertEqual(server.called("GetGame"), [{"game_id": "g1"}])

    def test_decided_as_soon_as_two_agree(self) -> None:
        cluster = self.cluster()
        cluster.hold_everywhere("MakeMove")
        result = cluster.client.make_move("g1", 3, "4", TOKEN)
        cluster.flush()
        self.assertEqual(cluster[1].called("MakeMove"), [
            {"game_id": "g1", "version": 3, "move": "4", "token": TOKEN, "at": 0}
        ])  # fmt: skip
        self.assertNoResult(result)
        cluster[3].release("MakeMove", {"game": document(4, "4")})
        cluster.flush()
        self.assertNoResult(result)
        cluster[1].release("MakeMove", {"game": document(4, "4")})
        outcome = self.outcome(cluster, result)
        self.assertFalse(outcome.provisional)
        self.assertEqual(outcome.agreed, (3, 1))
        self.assertEqual(outcome.pending, (2,))
        self.assertEqual(outcome.document, document(4, "4"))

    def test_provisional_when_none_agree(self) -> None:
        cluster = self.cluster()
        cluster.hold_everywhere("GetGame")
        result = cluster.client.get_game("g1")
        cluster.flush()
        cluster[2].release("GetGame", {"game": document(4, "4")})
        cluster[3].release("GetGame", {"game": document(5, "44")})
        cluster.flush()
        self.assertNoResult(result)
        cluster[1].release("GetGame", {"game": document(3)})
        outcome = self.outcome(cluster, result)
        self.assertTrue(outcome.provisional)
        self.assertEqual(outcome.document, document(4, "4"))
        self.assertEqual(outcome.agreed, (2,))
        self.assertEqual(outcome.differed, (3, 1))
        self.assertEqual(outcome.failed, ())
        self.assertEqual(outcome.pending, ())

    def test_error_majority(self) -> None:
        cluster = self.cluster()
        cluster[1].script["MakeMove"] = wire.StaleVersion.at(5)
        cluster[2].script["MakeMove"] = {"game": document(4, "4")}
        cluster[3].script["MakeMove"] = wire.StaleVersion.at(6)
        outcome = self.outcome(cluster, cluster.client.make_move("g1", 3, "4", TOKEN))
        self.assertFalse(outcome.provisional)
        self.assertIsInstance(outcome.error, wire.StaleVersion)
        self.assertEqual(outcome.agreed, (1, 3))
        self.assertEqual(outcome.differed, (2,))
        error = self.assertRaises(wire.StaleVersion, lambda: outcome.response)
        self.assertEqual(error.description, "current version 5")

    def test_unanswered_server_times_out_and_never_votes(self) -> None:
        cluster = self.cluster()
        cluster[1].games["g1"] = document(3)
        cluster[2].games["g1"] = document(4, "4")
        cluster[3].script["GetGame"] = HOLD
        result = cluster.client.get_game("g1")
        cluster.flush()
        cluster.advance(TIMEOUT - 0.125)
        self.assertNoResult(result)
        cluster.advance(0.125)
        outcome = self.successResultOf(result)
        self.assertTrue(outcome.provisional)
        self.assertEqual(outcome.document, document(3))
        self.assertEqual(outcome.agreed, (1,))
        self.assertEqual(outcome.differed, (2,))
        self.assertEqual(outcome.failed, (3,))
        # No majority among the answers: both answering servers are synced.
        self.assertEqual([s.count("SyncGame") for s in cluster.servers.values()], [1, 1, 0])
        # A late answer changes nothing.
        cluster[3].release("GetGame", {"game": document(4, "4")})
        cluster.flush()
        self.assertEqual([s.count("SyncGame") for s in cluster.servers.values()], [1, 1, 0])

    def test_two_timeouts_are_not_agreement(self) -> None:
        cluster = self.cluster()
        cluster[1].games["g1"] = document(3)
        cluster[2].script["GetGame"] = HOLD
        cluster[3].script["GetGame"] = HOLD
        result = cluster.client.get_game("g1")
        cluster.flush()
        cluster.advance(TIMEOUT)
        outcome = self.successResultOf(result)
        self.assertTrue(outcome.provisional)
        self.assertEqual(outcome.document, document(3))
        self.assertEqual(outcome.agreed, (1,))
        self.assertEqual(outcome.failed, (2, 3))
        # What a person reads: the command and the limit, not an exception's args.
        self.assertEqual(
            [answer.value for answer in outcome.decision.answers if answer.server_id != 1],
            [f"TimeoutError: no answer to GetGame within {TIMEOUT:g} s"] * 2,
        )

    def test_every_server_times_out(self) -> None:
        cluster = self.cluster()
        cluster.hold_everywhere("GetGame")
        result = cluster.client.get_game("g1")
        cluster.flush()
        cluster.advance(TIMEOUT)
        outcome = self.successResultOf(result)
        self.assertIsNone(outcome.decision.chosen)
        self.assertEqual(outcome.failed, (1, 2, 3))
        self.assertIsNone(outcome.error)
        self.assertRaises(NoAnswer, lambda: outcome.response)

    def test_not_serving_is_not_a_vote(self) -> None:
        cluster = self.cluster()
        cluster.all_hold("g1", document(2))
        cluster[1].serving = False
        cluster[3].games["g1"] = document(3, "4")
        outcome = self.outcome(cluster, cluster.client.get_game("g1"))
        self.assertTrue(outcome.provisional)
        self.assertEqual(outcome.document, document(2))
        self.assertEqual(outcome.agreed, (2,))
        self.assertEqual(outcome.differed, (3,))
        self.assertEqual(outcome.failed, (1,))

    def test_only_active_servers_are_asked(self) -> None:
        cluster = self.cluster(down=(3,))
        cluster.all_hold("g1", document(2))
        outcome = self.outcome(cluster, cluster.client.get_game("g1"))
        self.assertFalse(outcome.provisional)
        self.assertEqual(outcome.agreed, (1, 2))
        self.assertEqual(cluster[3].calls, [])

    def test_two_servers_that_differ(self) -> None:
        cluster = self.cluster(down=(3,))
        cluster[1].games["g1"] = document(2)
        cluster[2].games["g1"] = document(3, "4")
        outcome = self.outcome(cluster, cluster.client.get_game("g1"))
        self.assertTrue(outcome.provisional)
        self.assertEqual(outcome.document, document(2))

    def test_connection_lost_during_a_request_counts_as_failed(self) -> None:
        cluster = self.cluster()
        cluster.all_hold("g1", document(2))
        cluster[1].games["g1"] = document(3, "4")
        cluster[3].script["GetGame"] = HOLD
        result = cluster.client.get_game("g1")
        cluster.flush()
        self.assertNoResult(result)
        cluster[3].close_connections()
        outcome = self.outcome(cluster, result)
        self.assertTrue(outcome.provisional)
        self.assertEqual(outcome.failed, (3,))
        self.assertEqual(outcome.document, document(3, "4"))

    def test_create_game_arguments(self) -> None:
        cluster = self.cluster()
        for server in cluster.servers.values():
            server.script["CreateGame"] = {"game": document(1)}
        outcome = self.outcome(
            cluster, cluster.client.create_game("g1", "connect4", "alice", TOKEN, seat=1)
        )
        self.assertFalse(outcome.provisional)
        self.assertEqual(
            cluster[2].called("CreateGame"),
            [
                {
                    "game_id": "g1",
                    "kind": "connect4",
                    "player": "alice",
                    "token": TOKEN,
                    "seat": 1,
                    "at": 0,
                }
            ],
        )

    def test_seat_commands(self) -> None:
        cluster = self.cluster()
        seat = {"game_id": "g1", "version": 4, "token": TOKEN, "at": 0}
        calls = [
            ("JoinGame", cluster.client.join_game("g1", 4, "bobby", TOKEN), {"player": "bobby"}),
            ("MakeMove", cluster.client.make_move("g1", 4, "7", TOKEN), {"move": "7"}),
            ("Resign", cluster.client.resign("g1", 4, TOKEN), {}),
            ("OfferDraw", cluster.client.offer_draw("g1", 4, TOKEN), {}),
            ("AcceptDraw", cluster.client.accept_draw("g1", 4, TOKEN), {}),
            ("ClaimTimeout", cluster.client.claim_timeout("g1", 4, TOKEN), {}),
        ]
        cluster.flush()
        for name, result, extra in calls:
            outcome = self.successResultOf(result)
            self.assertEqual(outcome.command, name)
            self.assertIsInstance(outcome.error, wire.UnknownGame)
            self.assertFalse(outcome.provisional)
            for server in cluster.servers.values():
                self.assertEqual(server.called(name), [{**seat, **extra}])


class ServerTimeTests(ClusterCase):
    """The offset to the servers' clocks (``Status.now``) and the ``at`` stamps."""

    EPOCHS = {1: 1_700_000_000_000, 2: 1_700_000_000_400, 3: 1_700_000_002_000}

    def timed_cluster(self, **kwargs: Any) -> Cluster:
        cluster = Cluster(self, **kwargs)
        for server_id, epoch in self.EPOCHS.items():
            cluster[server_id].epoch_ms = epoch
        cluster.clock.advance(1000)
        cluster.start()
        return cluster

    def test_local_clock_before_any_status(self) -> None:
        cluster = Cluster(self)
        cluster.clock.advance(12.5)
        self.assertEqual(cluster.client.clock_offset, 0)
        self.assertEqual(cluster.client.server_now(), 12_500)

    def test_version_1_servers_leave_the_local_clock(self) -> None:
        cluster = self.cluster()
        cluster.advance(2)
        self.assertEqual(cluster.client.server_now(), 2000)

    def test_median_of_the_three_first_statuses(self) -> None:
        cluster = self.timed_cluster()
        self.assertEqual(cluster.client.clock_offset, self.EPOCHS[2])
        self.assertEqual(cluster.client.server_now(), cluster[2].now_ms())
        cluster.clock.advance(0.25)
        self.assertEqual(cluster.client.server_now(), cluster[2].now_ms())

    def test_median_of_two(self) -> None:
        cluster = self.timed_cluster(down=(3,))
        self.assertEqual(cluster.client.active, [1, 2])
        self.assertEqual(cluster.client.clock_offset, 1_700_000_000_200)

    def test_half_the_round_trip(self) -> None:
        cluster = Cluster(self)
        cluster.hold_everywhere("Status")
        cluster.start()
        cluster.clock.advance(0.3)
        for server_id, epoch in self.EPOCHS.items():
            # Read halfway through the 300 ms round trip, as the estimate assumes.
            cluster[server_id].release(
                "Status",
                {"server_id": server_id, "clock": 0, "games": 0, "serving": True,
                 "protocol": 2, "digest": "0" * 64, "now": epoch + 150},
            )  # fmt: skip
        cluster.flush()
        self.assertEqual(cluster.client.active, [1, 2, 3])
        self.assertEqual(cluster.client.clock_offset, self.EPOCHS[2])

    def test_refreshed_with_every_heartbeat(self) -> None:
        cluster = self.timed_cluster()
        for server in cluster.servers.values():
            assert server.epoch_ms is not None
            server.epoch_ms += 5_000
        cluster.advance(HEARTBEAT)
        self.assertEqual(cluster.client.clock_offset, self.EPOCHS[2] + 5_000)

    def test_a_server_that_goes_down_keeps_its_last_estimate(self) -> None:
        cluster = self.timed_cluster()
        cluster[1].up = False
        cluster[1].close_connections()
        cluster.flush()
        self.assertEqual(cluster.client.active, [2, 3])
        self.assertEqual(cluster.client.clock_offset, self.EPOCHS[2])

    def test_every_change_is_stamped_with_server_now(self) -> None:
        cluster = self.timed_cluster()
        names = ["CreateGame", "JoinGame", "MakeMove", "Resign", "OfferDraw", "AcceptDraw"]
        for server in cluster.servers.values():
            for name in [*names, "ClaimTimeout"]:
                server.script[name] = {"game": document(2)}
        cluster.clock.advance(3.2)
        at = cluster[2].now_ms()
        cluster.client.create_game("g1", "connect4", "alice", TOKEN)
        cluster.client.join_game("g1", 1, "bobby", TOKEN)
        cluster.client.make_move("g1", 2, "4", TOKEN)
        cluster.client.resign("g1", 3, TOKEN)
        cluster.client.offer_draw("g1", 3, TOKEN)
        cluster.client.accept_draw("g1", 3, TOKEN)
        cluster.client.claim_timeout("g1", 3, TOKEN)
        cluster.flush()
        for name in [*names, "ClaimTimeout"]:
            self.assertEqual([call["at"] for call in cluster[1].called(name)], [at], name)

    def test_reads_are_not_stamped(self) -> None:
        cluster = self.timed_cluster()
        cluster.client.get_game("g1")
        cluster.client.sync_game("g1")
        cluster.flush()
        self.assertEqual(cluster[1].called("GetGame"), [{"game_id": "g1"}])
        self.assertEqual(cluster[1].called("SyncGame"), [{"game_id": "g1"}])

    def test_create_game_sends_the_clock_when_timed(self) -> None:
        cluster = self.cluster()
        for server in cluster.servers.values():
            server.script["CreateGame"] = {"game": document(1)}
        cluster.client.create_game("g1", "connect4", "alice", TOKEN, clock="live:300+5")
        cluster.client.create_game("g2", "connect4", "alice", TOKEN, clock=None)
        cluster.client.create_game("g3", "connect4", "alice", TOKEN, clock="")
        cluster.flush()
        clocks = {call["game_id"]: call.get("clock") for call in cluster[3].called("CreateGame")}
        self.assertEqual(clocks, {"g1": "live:300+5", "g2": None, "g3": None})

    def test_statuses_refresh_the_estimates(self) -> None:
        cluster = self.timed_cluster()
        cluster[2].epoch_ms = self.EPOCHS[2] + 700
        self.successResultOf(self.flushed(cluster, cluster.client.statuses()))
        self.assertEqual(cluster.client.clock_offset, self.EPOCHS[2] + 700)
        cluster[1].epoch_ms = self.EPOCHS[2] + 900
        self.successResultOf(self.flushed(cluster, cluster.client.statuses()))
        self.assertEqual(cluster.client.clock_offset, self.EPOCHS[2] + 900)

    def flushed(self, cluster: Cluster, deferred: Deferred[Any]) -> Deferred[Any]:
        cluster.flush()
        return deferred


class DefaultEndpointTests(SynchronousTestCase):
    def test_tcp_to_each_server(self) -> None:
        reactor = MemoryReactorClock()
        client = ReplicatedClient(default_config(), reactor, rng=lambda: 0.5)
        client.start()
        reactor.advance(0)
        self.assertEqual(
            [(host, port, timeout) for host, port, _, timeout, _ in reactor.tcpClients],
            [("127.0.0.1", 7301, 5.0), ("127.0.0.1", 7302, 5.0), ("127.0.0.1", 7303, 5.0)],
        )
        self.assertEqual(client.inactive, [1, 2, 3])


class ReadRepairTests(ClusterCase):
    def test_minority_is_synced(self) -> None:
        cluster = self.cluster()
        cluster.all_hold("g1", document(4, "4"))
        cluster[2].games["g1"] = document(3)
        outcome = self.outcome(cluster, cluster.client.get_game("g1"))
        self.assertEqual(outcome.differed, (2,))
        self.assertEqual([s.count("SyncGame") for s in cluster.servers.values()], [0, 1, 0])
        self.assertEqual(cluster[2].called("SyncGame"), [{"game_id": "g1"}])

    def test_error_minority_is_synced(self) -> None:
        cluster = self.cluster()
        cluster[1].script["MakeMove"] = {"game": document(4, "4")}
        cluster[2].script["MakeMove"] = {"game": document(4, "4")}
        cluster[3].script["MakeMove"] = wire.Behind()
        self.outcome(cluster, cluster.client.make_move("g1", 3, "4", TOKEN))
        self.assertEqual([s.count("SyncGame") for s in cluster.servers.values()], [0, 0, 1])

    def test_not_while_agreement(self) -> None:
        cluster = self.cluster()
        cluster.all_hold("g1", document(4, "4"))
        self.outcome(cluster, cluster.client.get_game("g1"))
        self.assertEqual([s.count("SyncGame") for s in cluster.servers.values()], [0, 0, 0])

    def test_only_after_every_answer(self) -> None:
        cluster = self.cluster()
        cluster.all_hold("g1", document(4, "4"))
        cluster[3].script["GetGame"] = HOLD
        result = cluster.client.get_game("g1")
        cluster.flush()
        self.successResultOf(result)
        self.assertEqual([s.count("SyncGame") for s in cluster.servers.values()], [0, 0, 0])
        cluster[3].release("GetGame", {"game": document(3)})
        cluster.flush()
        self.assertEqual([s.count("SyncGame") for s in cluster.servers.values()], [0, 0, 1])

    def test_late_agreeing_answer_is_not_synced(self) -> None:
        cluster = self.cluster()
        cluster.all_hold("g1", document(4, "4"))
        cluster[3].script["GetGame"] = HOLD
        cluster.client.get_game("g1")
        cluster.flush()
        cluster[3].release("GetGame", {"game": document(4, "4")})
        cluster.flush()
        self.assertEqual([s.count("SyncGame") for s in cluster.servers.values()], [0, 0, 0])

    def test_no_majority_syncs_every_answering_server(self) -> None:
        cluster = self.cluster()
        cluster[1].games["g1"] = document(2)
        cluster[2].games["g1"] = document(3, "4")
        cluster[3].games["g1"] = document(4, "44")
        self.outcome(cluster, cluster.client.get_game("g1"))
        self.assertEqual([s.count("SyncGame") for s in cluster.servers.values()], [1, 1, 1])

    def test_no_majority_skips_failed_servers(self) -> None:
        cluster = self.cluster()
        cluster[1].games["g1"] = document(2)
        cluster[2].games["g1"] = document(3, "4")
        cluster[3].script["GetGame"] = HOLD
        cluster.client.get_game("g1")
        cluster.flush()
        cluster.advance(TIMEOUT)
        self.assertEqual([s.count("SyncGame") for s in cluster.servers.values()], [1, 1, 0])

    def test_not_serving_is_not_synced(self) -> None:
        cluster = self.cluster()
        cluster.all_hold("g1", document(2))
        cluster[3].serving = False
        self.outcome(cluster, cluster.client.get_game("g1"))
        self.assertEqual([s.count("SyncGame") for s in cluster.servers.values()], [0, 0, 0])

    def test_not_for_commands_without_a_game(self) -> None:
        cluster = self.cluster()
        outcome = self.outcome(cluster, cluster.client.request(p.Status))
        self.assertTrue(outcome.provisional)  # every server reports its own id
        self.assertEqual(outcome.differed, (2, 3))
        self.assertEqual([s.count("SyncGame") for s in cluster.servers.values()], [0, 0, 0])

    def test_not_for_sync_game_itself(self) -> None:
        cluster = self.cluster()
        cluster[1].games["g1"] = document(2)
        cluster[2].games["g1"] = document(3, "4")
        cluster[3].games["g1"] = document(2)
        self.outcome(cluster, cluster.client.sync_game("g1"))
        self.assertEqual([s.count("SyncGame") for s in cluster.servers.values()], [1, 1, 1])


class ListGamesTests(ClusterCase):
    def test_pages_are_merged(self) -> None:
        cluster = self.cluster()
        everything = [summary(f"g{n}", 1) for n in range(1, 6)]
        cluster[1].script["ListGames"] = {"games": everything[:3], "next": "g3"}
        cluster[2].script["ListGames"] = {"games": everything, "next": ""}
        cluster[3].script["ListGames"] = {"games": [*everything[:2], summary("g3", 2)], "next": ""}
        listing = self.successResultOf(self.listed(cluster, limit=3, after="g0"))
        self.assertIsInstance(listing, Listing)
        self.assertEqual([g.game.game_id for g in listing.games], ["g1", "g2", "g3"])
        self.assertEqual([g.provisional for g in listing.games], [False, False, False])
        self.assertEqual(listing.games[2].servers, (1, 2))
        self.assertEqual(listing.next, "g3")
        self.assertEqual(
            cluster[1].called("ListGames"),
            [{"status": "", "kind": "", "player": "", "limit": 3, "after": "g0"}],
        )

    def test_failing_servers_are_left_out(self) -> None:
        cluster = self.cluster()
        cluster[1].script["ListGames"] = wire.Internal()
        cluster[2].script["ListGames"] = {"games": [summary("a", 2)], "next": ""}
        cluster[3].script["ListGames"] = HOLD
        result = self.listed(cluster)
        cluster.advance(TIMEOUT)
        listing = self.successResultOf(result)
        (game,) = listing.games
        self.assertTrue(game.provisional)
        self.assertEqual(game.servers, (2,))

    def test_nobody_answers(self) -> None:
        cluster = self.cluster()
        for server in cluster.servers.values():
            server.script["ListGames"] = wire.Internal()
        self.failureResultOf(self.listed(cluster), NoAnswer)

    def test_ask_each(self) -> None:
        cluster = self.cluster(down=(3,))
        cluster[1].games["g1"] = document(1)
        answers = self.successResultOf(
            self.flushed(cluster, cluster.client.ask_each(p.GetGame, game_id="g1"))
        )
        self.assertEqual(set(answers), {1, 2})
        self.assertEqual(answers[1], {"game": document(1)})
        self.assertIsInstance(answers[2], wire.UnknownGame)

    def listed(self, cluster: Cluster, **arguments: Any) -> Deferred[Listing]:
        return self.flushed(cluster, cluster.client.list_games(**arguments))

    def flushed(self, cluster: Cluster, deferred: Deferred[Any]) -> Deferred[Any]:
        cluster.flush()
        return deferred


# -- watching -------------------------------------------------------------------------


class WatchTests(ClusterCase):
    def watched(self, cluster: Cluster, game_id: str = "g1") -> None:
        cluster.client.watch(game_id, cluster.listen)
        cluster.flush()

    def test_watch_is_sent_to_every_active_server(self) -> None:
        cluster = self.cluster(down=(3,))
        cluster.all_hold("g1", document(2))
        self.watched(cluster)
        self.assertEqual([s.called("Watch") for s in cluster.servers.values()], [
            [{"game_id": "g1"}], [{"game_id": "g1"}], []
        ])  # fmt: skip
        shown = cluster.updates[-1]
        self.assertEqual(shown.document, document(2))
        self.assertFalse(shown.provisional)
        self.assertEqual(shown.agreed, (1, 2))
        self.assertEqual(shown.versions, {1: 2, 2: 2})

    def test_majority_shown_only_when_two_hold_it(self) -> None:
        cluster = self.cluster()
        cluster.hold_everywhere("Watch")
        self.watched(cluster)
        self.assertEqual(cluster.updates, [])
        cluster[3].release("Watch", {"game": document(2)})
        cluster.flush()
        cluster[1].release("Watch", {"game": document(3, "4")})
        cluster.flush()
        cluster[2].release("Watch", {"game": document(3, "4")})
        cluster.flush()
        self.assertEqual(
            [(u.game_document().version, u.provisional, u.agreed) for u in cluster.updates],
            [(2, True, (3,)), (3, True, (1,)), (3, False, (1, 2))],
        )
        self.assertEqual(cluster.updates[-1].versions, {1: 3, 2: 3, 3: 2})

    def test_minority_document_hidden_by_a_majority(self) -> None:
        cluster = self.cluster()
        cluster.all_hold("g1", document(3, "4"))
        cluster[3].games["g1"] = document(4, "44")
        self.watched(cluster)
        shown = cluster.updates[-1]
        self.assertEqual(shown.document, document(3, "4"))
        self.assertFalse(shown.provisional)
        self.assertEqual(shown.agreed, (1, 2))
        for update in cluster.updates:
            if update.document == document(4, "44"):
                self.assertTrue(update.provisional)

    def test_game_changed_updates_the_view(self) -> None:
        cluster = self.cluster()
        cluster.all_hold("g1", document(3, "4"))
        self.watched(cluster)
        cluster[1].push(document(4, "44"))
        cluster.flush()
        self.assertEqual(cluster.updates[-1].document, document(3, "4"))
        self.assertEqual(cluster.updates[-1].agreed, (2, 3))
        cluster[2].push(document(4, "44"))
        cluster.flush()
        shown = cluster.updates[-1]
        self.assertEqual(shown.document, document(4, "44"))
        self.assertFalse(shown.provisional)
        self.assertEqual(shown.agreed, (1, 2))
        self.assertEqual(shown.versions, {1: 4, 2: 4, 3: 3})

    def test_one_server_going_back_does_not_hide_the_majority(self) -> None:
        cluster = self.cluster()
        cluster.all_hold("g1", document(3, "4"))
        self.watched(cluster)
        cluster[1].push(document(2))
        cluster.flush()
        shown = cluster.updates[-1]
        self.assertEqual(shown.document, document(3, "4"))
        self.assertFalse(shown.provisional)
        self.assertLessEqual({2, 3}, set(shown.agreed))

    def test_version_falls_after_fork_resolution(self) -> None:
        """PROTOCOL.md: a server's game can fall back to a shorter branch when
        a fork is resolved, and GameChanged reports "changes adopted from
        peers".  The watch must then show what that server holds now."""
        cluster = self.cluster()
        cluster[1].games["g1"] = document(5, "44444")  # provisional branch, only on 1
        cluster[2].games["g1"] = document(4, "4445")
        cluster[3].games["g1"] = document(4, "4445")
        self.watched(cluster)
        self.assertEqual(cluster.updates[-1].document, document(4, "4445"))
        # Server 1 adopts the acknowledged, shorter branch.
        cluster[1].push(document(4, "4445"))
        cluster.flush()
        # Otherwise, once server 3 is lost, the watch would show server 1's
        # undone version 5 (provisional) instead of the document 1 and 2 hold.
        self.assertEqual(cluster.client.watches["g1"].documents[1], (4, document(4, "4445")))
        shown = cluster.updates[-1]
        self.assertEqual(shown.versions, {1: 4, 2: 4, 3: 4})
        self.assertEqual(shown.agreed, (1, 2, 3))

    def test_push_for_another_game_is_ignored(self) -> None:
        cluster = self.cluster()
        cluster.all_hold("g1", document(3, "4"))
        self.watched(cluster)
        count = len(cluster.updates)
        cluster[1].push(document(7, game_id="other"))
        cluster[1].push('{"not": "a game"}')
        cluster.flush()
        self.assertEqual(len(cluster.updates), count)

    def test_lost_server_is_dropped_from_the_view(self) -> None:
        cluster = self.cluster()
        cluster.all_hold("g1", document(3, "4"))
        cluster[3].games["g1"] = document(2)
        self.watched(cluster)
        cluster[2].up = False
        cluster[2].close_connections()
        cluster.flush()
        shown = cluster.updates[-1]
        self.assertEqual(shown.versions, {1: 3, 3: 2})
        self.assertTrue(shown.provisional)
        self.assertEqual(shown.document, document(3, "4"))
        self.assertEqual(shown.agreed, (1,))

    def test_every_server_lost(self) -> None:
        cluster = self.cluster()
        cluster.all_hold("g1", document(3, "4"))
        self.watched(cluster)
        watch = cluster.client.watches["g1"]
        for server in cluster.servers.values():
            server.up = False
            server.close_connections()
        cluster.flush()
        self.assertEqual(cluster.updates[-1].versions, {3: 3})
        self.assertTrue(cluster.updates[-1].provisional)
        self.assertIsNone(watch.current())

    def test_rewatch_after_reconnect(self) -> None:
        cluster = self.cluster()
        cluster.all_hold("g1", document(3, "4"))
        cluster.all_hold("g2", document(1, game_id="g2"))
        self.watched(cluster, "g1")
        self.watched(cluster, "g2")
        cluster[2].close_connections()
        cluster.flush()
        cluster.run(REDIAL[0])
        self.assertEqual(
            [a["game_id"] for a in cluster[2].called("Watch")], ["g1", "g2", "g1", "g2"]
        )
        self.assertEqual([len(s.called("Watch")) for s in (cluster[1], cluster[3])], [2, 2])
        self.assertEqual(cluster.client.watches["g1"].shown.versions, {1: 3, 2: 3, 3: 3})
        # Pushes on the new connection reach the watch.
        cluster[2].push(document(4, "44"))
        cluster[3].push(document(4, "44"))
        cluster.flush()
        self.assertEqual(cluster.client.watches["g1"].shown.document, document(4, "44"))

    def test_watch_sent_when_a_server_first_connects(self) -> None:
        cluster = self.cluster(down=(3,))
        cluster.all_hold("g1", document(3, "4"))
        self.watched(cluster)
        cluster[3].up = True
        cluster.run(REDIAL[0])
        self.assertEqual(cluster[3].called("Watch"), [{"game_id": "g1"}])
        self.assertEqual(cluster.updates[-1].versions, {1: 3, 2: 3, 3: 3})

    def test_refused_watch_is_retried_once_serving(self) -> None:
        cluster = Cluster(self)
        cluster[3].serving = False
        cluster.start()
        cluster.all_hold("g1", document(3, "4"))
        self.watched(cluster)
        self.assertEqual(cluster[3].count("Watch"), 1)
        self.assertEqual(cluster.updates[-1].versions, {1: 3, 2: 3})
        # Still not serving at the next heartbeat: no retry.
        cluster.advance(HEARTBEAT)
        self.assertEqual(cluster[3].count("Watch"), 1)
        cluster[3].serving = True
        cluster.advance(HEARTBEAT)
        self.assertEqual(cluster[3].count("Watch"), 2)
        self.assertEqual(cluster.updates[-1].versions, {1: 3, 2: 3, 3: 3})
        # Once registered, later heartbeats do not send it again.
        cluster.advance(HEARTBEAT)
        self.assertEqual(cluster[3].count("Watch"), 2)

    def test_refused_watch_is_retried_after_read_repair(self) -> None:
        cluster = self.cluster()
        cluster[1].games["g1"] = document(3, "4")
        cluster[2].games["g1"] = document(3, "4")
        self.watched(cluster)
        self.assertEqual(cluster[3].count("Watch"), 1)  # UNKNOWN_GAME
        # Server 3 answers GetGame from before its repair, and learns the game in SyncGame.
        cluster[3].script["GetGame"] = wire.UnknownGame()
        cluster[3].games["g1"] = document(3, "4")
        self.outcome(cluster, cluster.client.get_game("g1"))
        self.assertEqual(cluster[3].count("SyncGame"), 1)
        self.assertEqual(cluster[3].count("Watch"), 2)
        self.assertEqual(cluster.updates[-1].versions, {1: 3, 2: 3, 3: 3})

    def test_read_repair_answer_updates_the_view(self) -> None:
        cluster = self.cluster()
        cluster.all_hold("g1", document(3, "4"))
        cluster[3].games["g1"] = document(2)
        self.watched(cluster)
        self.assertEqual(cluster.updates[-1].versions, {1: 3, 2: 3, 3: 2})
        cluster[3].script["GetGame"] = {"game": document(2)}
        cluster[3].games["g1"] = document(3, "4")  # what SyncGame answers
        self.outcome(cluster, cluster.client.get_game("g1"))
        self.assertEqual(cluster[3].count("SyncGame"), 1)
        self.assertEqual(cluster.updates[-1].versions, {1: 3, 2: 3, 3: 3})
        self.assertEqual(cluster.updates[-1].agreed, (1, 2, 3))

    def test_watch_twice_replaces_the_listener(self) -> None:
        cluster = self.cluster()
        cluster.all_hold("g1", document(3, "4"))
        first = cluster.client.watch("g1", cluster.listen)
        cluster.flush()
        other: list[WatchUpdate] = []
        second = cluster.client.watch("g1", other.append)
        cluster.flush()
        self.assertIs(first, second)
        self.assertEqual([s.count("Watch") for s in cluster.servers.values()], [1, 1, 1])
        cluster[1].push(document(4, "44"))
        cluster[2].push(document(4, "44"))
        cluster.flush()
        self.assertEqual(other[-1].document, document(4, "44"))

    def test_unwatch(self) -> None:
        cluster = self.cluster(down=(3,))
        cluster.all_hold("g1", document(3, "4"))
        self.watched(cluster)
        cluster.client.unwatch("g1")
        cluster.flush()
        self.assertEqual([s.called("Unwatch") for s in cluster.servers.values()], [
            [{"game_id": "g1"}], [{"game_id": "g1"}], []
        ])  # fmt: skip
        self.assertNotIn("g1", cluster.client.watches)
        count = len(cluster.updates)
        cluster[1].push(document(4, "44"))
        cluster[2].push(document(4, "44"))
        cluster.flush()
        self.assertEqual(len(cluster.updates), count)
        # Not re-watched when a server connects later.
        cluster[3].up = True
        cluster.run(REDIAL[0])
        self.assertEqual(cluster[3].count("Watch"), 0)

    def test_unwatch_of_an_unknown_game_sends_nothing(self) -> None:
        cluster = self.cluster()
        cluster.client.unwatch("nothing")
        cluster.flush()
        self.assertEqual([s.count("Unwatch") for s in cluster.servers.values()], [0, 0, 0])


class OneTimerPerRequestTests(ClusterCase):
    """A request to three servers keeps one timeout timer, cancelled once all answered."""

    def test_one_timer_cancelled_when_all_answered(self) -> None:
        cluster = self.cluster()
        cluster.all_hold("g1", document(2))
        before = len(cluster.clock.getDelayedCalls())
        result = cluster.client.get_game("g1")
        self.assertEqual(len(cluster.clock.getDelayedCalls()), before + 1)
        outcome = self.outcome(cluster, result)
        self.assertEqual(outcome.agreed, (1, 2))  # decided by the first two
        self.assertEqual(len(cluster.clock.getDelayedCalls()), before)  # all three answered

    def test_expiry_fails_only_the_servers_still_silent(self) -> None:
        cluster = self.cluster()
        cluster.all_hold("g1", document(2))
        cluster[3].script["GetGame"] = HOLD
        result = cluster.client.get_game("g1")
        cluster.flush()
        outcome = self.successResultOf(result)  # 1 and 2 agreed; 3 still pending
        self.assertEqual(outcome.pending, (3,))
        cluster.advance(TIMEOUT)
        self.assertEqual(len(cluster.clock.getDelayedCalls()), len(cluster.client.links))
        # The late answer is ignored (the call was cancelled), and nothing breaks.
        cluster[3].release("GetGame", {"game": document(2)})
        cluster.flush()
