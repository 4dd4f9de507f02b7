"""AMP box framing, parsed in bulk from a receive buffer.

Stock AMP (``BinaryBoxProtocol`` on ``Int16StringReceiver``) makes a method
call and a state transition per key and per value, and keeps every key it
receives.  A box of 40,000 two-byte keys with empty values fits in 240 KB,
and costs it 80,000 strings, 80,000 calls and a 40,000-entry dict.

:class:`BoxParser` walks the framing with offsets into one buffer (two byte
lookups per length, one slice per key) and keeps only the keys its owner can
use: the value of any other key is skipped without a copy, even while it is
still arriving.  It checks what AMP's framing and PROTOCOL.md's limits need:

- a key is 1-255 bytes (a longer key is not AMP framing; an empty key ends
  the box);
- a box (every key and value with its 2-byte length, and the 2-byte end
  marker) is at most ``max_box_bytes``.  A pair's lengths arrive before its
  bytes, so a box that will not fit is refused as soon as the lengths of its
  pair are known: a box over the limit never buffers more than the limit.

The parser is pure (no Twisted, no transport): :meth:`BoxParser.feed` takes
bytes, :meth:`BoxParser.parse` hands complete boxes to a callback, at most a
given number of bytes or boxes per call, so that its owner can share the
reactor fairly between connections.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

#: AMP's own keys (``twisted.protocols.amp``): commands, answers, errors.
AMP_KEYS = frozenset(
    {b"_command", b"_ask", b"_answer", b"_error", b"_error_code", b"_error_description"}
)
#: The longest key AMP's framing allows.
MAX_KEY_LENGTH = 255

Box = MutableMapping[bytes, bytes]


class FramingError(ValueError):
    """Bytes that cannot be AMP framing, or a box over the size limit."""


class KeyTooLong(FramingError):
    """A key length over 255: not AMP framing.

    :ivar length: the length prefix received.
    """

    def __init__(self, length: int) -> None:
        super().__init__(f"a key of {length} bytes: not AMP framing")
        self.length = length


class BoxTooLarge(FramingError):
    """A box whose bytes pass ``max_box_bytes``.

    :ivar limit: the limit it passes.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(f"a box over max_box_bytes={limit}")
        self.limit = limit


def keys_of(
    commands: Iterable[Any], *, arguments: bool = True, responses: bool = False
) -> frozenset[bytes]:
    """The keys a peer speaking ``commands`` (``amp.Command`` classes) can
    use, and AMP's own: argument names for a side that answers them,
    response names for a side that calls them."""
    keys = set(AMP_KEYS)
    for command in commands:
        if arguments:
            keys.update(name for name, _ in command.arguments)
        if responses:
            keys.update(name for name, _ in command.response)
    return frozenset(keys)


