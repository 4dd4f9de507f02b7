"""The computer player: pure logic, standard library and :mod:`game.rules` only.

>>> from game.rules import new_game
>>> choose_move(new_game("connect4"), 5)
'4'

:func:`choose_move` converts the position at the root into the game's fast
state (:mod:`game.engine.connect4`, :mod:`~game.engine.reversi`,
:mod:`~game.engine.checkers`), searches it (:mod:`game.engine.search`) as far
as the level allows (:mod:`game.engine.levels`), and answers in the rules'
notation.  The answer is a function of the position and the level alone as
long as the node cap, not the clock, ends the search: the clock only stops a
search that runs over its time budget on a slow or busy machine.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Hashable
from typing import Any, Final

from game.engine import checkers, connect4, reversi
from game.engine.levels import HIGHEST, LEVELS, LOWEST, Level, pick, seeded_random
from game.engine.search import GameTree, RootScores, Search, SearchStopped
from game.rules import GameOver, Position

__all__ = ["HIGHEST", "LEVELS", "LOWEST", "InvalidLevel", "Level", "NoMove", "choose_move"]

_TREES: Final[dict[str, Any]] = {
    "connect4": connect4.Connect4Tree(),
    "reversi": reversi.ReversiTree(),
    "checkers": checkers.CheckersTree(),
}


class NoMove(GameOver):
    """The game is over: there is no move to choose."""


class InvalidLevel(ValueError):
    """The level is not an integer from :data:`LOWEST` to :data:`HIGHEST`."""


def choose_move(
    position: Position,
    level: int,
    *,
    budget: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """The move the computer plays at ``level`` (1 beginner to 5 strongest).

    :param budget: seconds the search may take (the level's own budget when
        None); once ``clock()`` passes it, the deepest finished search
        answers (a one-ply search always finishes, whatever the clock says).
    :param clock: the clock the budget is measured on.
    :returns: a legal move in the rules' notation, e.g. ``"4"``, ``"d3"``,
        ``"pass"``, ``"1x10x19"``.
    :raises NoMove: the game is over.
    :raises InvalidLevel: ``level`` is not 1-5.
    """
    if isinstance(level, bool) or not isinstance(level, int) or not LOWEST <= level <= HIGHEST:
        raise InvalidLevel(f"a level is an integer from {LOWEST} to {HIGHEST}, not {level!r}")
    legal = position.legal_moves()
    if not legal:
        raise NoMove(f"the game is over ({position.outcome()}): there is no move to choose")
    if len(legal) == 1:
        return legal[0]
    kind = position.kind
    setting = LEVELS[kind][level]
    deadline = clock() + (setting.budget if budget is None else budget)
    text = position.to_text()
    rng = seeded_random(kind, text, level)
    move = _search(kind, position, level, setting, deadline, clock, rng)
    if move not in legal:
        raise AssertionError(f"engine chose {move!r}, not legal in {kind} {text!r}")
    return move


def _root(kind: str, position: Position) -> tuple[Any, list[Any], Callable[[Any], str]]:
    """The game's fast state, its legal moves in static order, and their notation."""
    if kind == "connect4":
        c4_state = connect4.from_position(position)
        return c4_state, connect4.legal_columns(c4_state), connect4.move_text
    if kind == "reversi":
        reversi_state = reversi.from_position(position)
        return reversi_state, reversi.legal_squares(reversi_state), reversi.move_text
    checkers_state = checkers.from_position(position)
    moves = sorted(checkers.generate(checkers_state), key=checkers.static_rank)
    return checkers_state, moves, checkers.move_text


def _search(
    kind: str,
    position: Position,
    level: int,
    setting: Level,
    deadline: float,
    clock: Callable[[], float],
    rng: random.Random,
) -> str:
    state, moves, notation = _root(kind, position)
    if kind == "reversi" and 64 - (state[0] | state[1]).bit_count() <= setting.solve_empties:
        solved = _solve_reversi(state, setting, deadline, clock)
        if solved is not None:
            return reversi.move_text(solved)
    tree: GameTree[Any, Hashable] = _TREES[kind]
    search: Search[Any, Hashable] = Search(
        tree, max_nodes=setting.nodes, deadline=deadline, clock=clock
    )
    result: RootScores[Hashable] = search.deepen(state, moves, setting.depth, setting.margin)
    return notation(pick(result, level, setting, rng))


def _solve_reversi(
    state: reversi.State, setting: Level, deadline: float, clock: Callable[[], float]
) -> int | None:
    """The best move by an exact solve, or None if it did not finish in time."""
    solver = reversi.EndgameSolver(setting.solve_nodes, deadline, clock)
    try:
        scored = solver.best(state)
    except SearchStopped:
        return None
    return max(scored, key=lambda pair: pair[1])[0]
