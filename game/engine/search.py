"""Negamax alpha-beta with iterative deepening, shared by the three games.

A game gives the search a :class:`GameTree` over its own fast state (bitboards
as ints, never the rules' position objects).  Scores are always from the view
of the side to move.  A decided game scores near :data:`WIN`, less
:data:`PLY` for every ply it takes, so the search prefers the quickest win
and the slowest loss; the transposition table stores such scores relative to
the node, so they stay true wherever the node comes up again.

Everything here is deterministic: the order of moves depends only on the
position and the search so far (no ``hash()`` of strings, which is salted,
decides anything), and a search stops either at its depth or node cap, or
when the injected clock passes its deadline.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Final, Generic, Protocol, TypeVar

#: The score of a won game (less :data:`PLY` per ply until it is won).
WIN: Final = 1_000_000
#: What a ply of delay costs a win.
PLY: Final = 100
#: Scores beyond this are decided games, not evaluations.
DECIDED: Final = WIN // 2
INFINITY: Final = 10 * WIN
#: How many plies of forced moves (captures) the search follows past its depth.
QUIESCENCE_PLIES: Final = 8
#: Nodes between two looks at the clock.
CLOCK_EVERY: Final = 256

_EXACT: Final = 0
_LOWER: Final = 1
_UPPER: Final = 2
_MAX_PLY: Final = 128

S = TypeVar("S")
M = TypeVar("M", bound=Hashable)


class GameTree(Protocol[S, M]):
    """What the search needs from one game."""

    def expand(self, state: S) -> tuple[int | None, list[M]]:
        """``(score, [])`` when the game is decided here (score as :data:`WIN`
        minus :data:`PLY` per ply still to play, or 0 for a draw), else
        ``(None, moves)`` with the moves in a good static order."""
        ...

    def play(self, state: S, move: M) -> S:
        """The state after ``move``."""
        ...

    def evaluate(self, state: S, moves: list[M]) -> int:
        """A static score of a state that is not decided, given its moves."""
        ...

    def forcing(self, state: S, moves: list[M]) -> bool:
        """Whether ``moves`` are forced captures, so a leaf is not quiet yet."""
        ...

    def key(self, state: S) -> Hashable:
        """What identifies the state in the transposition table."""
        ...


class SearchStopped(Exception):
    """The clock passed the deadline or the node cap was reached."""


@dataclass(frozen=True, slots=True)
class RootScores(Generic[M]):
    """One finished iteration at the root: each searched move with its score.

    A score is exact when above ``floor``; at or below it, only an upper bound.
    """

    depth: int
    scores: tuple[tuple[M, int], ...]
    floor: int


def _to_table(score: int, ply: int) -> int:
    if score > DECIDED:
        return score + ply * PLY
    if score < -DECIDED:
        return score - ply * PLY
    return score


def _from_table(score: int, ply: int) -> int:
    if score > DECIDED:
        return score - ply * PLY
    if score < -DECIDED:
        return score + ply * PLY
    return score


class Search(Generic[S, M]):
    """One search from one root: a fresh table, killers and history.

    :param tree: the game.
    :param max_nodes: stop once this many nodes were visited.
    :param deadline: stop once ``clock()`` passes this, or None.
    :param clock: the clock ``deadline`` is read on.
    """

    def __init__(
        self,
        tree: GameTree[S, M],
        *,
        max_nodes: int,
        deadline: float | None,
        clock: Callable[[], float],
    ) -> None:
        self.tree = tree
        self.max_nodes = max_nodes
        self.deadline = deadline
        self.clock = clock
        self.nodes = 0
        self._next_check = 0
        # Depth 1 always finishes, so that even a spent budget never plays blind.
        self.stoppable = False
        self.table: dict[Hashable, tuple[int, int, int, M | None]] = {}
        self.killers: list[list[M]] = [[] for _ in range(_MAX_PLY)]
        self.history: dict[M, int] = {}

    def check(self) -> None:
        """Stop the search when the node cap is reached or the clock has passed."""
        self._next_check = self.nodes + CLOCK_EVERY
        if not self.stoppable:
            return
        if self.nodes >= self.max_nodes:
            raise SearchStopped("node cap")
        if self.deadline is not None and self.clock() >= self.deadline:
            raise SearchStopped("deadline")

    def deepen(self, state: S, moves: list[M], max_depth: int, margin: int) -> RootScores[M]:
        """Iterative deepening from ``state`` (whose legal moves are ``moves``).

        Every move at the root gets an exact score if it is within ``margin``
        of the best (0: only the best is exact, a plain principal-variation
        search).  Returns the deepest finished iteration; depth 1 always
        finishes, whatever the clock says.
        """
        self.stoppable = False
        finished = self.root(state, moves, 1, margin)
        for depth in range(2, max_depth + 1):
            ranked = sorted(finished.scores, key=lambda pair: -pair[1])
            best = ranked[0][1]
            # A proven result does not change with depth.
            if best > DECIDED or all(score < -DECIDED for _, score in ranked):
                break
            try:
                self.stoppable = True
                self.check()
                finished = self.root(state, [move for move, _ in ranked], depth, margin)
            except SearchStopped:
                break
        return finished

    def root(self, state: S, moves: list[M], depth: int, margin: int) -> RootScores[M]:
        tree = self.tree
        best = -INFINITY
        scores: list[tuple[M, int]] = []
        for index, move in enumerate(moves):
            child = tree.play(state, move)
            if index == 0:
                score = -self.node(child, depth - 1, -INFINITY, INFINITY, 1)
            else:
                floor = best - margin
                if margin == 0:
                    # Principal variation: prove the move worse with a null window.
                    score = -self.node(child, depth - 1, -floor - 1, -floor, 1)
                    if score > floor:
                        score = -self.node(child, depth - 1, -INFINITY, -floor, 1)
                else:
                    score = -self.node(child, depth - 1, -INFINITY, -floor, 1)
            scores.append((move, score))
            if score > best:
                best = score
        return RootScores(depth, tuple(scores), best - margin)

    def node(self, state: S, depth: int, alpha: int, beta: int, ply: int) -> int:
        self.nodes += 1
        if self.nodes >= self._next_check:
            self.check()
        tree = self.tree
        decided, moves = tree.expand(state)
        if decided is not None:
            if decided > DECIDED:
                return decided - ply * PLY
            if decided < -DECIDED:
                return decided + ply * PLY
            return decided
        if depth <= 0 and (depth <= -QUIESCENCE_PLIES or not tree.forcing(state, moves)):
            return tree.evaluate(state, moves)
        key = tree.key(state)
        entry = self.table.get(key)
        first: M | None = None
        if entry is not None:
            stored_depth, bound, stored, first = entry
            if stored_depth >= depth:
                score = _from_table(stored, ply)
                if bound == _EXACT:
                    return score
                if bound == _LOWER and score >= beta:
                    return score
                if bound == _UPPER and score <= alpha:
                    return score
        if len(moves) > 1:
            moves = self.order(moves, first, ply)
        original_alpha = alpha
        best = -INFINITY
        best_move: M | None = None
        for index, move in enumerate(moves):
            child = tree.play(state, move)
            if index == 0:
                score = -self.node(child, depth - 1, -beta, -alpha, ply + 1)
            else:
                score = -self.node(child, depth - 1, -alpha - 1, -alpha, ply + 1)
                if alpha < score < beta:
                    score = -self.node(child, depth - 1, -beta, -score, ply + 1)
            if score > best:
                best = score
                best_move = move
                if score > alpha:
                    alpha = score
                    if alpha >= beta:
                        self.reward(move, depth, ply)
                        break
        if best <= original_alpha:
            bound = _UPPER
        elif best >= beta:
            bound = _LOWER
        else:
            bound = _EXACT
        self.table[key] = (max(depth, 0), bound, _to_table(best, ply), best_move)
        return best

    def order(self, moves: list[M], first: M | None, ply: int) -> list[M]:
        """The table's move, then killers, then by history (stable: the
        game's static order breaks ties)."""
        history = self.history
        ordered = sorted(moves, key=lambda move: -history.get(move, 0))
        if ply < _MAX_PLY:
            for killer in reversed(self.killers[ply]):
                if killer in ordered:
                    ordered.remove(killer)
                    ordered.insert(0, killer)
        if first is not None and first in ordered:
            ordered.remove(first)
            ordered.insert(0, first)
        return ordered

    def reward(self, move: M, depth: int, ply: int) -> None:
        """A move that caused a cutoff: a killer at this ply, and history."""
        if depth > 0:
            self.history[move] = self.history.get(move, 0) + depth * depth
        if ply < _MAX_PLY:
            killers = self.killers[ply]
            if move not in killers:
                killers.insert(0, move)
                del killers[2:]
