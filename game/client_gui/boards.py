"""The boards of the three kinds, as cells in window coordinates, and what a
click on a cell means.  Pure: from a game document
(:class:`~game.client.document.GameDocument`), the viewer's seat and the
checkers selection.

Each board is drawn from the viewer's own side:

- Connect Four stands upright for both players (gravity decides), column 1
  on the left.
- Reversi: black (seat 0) sees the board as the notation writes it, a1 at
  the top left; white sees it turned half a turn, a1 at the bottom right.
- Checkers: each player's men start at the bottom.  The notation puts black
  (seat 0) at the top, so black sees the board turned half a turn (square 1
  at the bottom right); white and watchers see it as written (square 1, b8,
  at the top left).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import attrs

from game.client.document import GameDocument
from game.client_gui import palette as colour
from game.client_gui.scene import Action, Box, Cell, Disc, Hotspot, Label, Rect
from game.rules import from_text, new_game
from game.rules.checkers import SQUARES as CHECKERS_SQUARES
from game.rules.checkers import Checkers, square_cell
from game.rules.connect4 import COLUMNS, ROWS, Connect4
from game.rules.reversi import PASS, SIZE, Reversi

FILES: Final = "abcdefgh"

KIND_NAMES: Final = {"connect4": "Connect Four", "reversi": "Reversi", "checkers": "Checkers"}
#: Seat names, the same in every kind: seat 0 is black and moves first.
SEAT_NAMES: Final = ("black", "white")


@attrs.frozen
class Board:
    """A board drawn into an area of the window."""

    cells: tuple[Cell, ...]
    hotspots: tuple[Hotspot, ...]
    labels: tuple[Label, ...]
    frame: Box | None
    discs: tuple[Disc, ...] = ()
    #: The cell size in pixels.
    size: int = 0


def flipped(kind: str, seat: int | None) -> bool:
    """Whether the viewer sees the board turned half a turn (module docstring)."""
    if kind == "reversi":
        return seat == 1
    if kind == "checkers":
        return seat == 0
    return False


def checkers_path(move: str) -> tuple[int, ...]:
    """``"11-15"`` -> (11, 15); ``"1x10x19"`` -> (1, 10, 19)."""
    return tuple(int(part) for part in move.replace("x", "-").split("-"))


def _grid(area: Rect, columns: int, rows: int, margin: float) -> tuple[int, int, int]:
    """Cell size and the lower left corner of a columns x rows grid centred in ``area``,
    leaving ``margin`` pixels on every side for coordinates."""
    size = max(4, int(min((area.width - 2 * margin) / columns, (area.height - 2 * margin) / rows)))
    x0 = int(area.x + (area.width - columns * size) / 2)
    y0 = int(area.y + (area.height - rows * size) / 2)
    return size, x0, y0


def board(
    document: GameDocument,
    seat: int | None,
    area: Rect,
    selection: Sequence[int] = (),
    drop: float | None = None,
) -> Board:
    """The board of ``document`` as seen by ``seat`` (None: a watcher).

    :param selection: checkers: the squares of the path chosen so far.
    :param drop: Connect Four: how far the last disc has fallen, 0 to 1
        (None or 1: it has landed).
    """
    kind = document.kind
    if kind == "connect4":
        return _connect4(document, area, seat, drop)
    if kind == "reversi":
        return _reversi(document, seat, area)
    if kind == "checkers":
        return _checkers(document, seat, area, tuple(selection))
    raise ValueError(f"unknown kind {kind!r}")


# -- Connect Four --------------------------------------------------------------------


def connect4_last(document: GameDocument) -> tuple[int, int] | None:
    """(column, row) of the last disc, both from 0, row 0 at the bottom."""
    text = document.position
    if not text:
        return None
    column = int(text[-1]) - 1
    return column, text.count(text[-1]) - 1


def _connect4(document: GameDocument, area: Rect, seat: int | None, drop: float | None) -> Board:
    position = from_text("connect4", document.position)
    assert isinstance(position, Connect4)
    size, x0, y0 = _grid(area, COLUMNS, ROWS, margin=22)
    last = connect4_last(document)
    falling = last is not None and drop is not None and drop < 1
    cells = []
    discs = []
    for column in range(COLUMNS):
        for row in range(ROWS):
            rect = Rect(x0 + column * size, y0 + row * size, size, size)
            occupant = position.cell(column, row)
            piece = colour.C4_HOLE if occupant is None else colour.SEAT_COLOURS[occupant]
            background = colour.C4_BOARD
            if last == (column, row):
                background = colour.C4_LAST
                if falling and occupant is not None:
                    assert drop is not None
                    piece = colour.C4_HOLE
                    cx, cy = rect.centre
                    start = y0 + ROWS * size + size / 2
                    eased = drop * drop  # falling: accelerating
                    seat_colour = colour.SEAT_COLOURS[occupant]
                    y = start + (cy - start) * eased
                    discs.append(Disc(cx, y, 0.40 * size, seat_colour))
            cells.append(Cell(f"c{column + 1}r{row + 1}", rect, background, piece))
    hotspots = tuple(
        Hotspot(
            Rect(x0 + column * size, y0, size, ROWS * size + 22), Action("column", str(column + 1))
        )
        for column in range(COLUMNS)
    )
    label_colour = colour.TEXT if document.my_turn(seat) else colour.DIM_TEXT
    labels = tuple(
        Label(
            str(column + 1),
            x0 + column * size + size / 2,
            y0 + ROWS * size + 6,
            11,
            label_colour,
            anchor_x="center",
            anchor_y="bottom",
        )
        for column in range(COLUMNS)
    )
    frame = Box(Rect(x0 - 4, y0 - 4, COLUMNS * size + 8, ROWS * size + 8), colour.C4_BOARD)
    return Board(tuple(cells), hotspots, labels, frame, tuple(discs), size)


# -- Reversi -------------------------------------------------------------------------


def reversi_square(column: int, row: int) -> str:
    """The name of the square at (column, row), both from 0, row 0 = rank 1 (the top)."""
    return f"{FILES[column]}{row + 1}"


def reversi_flips(document: GameDocument) -> tuple[str | None, list[str]]:
    """The last move's square (None for none or a pass) and the discs it turned."""
    moves = document.moves
    if not moves or moves[-1] == PASS:
        return None, []
    position = new_game("reversi")
    try:
        for move in moves[:-1]:
            position = position.play(move)
        assert isinstance(position, Reversi)
        return moves[-1], position.flips(moves[-1])
    except (ValueError, AssertionError):
        return moves[-1], []


