"""The window of a headless pixel test over the fake client of the unit
tests: no servers, the documents are the test's own.  Shared by the clock,
replay and offer tests; keys and clicks go through pyglet's event queue, as
real input does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyglet

pyglet.options["headless"] = True

from twisted.internet.task import Clock  # noqa: E402

from game.client.tokens import Seat, TokenStore  # noqa: E402
from game.client_gui.controller import Controller  # noqa: E402
from game.client_gui.headless import press  # noqa: E402
from game.client_gui.replicas import Shown  # noqa: E402
from game.client_gui.scene import Button, Scene  # noqa: E402
from game.client_gui.window import GameWindow  # noqa: E402
from tests.client_gui.helpers import FakeClient, text  # noqa: E402

WIDTH, HEIGHT = 900, 660


class Screen:
    """Alice's window over a fake client (``make_client``) on ``clock``.

    :param settle: after each watch update, let a second pass (any disc has
        landed); the clock tests keep the servers' time still instead.
    """

    def __init__(
        self,
        store: Path,
        make_client: Callable[[Clock], FakeClient] = FakeClient,
        settle: bool = True,
    ) -> None:
        self.clock = Clock()
        self.client = make_client(self.clock)
        self.store = TokenStore(store / "seats.json")
        self.settle = settle
        self.controller = Controller(
            self.client,  # type: ignore[arg-type]
            self.store,
            "alice",
            self.clock,
        )
        self.window = GameWindow(self.controller, WIDTH, HEIGHT)

    def show(self, doc: dict[str, Any], seat: int | None = None) -> None:
        """Open ``doc`` as alice in ``seat`` (None: watching), as the three servers hold it."""
        held = (
            Seat(self.client.config.cluster_id, doc["id"], seat, "alice", "t" * 32, doc["kind"])
            if seat is not None
            else None
        )
        self.controller.open_game(doc["id"], held, Shown.of(text(doc), False, (1, 2, 3)))
        self.offer(doc)

    def offer(self, doc: dict[str, Any]) -> None:
        """Each server's watch update, while the game is still watched."""
        for server_id in (1, 2, 3):
            watch = self.client.watches.get(doc["id"])
            if watch is not None:
                watch.offer(server_id, text(doc))
        if self.settle:
            self.clock.advance(1)

    def key(self, symbol: int) -> None:
        self.window.dispatch_event("on_key_press", symbol, 0)
        self.window.dispatch_events()

    def type(self, typed: str) -> None:
        self.window.dispatch_event("on_text", typed)
        self.window.dispatch_events()

    def click(self, button: Button) -> None:
        press(self.window, *button.rect.centre)
        self.window.dispatch_events()

    def scene(self) -> Scene:
        return self.window.refresh()

    def close(self) -> None:
        self.controller.stop()
        self.window.close()


def opened(screen: Screen) -> Iterator[Screen]:
    """The body of each file's ``screen`` fixture: the window, closed after."""
    try:
        yield screen
    finally:
        screen.close()
