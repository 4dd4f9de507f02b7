# AMP, TimeoutMixin and Failure have no annotations; calls into them are untyped
# (untyped-calls-exclude misses self. and super() calls), the rest is strict.
# mypy: disable-error-code=no-untyped-call
"""The AMP face of a server: one protocol instance per client or peer connection.

:class:`ServerProtocol` is stock AMP with a locator
(:class:`~game.server.locators.ServerLocator`: the responders) and the jobs
of a connection: it enforces the limits of PROTOCOL.md (the size of a box,
silence for three heartbeats, unsent output, and, in the factory, the
number of connections), keeps what the responders need per connection (the
games it watches, the peer's authentication), and pushes watched games.
Whatever one connection sends, it can at worst close that connection.

Boxes are parsed by :class:`game.ampframe.BoxParser` (in bulk, keeping only
the keys of our commands), not by stock AMP's per-string state machine, and
each connection's input gets a fair share of the reactor
(:class:`game.server.fairness.FairInput`).
"""

from __future__ import annotations

from typing import TypeVar

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IAddress, IPushProducer, IReactorTime
from twisted.internet.protocol import Factory, connectionDone
from twisted.logger import Logger
from twisted.protocols import amp
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure
from zope.interface import implementer

from game import protocol as p
from game.ampframe import Box, BoxParser, FramingError, keys_of
from game.endpoints import send_at_once, stream_transport
from game.server.fairness import FairInput
from game.server.fanout import GameChange
from game.server.locators import ServerLocator
from game.server.node import ServerNode

log = Logger(namespace="replgame.connection")

_T = TypeVar("_T")

#: Close a connection whose unsent output passes this (PROTOCOL.md).
MAX_UNSENT = 1 << 20
#: The keys a request to this server can use; the parser drops any other.
_REQUEST_KEYS = keys_of((*p.CLIENT_COMMANDS, *p.PEER_COMMANDS))


def describe(address: IAddress | None) -> str:
    host, port = getattr(address, "host", None), getattr(address, "port", None)
    return f"{host}:{port}" if host is not None else str(address)


@implementer(IPushProducer)
class ServerProtocol(amp.AMP, TimeoutMixin):
    """One connection to a server, from a client or from a peer."""

    def __init__(self, node: ServerNode, factory: ServerFactory) -> None:
        super().__init__(locator=ServerLocator(node, factory.secret, self))
        self.node = node
        self.factory = factory
        self.max_box_bytes = node.tuning.max_box_bytes
        # TimeoutMixin's clock, a documented hook (an unannotated staticmethod).
        self.callLater = node.clock.callLater  # type: ignore[method-assign, assignment]
        #: The games this connection watches.
        self.watching: set[str] = set()
        self._peer_id: int | None = None
        #: PeerHello's ids and nonces, until PeerProve uses them.
        self.hello: tuple[int, str, str] | None = None
        self._parser = BoxParser(self.ampBoxReceived, _REQUEST_KEYS, self.max_box_bytes, amp.AmpBox)
        self._reading_paused = False
        self._closing = False
        self._live = False
        self._paused = False
        self._unsent_while_paused = 0
        self.remote = "?"

    # -- connection and limits -------------------------------------------------

    def connectionMade(self) -> None:
        super().connectionMade()
        send_at_once(self.transport)
        self._live = True
        self.remote = describe(stream_transport(self).getPeer())
        stream_transport(self).registerProducer(self, True)
        self.setTimeout(3 * self.node.tuning.heartbeat)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._live = False
        self.setTimeout(None)
        for game_id in self.watching:
            self.node.unwatch(game_id, self)
        self.watching.clear()
        self._parser.halt()
        self.factory.input.forget(self)
        self.factory.forget(self)
        super().connectionLost(reason)

    def _close(self, why: str) -> None:
        if not self._closing:
            self._closing = True
            self._parser.halt()
            self.factory.input.forget(self)
            log.info("closing connection from {remote}: {why}", remote=self.remote, why=why)
            stream_transport(self).abortConnection()

    def timeoutConnection(self) -> None:
        self._close(f"silent for {3 * self.node.tuning.heartbeat:g} s (three heartbeats)")

    def dataReceived(self, data: bytes) -> None:
        # Instead of Int16StringReceiver's parsing (we never switch protocols
        # or start TLS inside AMP: no inner protocol to hand bytes to).
        if self._closing:
            return
        self.resetTimeout()
        self._parser.feed(data)
        self.factory.input.input_arrived(self)

    # fairness.Reader: our input, a slice at a time.
    def read_slice(self, max_bytes: int, max_boxes: int) -> bool:
        try:
            return self._parser.parse(max_bytes, max_boxes)
        except FramingError as error:  # a key over 255 bytes, a box over the limit
            self._close(str(error))
            return False

    def pause_reading(self) -> None:
        self._reading_paused = True
        stream_transport(self).pauseProducing()

    def resume_reading(self) -> None:
        if self._reading_paused:
            self._reading_paused = False
            if self._live and not self._closing:
                stream_transport(self).resumeProducing()

    def ampBoxReceived(self, box: Box) -> None:
        if self._closing:
            return
        try:
            super().ampBoxReceived(box)
        except Exception as error:
            self._close(f"not an AMP request ({type(error).__name__})")

    def unhandledError(self, failure: Failure) -> None:
        if failure.check(amp.RemoteAmpError):
            return  # an error answer to a request that asked for no answer
        super().unhandledError(failure)

    def sendBox(self, box: amp.AmpBox) -> None:
        if self._closing:
            return
        if self._paused and not self._may_buffer(len(box.serialize())):
            return
        super().sendBox(box)

    def _may_buffer(self, size: int) -> bool:
        """Count ``size`` more bytes written while the transport is full;
        past :data:`MAX_UNSENT`, close instead (false: do not write)."""
        self._unsent_while_paused += size
        if self._unsent_while_paused > MAX_UNSENT:
            self._close("more than 1 MiB of unsent output")
            return False
        return True

    # IPushProducer (our output): the transport tells us when its buffer is full.
    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        self._unsent_while_paused = 0

    def stopProducing(self) -> None:
        self._paused = True

    @property
    def peer_id(self) -> int | None:
        """The authenticated peer's server id (``None``: not a peer)."""
        return self._peer_id

    @peer_id.setter
    def peer_id(self, peer_id: int | None) -> None:
        was_peer, self._peer_id = self._peer_id is not None, peer_id
        self.factory.peer_changed(self, was_peer)

    @property
    def live(self) -> bool:
        """Still connected (for the locators)."""
        return self._live

    def game_changed(self, change: GameChange) -> None:
        """Tell this client about a durable change of a game it watches.

        Writes the change's box, framed once for every watcher: the bytes
        stock ``callRemote(GameChanged, ...)`` would write (it asks no
        answer, so it carries no tag), with the same checks on unsent output.
        """
        if self._closing or not self._live:
            return
        box = change.box
        if box is None:  # too long for AMP: stock AMP raises, as it did
            self.callRemote(p.GameChanged, game=change.document)
            return
        if self._paused and not self._may_buffer(len(box)):
            return
        self.transport.write(box)  # type: ignore[union-attr]


