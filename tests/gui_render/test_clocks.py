"""Clocks and the time-control choice, drawn by the real window and read back.

The window shows a controller over the fake client of the unit tests, so the
timed documents (and the servers' time, a ``Clock``) are the test's own: no
servers are needed, and no reactor runs.  Each probe is a pixel of a face's
or a button's background, clear of its text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyglet
import pytest

pyglet.options["headless"] = True


from game.client_gui import palette as colour  # noqa: E402
from game.client_gui.headless import Frame, close_enough, grab, press  # noqa: E402
from game.client_gui.scene import ClockFace, Rect  # noqa: E402
from tests.client_gui.helpers import document, timed  # noqa: E402
from tests.gui_render import screen as screens  # noqa: E402


class Screen(screens.Screen):
    """Alice's window; the servers' time (``clock``) moves only when a test says."""

    def __init__(self, store: Path) -> None:
        super().__init__(store, settle=False)

    def face(self, seat: int) -> ClockFace:
        return self.window.refresh().clock(seat)


@pytest.fixture
def screen(tmp_path: Path) -> Iterator[Screen]:
    yield from screens.opened(Screen(tmp_path))


def pixels_in(frame: Frame, rect: Rect) -> list[tuple[int, int, int]]:
    return [
        frame.pixel(x, y)
        for x in range(int(rect.x) + 1, int(rect.right) - 1)
        for y in range(int(rect.y) + 1, int(rect.top) - 1)
    ]


def assert_face(frame: Frame, face: ClockFace, background: tuple[int, int, int]) -> None:
    """The face's background where the view-model says, and its text drawn over it."""
    x, y, expected = face.probe()
    assert expected == background
    assert close_enough(frame.pixel(x, y), background), (face, frame.pixel(x, y))
    inked = [p for p in pixels_in(frame, face.rect) if not close_enough(p, background, 40)]
    assert len(inked) > 40, f"no text on the {face.name} clock"


def live(remaining: tuple[int, int], moves: tuple[str, ...] = ()) -> dict[str, Any]:
    return timed(document("connect4", moves), "live:60+0", remaining, 0)


def test_running_and_stopped_clocks(screen: Screen) -> None:
    screen.show(live((60_000, 45_000)), seat=0)
    running, stopped = screen.face(0), screen.face(1)
    assert (running.running, running.text, stopped.running, stopped.text) == (
        True,
        "1:00",
        False,
        "0:45",
    )
    frame = grab(screen.window)
    assert_face(frame, running, colour.CLOCK_RUNNING)
    assert_face(frame, stopped, colour.CLOCK_IDLE)
    # The opponent's clock above the player's, both beside the board.
    assert stopped.rect.y > running.rect.top
    assert running.rect.x >= max(cell.rect.right for cell in screen.window.refresh().cells)


def test_the_running_clock_ticks_and_turns_red(screen: Screen) -> None:
    screen.show(live((12_000, 45_000)), seat=0)
    before = grab(screen.window)
    face = screen.face(0)
    screen.window.needs_draw = False
    screen.clock.advance(1.0)
    ticked = screen.face(0)
    assert (face.text, ticked.text) == ("0:12", "0:11")
    assert screen.window.needs_draw  # a new face is a new scene: the driver draws it
    after = grab(screen.window)
    assert pixels_in(before, face.rect) != pixels_in(after, face.rect)
    assert_face(after, ticked, colour.CLOCK_RUNNING)
    screen.clock.advance(2.5)  # 8.5 s left: under ten seconds
    low = screen.face(0)
    assert (low.text, low.low) == ("8.5", True)
    frame = grab(screen.window)
    assert_face(frame, low, colour.CLOCK_LOW)
    assert_face(frame, screen.face(1), colour.CLOCK_IDLE)


def test_a_stopped_clock_under_ten_seconds_has_red_digits(screen: Screen) -> None:
    screen.show(live((60_000, 7_000), moves=()), seat=0)
    stopped = screen.face(1)
    assert (stopped.text, stopped.low, stopped.running) == ("7.0", True, False)
    frame = grab(screen.window)
    assert_face(frame, stopped, colour.CLOCK_IDLE)
    red = [p for p in pixels_in(frame, stopped.rect) if close_enough(p, colour.CLOCK_LOW_TEXT, 24)]
    assert len(red) > 20, "the digits of a low stopped clock are red"


def test_the_end_on_time(screen: Screen) -> None:
    over = document("connect4", ["4"], result={"winner": 0, "reason": "time"})
    screen.show(timed(over, "live:60+0", (58_000, 0), None), seat=0)
    scene = screen.window.refresh()
    assert "You win on time" in scene.texts()
    frame = grab(screen.window)
    banner = next(box for box in scene.base.boxes if box.colour == colour.BANNER_WIN)
    assert close_enough(
        frame.pixel(int(banner.rect.x + 3), int(banner.rect.y + 3)), colour.BANNER_WIN
    )
    for seat in (0, 1):
        assert_face(frame, scene.clock(seat), colour.CLOCK_IDLE)
    assert scene.clock(1).text == "0.0"


def test_the_time_control_choice(screen: Screen) -> None:
    screen.controller.start()
    scene = screen.window.refresh()
    chips = {b.action.value: b for b in scene.base.buttons if b.action.name == "time-control"}
    assert len(chips) == 9

    def chip_colour(frame: Frame, control: str) -> tuple[int, int, int]:
        rect = chips[control].rect
        return frame.pixel(int(rect.x + 3), int(rect.y + 3))

    frame = grab(screen.window)
    assert close_enough(chip_colour(frame, ""), colour.CHOICE_SELECTED)
    for control in chips.keys() - {""}:
        assert close_enough(chip_colour(frame, control), colour.BUTTON), control
    # A real click through pyglet's event queue chooses 5+3.
    press(screen.window, *chips["live:300+3"].rect.centre)
    screen.window.dispatch_events()
    assert screen.controller.lobby.time_control == "live:300+3"
    frame = grab(screen.window)
    assert close_enough(chip_colour(frame, "live:300+3"), colour.CHOICE_SELECTED)
    assert close_enough(chip_colour(frame, ""), colour.BUTTON)
    screen.controller.perform(screen.window.refresh().button("create", "checkers").action)
    arguments, _ = screen.client.pop("create_game")
    assert arguments["clock"] == "live:300+3"
