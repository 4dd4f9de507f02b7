"""Helpers for driving the game without a person: reading pixels back,
clicking through pyglet's event queue, waiting on the reactor.

Used by the headless rendering tests and ``tools/screenshots.py``.  Set
``pyglet.options['headless'] = True`` before importing this module to
render without a display (EGL).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs
import pyglet
from pyglet.window import mouse
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater

from game.client_gui.palette import RGB
from game.client_gui.window import GameWindow


@attrs.frozen
class Frame:
    """The pixels of a window's back buffer, bottom row first."""

    width: int
    height: int
    data: bytes

    def pixel(self, x: int, y: int) -> RGB:
        index = (y * self.width + x) * 4
        return (self.data[index], self.data[index + 1], self.data[index + 2])


def grab(window: GameWindow) -> Frame:
    """Draw the window's current scene and read its colour buffer back."""
    window.refresh()
    window.render()
    buffer = pyglet.image.get_buffer_manager().get_color_buffer()
    image = buffer.get_image_data()  # type: ignore[no-untyped-call]  # pyglet leaves it unannotated
    data = image.get_data("RGBA", image.width * 4)
    return Frame(image.width, image.height, bytes(data))


def save(window: GameWindow, path: Path) -> None:
    window.refresh()
    window.render()
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = pyglet.image.get_buffer_manager().get_color_buffer()
    buffer.get_image_data().save(str(path))  # type: ignore[no-untyped-call]  # unannotated in pyglet


def press(window: GameWindow, x: float, y: float) -> None:
    """A left click, queued as pyglet queues real input (dispatched on the next tick)."""
    window.dispatch_event("on_mouse_press", int(x), int(y), mouse.LEFT, 0)
    window.dispatch_event("on_mouse_release", int(x), int(y), mouse.LEFT, 0)


def close_enough(actual: RGB, expected: RGB, tolerance: int = 6) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


async def until(
    clock: IReactorTime,
    predicate: Callable[[], bool],
    timeout: float = 15.0,
    what: str = "a condition",
) -> None:
    """Wait on the reactor until ``predicate()`` is true.

    :raises TimeoutError: it was still false after ``timeout`` seconds.
    """
    deadline = clock.seconds() + timeout
    while not predicate():
        if clock.seconds() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        await deferLater(clock, 0.02)