def _square_rect(
    column: int, row: int, turned: bool, size: int, x0: int, y0: int, count: int = SIZE
) -> Rect:
    """The rect of notation cell (column, row from the top) on a count x count board."""
    if turned:
        column, row = count - 1 - column, count - 1 - row
    return Rect(x0 + column * size, y0 + (count - 1 - row) * size, size, size)


def _reversi(document: GameDocument, seat: int | None, area: Rect) -> Board:
    position = from_text("reversi", document.position)
    assert isinstance(position, Reversi)
    size, x0, y0 = _grid(area, SIZE, SIZE, margin=20)
    turned = flipped("reversi", seat)
    last, turned_over = reversi_flips(document)
    hints = set(document.legal) if document.my_turn(seat) else set()
    cells = []
    hotspots = []
    for row in range(SIZE):
        for column in range(SIZE):
            name = reversi_square(column, row)
            rect = _square_rect(column, row, turned, size, x0, y0)
            occupant = position.disc_at(name)
            background = colour.RV_BOARD
            if name == last:
                background = colour.RV_LAST
            elif name in turned_over:
                background = colour.RV_FLIPPED
            piece = colour.SEAT_COLOURS[occupant] if occupant is not None else None
            mark = colour.RV_HINT if name in hints and occupant is None else None
            cells.append(Cell(name, rect, background, piece, mark, inset=1))
            hotspots.append(Hotspot(rect, Action("square", name)))
    labels = []
    for index in range(SIZE):
        file_rect = _square_rect(index, SIZE - 1, turned, size, x0, y0)
        labels.append(
            Label(FILES[index], file_rect.centre[0], y0 - 4, 10, colour.DIM_TEXT, "center", "top")
        )
        rank_rect = _square_rect(0, index, turned, size, x0, y0)
        labels.append(
            Label(
                str(index + 1), x0 - 6, rank_rect.centre[1], 10, colour.DIM_TEXT, "right", "center"
            )
        )
    frame = Box(Rect(x0 - 1, y0 - 1, SIZE * size + 2, SIZE * size + 2), colour.RV_GRID)
    return Board(tuple(cells), tuple(hotspots), tuple(labels), frame, (), size)


# -- Checkers ------------------------------------------------------------------------


def checkers_paths(document: GameDocument) -> list[tuple[int, ...]]:
    return [checkers_path(move) for move in document.legal]


