"""The clocks after each move of a timed game, replayed from its events (``MoveClocks``).

The document holds only the clocks as the game stands (PROTOCOL.md's
``clock``); a record wants them after every move.  The events hold every
timed event's ``at``, so the game is replayed event by event through the
same :class:`~game.server.gamelog.GameLog` (and so the same
:mod:`game.server.gameclock` arithmetic) the replica applies them with,
reading the mover's time right after each move.  Pure: every replica that
holds the same events answers the same text.
"""

from __future__ import annotations

from game.server.events import MOVE
from game.server.gamelog import GameLog


def move_clocks(game: GameLog) -> list[int]:
    """The mover's time left (ms) right after each move of ``game.moves``,
    its increment added; ``[]`` for an untimed game."""
    if game.clock is None:
        return []
    replay = GameLog(game.game_id, game.events[0])
    clocks: list[int] = []
    for event in game.events[1:]:
        replay.append(event)
        if event.type == MOVE:
            assert replay.clock is not None
            clocks.append(replay.clock.remaining[event.seat])
        # A takeback (untimed games only, today) leaves the moves it kept.
        del clocks[len(replay.moves) :]
    return clocks


def clocks_json(clocks: list[int]) -> str:
    """``MoveClocks``' answer: the list as canonical JSON (``[299000,295000]``)."""
    return "[" + ",".join(map(str, clocks)) + "]"
