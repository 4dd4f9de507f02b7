"""The one job a search worker runs: what it imports is all a worker loads.

Kept apart from :mod:`game.client.searchpool` so that a spawned worker
process imports the engine and the rules only (no Twisted, no pyglet).
Positions travel as ``(kind, position text)``: the rules' canonical form
pickles small and the same on both sides.
"""

from __future__ import annotations

from game.engine import choose_move
from game.rules import from_text


def search_move(kind: str, position: str, level: int, budget: float | None) -> str:
    """The engine's move at ``level`` in the ``kind`` position ``position``."""
    return choose_move(from_text(kind, position), level, budget=budget)


def ready() -> bool:
    """A job that only proves the worker runs (its imports done)."""
    return True
