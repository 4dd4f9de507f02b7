"""Reversi for the search: two ints, a positional evaluation and an endgame solver.

The state is ``(mine, theirs)``, the discs of the side to move and of the
other side, bit ``rank * 8 + file`` with a1 as bit 0 as in
:mod:`game.rules.reversi`.  A move is a square index, or :data:`PASS`.

The evaluation weighs, by the stage of the game: mobility (moves now) and
potential mobility (the opponent's discs next to empty squares), corners,
the X and C squares next to an empty corner (they give the corner away),
stable discs (runs along an edge from a held corner), and parity (who plays
last when few empties remain).  With few empties the engine solves the
position exactly instead (:func:`solve`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Final

from game.engine.search import CLOCK_EVERY, WIN, SearchStopped
from game.rules import Position
from game.rules.reversi import placements

SIZE: Final = 8
PASS: Final = -1
_FULL: Final = (1 << 64) - 1
_NOT_A: Final = sum(1 << i for i in range(64) if i % SIZE != 0)
_NOT_H: Final = sum(1 << i for i in range(64) if i % SIZE != SIZE - 1)
_SQUARE_NAMES: Final = tuple(f"{f}{r}" for r in range(1, SIZE + 1) for f in "abcdefgh")
_CORNERS: Final = (1 << 0) | (1 << 7) | (1 << 56) | (1 << 63)


def _rays() -> tuple[tuple[tuple[int, ...], ...], ...]:
    """Per square, the squares along each of the 8 directions, nearest first."""
    rays = []
    for square in range(64):
        rank, file = divmod(square, SIZE)
        lines = []
        for d_rank in (-1, 0, 1):
            for d_file in (-1, 0, 1):
                if d_rank == d_file == 0:
                    continue
                line = []
                r, f = rank + d_rank, file + d_file
                while 0 <= r < SIZE and 0 <= f < SIZE:
                    line.append(1 << (r * SIZE + f))
                    r, f = r + d_rank, f + d_file
                if len(line) >= 2:
                    lines.append(tuple(line))
        rays.append(tuple(lines))
    return tuple(rays)


_RAYS: Final = _rays()
# (corner, X square, C squares, the two edges' squares away from the corner).
_CORNER_ZONES: Final = tuple(
    (
        1 << corner,
        1 << x_square,
        (1 << c_one) | (1 << c_two),
        (tuple(1 << (corner + k * step_one) for k in range(1, 8))),
        (tuple(1 << (corner + k * step_two) for k in range(1, 8))),
    )
    for corner, x_square, c_one, c_two, step_one, step_two in (
        (0, 9, 1, 8, 1, 8),
        (7, 14, 6, 15, -1, 8),
        (56, 49, 57, 48, 1, -8),
        (63, 54, 62, 55, -1, -8),
    )
)
# Static move order: corners first, then edges and the middle, X squares last.
_SQUARE_RANK: Final = tuple(
    0
    if (1 << s) & _CORNERS
    else 4
    if s in (9, 14, 49, 54)
    else 3
    if s in (1, 8, 6, 15, 48, 57, 55, 62)
    else 1
    if s % SIZE in (0, 7) or s // SIZE in (0, 7)
    else 2
    for s in range(64)
)

State = tuple[int, int]


def flips(square: int, mine: int, theirs: int) -> int:
    """The discs turned over when the side with ``mine`` places on ``square``."""
    turned = 0
    for ray in _RAYS[square]:
        line = 0
        for bit in ray:
            if theirs & bit:
                line |= bit
            elif mine & bit:
                turned |= line
                break
            else:
                break
    return turned


def play(state: State, move: int) -> State:
    mine, theirs = state
    if move == PASS:
        return theirs, mine
    turned = flips(move, mine, theirs) | (1 << move)
    return theirs & ~turned, mine | turned


def _squares(bits: int) -> list[int]:
    found = []
    while bits:
        low = bits & -bits
        found.append(low.bit_length() - 1)
        bits ^= low
    return found


def legal_squares(state: State) -> list[int]:
    """The legal moves in static order: squares, or ``[PASS]``, or ``[]`` at the end."""
    mine, theirs = state
    bits = placements(mine, theirs)
    if bits:
        return sorted(_squares(bits), key=_SQUARE_RANK.__getitem__)
    return [PASS] if placements(theirs, mine) else []


def move_text(move: int) -> str:
    return "pass" if move == PASS else _SQUARE_NAMES[move]


def from_position(position: Position) -> State:
    """The state of a Reversi position, read from its text."""
    text = position.to_text()
    black = white = 0
    for index, char in enumerate(text[:64]):
        if char == "X":
            black |= 1 << index
        elif char == "O":
            white |= 1 << index
    return (black, white) if text[-1] == "X" else (white, black)


def _final_score(mine: int, theirs: int) -> int:
    difference = mine.bit_count() - theirs.bit_count()
    if difference > 0:
        return WIN + difference
    if difference < 0:
        return -WIN + difference
    return 0


def _neighbours(bits: int) -> int:
    sideways = ((bits << 1) & _NOT_A) | ((bits >> 1) & _NOT_H)
    row = bits | sideways
    return (sideways | (row << 8) | (row >> 8)) & _FULL


def _edge_stable(mine: int) -> int:
    """Discs on an edge that run unbroken from a corner this side holds."""
    stable = 0
    for corner, _, _, edge_one, edge_two in _CORNER_ZONES:
        if mine & corner:
            stable |= corner
            for edge in (edge_one, edge_two):
                for bit in edge:
                    if not mine & bit:
                        break
                    stable |= bit
    return stable


class ReversiTree:
    """The :class:`~game.engine.search.GameTree` of Reversi."""

    def expand(self, state: State) -> tuple[int | None, list[int]]:
        mine, theirs = state
        bits = placements(mine, theirs)
        if bits:
            return None, sorted(_squares(bits), key=_SQUARE_RANK.__getitem__)
        if placements(theirs, mine):
            return None, [PASS]
        return _final_score(mine, theirs), []

    def play(self, state: State, move: int) -> State:
        mine, theirs = state
        if move == PASS:
            return theirs, mine
        turned = flips(move, mine, theirs) | (1 << move)
        return theirs & ~turned, mine | turned

    def evaluate(self, state: State, moves: list[int]) -> int:
        mine, theirs = state
        empty = ~(mine | theirs) & _FULL
        empties = empty.bit_count()
        my_moves = 0 if moves == [PASS] else len(moves)
        their_moves = placements(theirs, mine).bit_count()
        score = 120 * (my_moves - their_moves) // (my_moves + their_moves + 2)
        # Potential mobility: the other side's discs next to an empty square.
        frontier = _neighbours(empty)
        score += 4 * ((frontier & theirs).bit_count() - (frontier & mine).bit_count())
        for corner, x_square, c_squares, _, _ in _CORNER_ZONES:
            if mine & corner:
                score += 90
            elif theirs & corner:
                score -= 90
            else:
                score -= 45 * (bool(mine & x_square) - bool(theirs & x_square))
                score -= 12 * ((mine & c_squares).bit_count() - (theirs & c_squares).bit_count())
        score += 20 * (_edge_stable(mine).bit_count() - _edge_stable(theirs).bit_count())
        if empties <= 20:
            score += 2 * (20 - empties) * (mine.bit_count() - theirs.bit_count()) // 10
            score += 15 if empties % 2 else -15
        return score

    def forcing(self, state: State, moves: list[int]) -> bool:
        return False

    def key(self, state: State) -> Hashable:
        return state


class EndgameSolver:
    """The exact disc difference of a position with few empties.

    Alpha-beta on the final score with the opponent's fewest replies first
    (fastest first), no evaluation.  It raises
    :class:`~game.engine.search.SearchStopped` past ``max_nodes`` or once
    ``clock()`` passes ``deadline``.
    """

    def __init__(self, max_nodes: int, deadline: float | None, clock: Callable[[], float]) -> None:
        self.max_nodes = max_nodes
        self.deadline = deadline
        self.clock = clock
        self.nodes = 0

    def best(self, state: State) -> list[tuple[int, int]]:
        """Each legal move at the root with its score (:data:`WIN` plus the disc
        difference for a win, minus for a loss, 0 for a draw): exact for the
        first move and every move that improved on the ones before, an upper
        bound for the others."""
        mine, theirs = state
        scored = []
        alpha = -WIN - 65
        for move in self.ordered(mine, theirs, placements(mine, theirs)) or [PASS]:
            child = play(state, move)
            score = -self.solve(child[0], child[1], -WIN - 65, -alpha, False)
            scored.append((move, score))
            alpha = max(alpha, score)
        return scored

    def ordered(self, mine: int, theirs: int, bits: int) -> list[int]:
        squares = _squares(bits)
        if len(squares) < 2:
            return squares
        return sorted(
            squares,
            key=lambda s: (
                placements(*play((mine, theirs), s)).bit_count(),
                _SQUARE_RANK[s],
            ),
        )

    def solve(self, mine: int, theirs: int, alpha: int, beta: int, passed: bool) -> int:
        self.nodes += 1
        if not self.nodes % CLOCK_EVERY:
            if self.nodes > self.max_nodes:
                raise SearchStopped("node cap")
            if self.deadline is not None and self.clock() >= self.deadline:
                raise SearchStopped("deadline")
        bits = placements(mine, theirs)
        if not bits:
            if passed:
                return _final_score(mine, theirs)
            return -self.solve(theirs, mine, -beta, -alpha, True)
        empties = 64 - (mine | theirs).bit_count()
        moves = self.ordered(mine, theirs, bits) if empties > 4 else _squares(bits)
        best = -WIN - 65
        for square in moves:
            turned = flips(square, mine, theirs) | (1 << square)
            score = -self.solve(theirs & ~turned, mine | turned, -beta, -alpha, False)
            if score > best:
                best = score
                if score > alpha:
                    alpha = score
                    if alpha >= beta:
                        break
        return best
