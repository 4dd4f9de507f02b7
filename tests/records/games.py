"""Random game documents for the record tests: seeded random legal play
through :mod:`game.rules`, ended every way a game of this cluster can end."""

from __future__ import annotations

import random
from typing import Any, Final

from game.rules import Position, new_game
from game.timecontrol import parse_time_control

#: Names that need escaping or are not ASCII, among plain ones.
NAMES: Final = ("alice", "bob", "José Raúl", 'O"Neil', "back\\slash", "brack]et", "李", "a b")
CONTROLS: Final = ("live:300+5", "live:10+0", "live:10800+180", "corr:3", "corr:30")
#: How a random game ends, and how often (the rest end by the rules).
ENDINGS: Final = (
    ("resigned", 0.12),
    ("draw agreed", 0.08),
    ("time", 0.08),
    ("active", 0.10),
    ("open", 0.02),
    ("cancelled", 0.02),
)


def random_moves(position: Position, rng: random.Random, limit: int) -> tuple[Position, list[str]]:
    """Up to ``limit`` random legal moves from ``position`` (fewer if the game ends)."""
    moves = []
    while len(moves) < limit and position.outcome() is None:
        move = rng.choice(position.legal_moves())
        moves.append(move)
        position = position.play(move)
    return position, moves


def choose_ending(rng: random.Random) -> str:
    draw = rng.random()
    for ending, share in ENDINGS:
        if draw < share:
            return ending
        draw -= share
    return "rules"


def random_document(kind: str, rng: random.Random, game_id: str = "g") -> dict[str, Any]:
    """A game document of ``kind`` as a server would answer it."""
    ending = choose_ending(rng)
    players: list[str | None] = [rng.choice(NAMES), rng.choice(NAMES)]
    start = new_game(kind)
    if ending in ("open", "cancelled"):
        players[1] = None
        position, moves = start, []
    elif ending == "rules":
        position, moves = random_moves(start, rng, 10_000)
    else:
        position, moves = random_moves(start, rng, rng.randrange(1, 120))
    over = position.outcome()
    result: dict[str, Any] | None = None
    if over is not None:
        result = {"winner": over.winner, "reason": over.reason}
    elif ending == "resigned":
        result = {"winner": rng.randrange(2), "reason": "resigned"}
    elif ending == "draw agreed":
        result = {"winner": None, "reason": "draw agreed"}
    elif ending == "time":
        result = {"winner": 1 - position.to_move, "reason": "time"}
    elif ending == "cancelled":
        result = {"winner": None, "reason": "cancelled"}
    status = "finished" if result else "open" if players[1] is None else "active"
    active = status == "active"
    document: dict[str, Any] = {
        "id": game_id,
        "kind": kind,
        "version": len(moves) + (1 if status == "open" else 2) + (1 if result else 0),
        "status": status,
        "players": players,
        "to_move": position.to_move if active else None,
        "moves": moves,
        "position": position.to_text(),
        "legal": position.legal_moves() if active else [],
        "draw_offer": None,
        "result": result,
    }
    if rng.random() < 0.4:
        control = rng.choice(CONTROLS)
        running = active
        at = 1_700_000_000_000 + rng.randrange(10**9) if running else None
        remaining = [rng.randrange(0, 3_000_000), rng.randrange(0, 3_000_000)]
        if result is not None and result["reason"] == "time":
            remaining[position.to_move] = 0
        document["clock"] = {
            "control": control,
            "remaining": remaining,
            "at": at,
            "deadline": at + remaining[position.to_move] if at is not None else None,
        }
    return document


def random_move_clocks(document: dict[str, Any], rng: random.Random) -> list[int]:
    """Clocks after each move of a timed ``document``, as a server's would
    run: each move spends some of its mover's time (never more than is
    left), then a live move adds the increment, a correspondence move
    restores the days per move."""
    control = parse_time_control(document["clock"]["control"])
    left = [control.base_ms, control.base_ms]
    clocks = []
    for ply in range(len(document["moves"])):
        seat = ply % 2
        spent = min(left[seat], int(rng.expovariate(1 / 4000)))
        left[seat] = left[seat] - spent + control.increment_ms if control.live else control.base_ms
        clocks.append(left[seat])
    return clocks
