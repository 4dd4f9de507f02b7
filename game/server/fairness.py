"""A fair share of the reactor for every connection's input.

Parsing and answering what one connection sent runs on the reactor thread:
while it runs, nothing else does.  A connection that sends a lot (a box of
40,000 tiny keys takes ~20 ms to parse even in bulk; a read of 64 KiB of
pipelined requests, more to answer) would otherwise delay every other
connection's answers by all of it, and forty such connections by forty
times that.

:class:`FairInput` bounds the work done for one connection at a time to a
*slice* (at most ``slice_bytes`` bytes parsed or ``slice_boxes`` boxes
handled).  New input is handled at once, one slice; a connection with more
than that stops being read (``transport.pauseProducing()``: the kernel
buffers the rest, then TCP flow control holds the sender) and waits in a
round-robin queue, served ``turn_slices`` slices per reactor turn
(``callLater(0)``), until it has nothing left and is read again.  A light
client is therefore answered in the turn its request arrives, and a waiting
one after at most one slice of each connection ahead of it.

This is input only: the output direction (the transport pausing us when its
buffer fills) is the protocol's own ``IPushProducer``.
"""

from __future__ import annotations

from typing import Protocol

from twisted.internet.interfaces import IDelayedCall, IReactorTime

#: One slice: enough for a pipeline of 100 typical requests (about 14 KB),
#: which the group commit then writes in one transaction.
SLICE_BYTES = 16 * 1024
SLICE_BOXES = 128
#: Slices of waiting connections per reactor turn, before other events run.
TURN_SLICES = 4


class Reader(Protocol):
    """A connection as :class:`FairInput` sees it."""

    def read_slice(self, max_bytes: int, max_boxes: int) -> bool:
        """Handle at most this much buffered input; whether more is left now."""

    def pause_reading(self) -> None:
        """Stop reading the transport (``transport.pauseProducing()``)."""

    def resume_reading(self) -> None:
        """Read the transport again."""


class FairInput:
    """Round-robin scheduling of the input of many connections.

    :param clock: schedules the turns (``callLater(0)``).
    """

    def __init__(
        self,
        clock: IReactorTime,
        slice_bytes: int = SLICE_BYTES,
        slice_boxes: int = SLICE_BOXES,
        turn_slices: int = TURN_SLICES,
    ) -> None:
        self.clock = clock
        self.slice_bytes = slice_bytes
        self.slice_boxes = slice_boxes
        self.turn_slices = turn_slices
        # Connections with input left, paused, in turn order (a dict: O(1) removal).
        self._waiting: dict[Reader, None] = {}
        self._turn: IDelayedCall | None = None  # the next turn

    @property
    def waiting(self) -> list[Reader]:
        """The connections waiting for their turn, next first."""
        return list(self._waiting)

    def input_arrived(self, reader: Reader) -> None:
        """``reader`` has new input: one slice now, the rest in turn."""
        if reader in self._waiting:
            return  # it arrived while paused (e.g. TLS records of one read): in turn
        if reader.read_slice(self.slice_bytes, self.slice_boxes):
            reader.pause_reading()
            self._waiting[reader] = None
            self._schedule()

    def forget(self, reader: Reader) -> None:
        """``reader`` is closing: drop it from the queue."""
        self._waiting.pop(reader, None)

    def _schedule(self) -> None:
        if self._turn is None and self._waiting:
            self._turn = self.clock.callLater(0, self._run_turn)

    def _run_turn(self) -> None:
        self._turn = None
        try:
            for _ in range(self.turn_slices):
                if not self._waiting:
                    break
                reader = next(iter(self._waiting))
                del self._waiting[reader]
                if reader.read_slice(self.slice_bytes, self.slice_boxes):
                    self._waiting[reader] = None  # to the back of the queue
                else:
                    reader.resume_reading()
        finally:
            self._schedule()
