"""Replay and "Save record", drawn by the real window and read back.

The window shows a controller over the fake client of the unit tests (as
test_clocks.py does): the documents are the test's own, so no servers are
needed.  Keys and clicks go through pyglet's event queue
(``dispatch_event``, then ``dispatch_events``), as real input does.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pyglet
import pytest

pyglet.options["headless"] = True

from pyglet.window import key  # noqa: E402

from game.client_gui import palette as colour  # noqa: E402
from game.client_gui.headless import Frame, close_enough, grab, press  # noqa: E402
from game.client_gui.scene import Box, Button, Scene  # noqa: E402
from game.records import export  # noqa: E402
from tests.client_gui.helpers import document, text  # noqa: E402
from tests.client_gui.offer_helpers import CONNECT4_WIN  # noqa: E402
from tests.gui_render.conftest import assert_cells  # noqa: E402
from tests.gui_render.screen import Screen, opened  # noqa: E402


@pytest.fixture
def screen(tmp_path: Path) -> Iterator[Screen]:
    yield from opened(Screen(tmp_path))


def box_colour(frame: Frame, box: Box | Button) -> tuple[int, int, int]:
    """A pixel of a box or button's background, clear of any text: near its lower left corner."""
    return frame.pixel(int(box.rect.x + 2), int(box.rect.y + 2))


def highlight(scene: Scene) -> Box:
    [box] = [box for box in scene.base.boxes if box.colour == colour.MOVE_HIGHLIGHT]
    return box


def highlighted_text(scene: Scene) -> str:
    rect = highlight(scene).rect
    [label] = [label for label in scene.base.labels if rect.contains(label.x, label.y)]
    return label.text


def test_the_controls_are_drawn(screen: Screen) -> None:
    screen.show(document("connect4", CONNECT4_WIN))
    scene = screen.scene()
    frame = grab(screen.window)
    steps = {step: scene.button("replay", step) for step in ("first", "back", "forward", "last")}
    assert [b.text for b in steps.values()] == ["|<", "<", ">", ">|"]
    # Live at the end: back is possible, forward is not.
    for step, expected in [
        ("first", colour.BUTTON),
        ("back", colour.BUTTON),
        ("forward", colour.BUTTON_DISABLED),
        ("last", colour.BUTTON_DISABLED),
    ]:
        assert close_enough(box_colour(frame, steps[step]), expected), step
    assert close_enough(box_colour(frame, scene.button("save-record")), colour.BUTTON)
    # One row, left to right, inside the side panel beside the board.
    rects = [b.rect for b in steps.values()]
    assert all(r.y == rects[0].y for r in rects)
    assert all(a.right < b.x for a, b in itertools.pairwise(rects))
    assert rects[0].x >= max(cell.rect.right for cell in scene.cells)
    # Each button has its text drawn over it.
    for button in steps.values():
        inked = [
            frame.pixel(x, int(button.rect.centre[1]))
            for x in range(int(button.rect.x) + 2, int(button.rect.right) - 2)
        ]
        assert any(not close_enough(p, button.colour, 40) for p in inked), button.text


def test_stepping_back_redraws_the_earlier_board(screen: Screen) -> None:
    screen.show(document("connect4", CONNECT4_WIN))
    live = screen.scene()
    frame = grab(screen.window)
    assert live.cell("c1r1").piece == colour.SEAT_COLOURS[0]
    assert_cells(frame, live, ["c1r1", "c2r2"])
    assert highlighted_text(live) == "4. 1"
    assert close_enough(box_colour(frame, highlight(live)), colour.MOVE_HIGHLIGHT)

    screen.click(live.button("replay", "back"))
    past = screen.scene()
    frame = grab(screen.window)
    # The winning disc, played last, is not on the earlier board; move 6 is its last move.
    assert past.cell("c1r1").piece == colour.C4_HOLE
    assert past.cell("c2r2").background == colour.C4_LAST
    assert_cells(frame, past, [cell.key for cell in past.cells])
    x, y, _ = past.cell("c1r1").probes()[0]
    assert close_enough(frame.pixel(x, y), colour.C4_HOLE)
    # The move list marks move 6, on the row above the last one.
    assert highlighted_text(past) == "3. 2  [2]"
    assert highlight(past).rect.y == highlight(live).rect.y + 16  # the list stays put
    assert close_enough(box_colour(frame, highlight(past)), colour.MOVE_HIGHLIGHT)
    assert close_enough(box_colour(frame, highlight(live)), colour.PANEL)
    # The banner says it is an earlier position.
    banner = next(box for box in past.base.boxes if box.colour == colour.BANNER_REPLAY)
    assert close_enough(box_colour(frame, banner), colour.BANNER_REPLAY)
    assert "Viewing move 6 of 7  \u2014  End returns to the end" in past.texts()


