"""English draughts (checkers): 8x8, men move forward, kings one square any way.

Squares use the standard numbering: with black at the top, square 1 is b8 and
squares run left to right, top to bottom, four to a row.  Black (seat 0) starts
on 1-12, moves first and moves toward higher numbers; white (seat 1) starts on
21-32.  Capturing is compulsory, a multi-jump goes on to its end (any capture
sequence may be chosen, not only the longest), and a man that reaches the far
row is crowned and its move ends there.

The board is kept as three bitboards (black, white, kings) in a "ghost square"
layout: square ``s`` (index ``i = s - 1``) is bit ``i + i // 8``, so bits 8, 17
and 26 are never used and every diagonal step is the same shift everywhere:
``+4`` down-left, ``+5`` down-right, ``-5`` up-left, ``-4`` up-right ("down" is
toward higher square numbers).  A step that would leave the board lands on a
ghost bit or beyond bit 34, which are never in :data:`_VALID`.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Final, cast

from game.rules.base import NO_LEGAL_MOVE, NO_PROGRESS, InvalidPosition, Outcome, Position

SQUARES: Final = 32
#: Plies without a capture or a man move after which the game is drawn.
NO_PROGRESS_PLIES: Final = 80
_MAX_PIECES: Final = 12
_MAX_TEXT: Final = 256

# (from bit, to bit, captured bits, becomes a king by this move).
_Detail = tuple[int, int, int, bool]
# (bit jumped over, landing bit index, landing bit, "x" + landing square).
_Jump = tuple[int, int, int, str]
# (to bit, move string, detail).
_Step = tuple[int, str, _Detail]


def _bit_index(square: int) -> int:
    index = square - 1
    return index + index // 8


def square_cell(square: int) -> tuple[int, int]:
    """The (column, row) of ``square`` 1-32, both 0-7, column 0 = file a on the
    left and row 0 the top row (black's home side).

    :raises ValueError: ``square`` is not 1-32.
    """
    if not isinstance(square, int) or not 1 <= square <= SQUARES:
        raise ValueError(f"a square is 1-{SQUARES}, not {square!r}")
    row, index = divmod(square - 1, 4)
    return (2 * index + (1 if row % 2 == 0 else 0), row)


def _square_at(column: int, row: int) -> int | None:
    if not (0 <= column < 8 and 0 <= row < 8) or (column + row) % 2 == 0:
        return None
    return row * 4 + column // 2 + 1


_SQUARE_BITS: Final = tuple(1 << _bit_index(s) for s in range(1, SQUARES + 1))
_VALID: Final = sum(_SQUARE_BITS)
_BOARD_BITS: Final = _bit_index(SQUARES) + 1
_BLACK_CROWN: Final = sum(_SQUARE_BITS[28:32])  # squares 29-32
_WHITE_CROWN: Final = sum(_SQUARE_BITS[0:4])  # squares 1-4
# Bit index -> square number (0 for ghost bits).
_SQUARE_OF_INDEX: Final = tuple(
    next((s for s in range(1, SQUARES + 1) if _bit_index(s) == i), 0) for i in range(_BOARD_BITS)
)

_DOWN: Final = ((1, -1), (1, 1))
_UP: Final = ((-1, -1), (-1, 1))


def _tables(
    directions: tuple[tuple[int, int], ...], crown: int
) -> tuple[tuple[tuple[_Step, ...], ...], tuple[tuple[_Jump, ...], ...]]:
    """Per bit index: the steps and the jumps along ``directions``."""
    steps: list[tuple[_Step, ...]] = []
    jumps: list[tuple[_Jump, ...]] = []
    for index in range(_BOARD_BITS):
        square = _SQUARE_OF_INDEX[index]
        square_steps: list[_Step] = []
        square_jumps: list[_Jump] = []
        if square:
            column, row = square_cell(square)
            from_bit = 1 << index
            for d_row, d_column in directions:
                near = _square_at(column + d_column, row + d_row)
                if near is None:
                    continue
                near_bit = _SQUARE_BITS[near - 1]
                detail = (from_bit, near_bit, 0, bool(near_bit & crown))
                square_steps.append((near_bit, f"{square}-{near}", detail))
                far = _square_at(column + 2 * d_column, row + 2 * d_row)
                if far is not None:
                    far_bit = _SQUARE_BITS[far - 1]
                    square_jumps.append((near_bit, _bit_index(far), far_bit, f"x{far}"))
        steps.append(tuple(square_steps))
        jumps.append(tuple(square_jumps))
    return tuple(steps), tuple(jumps)


_BLACK_STEPS, _BLACK_JUMPS = _tables(_DOWN, _BLACK_CROWN)
_WHITE_STEPS, _WHITE_JUMPS = _tables(_UP, _WHITE_CROWN)
# Men of each seat (index = seat), then kings, who go both ways.
_MAN_STEPS: Final = (_BLACK_STEPS, _WHITE_STEPS)
_MAN_JUMPS: Final = (_BLACK_JUMPS, _WHITE_JUMPS)
_KING_STEPS, _KING_JUMPS = _tables(_DOWN + _UP, 0)
_CROWN: Final = (_BLACK_CROWN, _WHITE_CROWN)
_SIDE_LETTERS: Final = ("B", "W")
_SQUARE_NAMES: Final = tuple(str(s) for s in range(1, SQUARES + 1))
# Text of one piece ("5" or "K5") -> (bit, is a king).
_PIECE_NAMES: Final = {
    **{name: (bit, False) for name, bit in zip(_SQUARE_NAMES, _SQUARE_BITS, strict=True)},
    **{"K" + name: (bit, True) for name, bit in zip(_SQUARE_NAMES, _SQUARE_BITS, strict=True)},
}
_SQUARE_NAME_SET: Final = frozenset(_SQUARE_NAMES)
_DIGITS: Final = frozenset("0123456789")


def _add_captures(
    moves: dict[str, object],
    start: int,
    index: int,
    path: str,
    opponents: int,
    empty: int,
    jumps: tuple[tuple[_Jump, ...], ...],
    crown: int,
    captured: int,
) -> None:
    """Add every capture sequence that goes on from bit ``index``.

    ``opponents`` holds the pieces not captured yet; captured pieces stay on
    the board until the move ends, so they are neither in ``opponents`` nor in
    ``empty``.  A man (``crown`` non-zero) that lands on ``crown`` stops there.
    """
    extended = False
    for over, land_index, land, name in jumps[index]:
        if opponents & over and empty & land:
            extended = True
            route = path + name
            if land & crown:
                moves[route] = (start, land, captured | over, True)
            else:
                _add_captures(
                    moves,
                    start,
                    land_index,
                    route,
                    opponents ^ over,
                    empty,
                    jumps,
                    crown,
                    captured | over,
                )
    if not extended and captured:
        moves[path] = (start, 1 << index, captured, False)


class Checkers(Position):
    kind = "checkers"

    __slots__ = ("_black", "_counter", "_kings", "_white")

    def __init__(
        self, black: int, white: int, kings: int, to_move: int, counter: int, ply: int
    ) -> None:
        super().__init__(to_move, ply)
        self._black = black
        self._white = white
        self._kings = kings
        self._counter = counter

    @classmethod
    def start(cls) -> Checkers:
        return cls(sum(_SQUARE_BITS[0:12]), sum(_SQUARE_BITS[20:32]), 0, 0, 0, 0)

    @classmethod
    def from_text(cls, text: str) -> Checkers:
        """Read PDN FEN: ``B:W21,22:BK5,9:N3``.

        The W and B sections may come in either order and squares in any
        order; ``:N<count>`` (0-80) is optional.

        :raises InvalidPosition: the text is malformed or impossible.
        """
        if not isinstance(text, str):
            raise InvalidPosition(f"a position text is a string, not {type(text).__name__}")
        if len(text) > _MAX_TEXT:
            raise InvalidPosition(f"a checkers position text is at most {_MAX_TEXT} characters")
        fields = text.split(":")
        if len(fields) not in (3, 4):
            raise InvalidPosition(f"{text!r} is not side:W...:B...[:N<count>]")
        if fields[0] not in _SIDE_LETTERS:
            raise InvalidPosition(f"{text!r} does not start with the side to move, B or W")
        to_move = _SIDE_LETTERS.index(fields[0])
        sides: dict[str, tuple[int, int]] = {}
        occupied = 0
        for field in fields[1:3]:
            letter = field[:1]
            if letter not in _SIDE_LETTERS or letter in sides:
                raise InvalidPosition(f"{text!r} needs one W and one B section")
            men = kings = 0
            count = 0
            if len(field) > 1:
                for piece in field[1:].split(","):
                    entry = _PIECE_NAMES.get(piece)
                    if entry is None:
                        raise InvalidPosition(f"{piece!r} in {text!r} is not a square 1-32")
                    bit, king = entry
                    if occupied & bit:
                        raise InvalidPosition(f"{text!r} names square {piece} twice")
                    occupied |= bit
                    count += 1
                    if king:
                        kings |= bit
                    else:
                        men |= bit
            if count > _MAX_PIECES:
                raise InvalidPosition(f"{text!r} has more than {_MAX_PIECES} pieces of {letter}")
            sides[letter] = (men, kings)
        black_men, black_kings = sides["B"]
        white_men, white_kings = sides["W"]
        if black_men & _BLACK_CROWN or white_men & _WHITE_CROWN:
            raise InvalidPosition(f"{text!r} has a man on its own crowning row")
        counter = 0
        if len(fields) == 4:
            digits = fields[3][1:]
            if (
                fields[3][:1] != "N"
                or not 1 <= len(digits) <= 2
                or not set(digits) <= _DIGITS
                or int(digits) > NO_PROGRESS_PLIES
            ):
                raise InvalidPosition(f"{text!r} does not end in :N0 to :N{NO_PROGRESS_PLIES}")
            counter = int(digits)
        return cls(
            black_men | black_kings,
            white_men | white_kings,
            black_kings | white_kings,
            to_move,
            counter,
            0,
        )

    # -- read-only helpers for views ------------------------------------------

    def piece_at(self, square: int) -> tuple[int, bool] | None:
        """The piece on ``square`` 1-32 as (seat, is a king), or None if empty.

        :raises ValueError: ``square`` is not 1-32.
        """
        if not isinstance(square, int) or not 1 <= square <= SQUARES:
            raise ValueError(f"a square is 1-{SQUARES}, not {square!r}")
        bit = _SQUARE_BITS[square - 1]
        king = bool(self._kings & bit)
        if self._black & bit:
            return (0, king)
        if self._white & bit:
            return (1, king)
        return None

    @property
    def no_progress_plies(self) -> int:
        """Plies since the last capture or man move; the game is drawn at 80."""
        return self._counter

    # -- the Position contract --------------------------------------------------

    def _key(self) -> Hashable:
        return (self._black, self._white, self._kings, self._to_move, self._counter)

    def _generate(self) -> dict[str, object]:
        seat = self._to_move
        kings = self._kings
        if seat == 0:
            mine, opponents = self._black, self._white
        else:
            mine, opponents = self._white, self._black
        empty = _VALID ^ (mine | opponents)
        my_kings = mine & kings
        # Whole-board tests first: which pieces can jump down, which up.
        jump_down = ((opponents >> 4) & (empty >> 8)) | ((opponents >> 5) & (empty >> 10))
        jump_up = ((opponents << 4) & (empty << 8)) | ((opponents << 5) & (empty << 10))
        if seat == 0:
            jumpers = mine & jump_down | my_kings & jump_up
        else:
            jumpers = mine & jump_up | my_kings & jump_down
        moves: dict[str, object] = {}
        if jumpers:
            man_jumps = _MAN_JUMPS[seat]
            crown = _CROWN[seat]
            while jumpers:
                bit = jumpers & -jumpers
                jumpers ^= bit
                index = bit.bit_length() - 1
                name = _SQUARE_NAMES[_SQUARE_OF_INDEX[index] - 1]
                if bit & kings:
                    # The king's own start square is empty during its move.
                    _add_captures(
                        moves, bit, index, name, opponents, empty | bit, _KING_JUMPS, 0, 0
                    )
                else:
                    _add_captures(moves, bit, index, name, opponents, empty, man_jumps, crown, 0)
            return moves
        man_steps = _MAN_STEPS[seat]
        pieces = mine
        while pieces:
            bit = pieces & -pieces
            pieces ^= bit
            index = bit.bit_length() - 1
            for to, move, detail in (_KING_STEPS if bit & kings else man_steps)[index]:
                if empty & to:
                    moves[move] = detail
        return moves

    def _successor(self, move: str, detail: object) -> Position:
        start, end, captured, crowned = cast(_Detail, detail)
        kings = self._kings
        moved = start ^ end  # 0 when a king comes back to its start square
        if start & kings:
            counter = 0 if captured else self._counter + 1
            kings = (kings & ~captured) ^ moved
        else:
            counter = 0
            kings &= ~captured
            if crowned:
                kings |= end
        if self._to_move == 0:
            return Checkers(
                self._black ^ moved, self._white ^ captured, kings, 1, counter, self._ply + 1
            )
        return Checkers(
            self._black ^ captured, self._white ^ moved, kings, 0, counter, self._ply + 1
        )

    def _game_outcome(self) -> Outcome | None:
        if not self._moves_by_rules():
            return Outcome(1 - self._to_move, NO_LEGAL_MOVE)
        if self._counter >= NO_PROGRESS_PLIES:
            return Outcome(None, NO_PROGRESS)
        return None

    def _in_notation(self, move: str) -> bool:
        if "-" in move:
            parts = move.split("-")
            return len(parts) == 2 and all(part in _SQUARE_NAME_SET for part in parts)
        parts = move.split("x")
        return len(parts) >= 2 and all(part in _SQUARE_NAME_SET for part in parts)

    def to_text(self) -> str:
        white: list[str] = []
        black: list[str] = []
        for name, bit in zip(_SQUARE_NAMES, _SQUARE_BITS, strict=True):
            if bit & self._white:
                white.append("K" + name if bit & self._kings else name)
            elif bit & self._black:
                black.append("K" + name if bit & self._kings else name)
        text = f"{_SIDE_LETTERS[self._to_move]}:W{','.join(white)}:B{','.join(black)}"
        if self._counter:
            text += f":N{self._counter}"
        return text
