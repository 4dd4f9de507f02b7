"""The lobby's "Play the computer" panel, drawn by the real window and read back.

Alice's window over the fake client of the unit tests (no servers, no
reactor); the computers the lobby would start are recorded instead.  Each
probe is a pixel of a button's background, clear of its text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyglet
import pytest

pyglet.options["headless"] = True

from twisted.internet.defer import Deferred  # noqa: E402
from twisted.internet.task import Clock  # noqa: E402

from game.client.tokens import TokenStore  # noqa: E402
from game.client_gui import palette as colour  # noqa: E402
from game.client_gui.controller import Controller  # noqa: E402
from game.client_gui.headless import Frame, close_enough, grab, press  # noqa: E402
from game.client_gui.scene import Button  # noqa: E402
from game.client_gui.window import GameWindow  # noqa: E402
from tests.client_gui.helpers import FakeClient  # noqa: E402

WIDTH, HEIGHT = 900, 660


class Computers:
    def __init__(self) -> None:
        self.started: list[tuple[str, int]] = []

    def start(self, game_id: str, level: int) -> Deferred[Any]:
        self.started.append((game_id, level))
        return Deferred()

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


class Lobby:
    def __init__(self, store: Path) -> None:
        self.client = FakeClient(Clock())
        self.controller = Controller(
            self.client,  # type: ignore[arg-type]
            TokenStore(store / "seats.json"),
            "alice",
            self.client.clock,
        )
        self.computers = Computers()
        self.controller.lobby_screen.computers = self.computers  # type: ignore[assignment]
        self.window = GameWindow(self.controller, WIDTH, HEIGHT)
        self.controller.start()

    def button(self, name: str, value: str = "") -> Button:
        return self.window.refresh().button(name, value)

    def click(self, name: str, value: str = "") -> None:
        """A real click through pyglet's event queue."""
        press(self.window, *self.button(name, value).rect.centre)
        self.window.dispatch_events()


@pytest.fixture
def lobby(tmp_path: Path) -> Iterator[Lobby]:
    shown = Lobby(tmp_path)
    try:
        yield shown
    finally:
        shown.controller.stop()
        shown.window.close()


def background(frame: Frame, button: Button) -> tuple[int, int, int]:
    return frame.pixel(int(button.rect.x + 3), int(button.rect.y + 3))


def test_the_panel_opens_over_the_lobby_and_shows_the_choices(lobby: Lobby) -> None:
    opener = lobby.button("computer")
    assert opener.text == "Play the computer"
    assert close_enough(background(grab(lobby.window), opener), colour.BUTTON)
    lobby.click("computer")
    scene = lobby.window.refresh()
    assert scene.overlay is not None
    frame = grab(lobby.window)
    dialog = scene.overlay.boxes[1]
    assert dialog.colour == colour.DIALOG
    assert close_enough(
        frame.pixel(int(dialog.rect.x + 5), int(dialog.rect.top - 5)), colour.DIALOG
    )
    # The defaults: Connect Four, level 1, black, untimed, highlighted.
    for name, value in (
        ("computer-kind", "connect4"),
        ("computer-level", "1"),
        ("computer-colour", "black"),
        ("time-control", ""),
    ):
        assert close_enough(background(frame, lobby.button(name, value)), colour.CHOICE_SELECTED)
    for name, value in (("computer-kind", "checkers"), ("computer-level", "5")):
        assert close_enough(background(frame, lobby.button(name, value)), colour.BUTTON)
    assert close_enough(background(frame, lobby.button("computer-play")), colour.BANNER_WIN)
    # Text is drawn on the Play button.
    play = lobby.button("computer-play").rect
    inked = [
        frame.pixel(x, y)
        for x in range(int(play.x) + 2, int(play.right) - 2)
        for y in range(int(play.y) + 2, int(play.top) - 2)
        if not close_enough(frame.pixel(x, y), colour.BANNER_WIN, 40)
    ]
    assert len(inked) > 30


def test_choices_light_up_and_play_starts_the_game(lobby: Lobby) -> None:
    lobby.click("computer")
    lobby.click("computer-kind", "checkers")
    lobby.click("computer-level", "5")
    lobby.click("computer-colour", "white")
    frame = grab(lobby.window)
    for name, value in (
        ("computer-kind", "checkers"),
        ("computer-level", "5"),
        ("computer-colour", "white"),
    ):
        assert close_enough(background(frame, lobby.button(name, value)), colour.CHOICE_SELECTED)
    for name, value in (("computer-kind", "connect4"), ("computer-level", "1")):
        assert close_enough(background(frame, lobby.button(name, value)), colour.BUTTON)
    assert "level 5: strongest" in lobby.window.refresh().texts()
    lobby.click("computer-play")
    arguments, _ = lobby.client.pop("create_game")
    assert (arguments["kind"], arguments["seat"]) == ("checkers", 1)
    # While the game is created the panel says so, and Play waits.
    busy = lobby.button("computer-play")
    assert (busy.text, busy.enabled) == ("Starting\u2026", False)
    assert close_enough(background(grab(lobby.window), busy), colour.BUTTON_DISABLED)


def test_cancel_closes_the_panel(lobby: Lobby) -> None:
    lobby.click("computer")
    lobby.click("computer-cancel")
    assert lobby.window.refresh().overlay is None
    assert lobby.client.names() == ["list_games"]
