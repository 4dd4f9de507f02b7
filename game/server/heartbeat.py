# AMP has no annotations; calls into it are untyped, the rest is strict.
# mypy: disable-error-code=no-untyped-call
"""``Status``, every client's heartbeat, answered cheaply.

Each client connection sends ``Status`` every ``heartbeat`` (10 s): 1,000
a second for a server with 10,000 clients, nearly all of them idle.  Stock
:class:`~twisted.protocols.amp.CommandLocator` answers each through its
generic machinery (a bound method and a closure per request, three
``maybeDeferred``\\ s, the answer built field by field through the
object-to-string walk), and the node formats its 256-bit digest as hex.

:class:`StatusResponder` is one function of the request box for the whole
server (``Status`` has no arguments and answers the same to every
connection), what ``locateResponder`` may return by
:class:`~twisted.protocols.amp.IResponderLocator`'s contract.  It keeps the
answer's fields but ``now`` as wire bytes, rebuilt only when what they
show changes (a commit, the serving state), and answers at once with a box
(:class:`StatusAnswer`) whose ``serialize`` joins those fields, framed
once, with the two AMP adds or changes per answer (the ``_answer`` tag and
``now``).  Dispatch, the ``_answer`` key and the write stay stock AMP's.
Tests compare its answers with the stock responder's byte for byte.
"""

from __future__ import annotations

import struct
from collections.abc import Sized
from typing import Protocol

from twisted.protocols import amp

from game.protocol import PROTOCOL_VERSION


class Counts(Protocol):
    """What a replica's status shows (:class:`~game.server.replica.Replica`)."""

    clock: int
    digest: int

    @property
    def index(self) -> Sized: ...


class StatusSource(Protocol):
    """The node, as ``Status`` reads it (:class:`~game.server.node.ServerNode`)."""

    server_id: int

    @property
    def replica(self) -> Counts: ...

    @property
    def serving(self) -> bool: ...

    def now_ms(self) -> int: ...


class StatusResponder:
    """``Status``'s answer for every connection of one server.

    :param node: read at every request; only ``now`` is formatted each time.
    """

    def __init__(self, node: StatusSource) -> None:
        self.node = node
        self._key: tuple[int, int, int, bool] | None = None
        self._fields: dict[bytes, bytes] = {}
        self._framed = (b"", b"")

    def __call__(self, box: amp.AmpBox) -> amp.AmpBox:
        """The answer box to a ``Status`` request (whose box holds nothing to read)."""
        node = self.node
        replica = node.replica
        key = (replica.clock, len(replica.index), replica.digest, node.serving)
        if key != self._key:
            self._key, self._fields = key, self._answer_fields(key)
            self._framed = _frame(self._fields)
        answer = StatusAnswer(self._fields)
        answer[b"now"] = b"%d" % node.now_ms()
        answer.framed = self._framed
        return answer

    def _answer_fields(self, key: tuple[int, int, int, bool]) -> dict[bytes, bytes]:
        """Every field but ``now``, as :class:`amp.Integer`, :class:`amp.Boolean`
        and :class:`amp.Unicode` write them."""
        clock, games, digest, serving = key
        return {
            b"server_id": b"%d" % self.node.server_id,
            b"clock": b"%d" % clock,
            b"games": b"%d" % games,
            b"serving": b"True" if serving else b"False",
            b"protocol": b"%d" % PROTOCOL_VERSION,
            b"digest": b"%064x" % digest,
        }


class StatusAnswer(amp.AmpBox):
    """A ``Status`` answer box that serializes from its fields framed once.

    Made by :class:`StatusResponder` and read only by AMP, which adds
    ``_answer`` (the request's tag) and serializes it: the keys sort as
    ``_answer``, three framed fields, ``now``, three more.  A box holding
    any other set of keys serializes the generic way.
    """

    framed: tuple[bytes, bytes] = (b"", b"")

    def serialize(self) -> bytes:
        if len(self) != 8 or amp.ANSWER not in self or not self.framed[0]:
            generic: bytes = super().serialize()
            return generic
        before_now, after_now = self.framed
        tag, now = self[amp.ANSWER], self[b"now"]
        return b"".join(
            (
                _length(amp.ANSWER),
                amp.ANSWER,
                _length(tag),
                tag,
                before_now,
                _NOW,
                _length(now),
                now,
                after_now,
            )
        )


_SIZE = struct.Struct("!H")
_NOW = _SIZE.pack(3) + b"now"


def _length(value: bytes) -> bytes:
    return _SIZE.pack(len(value))


def _frame(fields: dict[bytes, bytes]) -> tuple[bytes, bytes]:
    """The fields' pairs that sort before ``now`` and after it (with the end
    of the box), as :meth:`amp.AmpBox.serialize` frames them."""
    before = amp.AmpBox({k: v for k, v in fields.items() if k < b"now"}).serialize()[:-2]
    after = amp.AmpBox({k: v for k, v in fields.items() if k > b"now"}).serialize()
    return before, after
