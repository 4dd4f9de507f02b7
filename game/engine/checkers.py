"""Checkers for the search: three ints, forced captures, and a material evaluation.

The state is ``(black, white, kings, side, counter)`` in the "ghost square"
layout of :mod:`game.rules.checkers` (square ``s`` is bit ``i + i // 8`` with
``i = s - 1``, so every diagonal step is the same shift), ``side`` the seat to
move and ``counter`` the plies without a capture or a man's move (drawn at
80).  A move is ``(text, from bit, to bit, captured bits, crowns)``, its text
in the rules' notation (``"9-14"``, ``"1x10x19"``).

Captures are compulsory and a capture goes on to the end of its sequence;
a man that reaches the far row is crowned and stops there, as in the rules.
The evaluation: material (a king 1.6 men), trading down when ahead, the
back rank kept while the opponent has men to crown, advancement (tempo),
the centre, and mobility.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Final

from game.engine.search import WIN
from game.rules import Position
from game.rules.checkers import NO_PROGRESS_PLIES, SQUARES, square_cell

Move = tuple[str, int, int, int, bool]
State = tuple[int, int, int, int, int]
# (bit jumped over, landing bit index, landing bit, "x" + landing square).
_Jump = tuple[int, int, int, str]


def _bit_index(square: int) -> int:
    return square - 1 + (square - 1) // 8


def _square_at(column: int, row: int) -> int | None:
    if not (0 <= column < 8 and 0 <= row < 8) or (column + row) % 2 == 0:
        return None
    return row * 4 + column // 2 + 1


_BITS: Final = tuple(1 << _bit_index(s) for s in range(1, SQUARES + 1))
_VALID: Final = sum(_BITS)
_SIZE: Final = _bit_index(SQUARES) + 1
_SQUARE_OF: Final = {_bit_index(s): s for s in range(1, SQUARES + 1)}
_ROWS: Final = tuple(sum(_BITS[row * 4 : row * 4 + 4]) for row in range(8))
_CROWN: Final = (_ROWS[7], _ROWS[0])  # black crowns on the bottom row, white on the top
_DOWN: Final = ((1, -1), (1, 1))
_UP: Final = ((-1, -1), (-1, 1))


def _tables(
    directions: tuple[tuple[int, int], ...], crown: int
) -> tuple[tuple[tuple[Move, ...], ...], tuple[tuple[_Jump, ...], ...]]:
    steps: list[tuple[Move, ...]] = []
    jumps: list[tuple[_Jump, ...]] = []
    for index in range(_SIZE):
        square = _SQUARE_OF.get(index)
        square_steps: list[Move] = []
        square_jumps: list[_Jump] = []
        if square is not None:
            column, row = square_cell(square)
            for d_row, d_column in directions:
                near = _square_at(column + d_column, row + d_row)
                if near is None:
                    continue
                near_bit = _BITS[near - 1]
                text = f"{square}-{near}"
                square_steps.append((text, 1 << index, near_bit, 0, bool(near_bit & crown)))
                far = _square_at(column + 2 * d_column, row + 2 * d_row)
                if far is not None:
                    square_jumps.append((near_bit, _bit_index(far), _BITS[far - 1], f"x{far}"))
        steps.append(tuple(square_steps))
        jumps.append(tuple(square_jumps))
    return tuple(steps), tuple(jumps)


_BLACK_STEPS, _BLACK_JUMPS = _tables(_DOWN, _CROWN[0])
_WHITE_STEPS, _WHITE_JUMPS = _tables(_UP, _CROWN[1])
_KING_STEPS, _KING_JUMPS = _tables(_DOWN + _UP, 0)
_MAN_STEPS: Final = (_BLACK_STEPS, _WHITE_STEPS)
_MAN_JUMPS: Final = (_BLACK_JUMPS, _WHITE_JUMPS)
_NAMES: Final = tuple(str(_SQUARE_OF.get(i, 0)) for i in range(_SIZE))

# Evaluation masks.  Black's back rank is row 0, white's row 7; the guards
# that stop most crowning are squares 1 and 3 for black, 30 and 32 for white.
_GUARDS: Final = (_BITS[0] | _BITS[2], _BITS[29] | _BITS[31])
_CENTRE: Final = sum(_BITS[s - 1] for s in (10, 11, 14, 15, 18, 19, 22, 23))
_EDGES: Final = (
    sum(_BITS[s - 1] for s in range(1, SQUARES + 1) if square_cell(s)[0] in (0, 7))
    | _ROWS[0]
    | _ROWS[7]
)
_MAN = 100
_KING = 160


def _captures(
    moves: list[Move],
    start: int,
    index: int,
    path: str,
    theirs: int,
    empty: int,
    jumps: tuple[tuple[_Jump, ...], ...],
    crown: int,
    captured: int,
) -> None:
    """Every capture sequence going on from bit ``index`` (captured pieces
    stay on the board until the move ends)."""
    extended = False
    for over, land_index, land, name in jumps[index]:
        if theirs & over and empty & land:
            extended = True
            route = path + name
            if land & crown:
                moves.append((route, start, land, captured | over, True))
            else:
                _captures(
                    moves,
                    start,
                    land_index,
                    route,
                    theirs ^ over,
                    empty,
                    jumps,
                    crown,
                    captured | over,
                )
    if not extended and captured:
        moves.append((path, start, 1 << index, captured, False))


def generate(state: State) -> list[Move]:
    """The legal moves in generation order (captures only, when there is one)."""
    black, white, kings, side, _ = state
    mine, theirs = (black, white) if side == 0 else (white, black)
    empty = _VALID ^ (mine | theirs)
    my_kings = mine & kings
    jump_down = ((theirs >> 4) & (empty >> 8)) | ((theirs >> 5) & (empty >> 10))
    jump_up = ((theirs << 4) & (empty << 8)) | ((theirs << 5) & (empty << 10))
    if side == 0:
        jumpers = mine & jump_down | my_kings & jump_up
    else:
        jumpers = mine & jump_up | my_kings & jump_down
    moves: list[Move] = []
    if jumpers:
        man_jumps = _MAN_JUMPS[side]
        crown = _CROWN[side]
        while jumpers:
            bit = jumpers & -jumpers
            jumpers ^= bit
            index = bit.bit_length() - 1
            if bit & kings:
                # The king's own square is empty while it jumps.
                _captures(moves, bit, index, _NAMES[index], theirs, empty | bit, _KING_JUMPS, 0, 0)
            else:
                _captures(moves, bit, index, _NAMES[index], theirs, empty, man_jumps, crown, 0)
        return moves
    man_steps = _MAN_STEPS[side]
    pieces = mine
    while pieces:
        bit = pieces & -pieces
        pieces ^= bit
        index = bit.bit_length() - 1
        for move in (_KING_STEPS if bit & kings else man_steps)[index]:
            if empty & move[2]:
                moves.append(move)
    return moves


def play(state: State, move: Move) -> State:
    black, white, kings, side, counter = state
    _, start, end, captured, crowned = move
    moved = start ^ end  # 0 when a king's jumps bring it back to its square
    if start & kings:
        counter = 0 if captured else counter + 1
        kings = (kings & ~captured) ^ moved
    else:
        counter = 0
        kings &= ~captured
        if crowned:
            kings |= end
    if side == 0:
        return black ^ moved, white & ~captured, kings, 1, counter
    return black & ~captured, white ^ moved, kings, 0, counter


def move_text(move: Move) -> str:
    return move[0]


def from_position(position: Position) -> State:
    """The state of a checkers position, read from its text (PDN FEN)."""
    fields = position.to_text().split(":")
    pieces = {"B": 0, "W": 0}
    kings = 0
    for field in fields[1:3]:
        for name in filter(None, field[1:].split(",")):
            bit = _BITS[int(name.lstrip("K")) - 1]
            pieces[field[0]] |= bit
            if name.startswith("K"):
                kings |= bit
    counter = int(fields[3][1:]) if len(fields) == 4 else 0
    return pieces["B"], pieces["W"], kings, 0 if fields[0] == "B" else 1, counter


def static_rank(move: Move) -> int:
    """Most pieces captured first, then crowning moves (a sort key)."""
    return -2 * move[3].bit_count() - move[4]


def _mobility(pieces: int, kings: int, empty: int, side: int) -> int:
    """The free squares next to ``side``'s pieces along their ways (a cheap
    count of their simple moves)."""
    if side == 0:
        forward = (pieces << 4 & empty).bit_count() + (pieces << 5 & empty).bit_count()
        backward = (kings >> 4 & empty).bit_count() + (kings >> 5 & empty).bit_count()
    else:
        forward = (pieces >> 4 & empty).bit_count() + (pieces >> 5 & empty).bit_count()
        backward = (kings << 4 & empty).bit_count() + (kings << 5 & empty).bit_count()
    return forward + backward


class CheckersTree:
    """The :class:`~game.engine.search.GameTree` of checkers."""

    def expand(self, state: State) -> tuple[int | None, list[Move]]:
        moves = generate(state)
        if not moves:
            return -WIN, []
        if state[4] >= NO_PROGRESS_PLIES:
            return 0, []
        if len(moves) > 1:
            moves.sort(key=static_rank)
        return None, moves

    def play(self, state: State, move: Move) -> State:
        return play(state, move)

    def evaluate(self, state: State, moves: list[Move]) -> int:
        black, white, kings, side, _ = state
        black_men, white_men = black & ~kings, white & ~kings
        black_kings, white_kings = black & kings, white & kings
        men = black_men.bit_count(), white_men.bit_count()
        crowned = black_kings.bit_count(), white_kings.bit_count()
        material = _MAN * (men[0] - men[1]) + _KING * (crowned[0] - crowned[1])
        pieces = men[0] + men[1] + crowned[0] + crowned[1]
        score = material
        # Ahead, trade down: the same lead counts more with fewer pieces on the board.
        score += material * (24 - pieces) // 48
        if men[1]:
            score += 12 * (black_men & _GUARDS[0]).bit_count()
        if men[0]:
            score -= 12 * (white_men & _GUARDS[1]).bit_count()
        # Advancement (tempo), more urgent as the board empties.
        weight = 1 if pieces > 16 else 3
        advance = 0
        for row in range(1, 7):
            advance += row * ((black_men & _ROWS[row]).bit_count())
            advance -= (7 - row) * ((white_men & _ROWS[row]).bit_count())
        score += weight * advance
        score += 5 * ((black & _CENTRE).bit_count() - (white & _CENTRE).bit_count())
        score -= 8 * ((black_kings & _EDGES).bit_count() - (white_kings & _EDGES).bit_count())
        empty = _VALID ^ (black | white)
        score += 3 * (
            _mobility(black, black_kings, empty, 0) - _mobility(white, white_kings, empty, 1)
        )
        return score if side == 0 else -score

    def forcing(self, state: State, moves: list[Move]) -> bool:
        return bool(moves[0][3])

    def key(self, state: State) -> Hashable:
        black, white, kings, side, counter = state
        # Counters far from the draw give the same play: share their entries.
        return black, white, kings, side, counter if counter >= NO_PROGRESS_PLIES - 20 else 0
