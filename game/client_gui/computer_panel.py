"""The lobby's "Play the computer" panel: what it shows and what the player
chose (pure: no pyglet, no network).

The panel is a modal overlay over the lobby: the game (kind), the level
(1 beginner to 5 strongest), the colour the person plays (black, white, or
random) and the time control, the same choice as the lobby's own (the
panel's buttons change it).  "Random" is decided by the game's id
(:func:`human_seat`), so nothing random happens on the servers.
"""

from __future__ import annotations

import random
from typing import Final

import attrs

from game.client_gui import palette as colour
from game.client_gui.boards import KIND_NAMES
from game.client_gui.clockview import CHOICE_HEIGHT, time_control_choice
from game.client_gui.scene import Action, Box, Button, Label, Layer, Rect
from game.engine import HIGHEST, LOWEST

#: Opens the panel (the lobby's button).
OPEN: Final = "computer"
KIND: Final = "computer-kind"
LEVEL: Final = "computer-level"
COLOUR: Final = "computer-colour"
PLAY: Final = "computer-play"
CANCEL: Final = "computer-cancel"
COLOURS: Final = ("black", "white", "random")
KINDS: Final = ("connect4", "reversi", "checkers")
LEVEL_NAMES: Final = {1: "beginner", 2: "casual", 3: "club", 4: "strong", 5: "strongest"}
ROW: Final = 34
PANEL_HEIGHT: Final = 300


@attrs.frozen
class ComputerChoice:
    """What the panel has chosen so far."""

    kind: str = "connect4"
    level: int = 1
    colour: str = "black"


def human_seat(choice: str, game_id: str) -> int:
    """The seat the person takes: 0 for black, 1 for white; "random" is
    drawn from the game id, the same every time for one game."""
    if choice == "random":
        return random.Random(game_id).randrange(2)
    return COLOURS.index(choice)


def _choice_button(action: Action, rect: Rect, text: str, chosen: bool) -> Button:
    return Button(
        action,
        rect,
        text,
        colour.CHOICE_SELECTED if chosen else colour.BUTTON,
        colour.CHOICE_SELECTED_TEXT if chosen else colour.BUTTON_TEXT,
        size=10,
    )


def panel_rect(width: int, height: int) -> Rect:
    box_width = min(640.0, width - 20.0)
    return Rect(width / 2 - box_width / 2, height / 2 - PANEL_HEIGHT / 2, box_width, PANEL_HEIGHT)


def computer_panel(
    choice: ComputerChoice, time_control: str, width: int, height: int, busy: bool = False
) -> Layer:
    """The panel over a lobby of ``width`` x ``height``; ``time_control`` is
    the lobby's choice (the wire text, "" untimed)."""
    box = panel_rect(width, height)
    left = box.x + 20
    inner = box.width - 40
    labels: list[Label] = [
        Label(
            "Play the computer",
            box.x + box.width / 2,
            box.top - 26,
            15,
            colour.TEXT,
            "center",
            "center",
            True,
        )
    ]
    buttons: list[Button] = []
    caption_width = 80.0
    row_left = left + caption_width
    row_width = inner - caption_width

    def row(y: float, caption: str, options: list[tuple[Action, str, bool]]) -> None:
        labels.append(
            Label(caption, left, y + (ROW - 6) / 2, 11, colour.DIM_TEXT, "left", "center")
        )
        step = row_width / len(options)
        for index, (action, text, chosen) in enumerate(options):
            rect = Rect(row_left + index * step, y, step - 6, ROW - 6)
            buttons.append(_choice_button(action, rect, text, chosen))

    y = box.top - 50 - ROW
    row(y, "Game:", [(Action(KIND, k), KIND_NAMES[k], k == choice.kind) for k in KINDS])
    y -= ROW + 8
    row(
        y,
        "Level:",
        [
            (Action(LEVEL, str(level)), str(level), level == choice.level)
            for level in range(LOWEST, HIGHEST + 1)
        ],
    )
    labels.append(
        Label(
            f"level {choice.level}: {LEVEL_NAMES[choice.level]}",
            row_left,
            y - 8,
            9,
            colour.DIM_TEXT,
            "left",
            "center",
        )
    )
    y -= ROW + 18
    row(
        y,
        "You play:",
        [(Action(COLOUR, c), c.capitalize(), c == choice.colour) for c in COLOURS],
    )
    y -= CHOICE_HEIGHT + 16
    clock_labels, clock_buttons = time_control_choice(time_control, left, y, inner)
    labels.extend(clock_labels)
    buttons.extend(clock_buttons)
    play_text = "Starting\u2026" if busy else "Play (Enter)"
    buttons.append(
        Button(
            Action(PLAY),
            Rect(left, box.y + 16, 160, 36),
            play_text,
            colour.BUTTON_DISABLED if busy else colour.BANNER_WIN,
            colour.BUTTON_TEXT_DISABLED if busy else colour.BUTTON_TEXT,
            not busy,
        )
    )
    buttons.append(
        Button(
            Action(CANCEL),
            Rect(box.right - 180, box.y + 16, 160, 36),
            "Cancel (Esc)",
            colour.BUTTON,
            colour.BUTTON_TEXT,
        )
    )
    return Layer(
        boxes=(Box(box.inset(-3), colour.SHADE), Box(box, colour.DIALOG)),
        buttons=tuple(buttons),
        labels=tuple(labels),
    )
