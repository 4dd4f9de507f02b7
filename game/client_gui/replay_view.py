"""The game screen's replay: the controls, the move list, the banner of an
earlier position, and the "Save record" prompt.  Pure: scene primitives from
a :class:`~game.client.replay.Replay` (no pyglet, no network).

Stepping back shows the board as it stood after that move, read-only: the
banner says which move of how many is shown, the move list marks it, and
End (or the "Back to live" button) returns to the game as it is now.
"""

from __future__ import annotations

from typing import Final

import attrs

from game.client.document import GameDocument
from game.client.replay import STEPS, Replay, Step, move_rows, row_of
from game.client_gui import palette as colour
from game.client_gui.scene import Action, Box, Button, Label, Layer, Rect

#: The action of the replay controls; its value is one of :data:`~game.client.replay.STEPS`.
REPLAY: Final = "replay"
#: The keys that step through a game, by the name the window gives them.
REPLAY_KEYS: Final[dict[str, Step]] = {
    "home": "first",
    "left": "back",
    "right": "forward",
    "end": "last",
}
#: The actions of the "Save record" button and its prompt's two buttons.
SAVE_RECORD: Final = "save-record"
SAVE_WRITE: Final = "save-write"
SAVE_CANCEL: Final = "save-cancel"

_STEP_TEXTS: Final = {"first": "|<", "back": "<", "forward": ">", "last": ">|"}
#: Pixels between two rows of the move list.
ROW_STEP: Final = 16
#: The records' formats as the prompt names them, per kind.
FORMAT_NAMES: Final = {
    "checkers": "PDN 3.0",
    "reversi": "GGF (as GGS writes it)",
    "connect4": "the column string",
}


@attrs.frozen
class Part:
    """Primitives for a part of the side panel, and the ``y`` below them."""

    y: float
    boxes: tuple[Box, ...] = ()
    buttons: tuple[Button, ...] = ()
    labels: tuple[Label, ...] = ()


def replay_of(document: GameDocument | None, replay: Replay | None) -> Replay | None:
    """The replay of the document shown: ``replay`` brought up to ``document``
    (a live one when there is none yet)."""
    if document is None:
        return None
    if replay is None:
        return Replay.of(document)
    if replay.document != document:
        return replay.follow(document)
    return replay


def board_document(replay: Replay) -> GameDocument:
    """What the board draws: the live document, or, stepped back, the game as
    it stood then with nobody to move (no hints, no moves to click)."""
    if replay.live:
        return replay.document
    return attrs.evolve(replay.document_at(), to_move=None, legal=())


def viewing_text(replay: Replay) -> str:
    """``Viewing move 5 of 12``, ``Viewing the start (12 moves)``."""
    if replay.shown == 0:
        return f"Viewing the start ({_moves(replay.total)})"
    return f"Viewing move {replay.shown} of {replay.total}"


def read_only_notice(replay: Replay) -> str:
    """What a click on the board of an earlier position says."""
    back = "the live game" if replay.document.status == "active" else "the last move"
    return f"{viewing_text(replay)}: this board is read-only. Press End to return to {back}."


def replay_banner(replay: Replay | None, rect: Rect, width: float) -> tuple[Box, Label] | None:
    """The top bar's banner while an earlier position is shown; None while live."""
    if replay is None or replay.live:
        return None
    end = "the live game" if replay.document.status == "active" else "the end"
    text = f"{viewing_text(replay)}  \u2014  End returns to {end}"
    return (
        Box(rect, colour.BANNER_REPLAY),
        Label(text, width / 2, rect.y + 14, 13, colour.TEXT, "center", "center", True),
    )


def _button(action: Action, rect: Rect, text: str, enabled: bool = True) -> Button:
    if not enabled:
        return Button(
            action, rect, text, colour.BUTTON_DISABLED, colour.BUTTON_TEXT_DISABLED, False
        )
    return Button(action, rect, text, colour.BUTTON, colour.BUTTON_TEXT)


def _moves(count: int) -> str:
    return "1 move" if count == 1 else f"{count} moves"


