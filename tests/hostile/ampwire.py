"""AMP on the wire, by hand: boxes framed without any checks, and a raw connection.

The hostile and security tests need to send what a well-behaved AMP client
never would (invalid UTF-8, keys of any length, boxes over the limits, half a
box) and to see exactly what the server sends back, box by box.  Stock AMP
checks its own output and drops a connection on anything odd it receives, so
these tests frame boxes themselves (:func:`encode_box`), read answers with a
forgiving incremental parser (:class:`BoxDecoder`), and talk over a plain
:class:`RawConnection`.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable, Mapping
from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from zope.interface import implementer

HOST = "127.0.0.1"
Box = dict[bytes, bytes]


def encode_box(pairs: Iterable[tuple[bytes, bytes]] | Mapping[bytes, bytes]) -> bytes:
    """Frame one box: each key and value with a 2-byte length, then an empty key.

    No checks: keys may be longer than AMP's 255 bytes (up to 65,535),
    values may be anything up to 65,535 bytes.
    """
    items = pairs.items() if isinstance(pairs, Mapping) else pairs
    out = bytearray()
    for key, value in items:
        out += struct.pack("!H", len(key)) + key + struct.pack("!H", len(value)) + value
    return bytes(out + b"\x00\x00")


def command_box(name: bytes, ask: bytes | None, **arguments: bytes) -> bytes:
    """A request box: ``_command``, ``_ask`` (if given) and raw argument values."""
    pairs: list[tuple[bytes, bytes]] = [(b"_command", name)]
    if ask is not None:
        pairs.append((b"_ask", ask))
    pairs += [(key.encode(), value) for key, value in arguments.items()]
    return encode_box(pairs)


def list_of(values: Iterable[str | bytes]) -> bytes:
    """The wire form of an AMP ``ListOf(Unicode())`` value."""
    out = bytearray()
    for value in values:
        data = value.encode() if isinstance(value, str) else value
        out += struct.pack("!H", len(data)) + data
    return bytes(out)


class BoxDecoder:
    """Split a byte stream into AMP boxes (dicts of bytes), incrementally."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.current: Box = {}
        self.key: bytes | None = None

    def feed(self, data: bytes) -> list[Box]:
        self.buffer += data
        boxes: list[Box] = []
        while len(self.buffer) >= 2:
            (length,) = struct.unpack("!H", self.buffer[:2])
            if len(self.buffer) < 2 + length:
                break
            string = bytes(self.buffer[2 : 2 + length])
            del self.buffer[: 2 + length]
            if self.key is None:
                if not string:
                    boxes.append(self.current)
                    self.current = {}
                else:
                    self.key = string
            else:
                self.current[self.key] = string
                self.key = None
        return boxes


def answer_tag(box: Box) -> str:
    """``OK`` for a successful answer, else the error code (e.g. ``BAD_REQUEST``)."""
    if b"_answer" in box:
        return "OK"
    if b"_error" in box:
        return box.get(b"_error_code", b"?").decode("ascii", "replace")
    return "NOT-AN-ANSWER"


def answer_id(box: Box) -> bytes | None:
    return box.get(b"_answer", box.get(b"_error"))


@implementer(IHalfCloseableProtocol)
class RawConnection(Protocol):
    """A connection that writes bytes as given and decodes every box it receives.

    :ivar boxes: every box received, in order.
    :ivar received: every byte received.
    :ivar closed: the connection is gone (either side closed it).
    """

    def __init__(self) -> None:
        self.decoder = BoxDecoder()
        self.boxes: list[Box] = []
        self.received = bytearray()
        self.closed = False
        self.read_closed = False
        self.lost: defer.Deferred[None] = defer.Deferred()
        self._waiting: dict[bytes, list[defer.Deferred[Box]]] = {}
        self._answers: dict[bytes, Box] = {}
        self._ask = 0

    # -- Protocol ---------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        for box in self.decoder.feed(data):
            self.boxes.append(box)
            tag = answer_id(box)
            if tag is None:
                continue
            self._answers[tag] = box
            for waiter in self._waiting.pop(tag, []):
                if not waiter.called:
                    waiter.callback(box)

    def readConnectionLost(self) -> None:
        # The server closed its side: AMP servers do not half-close, so this is
        # the whole connection going away.
        self.read_closed = True
        self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        pass

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.closed = True
        waiting, self._waiting = self._waiting, {}
        for waiters in waiting.values():
            for waiter in waiters:
                if not waiter.called:
                    waiter.errback(ConnectionError("connection closed before the answer"))
        if not self.lost.called:
            self.lost.callback(None)

    # -- use --------------------------------------------------------------------

    def next_ask(self) -> bytes:
        self._ask += 1
        return str(self._ask).encode()

    def write(self, data: bytes) -> None:
        if not self.closed:
            self.transport.write(data)

    def request(self, name: bytes, **arguments: bytes) -> bytes:
        """Send one request box with a fresh ``_ask``; return the ask."""
        ask = self.next_ask()
        self.write(command_box(name, ask, **arguments))
        return ask

    def answer(self, ask: bytes, timeout: float = 5) -> defer.Deferred[Box]:
        """The answer box to ``ask`` (already received, or when it arrives)."""
        if ask in self._answers:
            return defer.succeed(self._answers[ask])
        if self.closed:
            return defer.fail(ConnectionError("connection closed before the answer"))
        waiter: defer.Deferred[Box] = defer.Deferred()
        self._waiting.setdefault(ask, []).append(waiter)
        return waiter.addTimeout(timeout, reactor)

    async def call(self, name: bytes, timeout: float = 5, **arguments: bytes) -> Box:
        return await self.answer(self.request(name, **arguments), timeout)

    async def wait_closed(self, timeout: float) -> bool:
        """True once the connection is closed; False if still open after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            await sleep(0.01)
        return self.closed

    def abort(self) -> None:
        if not self.closed and self.transport is not None:
            self.transport.abortConnection()


def sleep(seconds: float) -> defer.Deferred[None]:
    from twisted.internet.task import deferLater

    return deferLater(reactor, seconds, lambda: None)


async def connect_raw(port: int, timeout: float = 5, host: str = HOST) -> RawConnection:
    endpoint = TCP4ClientEndpoint(reactor, host, port, timeout=timeout)
    connection: Any = await connectProtocol(endpoint, RawConnection()).addTimeout(timeout, reactor)
    assert isinstance(connection, RawConnection)
    return connection
