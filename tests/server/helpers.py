"""An in-memory replgame server for connection-level tests.

:class:`ServerHarness` builds the real stack (sqlite storage in a temporary
directory, group commit, replica, node, factory) on a :class:`Clock`, with
no peers (``links={}``: a catch-up finds nothing, at once).  Connections
are real AMP conversations over :mod:`twisted.test.iosim` transports; the
pumps have their own clock, so only :meth:`ServerHarness.settle` (or an
explicit ``harness.clock.advance(0)``) runs the group commit.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from typing import Any

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.protocols import amp
from twisted.test.iosim import FakeAddress, FakeTransport, IOPump, connect
from twisted.trial.unittest import SynchronousTestCase

from game import errors as wire
from game import protocol as p
from game.config import ClusterConfig, default_config
from game.rules import Position, new_game
from game.server.commit import GroupCommitter
from game.server.connection import ServerFactory, ServerProtocol
from game.server.gamelog import JOIN, MOVE, Command, token_hash
from game.server.locators import ClientLocator
from game.server.node import ServerNode
from game.server.peers import proof
from game.server.replica import Replica
from game.server.storage import Storage

SECRET = "connection-test-cluster-secret"
WRONG_SECRET = "not-the-cluster-secret"
TOKEN_A = "alice-token-0123456789"
TOKEN_B = "bobby-token-0123456789"
TOKEN_C = "carol-token-0123456789"


def make_config(**tuning: Any) -> ClusterConfig:
    """The built-in cluster with our secret and ``tuning`` overrides."""
    config = default_config()
    return attrs.evolve(config, secret=SECRET, tuning=attrs.evolve(config.tuning, **tuning))


class RecordingClient(amp.AMP):
    """A plain AMP client that answers GameChanged and keeps every byte it got."""

    def __init__(self) -> None:
        super().__init__()
        self.changes: list[str] = []
        self.received = bytearray()

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        super().dataReceived(data)

    @p.GameChanged.responder
    def game_changed(self, game: str) -> dict[str, Any]:
        self.changes.append(game)
        return {}


def _detached(request: Deferred[Any]) -> Deferred[Any]:
    """A Deferred that takes over ``request``'s result.

    AMP adds its own last errback (log, drop the connection) to a request's
    Deferred when the answer arrives; the error answers are handed on before
    that, so a test can look at them after delivering.
    """
    result: Deferred[Any] = Deferred()
    request.chainDeferred(result)
    return result


@attrs.define(eq=False)
class Connection:
    """One client connected to the harness's server."""

    harness: ServerHarness
    client: RecordingClient
    protocol: ServerProtocol
    pump: IOPump
    client_io: FakeTransport
    server_io: FakeTransport

    def send(self, command: type[amp.Command], **kwargs: Any) -> Deferred[Any]:
        """Queue a request on the client transport; nothing is delivered yet."""
        return _detached(self.client.callRemote(command, **kwargs))

    def call(self, command: type[amp.Command], **kwargs: Any) -> Deferred[Any]:
        """Send a request, deliver it, commit, deliver the answer."""
        result = self.send(command, **kwargs)
        self.harness.settle()
        return result

    def send_raw(self, name: bytes, **kwargs: bytes) -> Deferred[Any]:
        """Queue a box of raw byte values (no argument checks on our side)."""
        return _detached(self.client.callRemoteString(name, **kwargs))

    def call_raw(self, name: bytes, **kwargs: bytes) -> Deferred[Any]:
        result = self.send_raw(name, **kwargs)
        self.harness.settle()
        return result

    def write(self, data: bytes) -> None:
        """Send raw bytes to the server and settle."""
        self.client_io.write(data)
        self.harness.settle()

    def deliver(self) -> None:
        """Move bytes both ways on this connection only; no clock, no commit."""
        self.pump.flush(advanceClock=False)

    def received_boxes(self) -> list[amp.AmpBox]:
        """Every box the client received so far, as it came over the wire."""
        boxes: list[amp.AmpBox] = amp.parseString(bytes(self.client.received))
        return boxes

    def pending_output(self) -> bytes:
        """What the server wrote that the client has not received yet."""
        return b"".join(self.server_io.stream)

    @property
    def open(self) -> bool:
        return not self.server_io.disconnecting

    def close(self) -> None:
        self.client_io.loseConnection()
        self.harness.settle()