def replay_controls(replay: Replay, x: float, y: float, width: float) -> Part:
    """Below ``y``: "Save record...", the row of |< < > >|, which move is
    shown, and a button back to the live game while stepped back."""
    gap = 6
    step_width = (width - gap * (len(STEPS) - 1)) / len(STEPS)
    y -= 38
    buttons = [_button(Action(SAVE_RECORD), Rect(x, y, width, 30), "Save record...")]
    y -= 34
    buttons += [
        _button(
            Action(REPLAY, step),
            Rect(x + index * (step_width + gap), y, step_width, 28),
            _STEP_TEXTS[step],
            enabled=replay.can(step),
        )
        for index, step in enumerate(STEPS)
    ]
    active = replay.document.status == "active"
    # Live, a line says so; stepped back, a button in its place (the banner
    # says which move is shown), so the move list below never shifts.
    y -= 34
    labels = []
    if not replay.live:
        end = "Back to live (End)" if active else "To the last move (End)"
        buttons.append(_button(Action(REPLAY, "last"), Rect(x, y, width, 28), end))
    elif replay.total == 0:
        labels.append(Label("No moves yet", x, y + 10, 10, colour.DIM_TEXT))
    elif active:
        labels.append(Label(f"Live \u00b7 move {replay.total}", x, y + 10, 10, colour.LIGHT_AGREE))
    else:
        labels.append(
            Label(f"Move {replay.total} of {replay.total}", x, y + 10, 10, colour.DIM_TEXT)
        )
    return Part(y, buttons=tuple(buttons), labels=tuple(labels))


def move_list(replay: Replay, x: float, y: float, width: float, bottom: float) -> Part:
    """``Moves (N)`` and the rows of moves that fit above ``bottom``, the row
    of the move shown highlighted (its move in brackets when stepped back).
    Live, the last rows show; stepped back, the rows around the one shown."""
    y -= 22
    moves = replay.document.moves
    labels = [Label(f"Moves ({len(moves)})", x, y, 11, colour.TEXT, bold=True)]
    boxes = []
    marked = replay.highlight
    rows = move_rows(moves, None if replay.live else marked)
    room = max(0, int((y - bottom - 8) // ROW_STEP))
    target = row_of(marked) if marked is not None else 0
    start = max(0, len(rows) - room)
    if not replay.live:
        start = max(0, min(target - room // 2, len(rows) - room))
    shown = list(enumerate(rows))[start : start + room]
    if shown and shown[0][0] > 0 and shown[0][0] != target:
        shown[0] = (-1, "\u2026")
    if shown and shown[-1][0] < len(rows) - 1 and shown[-1][0] != target:
        shown[-1] = (-1, "\u2026")
    for index, text in shown:
        y -= ROW_STEP
        if marked is not None and index == target:
            boxes.append(Box(Rect(x, y - 4, width, ROW_STEP), colour.MOVE_HIGHLIGHT))
            labels.append(Label(text, x + 4, y, 10, colour.TEXT))
        else:
            labels.append(Label(text, x + 4, y, 10, colour.DIM_TEXT))
    return Part(y, boxes=tuple(boxes), labels=tuple(labels))


def save_prompt(saving: str | None, kind: str, width: int, height: int) -> Layer | None:
    """The "Save record" prompt over the game while ``saving`` holds the path
    being typed; None otherwise."""
    if saving is None:
        return None
    box_width = min(560.0, width - 20.0)
    box = Rect(width / 2 - box_width / 2, height / 2 - 90, box_width, 180)
    field = Rect(box.x + 20, box.y + 70, box.width - 40, 32)
    room = max(8, int((field.width - 16) / (12 * 0.72)))
    typed = f"{saving}|"
    if len(typed) > room:
        typed = "\u2026" + typed[-(room - 1) :]
    form = FORMAT_NAMES.get(kind, kind)
    return Layer(
        boxes=(
            Box(box.inset(-3), colour.SHADE),
            Box(box, colour.DIALOG),
            Box(field, colour.FIELD_EDITING),
        ),
        buttons=(
            _button(Action(SAVE_WRITE), Rect(box.x + 20, box.y + 18, 160, 34), "Save (Enter)"),
            _button(
                Action(SAVE_CANCEL), Rect(box.right - 180, box.y + 18, 160, 34), "Cancel (Esc)"
            ),
        ),
        labels=(
            Label(
                "Save the game's record",
                width / 2,
                box.top - 28,
                15,
                colour.TEXT,
                "center",
                "center",
                True,
            ),
            Label(
                f"In {form}, to this file (the folder is created):",
                field.x,
                field.top + 12,
                10,
                colour.DIM_TEXT,
            ),
            Label(typed, field.x + 8, field.y + 16, 12, colour.TEXT, "left", "center"),
        ),
    )
