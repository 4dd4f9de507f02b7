"""What every game shares: errors, the outcome value, and the position contract.

A position is immutable and hashable.  Equality is the position itself (board,
side to move, rule counters), not how many moves led to it: ``ply`` is history,
so ``from_text(kind, p.to_text()) == p`` holds for every reached position.
"""

from __future__ import annotations

import abc
from collections.abc import Hashable
from dataclasses import dataclass
from typing import ClassVar, Final

#: A game is drawn when its 1,000th move is played (unless that move wins).
MOVE_LIMIT: Final = 1000

FOUR_IN_A_ROW: Final = "four in a row"
BOARD_FULL: Final = "board full"
MORE_DISCS: Final = "more discs"
EQUAL_DISCS: Final = "equal discs"
NO_LEGAL_MOVE: Final = "no legal move"
NO_PROGRESS: Final = "no progress"
MOVE_LIMIT_REASON: Final = "move limit"
RESIGNED: Final = "resigned"
DRAW_AGREED: Final = "draw agreed"
CANCELLED: Final = "cancelled"

REASONS: Final = (
    FOUR_IN_A_ROW,
    BOARD_FULL,
    MORE_DISCS,
    EQUAL_DISCS,
    NO_LEGAL_MOVE,
    NO_PROGRESS,
    MOVE_LIMIT_REASON,
    RESIGNED,
    DRAW_AGREED,
    CANCELLED,
)


class RulesError(ValueError):
    """Base of every error the rules engine raises on bad input."""


class InvalidMove(RulesError):
    """The string is not in the game's move notation at all."""


class IllegalMove(RulesError):
    """The string is a move in the game's notation, but not legal here."""


class GameOver(RulesError):
    """The game is finished: no move can be played."""


class InvalidPosition(RulesError):
    """A position text is malformed or describes an impossible position."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a game ended: ``winner`` is the seat (0 or 1), or None for a draw."""

    winner: int | None
    reason: str


class Position(abc.ABC):
    """An immutable game position; subclasses hold the board.

    Subclasses provide the notation grammar, move generation, the game's own
    end rules and the text form.  This class adds the move limit, caching of
    legal moves and outcome, and the order of checks in :meth:`play`.
    Subclasses never change a position after building it.
    """

    kind: ClassVar[str]

    __slots__ = ("_outcome", "_ply", "_rule_moves", "_to_move")

    def __init__(self, to_move: int, ply: int) -> None:
        self._to_move = to_move
        self._ply = ply
        self._rule_moves: dict[str, object] | None = None
        self._outcome: Outcome | bool | None = False  # False: not computed yet

    @property
    def to_move(self) -> int:
        """The seat to move: 0 or 1.  Once the game is over, the seat that
        would move next (the opponent of the last mover)."""
        return self._to_move

    @property
    def ply(self) -> int:
        """Moves played since the start (0 for a position read from text)."""
        return self._ply

    # -- what a game defines -------------------------------------------------

    @abc.abstractmethod
    def _key(self) -> Hashable:
        """Everything that makes this position what it is, except ``ply``."""

    @abc.abstractmethod
    def _generate(self) -> dict[str, object]:
        """Every move the game's rules allow here (ignoring the move limit),
        mapped to whatever :meth:`_successor` needs to apply it."""

    @abc.abstractmethod
    def _successor(self, move: str, detail: object) -> Position:
        """The position after ``move``, with ``ply`` one higher."""

    @abc.abstractmethod
    def _game_outcome(self) -> Outcome | None:
        """The end of the game by its own rules (the move limit aside)."""

    @abc.abstractmethod
    def _in_notation(self, move: str) -> bool:
        """Whether ``move`` is written in the game's notation."""

    @abc.abstractmethod
    def to_text(self) -> str:
        """The canonical position text of PROTOCOL.md."""

    # -- the shared contract -------------------------------------------------

    def _moves_by_rules(self) -> dict[str, object]:
        moves = self._rule_moves
        if moves is None:
            moves = self._rule_moves = self._generate()
        return moves

    def legal_moves(self) -> list[str]:
        """The legal moves in ``sorted()`` order; ``[]`` once the game is over."""
        if self.outcome() is not None:
            return []
        return sorted(self._moves_by_rules())

    def play(self, move: str) -> Position:
        """Return the position after ``move``; this position is unchanged.

        :raises InvalidMove: ``move`` is not a string in the game's notation.
        :raises GameOver: the game is finished.
        :raises IllegalMove: ``move`` is not legal in this position.
        """
        if not isinstance(move, str):
            raise InvalidMove(f"a move is a string, not {type(move).__name__}")
        if self.outcome() is not None:
            raise GameOver("the game is over")
        detail = self._moves_by_rules().get(move, _MISSING)
        if detail is _MISSING:
            if self._in_notation(move):
                raise IllegalMove(f"{move!r} is not a legal move here")
            raise InvalidMove(f"{move!r} is not {self.kind} notation")
        return self._successor(move, detail)

    def outcome(self) -> Outcome | None:
        """None while the game goes on, else how it ended.

        A win by the game's rules beats the move limit, which beats the
        game's own draw rules.
        """
        result = self._outcome
        if result is False:
            result = self._game_outcome()
            if self._ply >= MOVE_LIMIT and (result is None or result.winner is None):
                result = Outcome(None, MOVE_LIMIT_REASON)
            self._outcome = result
        assert result is not True
        return result

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Position):
            return NotImplemented
        return self.kind == other.kind and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.kind, self._key()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_text()!r}, ply={self._ply})"


_MISSING = object()
