"""Reversi (Othello) on 8x8: black (seat 0, ``X``) moves first.

Squares are named ``a1`` to ``h8``: files a-h from the left, ranks 1-8 from
the top.  The board is one bitboard per colour, bit ``rank * 8 + file`` with
``a1`` as bit 0, so bit *i* is character *i* of the position text.

Move generation shifts whole bitboards one step at a time.  For the six
directions with a sideways component the opponent's discs are first masked
to files b-g: a line of discs that reaches file a or h ends at the board
edge, and a shift that would wrap from one rank into the next then lands on
a masked square, so no per-shift wrap mask is needed.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Final

from game.rules.base import (
    EQUAL_DISCS,
    MORE_DISCS,
    InvalidPosition,
    Outcome,
    Position,
)

SIZE: Final = 8
#: Square names in bit order: ``SQUARES[0] == "a1"``, ``SQUARES[63] == "h8"``.
SQUARES: Final[tuple[str, ...]] = tuple(
    f"{file}{rank}" for rank in range(1, SIZE + 1) for file in "abcdefgh"
)
PASS: Final = "pass"

_SQUARE_INDEX: Final[dict[str, int]] = {name: index for index, name in enumerate(SQUARES)}
_NOTATION: Final = frozenset((*SQUARES, PASS))
_LETTERS: Final = ("X", "O")
_FULL: Final = (1 << 64) - 1
# Files b-g: where a line running sideways can continue.
_INNER: Final = sum(1 << i for i in range(64) if 0 < i % SIZE < SIZE - 1)
# (shift, sideways?): east, south-west, south, south-east; the negated
# shifts (right shifts) are west, north-east, north, north-west.
_SHIFTS: Final = ((1, True), (7, True), (8, False), (9, True))
# The start: d4 and e5 white, e4 and d5 black.
_START_BLACK: Final = (1 << 28) | (1 << 35)
_START_WHITE: Final = (1 << 27) | (1 << 36)


def placements(own: int, other: int) -> int:
    """The squares where the side with discs ``own`` may place a disc, as
    bits (the bitboard primitive :mod:`game.engine` searches with too)."""
    empty = ~(own | other) & _FULL
    inner = other & _INNER
    moves = 0
    for shift, sideways in _SHIFTS:
        mask = inner if sideways else other
        # ``run``: the far end of each run of opponent discs that starts
        # next to one of ours; one step further, an empty square is a move.
        run = (own << shift) & mask
        while run:
            run <<= shift
            moves |= run
            run &= mask
        run = (own >> shift) & mask
        while run:
            run >>= shift
            moves |= run
            run &= mask
    return moves & empty


def _flipped(square: int, own: int, other: int) -> int:
    """The discs flipped when the side with ``own`` places on bit ``square``."""
    inner = other & _INNER
    flips = 0
    for shift, sideways in _SHIFTS:
        mask = inner if sideways else other
        line = 0
        step = (square << shift) & mask
        while step:
            line |= step
            step <<= shift
            if step & own:
                flips |= line
                break
            step &= mask
        line = 0
        step = (square >> shift) & mask
        while step:
            line |= step
            step >>= shift
            if step & own:
                flips |= line
                break
            step &= mask
    return flips


def _bit_indexes(bits: int) -> list[int]:
    indexes = []
    while bits:
        low = bits & -bits
        indexes.append(low.bit_length() - 1)
        bits ^= low
    return indexes


class Reversi(Position):
    """A Reversi position: the discs of both colours and the side to move."""

    kind = "reversi"

    __slots__ = ("_black", "_placement_bits", "_white")

    def __init__(self, black: int, white: int, to_move: int, ply: int = 0) -> None:
        super().__init__(to_move, ply)
        self._black = black
        self._white = white
        self._placement_bits = -1  # not computed yet

    @classmethod
    def start(cls) -> Reversi:
        return cls(_START_BLACK, _START_WHITE, 0)

    @classmethod
    def from_text(cls, text: str) -> Reversi:
        """Read ``text`` (PROTOCOL.md): 64 of ``X``, ``O``, ``-``, a space, ``X`` or ``O``.

        :raises InvalidPosition: the text is not exactly of that form.
        """
        if not isinstance(text, str):
            raise InvalidPosition(f"a position text is a string, not {type(text).__name__}")
        if len(text) != SIZE * SIZE + 2 or text[SIZE * SIZE] != " ":
            raise InvalidPosition(f"{text!r} is not 64 squares, a space and the side to move")
        side = text[-1]
        if side not in _LETTERS:
            raise InvalidPosition(f"{text!r} names side {side!r}, not X or O")
        black = white = 0
        for index, char in enumerate(text[: SIZE * SIZE]):
            if char == "X":
                black |= 1 << index
            elif char == "O":
                white |= 1 << index
            elif char != "-":
                raise InvalidPosition(f"square {SQUARES[index]} of {text!r} is {char!r}")
        return cls(black, white, _LETTERS.index(side))

    # -- read-only helpers for views ----------------------------------------

    def disc_at(self, square: int | str) -> int | None:
        """The seat whose disc is on ``square`` (index 0-63 or a name), or None.

        :raises ValueError: ``square`` is not a square.
        """
        index = _SQUARE_INDEX.get(square) if isinstance(square, str) else square
        if not isinstance(index, int) or not 0 <= index < SIZE * SIZE:
            raise ValueError(f"{square!r} is not a square")
        bit = 1 << index
        if self._black & bit:
            return 0
        if self._white & bit:
            return 1
        return None

    def counts(self) -> tuple[int, int]:
        """The number of discs of (black, white)."""
        return self._black.bit_count(), self._white.bit_count()

    def flips(self, move: str) -> list[str]:
        """The squares whose discs ``move`` turns over, in board order (a1, b1, ...).

        :raises InvalidMove, GameOver, IllegalMove: as :meth:`play` does.
        """
        after = self.play(move)
        assert isinstance(after, Reversi)
        other = self._sides()[1]
        turned = other & (after._black if self._to_move == 0 else after._white)
        return [SQUARES[index] for index in _bit_indexes(turned)]

    # -- the Position contract ----------------------------------------------

    def _sides(self) -> tuple[int, int]:
        if self._to_move == 0:
            return self._black, self._white
        return self._white, self._black

    def _own_placements(self) -> int:
        bits = self._placement_bits
        if bits < 0:
            own, other = self._sides()
            bits = self._placement_bits = placements(own, other)
        return bits

    def _opponent_can_place(self) -> bool:
        own, other = self._sides()
        return placements(other, own) != 0

    def _key(self) -> Hashable:
        return (self._black, self._white, self._to_move)

    def _generate(self) -> dict[str, object]:
        bits = self._own_placements()
        if not bits:
            return {PASS: 0} if self._opponent_can_place() else {}
        moves: dict[str, object] = {}
        while bits:
            low = bits & -bits
            moves[SQUARES[low.bit_length() - 1]] = low
            bits ^= low
        return moves

    def _successor(self, move: str, detail: object) -> Position:
        assert isinstance(detail, int)
        black, white = self._black, self._white
        if detail:  # 0 is the pass
            if self._to_move == 0:
                turned = _flipped(detail, black, white) | detail
                black |= turned
                white &= ~turned
            else:
                turned = _flipped(detail, white, black) | detail
                white |= turned
                black &= ~turned
        return Reversi(black, white, 1 - self._to_move, self._ply + 1)

    def _game_outcome(self) -> Outcome | None:
        if self._own_placements() or self._opponent_can_place():
            return None
        black, white = self.counts()
        if black == white:
            return Outcome(None, EQUAL_DISCS)
        return Outcome(0 if black > white else 1, MORE_DISCS)

    def _in_notation(self, move: str) -> bool:
        return move in _NOTATION

    def to_text(self) -> str:
        black, white = self._black, self._white
        board = "".join(
            "X" if black >> index & 1 else "O" if white >> index & 1 else "-"
            for index in range(SIZE * SIZE)
        )
        return f"{board} {_LETTERS[self._to_move]}"