def _checkers(
    document: GameDocument, seat: int | None, area: Rect, selection: tuple[int, ...]
) -> Board:
    position = from_text("checkers", document.position)
    assert isinstance(position, Checkers)
    size, x0, y0 = _grid(area, SIZE, SIZE, margin=10)
    turned = flipped("checkers", seat)
    last = document.last_move
    last_path = set(checkers_path(last)) if last is not None else set()
    legal = document.legal if document.my_turn(seat) else ()
    paths = [checkers_path(move) for move in legal]
    forced = {checkers_path(move)[0] for move in legal if "x" in move}
    landings = {
        path[len(selection)]
        for path in paths
        if selection and len(path) > len(selection) and path[: len(selection)] == selection
    }
    cells = []
    hotspots = []
    for row in range(SIZE):
        for column in range(SIZE):
            rect = _square_rect(column, row, turned, size, x0, y0)
            if (column + row) % 2 == 0:
                cells.append(Cell(f"light-{column}-{row}", rect, colour.CK_LIGHT))
                continue
            square = row * 4 + column // 2 + 1
            assert square_cell(square) == (column, row)
            background = colour.CK_DARK
            if square in last_path:
                background = colour.CK_LAST
            if square in forced and not selection:
                background = colour.CK_CAPTURE
            if square in selection:
                background = colour.CK_SELECTED
            piece = None
            mark = None
            occupant = position.piece_at(square)
            if occupant is not None:
                piece = colour.SEAT_COLOURS[occupant[0]]
                if occupant[1]:
                    mark = colour.CK_KING
            if square in landings and occupant is None:
                mark = colour.CK_HINT
            cells.append(
                Cell(
                    str(square),
                    rect,
                    background,
                    piece,
                    mark,
                    label=str(square),
                    label_colour=colour.CK_LABEL,
                )
            )
            hotspots.append(Hotspot(rect, Action("square", str(square))))
    frame = Box(Rect(x0 - 3, y0 - 3, SIZE * size + 6, SIZE * size + 6), colour.CK_DARK)
    return Board(tuple(cells), tuple(hotspots), (), frame, (), size)


# -- clicks --------------------------------------------------------------------------


@attrs.frozen
class Intent:
    """What a click on the board asks for.

    ``move`` is a move to send; ``selection`` the checkers path chosen so far
    (kept when nothing is sent); ``notice`` a sentence for the player.
    """

    move: str | None = None
    selection: tuple[int, ...] = ()
    notice: str | None = None


def click_board(
    document: GameDocument, seat: int | None, selection: Sequence[int], action: Action
) -> Intent:
    """What a click on a board cell or column means for ``seat``."""
    selection = tuple(selection)
    if seat is None:
        return Intent(selection=selection, notice="You are watching this game.")
    status = document.status
    if status == "open":
        return Intent(notice="Waiting for an opponent to join.")
    if status != "active":
        return Intent(notice="The game is over.")
    if document.to_move != seat:
        return Intent(selection=selection, notice="It is not your move.")
    legal = document.legal
    kind = document.kind
    if kind == "connect4":
        if action.value in legal:
            return Intent(move=action.value)
        return Intent(notice=f"Column {action.value} is full.")
    if kind == "reversi":
        if action.value in legal:
            return Intent(move=action.value)
        if legal == (PASS,):
            return Intent(move=PASS)
        return Intent(notice=f"You cannot place a disc on {action.value}.")
    return _click_checkers(document, legal, selection, int(action.value))


def _click_checkers(
    document: GameDocument, legal: Sequence[str], selection: tuple[int, ...], square: int
) -> Intent:
    paths = {checkers_path(move): move for move in legal}
    starts = {path[0] for path in paths}
    if selection:
        extended = (*selection, square)
        following = [path for path in paths if path[: len(extended)] == extended]
        if following:
            complete = paths.get(extended)
            if complete is not None:
                return Intent(move=complete)
            return Intent(selection=extended)
        if square == selection[-1] and len(selection) == 1:
            return Intent()  # a second click on the piece drops it
        if len(selection) > 1 and square in selection:
            return Intent(selection=selection, notice="Go on: click the next landing square.")
    if square in starts:
        return Intent(selection=(square,))
    captures = any("x" in move for move in legal)
    if captures:
        return Intent(
            selection=selection if len(selection) > 1 else (),
            notice="A capture is forced: move one of the pieces marked red.",
        )
    position = from_text("checkers", document.position)
    assert isinstance(position, Checkers)
    occupant = position.piece_at(square) if 1 <= square <= CHECKERS_SQUARES else None
    if occupant is not None and occupant[0] == document.to_move:
        return Intent(notice=f"The piece on {square} cannot move.")
    if selection:
        return Intent(notice=f"The piece on {selection[0]} cannot go to {square}.")
    return Intent(notice="Click one of your pieces, then where it goes.")


def keyboard_column(document: GameDocument, seat: int | None, digit: int) -> Intent:
    """A digit key 1-7 in Connect Four: drop in that column."""
    if document.kind != "connect4" or not 1 <= digit <= COLUMNS:
        return Intent()
    return click_board(document, seat, (), Action("column", str(digit)))


def ease(progress: float) -> float:
    return max(0.0, min(1.0, progress))


#: How long a Connect Four disc takes to fall a whole column, in seconds.
DROP_SECONDS: Final = 0.35


def drop_duration(row: int) -> float:
    """A disc falling from the top to ``row`` (0 = bottom) takes longer from higher up."""
    return DROP_SECONDS * math.sqrt((ROWS - row) / ROWS)
