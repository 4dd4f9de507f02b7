"""Drawing a game document as terminal text: a header and the board.

Pure functions from a :class:`~game.client.document.GameDocument`
(PROTOCOL.md, "The game document") to text; the board is read from the document's ``position`` with
:func:`game.rules.from_text`.  Seat 0 is black and moves first in every
kind.  Each board shows the coordinates a player types:

- Connect Four: the column numbers 1-7 above and below the board.
- Reversi: files a-h across, ranks 1-8 from the top; ``*`` marks a square
  where the side to move may place a disc.
- Checkers: black at the top; ``b``/``w`` a man, ``B``/``W`` a king; an
  empty dark square shows its number, and each rank lists the numbers of
  its dark squares on the right.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, cast

from game.client.clocks import describe_control, format_time, read_clocks
from game.client.document import GameDocument
from game.rules import from_text
from game.rules.checkers import Checkers, square_cell
from game.rules.connect4 import COLUMNS, ROWS, Connect4
from game.rules.reversi import SIZE, Reversi
from game.timecontrol import InvalidTimeControl

#: Seat colours: seat 0 is black and moves first.
COLOURS: Final = ("black", "white")

KIND_NAMES: Final = {
    "connect4": "Connect Four",
    "reversi": "Reversi",
    "checkers": "Checkers",
}

#: The disc letters of Connect Four and Reversi (the Reversi position text's).
DISCS: Final = ("X", "O")
#: Checkers pieces: (man, king) per seat.
PIECES: Final = (("b", "B"), ("w", "W"))
#: The result reason of a game lost on time (protocol version 2).
TIME: Final = "time"


def seat_label(document: GameDocument, seat: int) -> str:
    """``alice (black)``, or ``(open seat) (white)`` while the seat is free."""
    name = document.player(seat)
    return f"{name if name is not None else '(open seat)'} ({COLOURS[seat]})"


def _symbol(kind: str, seat: int) -> str:
    return PIECES[seat][0] if kind == "checkers" else DISCS[seat]


def describe_result(document: GameDocument) -> str:
    """``alice (black) wins: four in a row``, ``draw: board full``, or ``-``."""
    result = document.result
    if result is None:
        return "-"
    winner, reason = result.winner, result.reason
    if result.cancelled:
        return "cancelled"
    if winner is None:
        return f"draw: {reason}"
    if reason == TIME:
        return f"{seat_label(document, winner)} wins on time"
    return f"{seat_label(document, winner)} wins: {reason}"


def clock_line(document: GameDocument, now_ms: int | None) -> str | None:
    """A timed game's clocks at ``now_ms`` (the servers' time scale; None:
    as of the document's last event), e.g. ``clock: 5+3  black 4:59
    (running)  white 5:00``; None for an untimed game."""
    clock = document.clock
    if clock is None:
        return None
    try:
        reading = read_clocks(document, now_ms if now_ms is not None else (clock.at or 0))
    except InvalidTimeControl:
        return f"clock: {clock.control}"
    if reading is None:  # pragma: no cover - a document with a clock has a reading
        return None
    faces = []
    for seat in (0, 1):
        face = f"{COLOURS[seat]} {format_time(reading.remaining[seat], reading.control)}"
        if reading.running == seat:
            face += " (out of time)" if reading.flagged() else " (running)"
        faces.append(face)
    line = f"clock: {describe_control(clock.control)}  " + "  ".join(faces)
    if document.status == "open":
        line += "  (starts when a second player joins)"
    return line


def render_header(document: GameDocument, now_ms: int | None = None) -> str:
    """The lines above the board: id, kind, players, status, turn, clocks
    (timed games, at ``now_ms``), result, moves."""
    kind = document.kind
    status = document.status
    moves = document.moves
    lines = [
        f"game {document.game_id}  {KIND_NAMES.get(kind, kind)} ({kind})  "
        f"version {document.version}",
        "players: "
        + "  vs  ".join(
            f"{_symbol(kind, seat)} {seat_label(document, seat)}, seat {seat}" for seat in (0, 1)
        ),
    ]
    to_move = document.to_move
    if status == "active" and to_move is not None:
        lines.append(f"status: active, {seat_label(document, to_move)} to move")
    elif status == "open":
        lines.append("status: open, waiting for a second player")
    else:
        lines.append(f"status: {status}")
    clocks = clock_line(document, now_ms)
    if clocks is not None:
        lines.append(clocks)
    draw_offer = document.draw_offer
    if draw_offer is not None:
        lines.append(f"draw offered by {seat_label(document, draw_offer)}")
    if document.takeback is not None:
        lines.append(f"takeback requested by {seat_label(document, document.takeback)}")
    if document.rematch is not None:
        rematch = document.rematch
        lines.append(
            f"rematch {rematch.state} (offered by {seat_label(document, rematch.by)}): "
            f"game {rematch.game}"
        )
    if document.rematch_of is not None:
        lines.append(f"a rematch of game {document.rematch_of}")
    lines.append(f"last move: {moves[-1]} (move {len(moves)})" if moves else "last move: none yet")
    if document.result is not None:
        lines.append(f"result: {describe_result(document)}")
    if document.legal:
        lines.append(f"legal moves: {' '.join(document.legal)}")
    return "\n".join(lines)


def render_connect4(position: Connect4) -> str:
    """Six rows, top row first, between column numbers 1-7."""
    numbers = " " + " ".join(str(c + 1) for c in range(COLUMNS))
    lines = [numbers]
    for row in reversed(range(ROWS)):
        cells = []
        for column in range(COLUMNS):
            seat = position.cell(column, row)
            cells.append("." if seat is None else DISCS[seat])
        lines.append("|" + " ".join(cells) + "|")
    lines.append("+" + "-" * (2 * COLUMNS - 1) + "+")
    lines.append(numbers)
    return "\n".join(lines)


def render_reversi(position: Reversi, legal: Sequence[str] = ()) -> str:
    """Ranks 1-8 top to bottom, files a-h; ``*`` marks the legal squares."""
    marks = set(legal)
    files = "   " + " ".join("abcdefgh"[:SIZE])
    lines = [files]
    for rank in range(SIZE):
        cells = []
        for file in range(SIZE):
            name = f"{'abcdefgh'[file]}{rank + 1}"
            seat = position.disc_at(rank * SIZE + file)
            if seat is not None:
                cells.append(DISCS[seat])
            else:
                cells.append("*" if name in marks else ".")
        lines.append(f"{rank + 1:>2} {' '.join(cells)} {rank + 1}")
    lines.append(files)
    black, white = position.counts()
    lines.append(f"discs: {DISCS[0]} black {black}, {DISCS[1]} white {white}")
    return "\n".join(lines)


def render_checkers(position: Checkers) -> str:
    """Black at the top; pieces as letters, empty dark squares as numbers."""
    grid = [["   "] * 8 for _ in range(8)]
    for square in range(1, 33):
        column, row = square_cell(square)
        piece = position.piece_at(square)
        if piece is None:
            grid[row][column] = f"{square:>2} "
        else:
            seat, king = piece
            grid[row][column] = f" {PIECES[seat][int(king)]} "
    files = ("    " + "".join(f" {f} " for f in "abcdefgh")).rstrip()
    lines = [files]
    for row in range(8):
        first = row * 4 + 1
        lines.append(f"{8 - row:>2} |{''.join(grid[row])}| {8 - row}   {first}-{first + 3}")
    lines.append(files)
    lines.append(
        f"{PIECES[0][0]}/{PIECES[0][1]} black man/king, {PIECES[1][0]}/{PIECES[1][1]} "
        "white man/king; moves: 11-15, captures: 15x24x31"
    )
    return "\n".join(lines)


def render_board(document: GameDocument) -> str:
    """The board of a game document.

    :raises game.rules.RulesError: the kind or position is not readable.
    """
    kind = document.kind
    position = from_text(kind, document.position)
    if kind == "connect4":
        return render_connect4(cast(Connect4, position))
    if kind == "reversi":
        legal = document.legal if document.status == "active" else ()
        return render_reversi(cast(Reversi, position), legal)
    return render_checkers(cast(Checkers, position))


def render_game(document: GameDocument, now_ms: int | None = None) -> str:
    """The header and the board, for ``replgame show`` and ``watch``; a
    timed game's clocks read at ``now_ms`` (the servers' time scale)."""
    return f"{render_header(document, now_ms)}\n\n{render_board(document)}"
