"""A TCP fault proxy: one listening port in front of one server address.

The chaos harness puts one :class:`FaultProxy` in front of every address that
clients (``host``/``port``) and peers (``peer_host``/``peer_port``) use, and
forwards to the server's real ``listen`` port.  Each direction can be set on
its own:

- ``up`` is from the dialling side (a client, or a peer pulling state) to
  the server, ``down`` the server's answers back;
- ``pass`` forwards bytes as they come;
- ``cut`` closes every connection at once and refuses new ones: a cut ``up``
  refuses a new connection at once (as an unreachable port does); a cut
  ``down`` lets it reach the server and closes it when the server's first
  bytes would come back;
- ``blackhole`` keeps connections open and drops that direction's bytes
  silently (new connections are accepted; with ``up`` blackholed they never
  reach the server).  A connection that lost bytes is closed when the
  blackhole ends, as TCP would time it out: it never delivers a stream with a
  hole in it;
- ``delay`` holds every byte of that direction for a number of milliseconds,
  keeping their order.

The proxy runs on the harness's reactor, so changing a mode takes effect
between two reactor turns, while requests are in flight.
"""

from __future__ import annotations

import collections
from typing import Any, Final

import attrs
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python.failure import Failure

HOST: Final = "127.0.0.1"
UP: Final = "up"
DOWN: Final = "down"
DIRECTIONS: Final = (UP, DOWN)

PASS: Final = "pass"
CUT: Final = "cut"
BLACKHOLE: Final = "blackhole"
DELAY: Final = "delay"
MODES: Final = (PASS, CUT, BLACKHOLE, DELAY)


@attrs.frozen
class Mode:
    """What a proxy does with one direction: ``kind`` and, for ``delay``, how long."""

    kind: str = PASS
    delay: float = 0.0  # seconds

    def describe(self) -> str:
        if self.kind == DELAY:
            return f"delay {round(self.delay * 1000)} ms"
        return self.kind


@attrs.define
class ProxyCounters:
    accepted: int = 0
    refused: int = 0
    closed_by_fault: int = 0
    bytes_forwarded: int = 0
    bytes_dropped: int = 0


