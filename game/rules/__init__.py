"""The rules of replgame's games: pure logic, standard library only.

>>> s = new_game("connect4")
>>> s.play("4").to_text()
'4'
"""

from __future__ import annotations

from typing import Final

from game.rules.base import (
    MOVE_LIMIT,
    REASONS,
    GameOver,
    IllegalMove,
    InvalidMove,
    InvalidPosition,
    Outcome,
    Position,
    RulesError,
)
from game.rules.checkers import Checkers
from game.rules.connect4 import Connect4
from game.rules.reversi import Reversi

__all__ = [
    "KINDS",
    "MOVE_LIMIT",
    "REASONS",
    "GameOver",
    "IllegalMove",
    "InvalidMove",
    "InvalidPosition",
    "Outcome",
    "Position",
    "RulesError",
    "UnknownKind",
    "from_text",
    "new_game",
    "perft",
]

KINDS: Final = ("connect4", "reversi", "checkers")

_GAMES: Final[dict[str, type[Connect4] | type[Reversi] | type[Checkers]]] = {
    "connect4": Connect4,
    "reversi": Reversi,
    "checkers": Checkers,
}


class UnknownKind(RulesError):
    """The kind is not one of :data:`KINDS`."""


def _game(kind: str) -> type[Connect4] | type[Reversi] | type[Checkers]:
    game = _GAMES.get(kind) if isinstance(kind, str) else None
    if game is None:
        raise UnknownKind(f"unknown game kind {kind!r}; expected one of {', '.join(KINDS)}")
    return game


def new_game(kind: str) -> Position:
    """The start position of ``kind``.

    :raises UnknownKind: ``kind`` is not in :data:`KINDS`.
    """
    return _game(kind).start()


def from_text(kind: str, text: str) -> Position:
    """Read a position text of PROTOCOL.md.

    :raises UnknownKind: ``kind`` is not in :data:`KINDS`.
    :raises InvalidPosition: the text is malformed or impossible.
    """
    game = _game(kind)
    if not isinstance(text, str):
        raise InvalidPosition(f"a position text is a string, not {type(text).__name__}")
    return game.from_text(text)


def perft(position: Position, depth: int) -> int:
    """Count the move sequences of exactly ``depth`` plies from ``position``.

    ``"pass"`` is a ply; a finished game has no children.
    """
    if depth <= 0:
        return 1
    if position.outcome() is not None:
        return 0
    moves = position._moves_by_rules()
    if depth == 1:
        return len(moves)
    return sum(
        perft(position._successor(move, detail), depth - 1) for move, detail in moves.items()
    )