class BoxParser:
    """Splits a byte stream into AMP boxes, keeping only ``keys``.

    :param box_received: called with each complete box, in order.
    :param keys: the keys to keep (``None``: every key); the others are
        parsed, counted against the limit and dropped.
    :param max_box_bytes: the size limit of one box, framing included.
    :param box_factory: makes an empty box (e.g. ``amp.AmpBox``).
    """

    def __init__(
        self,
        box_received: Callable[[Box], object],
        keys: frozenset[bytes] | None,
        max_box_bytes: int,
        box_factory: Callable[[], Box] = dict,
    ) -> None:
        self._box_received = box_received
        self._keys = keys
        self._max = max_box_bytes
        self._new_box = box_factory
        # Unparsed input: _buffer[_offset:], then the chunks in _later.
        self._buffer = b""
        self._offset = 0
        self._later: list[bytes] = []
        self._later_bytes = 0
        # parse() can make progress once this many bytes are buffered.
        self._need = 2
        # The box being received and the bytes it counts so far.
        self._box: Box = box_factory()
        self._box_bytes = 0
        # Bytes still to drop of a value whose key is not kept.
        self._skip = 0
        #: No more boxes: a framing error, or :meth:`halt`.
        self.halted = False
        self._parsing = False

    @property
    def buffered(self) -> int:
        """Bytes of input received and not parsed yet."""
        return len(self._buffer) - self._offset + self._later_bytes

    @property
    def ready(self) -> bool:
        """:meth:`parse` has input it can make progress on now."""
        return not self.halted and self.buffered >= self._need

    def halt(self) -> None:
        """Stop for good (the connection is closing); drop what is buffered."""
        self.halted = True
        self._buffer = b""
        self._offset = 0
        self._later = []
        self._later_bytes = 0
        self._box = self._new_box()

    def feed(self, data: bytes) -> None:
        """Take ``data`` (cheap: nothing is parsed until :meth:`parse`)."""
        if self.halted:
            return
        if self._skip:
            if len(data) <= self._skip:
                self._skip -= len(data)
                return
            data = data[self._skip :]
            self._skip = 0
        self._later.append(data)
        self._later_bytes += len(data)

    def parse(self, max_bytes: int | None = None, max_boxes: int | None = None) -> bool:
        """Parse buffered input, handing each complete box to ``box_received``.

        Stops at a pair boundary once ``max_bytes`` bytes were parsed or
        ``max_boxes`` (at least 1) boxes handed on, or when the input runs out.

        :returns: whether input it could parse now is left (call again).
        :raises KeyTooLong: a key over 255 bytes; the parser halts.
        :raises BoxTooLarge: a box over ``max_box_bytes``; the parser halts.
        """
        if self._parsing or not self.ready:
            return False
        if self._later:
            buffer = b"".join([self._buffer[self._offset :], *self._later])
            self._later = []
            self._later_bytes = 0
            at = 0
        else:
            buffer = self._buffer
            at = self._offset
        self._buffer, self._offset = buffer, at
        end = len(buffer)
        stop = end if max_bytes is None else min(end, at + max_bytes)
        boxes_left = -1 if max_boxes is None else max_boxes
        keys = self._keys
        limit = self._max
        box = self._box
        box_bytes = self._box_bytes
        need = 2
        skip = 0
        self._parsing = True
        try:
            while at < stop:
                if end - at < 2:
                    break
                key_length = buffer[at] << 8 | buffer[at + 1]
                if not key_length:  # the end of a box
                    box_bytes += 2
                    if box_bytes > limit:
                        raise BoxTooLarge(limit)
                    at += 2
                    self._offset = at
                    self._box = self._new_box()
                    self._box_bytes = 0
                    self._box_received(box)
                    if self.halted:
                        return False
                    box = self._box
                    box_bytes = 0
                    boxes_left -= 1
                    if not boxes_left:
                        break
                    continue
                if key_length > MAX_KEY_LENGTH:
                    raise KeyTooLong(key_length)
                value_at = at + 2 + key_length
                if end < value_at + 2:
                    if box_bytes + 2 + key_length > limit:
                        raise BoxTooLarge(limit)
                    need = value_at + 2 - at
                    break
                value_end = value_at + 2 + (buffer[value_at] << 8 | buffer[value_at + 1])
                box_bytes += value_end - at
                if box_bytes > limit:
                    raise BoxTooLarge(limit)
                key = buffer[at + 2 : value_at]
                if keys is None or key in keys:
                    if end < value_end:
                        box_bytes -= value_end - at  # counted again once it is complete
                        need = value_end - at
                        break
                    box[key] = buffer[value_at + 2 : value_end]
                elif end < value_end:  # drop the rest of this value as it arrives
                    skip = value_end - end
                    at = end
                    break
                at = value_end
        except FramingError:
            self.halt()
            raise
        finally:
            self._parsing = False
        self._box = box
        self._box_bytes = box_bytes
        self._need = need
        if skip:
            self._skip = skip
            later, self._later, self._later_bytes = self._later, [], 0
            for data in later:  # fed meanwhile (by box_received): the skip comes first
                self.feed(data)
        if end - at >= need:  # stopped by a budget: keep the buffer, no copy
            self._buffer, self._offset = buffer, at
        else:  # waiting for input: keep only the unparsed tail (at most one pair)
            self._buffer, self._offset = buffer[at:], 0
        return self.ready