class _Side(Protocol):
    """One TCP connection of a pair: the accepted one or the one to the server."""

    def __init__(self, pair: _Pair | None, direction: str) -> None:
        self.pair = pair
        #: The direction of the bytes this side receives.
        self.direction = direction

    def dataReceived(self, data: bytes) -> None:
        if self.pair is not None:
            self.pair.forward(self.direction, data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self.pair is not None:
            self.pair.side_lost(self)


class _Inbound(_Side):
    """The connection the proxy accepted from a client or a peer."""

    def __init__(self, proxy: FaultProxy) -> None:
        super().__init__(None, UP)
        self.proxy = proxy

    def connectionMade(self) -> None:
        proxy = self.proxy
        if proxy.modes[UP].kind == CUT:
            proxy.counters.refused += 1
            self.transport.abortConnection()
            return
        proxy.counters.accepted += 1
        self.pair = _Pair(proxy, self)
        proxy.pairs.add(self.pair)
        self.transport.pauseProducing()  # until the server side is connected
        if proxy.modes[UP].kind == BLACKHOLE:
            # The connection attempt is lost in the hole: the dialler thinks it
            # is connected, the server never hears of it.
            self.pair.poisoned.add(UP)
            self.transport.resumeProducing()
            return
        self.pair.connect()


class _Pair:
    """An accepted connection and its connection to the server."""

    def __init__(self, proxy: FaultProxy, inbound: _Inbound) -> None:
        self.proxy = proxy
        self.inbound = inbound
        self.outbound: _Side | None = None
        self.closed = False
        #: Directions that dropped bytes (blackholed): closed when the hole ends.
        self.poisoned: set[str] = set()
        self.queues: dict[str, collections.deque[tuple[float, bytes]]] = {
            UP: collections.deque(),
            DOWN: collections.deque(),
        }
        self.timers: dict[str, Any] = {}
        self._pending_up: list[bytes] = []
        self._close_after_flush = False

    def connect(self) -> None:
        proxy = self.proxy
        endpoint = TCP4ClientEndpoint(proxy.reactor, HOST, proxy.target_port, timeout=5)
        outbound = _Side(self, DOWN)
        connectProtocol(endpoint, outbound).addCallbacks(self._connected, self._not_connected)

    def _connected(self, outbound: _Side) -> None:
        if self.closed:
            outbound.pair = None
            outbound.transport.abortConnection()
            return
        self.outbound = outbound
        pending, self._pending_up = self._pending_up, []
        for data in pending:
            self._deliver(UP, data)
        self.inbound.transport.resumeProducing()

    def _not_connected(self, failure: Failure) -> None:
        # The server is down (or paused past the connect timeout): so is the link.
        self.close()

    def destination(self, direction: str) -> Any:
        side = self.outbound if direction == UP else self.inbound
        return None if side is None else side.transport

    def forward(self, direction: str, data: bytes) -> None:
        if self.closed:
            return
        mode = self.proxy.modes[direction]
        if mode.kind == CUT:
            self.proxy.counters.closed_by_fault += 1
            self.close()
            return
        if mode.kind == BLACKHOLE or direction in self.poisoned:
            self.poisoned.add(direction)
            self.proxy.counters.bytes_dropped += len(data)
            return
        queue = self.queues[direction]
        delay = mode.delay if mode.kind == DELAY else 0.0
        if not queue and delay <= 0:
            self._deliver(direction, data)
            return
        now = self.proxy.reactor.seconds()
        release = max(now + delay, queue[-1][0] if queue else now)
        queue.append((release, data))
        if direction not in self.timers:
            self._schedule(direction)

    def _schedule(self, direction: str) -> None:
        queue = self.queues[direction]
        if not queue or self.closed:
            self.timers.pop(direction, None)
            return
        wait = max(0.0, queue[0][0] - self.proxy.reactor.seconds())
        self.timers[direction] = self.proxy.reactor.callLater(wait, self._flush, direction)

    def _flush(self, direction: str) -> None:
        self.timers.pop(direction, None)
        queue = self.queues[direction]
        now = self.proxy.reactor.seconds()
        while queue and queue[0][0] <= now + 1e-6 and not self.closed:
            self._deliver(direction, queue.popleft()[1])
        if self.closed:
            return
        if queue:
            self._schedule(direction)
        elif self._close_after_flush and not any(self.queues.values()):
            self.close(abort=False)

    def _deliver(self, direction: str, data: bytes) -> None:
        transport = self.destination(direction)
        if transport is None:
            if direction == UP:
                self._pending_up.append(data)
            return
        self.proxy.counters.bytes_forwarded += len(data)
        transport.write(data)

    def side_lost(self, side: _Side) -> None:
        if self.closed:
            return
        if any(self.queues.values()):
            # Let delayed bytes arrive before the other side learns of the close.
            self._close_after_flush = True
            # Bytes towards the side that closed cannot arrive any more.
            self.queues[DOWN if side is self.inbound else UP].clear()
            if not any(self.queues.values()):
                self.close(abort=False)
            return
        self.close(abort=False)

    def close(self, abort: bool = True) -> None:
        if self.closed:
            return
        self.closed = True
        self.proxy.pairs.discard(self)
        for timer in self.timers.values():
            if timer.active():
                timer.cancel()
        self.timers.clear()
        for side in (self.inbound, self.outbound):
            if side is None or side.transport is None:
                continue
            side.pair = None
            if abort:
                side.transport.abortConnection()
            else:
                side.transport.loseConnection()


class FaultProxy:
    """A listening port that forwards to ``target_port`` on 127.0.0.1.

    :param name: for logs and reports, e.g. ``client-2`` or ``peer-3``.
    """

    def __init__(self, reactor: Any, name: str, target_port: int = 0) -> None:
        self.reactor = reactor
        self.name = name
        self.target_port = target_port
        self.modes: dict[str, Mode] = {UP: Mode(), DOWN: Mode()}
        self.pairs: set[_Pair] = set()
        self.counters = ProxyCounters()
        self._port: Any = None

    @property
    def port(self) -> int:
        assert self._port is not None, f"proxy {self.name} is not listening"
        return int(self._port.getHost().port)

    def listen(self) -> int:
        """Listen on an ephemeral port of 127.0.0.1; the port."""
        factory = Factory.forProtocol(lambda: _Inbound(self))
        factory.noisy = False
        self._port = self.reactor.listenTCP(0, factory, interface=HOST)
        return self.port

    def set_mode(self, direction: str, kind: str, delay: float = 0.0) -> None:
        """Set what happens to the bytes of ``direction`` from now on."""
        if direction not in DIRECTIONS or kind not in MODES:
            raise ValueError(f"bad proxy mode {direction!r} {kind!r}")
        old = self.modes[direction]
        self.modes[direction] = Mode(kind, delay if kind == DELAY else 0.0)
        if kind == CUT:
            for pair in list(self.pairs):
                self.counters.closed_by_fault += 1
                pair.close()
        elif old.kind == BLACKHOLE and kind != BLACKHOLE:
            for pair in list(self.pairs):
                if direction in pair.poisoned:
                    self.counters.closed_by_fault += 1
                    pair.close()

    def heal(self) -> None:
        """Both directions back to ``pass``."""
        for direction in DIRECTIONS:
            self.set_mode(direction, PASS)

    @property
    def healthy(self) -> bool:
        return all(mode.kind == PASS for mode in self.modes.values())

    def describe(self) -> str:
        return f"{self.name}: up {self.modes[UP].describe()}, down {self.modes[DOWN].describe()}"

    def stop(self) -> Any:
        """Stop listening and abort every connection."""
        for pair in list(self.pairs):
            pair.close()
        if self._port is not None:
            port, self._port = self._port, None
            return port.stopListening()
        return None
