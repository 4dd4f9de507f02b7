"""An in-process three-server cluster, in the spirit of Tahoe-LAFS's no-network grid.

Three real servers (sqlite storage in temporary directories, group commit,
replica, :class:`~game.server.node.ServerNode`, its protocol factory and two
:class:`~game.server.peers.PeerLink` each) and real
:class:`~game.client.client.ReplicatedClient` s, all on ONE
:class:`~twisted.internet.task.Clock`.  Every connection (peer links and
client links) is a pair of :mod:`twisted.test.iosim` transports made by
:class:`GridEndpoint`; nothing moves until :meth:`Grid.quiet` pumps it.

What a test can do to the cluster:

- :meth:`Grid.stop` a server (drop its connections, refuse reconnects) and
  :meth:`Grid.start_server` it again from its data directory, or
  :meth:`Grid.wipe` that directory in between (a rebuild from the peers);
- :meth:`Grid.cut` the connections between two parties, or
  :meth:`Grid.isolate` one, and :meth:`Grid.heal` every cut (a dialling
  side is refused, as by a firewall that rejects);
- :meth:`Grid.pause` a server as ``SIGSTOP`` would: its connections stay
  up but carry nothing until :meth:`Grid.resume`;
- :meth:`Grid.quiet` (deliver and run what is due, until nothing moves),
  :meth:`Grid.run` for some seconds of clock time, :meth:`Grid.run_until`.

:func:`build_server` is the only code here that knows how a server is put
together; the rest uses the public names of the node, the replica, the
peer links and the client.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterator
from typing import Any

import attrs
from twisted.application.internet import TimerService
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.interfaces import IProtocolFactory, IStreamClientEndpoint
from twisted.internet.task import Clock
from twisted.logger import ILogObserver, LogEvent, formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from twisted.test.iosim import FakeTransport, IOPump, connect
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from game.client.client import Outcome, ReplicatedClient
from game.config import ClusterConfig
from game.server.commit import GroupCommitter
from game.server.connection import ServerFactory
from game.server.node import ServerNode
from game.server.peers import PeerLink
from game.server.replica import Replica
from game.server.storage import Storage
from tests.server.helpers import TOKEN_A, TOKEN_B, make_config

#: Who is at either end of a connection: a server id, or a client's name.
Party = int | str

SERVERS = (1, 2, 3)
#: Anti-entropy that never runs during a test unless the test asks for it.
QUIET_INTERVAL = 3600.0


@attrs.define(eq=False)
class ServerParts:
    """One running server, as :func:`build_server` put it together."""

    node: ServerNode
    factory: IProtocolFactory
    start: Callable[[], None]
    stop: Callable[[], None]


def build_server(
    server_id: int,
    config: ClusterConfig,
    directory: str,
    clock: Clock,
    endpoint_to: Callable[[int], IStreamClientEndpoint],
    clock_offset_ms: int = 0,
) -> ServerParts:
    """Open a server's storage in ``directory`` and build its node, peer links
    and protocol factory, as the children of :func:`game.server.tap.makeService`
    do in their ``startService``, but on ``clock`` and with
    ``endpoint_to(peer_id)`` for the peer links, and the server's wall clock
    ``clock_offset_ms`` off the shared clock.

    The one place the grid depends on how a server is composed.
    """
    storage = Storage.open(directory)
    committer = GroupCommitter(storage, clock)
    replica = Replica(storage, committer)
    links: dict[int, PeerLink] = {}
    node = ServerNode(server_id, config, replica, links, clock, clock_offset_ms)
    secret = config.require_secret()
    for peer in config.peers_of(server_id):
        links[peer.id] = PeerLink(
            my_id=server_id,
            peer=peer,
            secret=secret,
            endpoint=endpoint_to(peer.id),
            clock=clock,
            timeout=config.tuning.catchup_timeout,
            heartbeat=config.tuning.heartbeat,
            on_ready=node.peer_ready,
            rng=lambda: 0.5,  # no jitter: the same run every time
        )
    committer.on_failure = lambda reason: node.fail()
    anti_entropy = TimerService(config.tuning.anti_entropy_interval, node.anti_entropy_round)
    anti_entropy.clock = clock

    def start() -> None:
        anti_entropy.startService()
        node.start()
        for link in links.values():
            link.start()

    def stop() -> None:
        node.stop()
        for link in links.values():
            link.stop()
        anti_entropy.stopService()
        committer.close()
        storage.close()

    return ServerParts(node, ServerFactory(node, secret, clock), start, stop)


@attrs.define(eq=False)
class Pipe:
    """One connection: ``source`` dialled server ``target``."""

    source: Party
    target: int
    pump: IOPump
    client_io: FakeTransport
    server_io: FakeTransport
    #: The live end closed while the other was paused: tell that one on resume.
    _loss_owed: bool = False

    @property
    def closed(self) -> bool:
        return bool(self.client_io.disconnected and self.server_io.disconnected)

    def touches(self, party: Party) -> bool:
        return party in (self.source, self.target)

    def drop(self) -> None:
        """Abort the connection at both ends (delivered by the next flush)."""
        self.server_io.abortConnection()
        self.client_io.abortConnection()

    def flush(self, paused: Collection[Party]) -> bool:
        """Move bytes both ways unless an end is paused; return whether anything moved.

        A paused end holds everything back, but the live end's own close
        takes effect at once (as a process closing a socket to a stopped
        one does); the paused end learns of it when it resumes.
        """
        frozen = [io for io, party in self._ends() if party in paused]
        if not frozen:
            if self._loss_owed:
                return self._pay_loss()
            return bool(self.pump.flush(advanceClock=False))
        if len(frozen) == 2:
            return False
        (live,) = [io for io, party in self._ends() if party not in paused]
        if live.disconnecting and not live.disconnected:
            live.disconnected = True
            live.reportDisconnect()
            self._loss_owed = True
            return True
        return False

    def _ends(self) -> list[tuple[FakeTransport, Party]]:
        return [(self.client_io, self.source), (self.server_io, self.target)]

    def _pay_loss(self) -> bool:
        self._loss_owed = False
        for io, _ in self._ends():
            io.stream.clear()  # nothing more is delivered on a closed connection
            if not io.disconnected:
                io.disconnecting = io.disconnected = True
                io.reportDisconnect()
        return True


@implementer(IStreamClientEndpoint)
@attrs.frozen
class GridEndpoint:
    """How ``source`` (a server's peer link or a client's link) reaches a server."""

    grid: Grid
    source: Party
    target: int

    def connect(self, factory: IProtocolFactory) -> Deferred[Any]:
        return self.grid.dial(self.source, self.target, factory)


#: A memory file system where there is one: the grid's commits are real
#: sqlite commits, but an fsync there costs nothing, so the tests do not wait
#: on a disk shared with other work.
_MEMORY = "/dev/shm"


def data_directory(server_id: int) -> str:
    """A new temporary data directory, in memory if possible."""
    where = _MEMORY if os.access(_MEMORY, os.W_OK) else None
    return tempfile.mkdtemp(prefix=f"replgame-grid-{server_id}-", dir=where)


def address_of(party: Party, port: int) -> IPv4Address:
    """A fake address that names the party in the servers' logs."""
    return IPv4Address("TCP", f"server-{party}" if isinstance(party, int) else party, port)


