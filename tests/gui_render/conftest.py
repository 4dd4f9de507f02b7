"""Headless rendering tests against three real servers.

pyglet renders offscreen (``pyglet.options['headless']``: EGL, Mesa
llvmpipe), so no display is needed.  These tests run the real reactor
(pytest-twisted) and therefore run in their own pytest process.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyglet
import pytest

pyglet.options["headless"] = True

from game.client.client import ReplicatedClient  # noqa: E402
from game.client.tokens import TokenStore  # noqa: E402
from game.client_gui.controller import Controller  # noqa: E402
from game.client_gui.driver import WindowDriver  # noqa: E402
from game.client_gui.headless import Frame, close_enough, grab, press, until  # noqa: E402
from game.client_gui.scene import Scene  # noqa: E402
from game.client_gui.viewmodel import clicks_for_move  # noqa: E402
from game.client_gui.window import GameWindow  # noqa: E402
from game.config import load_config  # noqa: E402
from tests.gui_render.cluster import Cluster  # noqa: E402

WIDTH, HEIGHT = 900, 660


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp("cluster"))
    running.start()
    try:
        running.wait_serving()
        yield running
    finally:
        running.stop()


class Table:
    """Alice in a headless window (she clicks); Bob as a second controller."""

    def __init__(self, reactor: Any, cluster: Cluster, seats: Path) -> None:
        self.reactor = reactor
        config = load_config(str(cluster.config_path))
        self.clients = [ReplicatedClient(config, reactor) for _ in range(2)]
        self.alice = Controller(self.clients[0], TokenStore(seats / "alice.json"), "alice", reactor)
        self.bob = Controller(self.clients[1], TokenStore(seats / "bob.json"), "bob", reactor)
        self.window = GameWindow(self.alice, WIDTH, HEIGHT)
        self.driver = WindowDriver(reactor)
        self.driver.add(self.window)

    async def start(self) -> None:
        for client in self.clients:
            client.start()
            await client.settled()
        self.driver.start()
        self.alice.start()
        self.bob.start()

    async def stop(self) -> None:
        self.driver.stop()
        self.alice.stop()
        self.bob.stop()
        self.window.close()
        for client in self.clients:
            await client.stop()

    async def ticks(self, count: int = 2) -> None:
        start = self.driver.ticks
        await until(self.reactor, lambda: self.driver.ticks >= start + count, what="ticks")

    async def click(self, x: float, y: float) -> None:
        """A real click through pyglet's event queue, dispatched by the loop."""
        press(self.window, x, y)
        await self.ticks()

    async def new_game(self, kind: str) -> str:
        """Alice clicks "New ..."; Bob joins."""
        alice = self.alice
        alice.show_lobby()
        await until(self.reactor, lambda: alice.game is None and alice.lobby.loaded, what="lobby")
        x, y = self.window.refresh().button("create", kind).rect.centre
        await self.click(x, y)
        await until(self.reactor, lambda: alice.game is not None and alice.game.shown is not None)
        assert alice.game is not None
        game_id = alice.game.game_id
        await self.bob.join_game(game_id)
        await self.settled(2)
        return game_id

    def moves(self, who: Controller | None = None) -> list[str]:
        game = (who or self.alice).game
        assert game is not None and game.document is not None
        return list(game.document.moves)

    async def settled(self, version: int) -> Scene:
        """Wait until both see ``version``, agreed by all three servers, nothing moving."""

        def ready() -> bool:
            for who in (self.alice, self.bob):
                game = who.game
                if game is None or game.document is None or game.document.version != version:
                    return False
                if not who.idle:
                    return False
            return "agreement: 3 of 3" in self.window.refresh().texts()

        await until(self.reactor, ready, what=f"version {version} on both screens")
        await self.ticks()
        return self.window.refresh()

    async def alice_plays(self, move: str) -> None:
        """Alice clicks the move's cells, one click per tick."""
        assert self.alice.game is not None and self.alice.game.document is not None
        kind = self.alice.game.document.kind
        for x, y in clicks_for_move(self.window.refresh(), kind, move):
            await self.click(x, y)

    def bob_plays(self, move: str) -> None:
        assert self.bob.game is not None and self.bob.game.document is not None
        scene = self.bob.scene(WIDTH, HEIGHT)
        for x, y in clicks_for_move(scene, self.bob.game.document.kind, move):
            self.bob.click(x, y, WIDTH, HEIGHT)


def assert_cells(frame: Frame, scene: Scene, keys: list[str]) -> int:
    """Every probe of these cells has its colour in the framebuffer; returns the count."""
    cells = scene.cell_map()
    checked = 0
    wrong = []
    for key in keys:
        for x, y, expected in cells[key].probes():
            actual = frame.pixel(x, y)
            if not close_enough(actual, expected):
                wrong.append(f"{key} at ({x}, {y}): drawn {actual}, expected {expected}")
            checked += 1
    assert not wrong, "\n".join(wrong)
    return checked


@pytest.fixture
def table(reactor: Any, cluster: Cluster, tmp_path: Path) -> Iterator[Table]:
    yield Table(reactor, cluster, tmp_path)


@pytest.fixture
def reactor() -> Any:
    from twisted.internet import reactor as global_reactor

    return global_reactor


__all__ = ["Table", "assert_cells", "grab"]
