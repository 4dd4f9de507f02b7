"""Time on screen: a timed game's two clock faces and the lobby's choice of
time control for new games.  Pure: no pyglet, no network, no clock read.

The faces are drawn from the document and a moment on the servers' time
scale that the caller passes in (the game controller asks the client for
it every frame), so the running clock ticks down from ``deadline`` without
any message from the servers.
"""

from __future__ import annotations

from typing import Final

from game.client.clocks import ClockReading, describe_control, format_time, read_clocks
from game.client.document import GameDocument
from game.client_gui import palette as colour
from game.client_gui.boards import SEAT_NAMES
from game.client_gui.scene import Action, Button, ClockFace, Label, Rect
from game.timecontrol import InvalidTimeControl

#: The controls offered for new games: (wire text, "" for untimed; what the button says).
TIME_CONTROL_CHOICES: Final = (
    ("", "untimed"),
    ("live:60+0", "1+0"),
    ("live:180+2", "3+2"),
    ("live:300+3", "5+3"),
    ("live:600+5", "10+5"),
    ("live:900+10", "15+10"),
    ("corr:1", "1 day"),
    ("corr:3", "3 days"),
    ("corr:7", "7 days"),
)
#: The action of a time-control button; its value is the wire text.
CHOOSE_CONTROL: Final = "time-control"
#: The height of one clock face, and the gap below it.
FACE_HEIGHT: Final = 44
FACE_GAP: Final = 6
CHOICE_HEIGHT: Final = 26


def control_name(text: str | None) -> str:
    """A control as players name it (``5+3``, ``3 days per move``, ``untimed``);
    a text no control has (a misbehaving server) is shown as it came."""
    try:
        return describe_control(text)
    except InvalidTimeControl:
        return text or ""


def reading_of(document: GameDocument, now_ms: int) -> ClockReading | None:
    """The clocks of ``document`` at ``now_ms``; None when untimed or unreadable."""
    try:
        return read_clocks(document, now_ms)
    except InvalidTimeControl:
        return None


def face_order(seat: int | None) -> tuple[int, int]:
    """Which seat's clock is drawn on top: the opponent's, so that the
    player's own clock is the lower one (a watcher sees white's on top)."""
    return (1 - seat, seat) if seat is not None else (1, 0)


def clock_faces(
    document: GameDocument, seat: int | None, x: float, top: float, width: float, now_ms: int
) -> tuple[ClockFace, ...]:
    """The two clock faces of a timed game, stacked downwards from ``top``
    (none for an untimed game).

    :param seat: the player's seat, None for a watcher.
    :param now_ms: now, in ms since the epoch on the servers' time scale.
    """
    reading = reading_of(document, now_ms)
    if reading is None:
        return ()
    faces = []
    y = top
    for shown in face_order(seat):
        y -= FACE_HEIGHT
        running = reading.running == shown
        low = reading.low(shown)
        if running:
            background = colour.CLOCK_LOW if low else colour.CLOCK_RUNNING
            digits = colour.TEXT if low else colour.CLOCK_RUNNING_TEXT
        else:
            background = colour.CLOCK_IDLE
            digits = colour.CLOCK_LOW_TEXT if low else colour.TEXT
        name = document.player(shown) or "(open seat)"
        faces.append(
            ClockFace(
                shown,
                Rect(x, y, width, FACE_HEIGHT),
                f"{name} ({SEAT_NAMES[shown]})",
                format_time(reading.remaining[shown], reading.control),
                background,
                digits,
                running,
                low,
            )
        )
        y -= FACE_GAP
    return tuple(faces)


def clocks_height(document: GameDocument | None) -> float:
    """The room the clock faces take on the side panel (0 when untimed)."""
    if document is None or document.clock is None:
        return 0
    return 2 * (FACE_HEIGHT + FACE_GAP)


def time_control_choice(
    selected: str, x: float, y: float, width: float
) -> tuple[tuple[Label, ...], tuple[Button, ...]]:
    """The lobby's row of time controls for new games, from (x, y) over
    ``width`` pixels: a caption and one button per control, ``selected``
    (the wire text, "" for untimed) highlighted."""
    caption = Label("Clock:", x, y + CHOICE_HEIGHT / 2, 11, colour.DIM_TEXT, "left", "center")
    left = x + 52
    count = len(TIME_CONTROL_CHOICES)
    step = min(84.0, max(40.0, (width - (left - x)) / count))
    buttons = []
    for index, (control, text) in enumerate(TIME_CONTROL_CHOICES):
        rect = Rect(left + index * step, y, step - 6, CHOICE_HEIGHT)
        chosen = control == selected
        buttons.append(
            Button(
                Action(CHOOSE_CONTROL, control),
                rect,
                text,
                colour.CHOICE_SELECTED if chosen else colour.BUTTON,
                colour.CHOICE_SELECTED_TEXT if chosen else colour.BUTTON_TEXT,
                size=10,
            )
        )
    return (caption,), tuple(buttons)