_ports = itertools.count(40000)


def open_pipe(
    source: Party, target: int, client: IProtocolFactory, server: IProtocolFactory
) -> Pipe | None:
    """Connect a protocol of ``client`` to one of ``server`` (None if the
    server refuses, as at ``max_connections``); nothing moves until a flush."""
    port = next(_ports)
    server_protocol = server.buildProtocol(address_of(source, port))
    if server_protocol is None:
        return None
    client_protocol = client.buildProtocol(address_of(target, 7300 + target))
    assert client_protocol is not None
    client_io = FakeTransport(
        client_protocol, False, address_of(source, port), address_of(target, 7300 + target)
    )
    server_io = FakeTransport(
        server_protocol, True, address_of(target, 7300 + target), address_of(source, port)
    )
    pump = connect(server_protocol, server_io, client_protocol, client_io, greet=False)
    return Pipe(source, target, pump, client_io, server_io)


def refusal(clock: Clock) -> Deferred[Any]:
    """A connection attempt refused on the next turn, as a real one would be."""
    refused: Deferred[Any] = Deferred()
    clock.callLater(0, refused.errback, ConnectionRefusedError())
    return refused


@implementer(ILogObserver)
@attrs.define(eq=False)
class LogRecorder:
    """Keeps the text of every replgame log event while the grid lives."""

    lines: list[str] = attrs.field(factory=list)

    def __call__(self, event: LogEvent) -> None:
        if str(event.get("log_namespace", "")).startswith("replgame."):
            self.lines.append(formatEvent(event))

    def text(self) -> str:
        return "\n".join(self.lines)