class ServerHarness:
    """One server (id ``server_id``) with no peers, on a :class:`Clock`.

    :param serving: mark the database initialised and the node serving; if
        false the node stays ``starting`` with a new database.
    """

    def __init__(
        self,
        case: SynchronousTestCase,
        *,
        server_id: int = 1,
        serving: bool = True,
        secret: str = SECRET,
        **tuning: Any,
    ) -> None:
        self.clock = Clock()
        directory = tempfile.mkdtemp(prefix="test_connection-")
        case.addCleanup(shutil.rmtree, directory, True)
        self.storage = Storage.open(directory)
        case.addCleanup(self.storage.close)
        self.committer = GroupCommitter(self.storage, self.clock)
        self.replica = Replica(self.storage, self.committer)
        self.config = make_config(**tuning)
        self.node = ServerNode(server_id, self.config, self.replica, {}, self.clock)
        if serving:
            self.replica.mark_initialized()
            self.clock.advance(0)
            self.node.start()  # no peers: serves at once
        self.factory = ServerFactory(self.node, secret, self.clock)
        self.connections: list[Connection] = []

    def connect(self) -> Connection:
        client = RecordingClient()
        protocol = self.factory.buildProtocol(FakeAddress())
        assert protocol is not None, "max_connections reached"
        client_io = FakeTransport(client, isServer=False)
        server_io = FakeTransport(protocol, isServer=True)
        pump = connect(protocol, server_io, client, client_io, greet=False)
        connection = Connection(self, client, protocol, pump, client_io, server_io)
        self.connections.append(connection)
        self.settle()
        return connection

    def due(self) -> bool:
        now = self.clock.seconds()
        return any(call.getTime() <= now for call in self.clock.getDelayedCalls())

    def settle(self) -> None:
        """Deliver everything on every connection and run every call due now
        (the group commit), until nothing moves."""
        for _ in range(1000):
            moved = False
            for connection in self.connections:
                moved = connection.pump.flush(advanceClock=False) or moved
            if self.due():
                self.clock.advance(0)
                moved = True
            if not moved:
                return
        raise AssertionError("the server did not settle")

    # -- setting up games without the wire --------------------------------------

    def seed_game(
        self,
        game_id: str,
        kind: str = "connect4",
        moves: list[str] | tuple[str, ...] = (),
        *,
        join: bool = True,
    ) -> None:
        """Create (seat 0: alice/TOKEN_A), join (bobby/TOKEN_B) and play ``moves``
        straight on the replica, committed in one batch."""
        replica = self.replica
        replica.create(game_id, kind, "alice", 0, TOKEN_A)
        if join:
            replica.apply(game_id, Command(JOIN, 1, TOKEN_B, player="bobby"))
        tokens = (TOKEN_A, TOKEN_B)
        for move in moves:
            game = replica.game(game_id)
            assert game is not None
            seat = game.position.to_move
            replica.apply(game_id, Command(MOVE, game.version, tokens[seat], move=move))
        self.clock.advance(0)


class ConnectionTestCase(SynchronousTestCase):
    """Assertions over answers that came back through AMP."""

    def game(self, result: Deferred[Any]) -> dict[str, Any]:
        """The game document of a successful answer, parsed."""
        answer = self.successResultOf(result)
        document: dict[str, Any] = json.loads(answer["game"])
        return document

    def wire_error(self, result: Deferred[Any], error: type[wire.WireError]) -> wire.WireError:
        """The error of a failed answer, which must carry ``error``'s tag."""
        failure = self.failureResultOf(result)
        self.assertIsInstance(failure.value, wire.WireError, failure.getTraceback())
        self.assertEqual(failure.value.tag, error.tag)
        value: wire.WireError = failure.value
        return value

    def raw_error(self, result: Deferred[Any]) -> amp.RemoteAmpError:
        """The error of an answer to a raw (callRemoteString) request."""
        failure = self.failureResultOf(result, amp.RemoteAmpError)
        value: amp.RemoteAmpError = failure.value
        return value


def record_located_responders(case: SynchronousTestCase) -> list[tuple[bytes, str]]:
    """Record, for the rest of ``case``, each command a connection looks up
    and the module of the responder it gets (direct, heartbeat or stock AMP)."""
    located: list[tuple[bytes, str]] = []
    locate = ClientLocator.locateResponder

    def spy(locator: ClientLocator, name: bytes) -> Any:
        responder = locate(locator, name)
        located.append((name, responder.__module__))
        return responder

    case.patch(ClientLocator, "locateResponder", spy)
    return located


def start_game(
    case: ConnectionTestCase,
    connection: Connection,
    game_id: str = "g1",
    kind: str = "connect4",
) -> dict[str, Any]:
    """Create (alice, TOKEN_A, seat 0) and join (bobby, TOKEN_B) over the wire."""
    case.game(
        connection.call(p.CreateGame, game_id=game_id, kind=kind, player="alice", token=TOKEN_A)
    )
    return case.game(
        connection.call(p.JoinGame, game_id=game_id, version=1, player="bobby", token=TOKEN_B)
    )


def token_hashes(game_id: str, *tokens: str) -> set[str]:
    """Every hash a server could store for these tokens in this game."""
    return {token_hash(game_id, seat, token) for token in tokens for seat in (0, 1)}


def authenticate(
    case: ConnectionTestCase, connection: Connection, peer_id: int = 2, secret: str = SECRET
) -> Deferred[Any]:
    """Run PeerHello + PeerProve as :class:`~game.server.peers.PeerLink` does;
    return the PeerProve answer."""
    nonce = "ab" * 32
    hello = case.successResultOf(connection.call(p.PeerHello, server_id=peer_id, nonce=nonce))
    server_id = connection.harness.node.server_id
    mine = proof(secret, "caller", nonce, hello["nonce"], peer_id, server_id)
    return connection.call(p.PeerProve, proof=mine)


def long_checkers_line(plies: int, seed: int = 0) -> list[str]:
    """A legal checkers line from the start, ``plies`` long unless the game
    ends first: kings shuffle safely, men advance only to beat the
    no-progress rule, so random play lasts hundreds of plies."""
    rng = random.Random(seed)
    position: Position = new_game("checkers")
    line: list[str] = []

    def safe(move: str) -> bool:
        after = position.play(move)
        return after.outcome() is None and not any("x" in m for m in after.legal_moves())

    def king(move: str) -> bool:
        if "x" in move:
            return False
        piece = position.piece_at(int(move.split("-")[0]))  # type: ignore[attr-defined]
        return piece is not None and bool(piece[1])

    while len(line) < plies and position.outcome() is None:
        moves = position.legal_moves()
        pool = [m for m in moves if safe(m)] or moves
        if position.no_progress_plies < 60:  # type: ignore[attr-defined]
            preferred = [m for m in pool if king(m)]
        else:
            preferred = [m for m in pool if not king(m)]
        move = rng.choice(preferred or pool)
        line.append(move)
        position = position.play(move)
    return line
