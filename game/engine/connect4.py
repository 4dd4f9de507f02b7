"""Connect Four for the search: two ints and a threat-based evaluation.

The state is ``(mine, mask)``: the discs of the side to move and all discs,
bit ``column * 7 + row`` (row 0 at the bottom, a spare bit on top of each
column), as in :mod:`game.rules.connect4`.  A move is a column 0-6.

The evaluation counts threats (empty cells that would complete four) the way
Connect Four is played: the first player wins with threats on odd rows
(1, 3, 5 counted from the bottom), the second with threats on even rows,
since zugzwang fills the board from the bottom.  Then the centre columns and
the open lines (windows of four holding one side's discs only).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Final

from game.engine.search import PLY, WIN
from game.rules import Position

COLUMNS: Final = 7
ROWS: Final = 6
_STRIDE: Final = ROWS + 1
_BOTTOM: Final = sum(1 << (c * _STRIDE) for c in range(COLUMNS))
_BOARD: Final = _BOTTOM * ((1 << ROWS) - 1)
_COLUMN_MASKS: Final = tuple(((1 << ROWS) - 1) << (c * _STRIDE) for c in range(COLUMNS))
#: Centre columns first: the static move order.
_ORDER: Final = (3, 2, 4, 1, 5, 0, 6)
_CELLS: Final = ROWS * COLUMNS
# Rows counted from 0 at the bottom: rows 0, 2, 4 are the odd rows of the
# usual counting (1, 3, 5), the first player's; rows 1, 3, 5 the second's.
_ODD_ROWS: Final = sum(_BOTTOM << row for row in (0, 2, 4))
_EVEN_ROWS: Final = sum(_BOTTOM << row for row in (1, 3, 5))
_CENTRE_WEIGHTS: Final = ((_COLUMN_MASKS[3], 6), (_COLUMN_MASKS[2] | _COLUMN_MASKS[4], 3))


def _windows() -> tuple[int, ...]:
    """Every line of four cells on the board, as a bit mask."""
    lines = []
    for column in range(COLUMNS):
        for row in range(ROWS):
            for d_column, d_row in ((0, 1), (1, 0), (1, 1), (1, -1)):
                end_column, end_row = column + 3 * d_column, row + 3 * d_row
                if 0 <= end_column < COLUMNS and 0 <= end_row < ROWS:
                    lines.append(
                        sum(
                            1 << ((column + k * d_column) * _STRIDE + row + k * d_row)
                            for k in range(4)
                        )
                    )
    return tuple(lines)


_WINDOWS: Final = _windows()
#: What an open line is worth by how many of its four cells one side holds.
_LINE_VALUES: Final = (0, 1, 4, 0, 0)

State = tuple[int, int]


def winning_cells(discs: int, mask: int) -> int:
    """The empty cells that would complete four for the side with ``discs``."""
    # Vertical: three above each other, the cell on top.
    cells = (discs << 1) & (discs << 2) & (discs << 3)
    for shift in (_STRIDE, _STRIDE - 1, _STRIDE + 1):
        pair = (discs << shift) & (discs << 2 * shift)
        cells |= pair & (discs << 3 * shift)
        cells |= pair & (discs >> shift)
        pair = (discs >> shift) & (discs >> 2 * shift)
        cells |= pair & (discs << shift)
        cells |= pair & (discs >> 3 * shift)
    return cells & (_BOARD ^ mask)


def has_four(discs: int) -> bool:
    for shift in (1, _STRIDE, _STRIDE - 1, _STRIDE + 1):
        pair = discs & (discs >> shift)
        if pair & (pair >> 2 * shift):
            return True
    return False


def from_position(position: Position) -> State:
    """The state of a Connect Four position, read from its text (the columns played)."""
    mine = mask = 0
    for name in position.to_text():
        mine, mask = play((mine, mask), int(name) - 1)
    return mine, mask


def play(state: State, column: int) -> State:
    mine, mask = state
    # The opponent's discs become the side to move's.
    return mine ^ mask, mask | (mask + (1 << column * _STRIDE))


def move_text(column: int) -> str:
    return str(column + 1)


def legal_columns(state: State) -> list[int]:
    """The playable columns in static order (no game-end test)."""
    free = (state[1] + _BOTTOM) & _BOARD
    return [column for column in _ORDER if free & _COLUMN_MASKS[column]]


class Connect4Tree:
    """The :class:`~game.engine.search.GameTree` of Connect Four."""

    def expand(self, state: State) -> tuple[int | None, list[int]]:
        mine, mask = state
        theirs = mine ^ mask
        # The disc just played (by the opponent) made four: this side lost.
        if has_four(theirs):
            return -WIN, []
        if mask.bit_count() == _CELLS:
            return 0, []
        free = (mask + _BOTTOM) & _BOARD
        if winning_cells(mine, mask) & free:
            return WIN - PLY, []
        threats = winning_cells(theirs, mask)
        urgent = threats & free
        if urgent:
            if urgent & (urgent - 1):
                return -(WIN - 2 * PLY), []  # two threats at once: one cannot block both
            return None, [column for column in _ORDER if urgent & _COLUMN_MASKS[column]]
        # Never play under an opponent's threat while another move exists.
        safe = free & ~(threats >> 1)
        moves = [column for column in _ORDER if safe & _COLUMN_MASKS[column]]
        if not moves:
            return -(WIN - 2 * PLY), []
        return None, moves

    def play(self, state: State, move: int) -> State:
        mine, mask = state
        return mine ^ mask, mask | (mask + (1 << move * _STRIDE))

    def evaluate(self, state: State, moves: list[int]) -> int:
        mine, mask = state
        theirs = mine ^ mask
        first_to_move = mask.bit_count() % 2 == 0
        my_rows, their_rows = (_ODD_ROWS, _EVEN_ROWS) if first_to_move else (_EVEN_ROWS, _ODD_ROWS)
        my_threats = winning_cells(mine, mask)
        their_threats = winning_cells(theirs, mask)
        # A threat on a row of its owner's parity wins zugzwang at the end.
        good = (my_threats & my_rows).bit_count() - (their_threats & their_rows).bit_count()
        other = (my_threats & their_rows).bit_count() - (their_threats & my_rows).bit_count()
        score = 40 * good + 12 * other
        for columns, weight in _CENTRE_WEIGHTS:
            score += weight * ((mine & columns).bit_count() - (theirs & columns).bit_count())
        values = _LINE_VALUES
        for line in _WINDOWS:
            if not line & theirs:
                score += values[(line & mine).bit_count()]
            elif not line & mine:
                score -= values[(line & theirs).bit_count()]
        return score

    def forcing(self, state: State, moves: list[int]) -> bool:
        return False

    def key(self, state: State) -> Hashable:
        return state[0] + state[1]