class Grid:
    """Three servers and any number of clients on one :class:`Clock`.

    Nothing is started until :meth:`start`.  ``tuning`` overrides the
    cluster's timeouts; anti-entropy is off (:data:`QUIET_INTERVAL`) unless
    the test sets ``anti_entropy_interval``.
    """

    def __init__(
        self,
        case: SynchronousTestCase,
        clock_offsets: dict[int, int] | None = None,
        **tuning: Any,
    ) -> None:
        self.clock = Clock()
        #: Each server's wall clock offset from :attr:`clock`, in ms (timed games).
        self.clock_offsets = dict(clock_offsets or {})
        tuning.setdefault("anti_entropy_interval", QUIET_INTERVAL)
        self.config = make_config(**tuning)
        self.directories = {i: data_directory(i) for i in SERVERS}
        self.servers: dict[int, ServerParts] = {}
        self.clients: dict[str, ReplicatedClient] = {}
        self.pipes: list[Pipe] = []
        self.cuts: set[frozenset[Party]] = set()
        self.paused: set[int] = set()
        #: Connection attempts per (source, target), refused ones included.
        self.dials: dict[tuple[Party, int], int] = {}
        self.log = LogRecorder()
        globalLogPublisher.addObserver(self.log)
        case.addCleanup(self._shut_down)

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> ReplicatedClient:
        """Start all three servers (a new cluster) and a client; return the
        client once every server serves and every link is up."""
        for server_id in SERVERS:
            self.start_server(server_id)
        self.add_client("client")
        self.run_until(self.all_up, limit=10)
        return self.client

    def all_up(self) -> bool:
        """Whether all three serve, and every peer link and client link is up."""
        peer_links = [link for parts in self.servers.values() for link in parts.node.links.values()]
        client_links = [link for c in self.clients.values() for link in c.links.values()]
        return self.serving() == list(SERVERS) and all(
            link.ready for link in (*peer_links, *client_links)
        )

    @property
    def client(self) -> ReplicatedClient:
        return self.clients["client"]

    def add_client(self, name: str) -> ReplicatedClient:
        """A started :class:`ReplicatedClient` known as ``name`` (for :meth:`cut`)."""
        client = ReplicatedClient(
            self.config,
            self.clock,
            endpoint_for=lambda server: GridEndpoint(self, name, server.id),
            rng=lambda: 0.5,
        )
        self.clients[name] = client
        client.start()
        self.quiet()
        return client

    def start_server(self, server_id: int) -> ServerNode:
        """Start a server from its data directory (a restart after :meth:`stop`)."""
        assert server_id not in self.servers, f"server {server_id} is running"
        parts = build_server(
            server_id,
            self.config,
            self.directories[server_id],
            self.clock,
            lambda peer_id: GridEndpoint(self, server_id, peer_id),
            self.clock_offsets.get(server_id, 0),
        )
        self.servers[server_id] = parts
        parts.start()
        self.quiet()
        return parts.node

    def stop(self, server_id: int) -> None:
        """Stop a server: drop its connections; it refuses reconnects until
        :meth:`start_server`.  What it committed stays in its directory."""
        parts = self.servers.pop(server_id)
        self.paused.discard(server_id)
        self._drop(lambda pipe: pipe.touches(server_id))
        parts.stop()
        self.quiet()

    def wipe(self, server_id: int) -> None:
        """Empty a stopped server's data directory."""
        assert server_id not in self.servers, f"stop server {server_id} first"
        shutil.rmtree(self.directories[server_id])
        self.directories[server_id] = data_directory(server_id)

    def _shut_down(self) -> None:
        globalLogPublisher.removeObserver(self.log)
        for client in self.clients.values():
            client.stop()
        self.paused.clear()
        for server_id in list(self.servers):
            self.stop(server_id)
        for directory in self.directories.values():
            shutil.rmtree(directory, ignore_errors=True)

    # -- the network -------------------------------------------------------------

    def dial(self, source: Party, target: int, factory: IProtocolFactory) -> Deferred[Any]:
        """Connect ``factory``'s protocol to server ``target``, or refuse."""
        self.dials[source, target] = self.dials.get((source, target), 0) + 1
        parts = self.servers.get(target)
        pipe = None
        if parts is not None and self.linked(source, target):
            pipe = open_pipe(source, target, factory, parts.factory)
        if pipe is None:
            return refusal(self.clock)
        self.pipes.append(pipe)
        return succeed(pipe.client_io.protocol)

    def linked(self, a: Party, b: Party) -> bool:
        """Whether nothing cuts ``a`` off from ``b``."""
        return frozenset((a, b)) not in self.cuts

    def cut(self, a: Party, b: Party) -> None:
        """Drop the connections between ``a`` and ``b`` and refuse new ones."""
        self.cuts.add(frozenset((a, b)))
        self._drop(lambda pipe: pipe.touches(a) and pipe.touches(b))
        self.quiet()

    def isolate(self, server_id: int) -> None:
        """Cut a server off from its peers and from every client."""
        others: list[Party] = [*SERVERS, *self.clients]
        for other in others:
            if other != server_id:
                self.cut(server_id, other)

    def uncut(self, a: Party, b: Party) -> None:
        """Undo :meth:`cut`; links reconnect on their own schedules."""
        self.cuts.discard(frozenset((a, b)))

    def heal(self) -> None:
        """Undo every cut."""
        self.cuts.clear()

    def pause(self, server_id: int) -> None:
        """Freeze a server's connections, as ``SIGSTOP`` would: they stay
        open, and whatever is sent waits until :meth:`resume`."""
        self.paused.add(server_id)

    def resume(self, server_id: int) -> None:
        self.paused.discard(server_id)
        self.quiet()

    def _drop(self, which: Callable[[Pipe], bool]) -> None:
        for pipe in self.pipes:
            if which(pipe) and not pipe.closed:
                pipe.drop()

    # -- time ------------------------------------------------------------------------

    def _due(self) -> bool:
        now = self.clock.seconds()
        return any(call.getTime() <= now for call in self.clock.getDelayedCalls())

    def quiet(self) -> None:
        """Deliver every byte and run every call due now, until nothing moves."""
        for _ in range(10_000):
            moved = False
            for pipe in list(self.pipes):
                moved = pipe.flush(self.paused) or moved
            self.pipes = [pipe for pipe in self.pipes if not pipe.closed]
            if self._due():
                self.clock.advance(0)
                moved = True
            if not moved:
                return
        raise AssertionError("the grid did not quiet down")

    def _steps(self, seconds: float) -> Iterator[None]:
        """Advance to each delayed call in turn up to ``seconds`` from now,
        quieting after each; yields after every step."""
        deadline = self.clock.seconds() + seconds
        self.quiet()
        yield
        while self.clock.seconds() < deadline:
            times = [call.getTime() for call in self.clock.getDelayedCalls()]
            until = min([deadline, *times])
            self.clock.advance(until - self.clock.seconds())
            self.quiet()
            yield

    def run(self, seconds: float) -> None:
        """Let ``seconds`` of clock time go by, every call at its own time."""
        for _ in self._steps(seconds):
            pass

    def run_until(self, condition: Callable[[], object], limit: float = 30.0) -> float:
        """Run until ``condition()`` holds; return the clock time it took.

        :raises AssertionError: it did not hold within ``limit`` seconds.
        """
        started = self.clock.seconds()
        for _ in self._steps(limit):
            if condition():
                return self.clock.seconds() - started
        raise AssertionError(f"not within {limit:g} s of clock time: {condition}")

    def answer(self, deferred: Deferred[Any]) -> Any:
        """Quiet down, then the result of ``deferred`` (which must have fired)."""
        self.quiet()
        results: list[Any] = []
        deferred.addBoth(results.append)
        assert results, "no answer once the grid is quiet"
        result = results[0]
        if isinstance(result, Failure):
            result.raiseException()
        return result

    # -- looking at the servers -------------------------------------------------------

    def node(self, server_id: int) -> ServerNode:
        return self.servers[server_id].node

    def serving(self) -> list[int]:
        return sorted(i for i, parts in self.servers.items() if parts.node.serving)

    def documents(self, server_id: int) -> dict[str, str]:
        """Every game a server holds, as its document text."""
        replica = self.node(server_id).replica
        return {game_id: self.answer(replica.document(game_id)) for game_id in replica.index}

    def summary(self, server_id: int) -> tuple[int, int, str, str]:
        """(games, clock, digest, anti-entropy tree root) of one server."""
        status = self.node(server_id).peer_status()
        return status["games"], status["clock"], status["digest"], status["tree"]

    def converged(self) -> bool:
        """Whether every running server holds the same games, byte for byte."""
        running = sorted(self.servers)
        first = running[0]
        return all(
            self.summary(i) == self.summary(first) and self.documents(i) == self.documents(first)
            for i in running[1:]
        )

    def assert_converged(self, case: SynchronousTestCase) -> dict[str, str]:
        """Assert that all three serve the same documents, clock, digest and
        tree; return the documents."""
        case.assertEqual(self.serving(), list(SERVERS))
        documents = {i: self.documents(i) for i in SERVERS}
        for i in (2, 3):
            case.assertEqual(documents[i], documents[1], f"server {i}'s games")
            case.assertEqual(self.summary(i), self.summary(1), f"server {i}'s summary")
        return documents[1]


