"""Game documents for view-model tests, built by replaying moves with the rules."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from game.client.document import GameDocument
from game.rules import new_game

WIDTH, HEIGHT = 980, 700

#: Checkers: black (seat 0) double-jumps 12x19x28 with its 5th move and
#: crowns with 28-32 (its 6th); white plays the other moves.
CHECKERS_DOUBLE_JUMP_AND_CROWN = (
    *("10-15", "24-19", "15x24", "27x20", "11-15", "28-24", "9-13", "20-16"),
    *("12x19x28", "32-27", "28-32"),
)
#: Reversi: after these, black (seat 0) has no move but "pass".
REVERSI_BLACK_PASSES = ("c4", "c3", "f5", "b4", "a4", "a5", "b2", "a3")


def document(
    kind: str,
    moves: Sequence[str] = (),
    *,
    players: tuple[str | None, str | None] = ("alice", "bob"),
    result: dict[str, Any] | None = None,
    draw_offer: int | None = None,
    game_id: str = "g1",
) -> dict[str, Any]:
    """The document of a game with ``moves`` played (open if a seat is free)."""
    position = new_game(kind)
    for move in moves:
        position = position.play(move)
    outcome = position.outcome()
    status = "open" if None in players else "active"
    if result is None and outcome is not None:
        result = {"winner": outcome.winner, "reason": outcome.reason}
    if result is not None:
        status = "finished"
    active = status == "active"
    return {
        "id": game_id,
        "kind": kind,
        "version": 1 + (0 if None in players else 1) + len(moves),
        "status": status,
        "players": list(players),
        "to_move": position.to_move if active else None,
        "moves": list(moves),
        "position": position.to_text(),
        "legal": sorted(position.legal_moves()) if active else [],
        "draw_offer": draw_offer,
        "result": result,
    }


def text(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def typed(doc: dict[str, Any]) -> GameDocument:
    """The document as the GUI reads it."""
    return GameDocument.from_mapping(doc)
