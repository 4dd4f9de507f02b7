"""Reading a peer's answer about one game's history (pure).

What :mod:`game.server.sync` makes of a ``PeerEvents`` or ``PeerHistories``
answer relative to this replica's own history, and the heads along a history.
"""

from __future__ import annotations

from typing import Any

from game.server.events import EMPTY_HEAD, chain, head_of

#: A peer's history of a game: ``()`` if it lacks the game, ``None`` if it
#: could not answer.
History = tuple[str, ...] | None


class Unsettled:
    """What :func:`history_from` answers when one PeerHistories answer is not enough."""


UNSETTLED = Unsettled()


def history_from(record: dict[str, Any], own: tuple[str, ...]) -> History | Unsettled:
    """A peer's history from its PeerHistories answer about a game, as
    :meth:`game.server.sync.Synchronizer._fetch_history` reads its first PeerEvents answer.

    :returns: the history (``()`` if the peer lacks the game), ``None`` if
        the peer cannot send it, or :data:`UNSETTLED` if it takes more
        (paged, or a history that parts from ours before where we asked).
    """
    if record.get("unknown"):
        return ()
    if record.get("unavailable"):
        return None
    since = len(own)
    start, version, events = record["start"], record["version"], record["events"]
    if start == since:  # the peer's history extends ours
        history = [*own, *events]
    elif start == version < since:  # the peer is behind, perhaps on our line
        if heads_of(list(own[: start + 1]))[start].hex() == record["head"]:
            return own[:start]
        return UNSETTLED
    elif start == 0:  # the peer's history differs early: it sent it all
        history = list(events)
    else:
        return UNSETTLED
    if not record["complete"]:
        return UNSETTLED
    return tuple(str(event) for event in history)


def head_hex(events: tuple[str, ...]) -> str:
    """The head of a history, in hex."""
    return head_of(events).hex()


def heads_of(events: list[str]) -> list[bytes]:
    """The heads after 0, 1, ... all of the events."""
    heads = [EMPTY_HEAD]
    for event in events:
        heads.append(chain(heads[-1], event))
    return heads


def common_prefix(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    """How many events two histories share from the start."""
    length = 0
    for left, right in zip(a, b, strict=False):
        if left != right:
            break
        length += 1
    return length
