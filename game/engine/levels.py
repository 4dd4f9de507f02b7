"""The five levels: how far each searches, and how it blunders on purpose.

A weaker level searches less (a depth cap) and, at a rate set per level,
plays another move than its best, chosen among the moves its own search
scores within a margin of the best: a plausible mistake, never a random one.
From level 2 on, a won game found by the search is always taken (the
quickest win), and from level 3 on a move that the search sees losing by
force is never chosen while another exists.  Level 5 never blunders.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Final

from game.engine.search import DECIDED, M, RootScores

LOWEST: Final = 1
HIGHEST: Final = 5
#: A margin that admits every move (level 1's blunders may be anything).
ANY_MOVE: Final = 10**12


@dataclass(frozen=True, slots=True)
class Level:
    """How one level plays one game.

    :ivar depth: the deepest iteration (plies).
    :ivar nodes: the node cap of one move's search.
    :ivar blunder: the probability of not playing the best move.
    :ivar margin: how far below the best (in evaluation units, 100 about a
        man in checkers) a move may score and still be a blunder's choice.
    :ivar budget: the default time budget of one move, seconds.
    :ivar solve_empties: Reversi: solve exactly from this many empties on.
    :ivar solve_nodes: Reversi: the node cap of the exact solve.
    """

    depth: int
    nodes: int
    blunder: float
    margin: int
    budget: float = 0.7
    solve_empties: int = 0
    solve_nodes: int = 0


LEVELS: Final[dict[str, dict[int, Level]]] = {
    "connect4": {
        1: Level(depth=1, nodes=2_000, blunder=0.6, margin=ANY_MOVE),
        2: Level(depth=2, nodes=5_000, blunder=0.35, margin=150),
        3: Level(depth=4, nodes=10_000, blunder=0.2, margin=80),
        4: Level(depth=5, nodes=20_000, blunder=0.1, margin=40),
        5: Level(depth=42, nodes=18_000, blunder=0.0, margin=0),
    },
    "reversi": {
        1: Level(depth=1, nodes=2_000, blunder=0.6, margin=ANY_MOVE),
        2: Level(depth=1, nodes=5_000, blunder=0.3, margin=150),
        3: Level(depth=2, nodes=10_000, blunder=0.2, margin=80),
        4: Level(
            depth=3, nodes=20_000, blunder=0.08, margin=40, solve_empties=6, solve_nodes=3_000
        ),
        5: Level(
            depth=60, nodes=12_000, blunder=0.0, margin=0, solve_empties=12, solve_nodes=30_000
        ),
    },
    "checkers": {
        1: Level(depth=1, nodes=2_000, blunder=0.6, margin=ANY_MOVE),
        2: Level(depth=2, nodes=5_000, blunder=0.35, margin=150),
        3: Level(depth=3, nodes=10_000, blunder=0.2, margin=80),
        4: Level(depth=4, nodes=20_000, blunder=0.1, margin=60),
        5: Level(depth=40, nodes=20_000, blunder=0.0, margin=0),
    },
}


def seeded_random(kind: str, text: str, level: int) -> random.Random:
    """The random source of one decision: the same for the same position and level."""
    digest = hashlib.sha256(f"{kind}\n{text}\n{level}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def pick(result: RootScores[M], level: int, setting: Level, rng: random.Random) -> M:
    """The move a level plays, given its search's scores at the root."""
    ranked = sorted(result.scores, key=lambda pair: -pair[1])
    best = ranked[0][1]
    if best > DECIDED and level > LOWEST:
        return ranked[0][0]
    if setting.blunder and rng.random() < setting.blunder:
        worst = best - setting.margin
        others = [
            move
            for move, score in ranked[1:]
            if score > worst and (level < 3 or score > -DECIDED or best <= -DECIDED)
        ]
        if others:
            return rng.choice(others)
    tied = [move for move, score in ranked if score == best]
    return tied[0] if not setting.blunder else rng.choice(tied)
