"""The clocks a timed game's record carries after each move (``MoveClocks``),
or why it carries only the clocks as the game stands.

Shared by ``replgame export`` and the desktop game's "Save record...": the
game document is read first, then its clocks after each move; a move made in
between is left out, so the clocks are exactly one per move of the document
read.  A server that refuses or does not know the command (an older one
answers ``UNHANDLED``) costs the record its clocks per move, nothing more.
"""

from __future__ import annotations

import attrs
from twisted.internet.defer import Deferred, succeed
from twisted.python.failure import Failure

from game import errors as wire
from game.client.client import NoAnswer, NoServers, ReplicatedClient
from game.client.document import GameDocument
from game.records import CLOCK_FORMATS, NATIVE_FORMATS


@attrs.frozen
class RecordClocks:
    """The clocks after each move of a game's record.

    :ivar clocks: one per move of the document read; None without them.
    :ivar missing: why a timed game's record has none (empty otherwise).
    """

    clocks: tuple[int, ...] | None
    missing: str = ""

    @property
    def note(self) -> str:
        """What to tell the user about a record without them (empty: nothing)."""
        if not self.missing:
            return ""
        return (
            "the record carries the clocks as the game stands, not after each move: " + self.missing
        )


def record_clocks(
    client: ReplicatedClient, document: GameDocument, format: str | None = None
) -> Deferred[RecordClocks]:
    """Ask the servers for ``document``'s clocks after each move, if it is a
    timed game with moves and ``format`` (default: the kind's own) carries
    them; never fails."""
    moves = len(document.moves)
    carried = (format or NATIVE_FORMATS.get(document.kind)) in CLOCK_FORMATS
    if document.clock is None or not moves or not carried:
        return succeed(RecordClocks(None))

    def matched(clocks: tuple[int, ...]) -> RecordClocks:
        if len(clocks) < moves:
            return RecordClocks(None, f"the servers gave clocks for {len(clocks)} of {moves} moves")
        return RecordClocks(clocks[:moves])

    asked = client.move_clocks(document.game_id)
    return asked.addCallbacks(matched, lambda failure: RecordClocks(None, _why(failure)))


def _why(failure: Failure) -> str:
    error = failure.value
    if isinstance(error, wire.WireError):
        return f"the servers answered MoveClocks {error.tag.decode()} ({error.description})"
    if isinstance(error, (NoAnswer, NoServers)):
        return f"{error} (an older server does not know MoveClocks)"
    return f"MoveClocks failed: {failure.getErrorMessage()}"