@attrs.define(eq=False)
class Match:
    """A game between alice (TOKEN_A, seat 0) and bobby (TOKEN_B) played
    through a :class:`ReplicatedClient`; ``doc`` is the last acknowledged document."""

    grid: Grid
    game_id: str
    kind: str = "connect4"
    client: ReplicatedClient | None = None
    doc: dict[str, Any] = attrs.field(factory=dict)

    @property
    def via(self) -> ReplicatedClient:
        return self.client if self.client is not None else self.grid.client

    @property
    def version(self) -> int:
        return int(self.doc["version"])

    def mover_token(self) -> str:
        return (TOKEN_A, TOKEN_B)[self.doc["to_move"]]

    def outcome(self, request: Deferred[Outcome]) -> Outcome:
        outcome: Outcome = self.grid.answer(request)
        return outcome

    def acknowledged(self, request: Deferred[Outcome]) -> dict[str, Any]:
        """The document two servers agreed on; it becomes ``doc``."""
        outcome = self.outcome(request)
        assert not outcome.provisional, f"no two servers agreed: {outcome}"
        self.doc = parsed(outcome.document)
        return self.doc

    def create(self) -> dict[str, Any]:
        return self.acknowledged(self.via.create_game(self.game_id, self.kind, "alice", TOKEN_A))

    def start(self) -> dict[str, Any]:
        self.create()
        return self.acknowledged(self.via.join_game(self.game_id, 1, "bobby", TOKEN_B))

    def move(self, move: str) -> dict[str, Any]:
        return self.acknowledged(
            self.via.make_move(self.game_id, self.version, move, self.mover_token())
        )

    def moves(self, *moves: str) -> dict[str, Any]:
        for move in moves:
            self.move(move)
        return self.doc


def parsed(text: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(text)
    return document
