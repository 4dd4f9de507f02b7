# AMP has no annotations; calls into it are untyped, the rest is strict.
# mypy: disable-error-code=no-untyped-call
"""A watched game's change, encoded once for all its watchers.

Stock AMP's ``callRemote(GameChanged, game=document)`` encodes the document
to UTF-8 and frames the box once per call, that is once per watcher: a game
watched by 1,000 connections was encoded 1,000 times.  :class:`GameChange`
holds the bytes stock AMP would write (``GameChanged`` asks no answer, so
there is no ``_ask`` key) once, and every watcher's connection writes that
same bytes object (:meth:`game.server.connection.ServerProtocol.game_changed`).
Tests compare the bytes with stock ``callRemote``'s.
"""

from __future__ import annotations

import attrs
from twisted.protocols import amp

from game import protocol as p


@attrs.frozen
class GameChange:
    """A durable change of a game, as its watchers are told of it."""

    #: The game's new document.
    document: str
    #: The ``GameChanged`` request box as stock AMP frames it; ``None`` when
    #: the document does not fit one AMP value (stock ``callRemote`` then
    #: raises, as it always did).
    box: bytes | None

    @classmethod
    def of(cls, document: str) -> GameChange:
        return cls(document, game_changed_box(document))


def game_changed_box(document: str) -> bytes | None:
    """The bytes ``callRemote(GameChanged, game=document)`` writes, or ``None``
    if the document is over AMP's 65,535 bytes per value."""
    box = p.GameChanged.makeArguments({"game": document}, None)
    box[amp.COMMAND] = p.GameChanged.commandName
    try:
        framed: bytes = box.serialize()
    except amp.TooLong:
        return None
    return framed
