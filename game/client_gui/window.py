"""The pyglet window: draws the controller's scene and forwards input.

One :class:`~pyglet.graphics.Batch` per window, layers as ordered
:class:`~pyglet.graphics.Group`\\ s, ``on_draw`` is ``clear()`` +
``batch.draw()``.  The window never decides anything: clicks, keys, typed
text and the wheel go to the :class:`~game.client_gui.controller.Controller`,
and what it draws is the controller's :class:`~game.client_gui.scene.Scene`.
Shapes are kept per scene primitive, so a new scene only creates and deletes
the shapes of what changed.

Import this module only after choosing pyglet's options (``headless``).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any, Final

import pyglet
from pyglet import shapes
from pyglet.window import key, mouse

from game.client_gui.controller import Controller
from game.client_gui.palette import RGB
from game.client_gui.scene import (
    Box,
    Button,
    Cell,
    ClockFace,
    Disc,
    Label,
    Layer,
    Light,
    Rect,
    Scene,
)
from game.client_gui.viewmodel import TITLE

DEFAULT_SIZE: Final = (980, 700)
MINIMUM_SIZE: Final = (600, 440)

# Draw order inside a layer; the overlay layer is drawn over the base layer.
_BOXES, _CELLS, _PIECES, _MARKS, _CELL_TEXT, _DISCS, _BUTTONS, _BUTTON_TEXT, _LIGHTS, _TEXT = range(
    10
)
_OVERLAY: Final = 10

_KEYS: Final = {
    key.ESCAPE: "escape",
    key.RETURN: "enter",
    key.ENTER: "enter",
    key.NUM_ENTER: "enter",
    key.BACKSPACE: "backspace",
    key.HOME: "home",
    key.LEFT: "left",
    key.RIGHT: "right",
    key.END: "end",
}
_DIGITS: Final = {
    **{getattr(key, f"_{digit}"): str(digit) for digit in range(10)},
    **{getattr(key, f"NUM_{digit}"): str(digit) for digit in range(10)},
}


def _true_colour_config() -> pyglet.gl.Config | None:
    """8 bits per channel, so colours are drawn exactly (a headless EGL surface
    otherwise may be RGB565); None (pyglet's default) if the display has none."""
    wanted = pyglet.gl.Config(  # type: ignore[abstract]
        red_size=8, green_size=8, blue_size=8, alpha_size=8, double_buffer=True
    )
    try:
        display = pyglet.display.get_display()
        screen = display.get_default_screen()
        return screen.get_best_config(wanted)
    except Exception:
        return None


def _rgba(colour: tuple[int, int, int]) -> tuple[int, int, int, int]:
    return (colour[0], colour[1], colour[2], 255)


class GameWindow(pyglet.window.Window):  # type: ignore[misc]
    """A resizable window showing one controller's screens."""

    def __init__(
        self,
        controller: Controller,
        width: int = DEFAULT_SIZE[0],
        height: int = DEFAULT_SIZE[1],
        **options: Any,
    ) -> None:
        if "config" not in options:
            options["config"] = _true_colour_config()
        super().__init__(width, height, caption=TITLE, resizable=True, **options)
        if not pyglet.options.get("headless"):
            self.set_minimum_size(*MINIMUM_SIZE)
        self.controller = controller
        self.batch = pyglet.graphics.Batch()
        self.groups = [pyglet.graphics.Group(order=order) for order in range(2 * _OVERLAY)]
        self.scene: Scene | None = None
        #: The title last given to the window system.
        self.title = TITLE
        self._shapes: dict[tuple[int, object], list[list[Any]]] = {}
        self._background = (0, 0, 0)
        #: Set when the scene changed or the window was exposed.
        self.needs_draw = True
        #: True once the window system destroyed the window (xdotool windowclose).
        self.gone = False
        #: Called when the player closes the window.
        self.on_gone: Callable[[], None] | None = None
        self._watch_destruction()

    def _watch_destruction(self) -> None:
        """Notice a window destroyed under us (``XDestroyWindow``), not only a polite close."""
        handlers = getattr(self, "_event_handlers", None)
        if sys.platform.startswith("linux") and isinstance(handlers, dict):
            try:
                from pyglet.libs.x11 import xlib
            except Exception:  # headless (EGL): no X at all
                return
            handlers[xlib.DestroyNotify] = self._destroyed

    def _destroyed(self, event: Any) -> None:
        self._lost()

    def _lost(self) -> None:
        if not self.gone:
            self.gone = True
            if self.on_gone is not None:
                self.on_gone()

    # -- the scene -> shapes -------------------------------------------------------------

    def refresh(self) -> Scene:
        """Ask the controller for the scene; rebuild what changed."""
        scene = self.controller.scene(self.width, self.height)
        if scene != self.scene:
            self._apply(scene)
            self.scene = scene
            self.needs_draw = True
        if scene.title != self.title:
            # Kept here too: a headless window's caption is not stored.
            self.title = scene.title
            self.set_caption(scene.title)
        return scene

    def _apply(self, scene: Scene) -> None:
        self._background = scene.background
        old = self._shapes
        fresh: dict[tuple[int, object], list[list[Any]]] = defaultdict(list)
        for base, layer in self._layers(scene):
            for primitive in self._primitives(layer):
                handle = (base, primitive)
                pool = old.get(handle)
                made = pool.pop() if pool else self._make(base, primitive)
                fresh[handle].append(made)
        for pool in old.values():
            for made in pool:
                for shape in made:
                    shape.delete()
        self._shapes = dict(fresh)

    @staticmethod
    def _layers(scene: Scene) -> Iterator[tuple[int, Layer]]:
        yield 0, scene.base
        if scene.overlay is not None:
            yield _OVERLAY, scene.overlay

    @staticmethod
    def _primitives(layer: Layer) -> Iterator[object]:
        yield from layer.boxes
        yield from layer.cells
        yield from layer.discs
        yield from layer.buttons
        yield from layer.lights
        yield from layer.labels
        yield from layer.clocks

    def _group(self, base: int, order: int) -> pyglet.graphics.Group:
        return self.groups[base + order]

    def _make(self, base: int, primitive: object) -> list[Any]:
        batch = self.batch
        if isinstance(primitive, Box):
            r = primitive.rect
            return [self._rectangle(base, r, primitive.colour, _BOXES)]
        if isinstance(primitive, Cell):
            return self._make_cell(base, primitive)
        if isinstance(primitive, Disc):
            return [
                self._circle(
                    base, primitive.x, primitive.y, primitive.radius, primitive.colour, _DISCS
                )
            ]
        if isinstance(primitive, Button):
            r = primitive.rect
            cx, cy = r.centre
            return [
                self._rectangle(base, r, primitive.colour, _BUTTONS),
                pyglet.text.Label(
                    primitive.text,
                    x=cx,
                    y=cy,
                    anchor_x="center",
                    anchor_y="center",
                    font_size=primitive.size,
                    color=_rgba(primitive.text_colour),
                    batch=batch,
                    group=self._group(base, _BUTTON_TEXT),
                ),
            ]
        if isinstance(primitive, Light):
            cx, cy = primitive.rect.centre
            return [self._circle(base, cx, cy, primitive.rect.width / 2, primitive.colour, _LIGHTS)]
        if isinstance(primitive, Label):
            return [
                pyglet.text.Label(
                    primitive.text,
                    x=primitive.x,
                    y=primitive.y,
                    anchor_x=primitive.anchor_x,  # type: ignore[arg-type]
                    anchor_y=primitive.anchor_y,  # type: ignore[arg-type]
                    font_size=primitive.size,
                    weight="bold" if primitive.bold else "normal",
                    color=_rgba(primitive.colour),
                    batch=batch,
                    group=self._group(base, _TEXT),
                )
            ]
        if isinstance(primitive, ClockFace):
            return self._make_clock(base, primitive)
        raise TypeError(f"cannot draw {primitive!r}")

    def _rectangle(self, base: int, r: Rect, colour: RGB, layer: int) -> shapes.Rectangle:
        return shapes.Rectangle(
            r.x, r.y, r.width, r.height, color=_rgba(colour), batch=self.batch,
            group=self._group(base, layer),
        )  # fmt: skip

    def _circle(
        self, base: int, x: float, y: float, radius: float, colour: RGB, layer: int
    ) -> shapes.Circle:
        return shapes.Circle(
            x, y, radius, color=_rgba(colour), batch=self.batch, group=self._group(base, layer)
        )

    def _make_cell(self, base: int, cell: Cell) -> list[Any]:
        batch = self.batch
        r = cell.rect.inset(cell.inset) if cell.inset else cell.rect
        made: list[Any] = [self._rectangle(base, r, cell.background, _CELLS)]
        cx, cy = cell.rect.centre
        if cell.piece is not None:
            made.append(self._circle(base, cx, cy, cell.piece_radius, cell.piece, _PIECES))
        if cell.mark is not None:
            made.append(self._circle(base, cx, cy, cell.mark_radius, cell.mark, _MARKS))
        if cell.label:
            made.append(
                pyglet.text.Label(
                    cell.label,
                    x=cell.rect.x + 3,
                    y=cell.rect.top - 2,
                    anchor_x="left",
                    anchor_y="top",
                    font_size=max(6.0, min(10.0, cell.rect.height * 0.14)),
                    color=_rgba(cell.label_colour),
                    batch=batch,
                    group=self._group(base, _CELL_TEXT),
                )
            )
        return made

    def _make_clock(self, base: int, face: ClockFace) -> list[Any]:
        """A clock face: its background (over the panel, as cells are), the
        player's name small at the top left, the time large at the right."""
        r = face.rect
        name = pyglet.text.Label(
            face.name,
            x=r.x + 6,
            y=r.top - 4,
            anchor_x="left",
            anchor_y="top",
            font_size=9,
            color=_rgba(face.text_colour),
            batch=self.batch,
            group=self._group(base, _TEXT),
        )
        digits = pyglet.text.Label(
            face.text,
            x=r.right - 8,
            y=r.y + 6,
            anchor_x="right",
            anchor_y="baseline",
            font_size=18,
            weight="bold",
            color=_rgba(face.text_colour),
            batch=self.batch,
            group=self._group(base, _TEXT),
        )
        return [self._rectangle(base, r, face.colour, _CELLS), name, digits]

    # -- drawing ---------------------------------------------------------------------------

    def on_draw(self) -> None:
        red, green, blue = self._background
        pyglet.gl.glClearColor(red / 255, green / 255, blue / 255, 1.0)
        self.clear()
        self.batch.draw()

    def render(self) -> None:
        """Draw the current scene now (into the back buffer) without swapping."""
        self.switch_to()
        self.on_draw()

    def draw_frame(self) -> None:
        """Refresh the scene, and draw and show it if anything changed."""
        scene = self.refresh()
        if self.needs_draw or scene.animating:
            self.render()
            self.flip()
            self.needs_draw = False

    # -- input ------------------------------------------------------------------------------

    def on_mouse_press(self, x: int, y: int, button: int, modifiers: int) -> None:
        if button == mouse.LEFT:
            self.controller.click(x, y, self.width, self.height)

    def on_mouse_scroll(self, x: int, y: int, scroll_x: float, scroll_y: float) -> None:
        if scroll_y:
            self.controller.scroll(x, y, self.width, self.height, -1 if scroll_y > 0 else 1)

    def on_key_press(self, symbol: int, modifiers: int) -> bool:
        # Handled here so that pyglet's default (Esc closes the window) never runs.
        if symbol == key.Q and modifiers & (key.MOD_CTRL | key.MOD_COMMAND):
            self.controller.key("quit")
        elif symbol in _KEYS:
            self.controller.key(_KEYS[symbol])
        elif symbol in _DIGITS:
            self.controller.key(_DIGITS[symbol])
        return True

    def on_text(self, text: str) -> None:
        self.controller.text(text)

    def on_resize(self, width: int, height: int) -> None:
        super().on_resize(width, height)
        self.needs_draw = True

    def on_expose(self) -> None:
        self.needs_draw = True

    def on_close(self) -> None:
        self._lost()
