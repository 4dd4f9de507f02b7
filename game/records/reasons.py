"""Why the rules refuse a move, in words a player reads in an import error.

The rules say only that a move is not legal (:class:`game.rules.IllegalMove`);
a record's reader wants to know why: "a capture is required", "f5 flips no
disc", "column 4 is full".  Everything here reads the position through its
public methods, so it cannot disagree with the rules about what is legal.
"""

from __future__ import annotations

from typing import Final

from game.rules import GameOver, InvalidMove, Position, RulesError
from game.rules.checkers import SQUARES as CHECKERS_SQUARES
from game.rules.checkers import Checkers, square_cell
from game.rules.connect4 import Connect4
from game.rules.reversi import PASS, Reversi

#: Seat 0 is black and moves first in every kind.
SEAT_NAMES: Final = ("black", "white")


def seat_name(seat: int) -> str:
    return SEAT_NAMES[seat]


def illegal_reason(position: Position, move: str, error: RulesError) -> str:
    """Why ``move`` cannot be played in ``position``, which refused it with ``error``."""
    if isinstance(error, GameOver):
        return "the game is already over"
    if isinstance(error, InvalidMove):
        return f"it is not {position.kind} notation"
    if isinstance(position, Checkers):
        return _checkers_reason(position, move)
    if isinstance(position, Reversi):
        return _reversi_reason(position, move)
    if isinstance(position, Connect4):
        return f"column {move} is full"
    return "the rules do not allow it"  # pragma: no cover - every kind is above


def _checkers_reason(position: Checkers, move: str) -> str:
    me = seat_name(position.to_move)
    legal = position.legal_moves()
    capturing = any("x" in m for m in legal)
    squares = [int(s) for s in move.replace("x", "-").split("-")]
    start = squares[0]
    piece = position.piece_at(start)
    if piece is None or piece[0] != position.to_move:
        return f"there is no {me} piece on {start}"
    if "-" in move:
        if capturing:
            return "a capture is required"
        target = squares[1]
        if position.piece_at(target) is not None:
            return f"square {target} is occupied"
        if not _adjacent(start, target):
            return f"{start} and {target} are not neighbours on a diagonal"
        return "a man does not move backward"
    if not capturing:
        return "there is no capture here"
    if any(m.startswith(move + "x") for m in legal):
        return "the capture does not go on to its end"
    if not any(m.startswith(f"{start}x") for m in legal):
        return f"the piece on {start} has no capture"
    return f"the piece on {start} cannot capture along {move}"


def _adjacent(a: int, b: int) -> bool:
    if not (1 <= a <= CHECKERS_SQUARES and 1 <= b <= CHECKERS_SQUARES):
        return False
    (ca, ra), (cb, rb) = square_cell(a), square_cell(b)
    return abs(ca - cb) == 1 and abs(ra - rb) == 1


def _reversi_reason(position: Reversi, move: str) -> str:
    me = seat_name(position.to_move)
    legal = position.legal_moves()
    if move == PASS:
        return f"{me} has a disc to place, so may not pass"
    if legal == [PASS]:
        return f"{me} has no disc to place and must pass"
    if position.disc_at(move) is not None:
        return f"{move} is occupied"
    return f"{move} flips no disc"
