"""Connect Four: 7 columns by 6 rows, discs fall to the lowest free cell.

The position text is the sequence of columns played (``"4453"``), so the
position is its history.  The board is kept as one bitboard per seat:
bit ``column * 7 + row`` (row 0 at the bottom, a spare bit on top of each
column so that shifts never wrap from one column into the next).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Final

from game.rules.base import (
    BOARD_FULL,
    FOUR_IN_A_ROW,
    InvalidPosition,
    Outcome,
    Position,
)

COLUMNS: Final = 7
ROWS: Final = 6
_COLUMN_NAMES: Final = tuple(str(c + 1) for c in range(COLUMNS))
_STRIDE: Final = ROWS + 1
# Vertical, horizontal and the two diagonals, as bit shifts.
_DIRECTIONS: Final = (1, _STRIDE, _STRIDE - 1, _STRIDE + 1)


def _has_four(bits: int) -> bool:
    for shift in _DIRECTIONS:
        pairs = bits & (bits >> shift)
        if pairs & (pairs >> (2 * shift)):
            return True
    return False


class Connect4(Position):
    kind = "connect4"

    __slots__ = ("_discs", "_heights", "_history", "_won")

    def __init__(
        self,
        history: str,
        discs: tuple[int, int],
        heights: tuple[int, ...],
        won: bool,
    ) -> None:
        super().__init__(len(history) % 2, len(history))
        self._history = history
        self._discs = discs
        self._heights = heights
        self._won = won

    @classmethod
    def start(cls) -> Connect4:
        return cls("", (0, 0), (0,) * COLUMNS, False)

    @classmethod
    def from_text(cls, text: str) -> Connect4:
        position = cls.start()
        for index, name in enumerate(text):
            if name not in _COLUMN_NAMES:
                raise InvalidPosition(f"character {index + 1} of {text!r} is not a column 1-7")
            if position._won:
                raise InvalidPosition(f"{text!r} goes on after four in a row")
            column = int(name) - 1
            if position._heights[column] == ROWS:
                raise InvalidPosition(f"{text!r} plays column {name} more than {ROWS} times")
            position = position._drop(name, column)
        return position

    def cell(self, column: int, row: int) -> int | None:
        """The seat whose disc is at (column, row), row 0 at the bottom, or None."""
        bit = 1 << (column * _STRIDE + row)
        for seat in (0, 1):
            if self._discs[seat] & bit:
                return seat
        return None

    def _drop(self, name: str, column: int) -> Connect4:
        seat = self._to_move
        height = self._heights[column]
        bits = self._discs[seat] | (1 << (column * _STRIDE + height))
        discs = (bits, self._discs[1]) if seat == 0 else (self._discs[0], bits)
        heights = (*self._heights[:column], height + 1, *self._heights[column + 1 :])
        return Connect4(self._history + name, discs, heights, _has_four(bits))

    def _key(self) -> Hashable:
        return self._history

    def _generate(self) -> dict[str, object]:
        return {
            name: column
            for column, name in enumerate(_COLUMN_NAMES)
            if self._heights[column] < ROWS
        }

    def _successor(self, move: str, detail: object) -> Position:
        assert isinstance(detail, int)
        return self._drop(move, detail)

    def _game_outcome(self) -> Outcome | None:
        if self._won:
            return Outcome(1 - self._to_move, FOUR_IN_A_ROW)
        if len(self._history) == COLUMNS * ROWS:
            return Outcome(None, BOARD_FULL)
        return None

    def _in_notation(self, move: str) -> bool:
        return move in _COLUMN_NAMES

    def to_text(self) -> str:
        return self._history
