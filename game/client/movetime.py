"""How long the computer may think on one move, and how long it seems to (pure).

In a timed game the search budget comes from the seat's time left and the
increment (:func:`move_budget`): a thirtieth of the time left plus most of
the increment, never more than the level's own budget, and never so much
that the move could arrive after the deadline.  An untimed or
correspondence game searches for the level's budget.  The weakest levels
answer so fast that a person does not see the move land: they wait until
:data:`THINK_DELAYS` has passed since their turn began (:func:`think_delay`).
"""

from __future__ import annotations

from typing import Final

from game.client.clocks import read_clocks
from game.client.document import GameDocument
from game.engine import LEVELS
from game.timecontrol import InvalidTimeControl

#: Seconds kept back from the time left: the trip of the move to the
#: servers, the worker's start, a busy machine.
SAFETY_MARGIN: Final = 0.5
#: The share of the time left one move may take (moves still to play, roughly).
MOVES_TO_GO: Final = 30
#: The share of the increment one move may spend on top.
INCREMENT_SHARE: Final = 0.8
#: The least time, in seconds, a level appears to think (levels 1-2 only).
THINK_DELAYS: Final = {1: 0.7, 2: 0.5}


def level_budget(kind: str, level: int) -> float:
    """The level's own budget for one move of ``kind``, in seconds."""
    return LEVELS[kind][level].budget


def move_budget(level_seconds: float, remaining_ms: int | None, increment_ms: int = 0) -> float:
    """The search budget of one move, in seconds.

    :param level_seconds: the level's own budget.
    :param remaining_ms: the seat's time left (None: no clock counts it down).
    :param increment_ms: what each move adds back.
    :returns: ``min(level, remaining/30 + increment*0.8)``, at most
        ``remaining - SAFETY_MARGIN`` and never below 0 (the engine's
        one-ply search still answers with a budget of 0).
    """
    if remaining_ms is None:
        return level_seconds
    remaining = remaining_ms / 1000
    share = remaining / MOVES_TO_GO + INCREMENT_SHARE * increment_ms / 1000
    return max(0.0, min(level_seconds, share, remaining - SAFETY_MARGIN))


def budget_for(document: GameDocument, seat: int, level: int, now_ms: int) -> float:
    """The budget of ``seat``'s move in ``document`` at ``now_ms`` (the
    servers' time scale): the level's own in an untimed or correspondence
    game, else :func:`move_budget` of the seat's clock."""
    own = level_budget(document.kind, level)
    try:
        reading = read_clocks(document, now_ms)
    except InvalidTimeControl:
        return own
    if reading is None or not reading.control.live:
        return own
    return move_budget(own, reading.remaining[seat], reading.control.increment_ms)


def think_delay(level: int, budget: float, elapsed: float) -> float:
    """Seconds still to wait before sending a move found after ``elapsed``
    seconds: the level's :data:`THINK_DELAYS` (never beyond ``budget``,
    so a short clock is never spent on show)."""
    least = min(THINK_DELAYS.get(level, 0.0), budget)
    return max(0.0, least - elapsed)