class ServerFactory(Factory):
    """Builds a protocol per connection, up to ``max_connections``."""

    def __init__(self, node: ServerNode, secret: str, clock: IReactorTime) -> None:
        self.node = node
        self.secret = secret
        self.clock = clock
        #: Every connection's input, shared fairly.
        self.input = FairInput(clock)
        self.connections: set[ServerProtocol] = set()
        #: How many of :attr:`connections` are authenticated peers' (kept as
        #: they change: a scrape or ServerInfo must not walk every connection).
        self._peers = 0
        self._drained: list[Deferred[None]] = []
        node.client_connections = self.client_connections

    def client_connections(self) -> int:
        """The open connections that are not an authenticated peer's."""
        return len(self.connections) - self._peers

    def peer_changed(self, protocol: ServerProtocol, was_peer: bool) -> None:
        """``protocol``'s peer id was set (PeerProve) or cleared."""
        is_peer = protocol.peer_id is not None
        if is_peer != was_peer and protocol in self.connections:
            self._peers += 1 if is_peer else -1

    def buildProtocol(self, addr: IAddress) -> ServerProtocol | None:  # type: ignore[override]
        limit = self.node.tuning.max_connections
        # Room for the peers' links beyond the clients' limit: a server full
        # of clients must still take its peers' (re)connections.
        if len(self.connections) >= limit + len(self.node.links):
            log.warn(
                "refusing a connection from {remote}: max_connections={limit} reached",
                remote=describe(addr),
                limit=limit,
            )
            return None
        protocol = ServerProtocol(self.node, self)
        self.connections.add(protocol)
        return protocol

    def forget(self, protocol: ServerProtocol) -> None:
        if protocol not in self.connections:
            return
        self.connections.remove(protocol)
        if protocol.peer_id is not None:
            self._peers -= 1
        if not self.connections:
            waiters, self._drained = self._drained, []
            for waiter in waiters:
                waiter.callback(None)

    def close_all(self, timeout: float) -> Deferred[None]:
        """Close every connection once its answers are written; fires when
        all are closed (or after ``timeout``, aborting the rest)."""
        if not self.connections:
            return succeed(None)
        drained: Deferred[None] = Deferred()
        self._drained.append(drained)
        for protocol in list(self.connections):
            stream_transport(protocol).loseConnection()

        def abort() -> None:
            for protocol in list(self.connections):
                stream_transport(protocol).abortConnection()

        timer = self.clock.callLater(timeout, abort)

        def stop_timer(result: _T) -> _T:
            if timer.active():
                timer.cancel()
            return result

        return drained.addBoth(stop_timer)