def test_keys_step_through_the_game(screen: Screen) -> None:
    moves = ("d3", "c5", "f6", "f5", "e6", "e3")
    screen.show(document("reversi", moves))
    assert screen.scene().cell("e3").piece == colour.SEAT_COLOURS[1]
    screen.key(key.HOME)
    start = screen.scene()
    frame = grab(screen.window)
    assert "Viewing the start (6 moves)  \u2014  End returns to the live game" in start.texts()
    assert [c.key for c in start.cells if c.piece is not None] == ["d4", "e4", "d5", "e5"]
    assert_cells(frame, start, ["d3", "e3", "d4", "e5"])
    assert not [b for b in start.base.boxes if b.colour == colour.MOVE_HIGHLIGHT]
    screen.key(key.RIGHT)
    screen.key(key.RIGHT)
    two = screen.scene()
    frame = grab(screen.window)
    assert highlighted_text(two) == "1. d3  [c5]"
    assert two.cell("c5").background == colour.RV_LAST
    assert_cells(frame, two, ["c5", "d3", "e3"])
    screen.key(key.LEFT)
    assert highlighted_text(screen.scene()) == "1. [d3]  c5"
    screen.key(key.END)
    end = screen.scene()
    frame = grab(screen.window)
    assert highlighted_text(end) == "3. e6  e3"
    assert end.cell("e3").piece == colour.SEAT_COLOURS[1]
    assert_cells(frame, end, ["e3", "c5", "d3"])
    assert not [b for b in end.base.boxes if b.colour == colour.BANNER_REPLAY]


def test_an_earlier_position_of_your_own_game_refuses_a_click(screen: Screen) -> None:
    screen.show(document("connect4", ("4", "4")), seat=0)
    screen.key(key.LEFT)
    past = screen.scene()
    assert "Back to live (End)" in past.texts()
    before = grab(screen.window)
    hole = past.cell("c3r1")
    press(screen.window, *hole.rect.centre)
    screen.window.dispatch_events()
    screen.key(key._3)
    assert screen.client.calls == []
    after_scene = screen.scene()
    after = grab(screen.window)
    notice = "Viewing move 1 of 2: this board is read-only. Press End to return to the live game."
    assert notice in after_scene.texts()
    x, y, _ = hole.probes()[0]
    assert close_enough(after.pixel(x, y), colour.C4_HOLE)
    assert before.pixel(x, y) == after.pixel(x, y)
    # Back to live: the same click plays the move.
    screen.click(after_scene.button("replay", "last"))
    press(screen.window, *screen.scene().cell("c3r1").rect.centre)
    screen.window.dispatch_events()
    arguments, _ = screen.client.pop("make_move")
    assert (arguments["move"], arguments["version"]) == ("3", 4)


def test_a_watched_game_does_not_yank_the_view(screen: Screen) -> None:
    screen.show(document("checkers", ("11-15", "23-19")))
    screen.key(key.LEFT)
    screen.offer(document("checkers", ("11-15", "23-19", "8-11")))
    scene = screen.scene()
    frame = grab(screen.window)
    assert "Viewing move 1 of 3  \u2014  End returns to the live game" in scene.texts()
    assert scene.cell("19").piece is None and scene.cell("8").piece == colour.SEAT_COLOURS[0]
    assert_cells(frame, scene, ["8", "11", "15", "19", "23"])
    screen.click(scene.button("replay", "last"))
    live = screen.scene()
    frame = grab(screen.window)
    assert live.cell("8").piece is None and live.cell("11").piece == colour.SEAT_COLOURS[0]
    assert_cells(frame, live, ["8", "11", "15", "19", "23"])
    assert highlighted_text(live) == "2. 8-11"


def test_save_record_writes_the_export(
    screen: Screen, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    doc = document("checkers", ("11-15", "23-19", "8-11"), game_id="c" * 32)
    screen.show(doc, seat=0)
    screen.click(screen.scene().button("save-record"))
    prompt = screen.scene()
    assert prompt.overlay is not None
    frame = grab(screen.window)
    field = next(box for box in prompt.overlay.boxes if box.colour == colour.FIELD_EDITING)
    assert close_enough(box_colour(frame, field), colour.FIELD_EDITING)
    assert f"~/replgame-records/{'c' * 32}.pdn|" in prompt.texts()
    # Typing goes to the path, not to the board or the replay.
    screen.key(key.BACKSPACE)
    screen.key(key.BACKSPACE)
    screen.key(key.BACKSPACE)
    screen.type("pdn")
    screen.key(key._4)
    screen.key(key.LEFT)
    screen.key(key.RETURN)
    written = tmp_path / "home" / "replgame-records" / f"{'c' * 32}.pdn"
    assert written.read_text("utf-8") == export(text(doc))
    done = screen.scene()
    assert done.overlay is None
    assert f"Record saved to {written}" in done.texts()
    assert screen.client.calls == []
    # Esc closes the prompt and keeps the game.
    screen.click(done.button("save-record"))
    screen.key(key.ESCAPE)
    assert screen.scene().overlay is None
    assert screen.controller.game is not None
