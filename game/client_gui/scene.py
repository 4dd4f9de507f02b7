"""What the window draws: frozen values in window coordinates, no pyglet.

Coordinates are pyglet's: pixels, origin at the bottom left, y up.  A
:class:`Scene` is everything one frame shows; the window turns each
primitive into pyglet shapes and labels, and asks :meth:`Scene.hit` what a
click means.  Being frozen values, two scenes compare equal when they draw
the same thing, so the window redraws only what changed.
"""

from __future__ import annotations

import attrs

from game.client_gui.palette import RGB

#: A piece's radius, as a fraction of its cell's shorter side.
PIECE_RADIUS = 0.40
#: The radius of a mark (a hint dot, a king's crown) at a cell's centre.
MARK_RADIUS = 0.15
#: Where a cell's background is sampled: this fraction in from its lower left corner.
EDGE_PROBE = 0.12


@attrs.frozen
class Rect:
    x: float
    y: float
    width: float
    height: float

    def contains(self, px: float, py: float) -> bool:
        return self.x <= px < self.x + self.width and self.y <= py < self.y + self.height

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x + self.width / 2, self.y + self.height / 2)

    @property
    def top(self) -> float:
        return self.y + self.height

    @property
    def right(self) -> float:
        return self.x + self.width

    def inset(self, by: float) -> Rect:
        return Rect(self.x + by, self.y + by, self.width - 2 * by, self.height - 2 * by)


@attrs.frozen
class Action:
    """What a click means: ``name`` and its argument, e.g. ``("join", GAME_ID)``."""

    name: str
    value: str = ""


@attrs.frozen
class Cell:
    """One board cell: its background, the piece on it, a mark at its centre.

    ``key`` names the cell in the game's notation where it has one (``"e3"``
    in Reversi, ``"17"`` in checkers, ``"c4r1"`` for Connect Four's column 4,
    row 1 from the bottom).
    """

    key: str
    rect: Rect
    background: RGB
    piece: RGB | None = None
    mark: RGB | None = None
    label: str = ""
    label_colour: RGB = (0, 0, 0)
    #: Pixels left uncovered around the background (grid lines show through).
    inset: float = 0

    @property
    def centre_colour(self) -> RGB:
        """The colour at the cell's centre: the mark, else the piece, else the background."""
        return self.mark or self.piece or self.background

    @property
    def piece_radius(self) -> float:
        return PIECE_RADIUS * min(self.rect.width, self.rect.height)

    @property
    def mark_radius(self) -> float:
        return MARK_RADIUS * min(self.rect.width, self.rect.height)

    def probes(self) -> tuple[tuple[int, int, RGB], ...]:
        """Pixels and the colours they must have: the centre, and the
        background near the lower left corner (clear of piece and label)."""
        cx, cy = self.rect.centre
        ex = self.rect.x + EDGE_PROBE * self.rect.width
        ey = self.rect.y + EDGE_PROBE * self.rect.height
        return ((int(cx), int(cy), self.centre_colour), (int(ex), int(ey), self.background))

    def looks(self) -> tuple[RGB, RGB | None, RGB | None]:
        """What distinguishes this cell's drawing from another state of it."""
        return (self.background, self.piece, self.mark)


@attrs.frozen
class Disc:
    """A piece drawn outside any cell (a Connect Four disc while it falls)."""

    x: float
    y: float
    radius: float
    colour: RGB


@attrs.frozen
class Box:
    rect: Rect
    colour: RGB


@attrs.frozen
class Label:
    text: str
    x: float
    y: float
    size: float
    colour: RGB
    anchor_x: str = "left"
    anchor_y: str = "baseline"
    bold: bool = False


@attrs.frozen
class Button:
    action: Action
    rect: Rect
    text: str
    colour: RGB
    text_colour: RGB
    enabled: bool = True
    size: float = 11


@attrs.frozen
class Light:
    """One server's light in the replica bar; ``state`` is a key of
    :data:`~game.client_gui.palette.LIGHT_COLOURS`."""

    server_id: int
    rect: Rect
    colour: RGB
    state: str

    def probe(self) -> tuple[int, int, RGB]:
        cx, cy = self.rect.centre
        return (int(cx), int(cy), self.colour)


@attrs.frozen
class ClockFace:
    """One seat's clock in a timed game: the player's name and the time left.

    ``running``: the side to move's clock, which ticks; ``low``: a live clock
    under ten seconds.  The colours follow from both
    (:func:`game.client_gui.clockview.clock_faces`).
    """

    seat: int
    rect: Rect
    name: str
    text: str
    colour: RGB
    text_colour: RGB
    running: bool = False
    low: bool = False

    def probe(self) -> tuple[int, int, RGB]:
        """A pixel of the face's background, clear of its text: near the lower left corner."""
        return (int(self.rect.x + 4), int(self.rect.y + 4), self.colour)


@attrs.frozen
class Hotspot:
    """A clickable region that is not a button (a board column, a square)."""

    rect: Rect
    action: Action


@attrs.frozen
class Layer:
    """Things drawn together; later layers are drawn over earlier ones."""

    boxes: tuple[Box, ...] = ()
    cells: tuple[Cell, ...] = ()
    discs: tuple[Disc, ...] = ()
    buttons: tuple[Button, ...] = ()
    lights: tuple[Light, ...] = ()
    labels: tuple[Label, ...] = ()
    clocks: tuple[ClockFace, ...] = ()


@attrs.frozen
class Scene:
    """One frame.  ``overlay``, when there is one, is modal: only its buttons
    answer clicks."""

    width: int
    height: int
    title: str
    background: RGB
    base: Layer
    overlay: Layer | None = None
    hotspots: tuple[Hotspot, ...] = ()
    #: True while something moves (the window keeps redrawing).
    animating: bool = False

    def hit(self, x: float, y: float) -> Action | None:
        """What a click at (x, y) means, or None."""
        if self.overlay is not None:
            return _button_at(self.overlay.buttons, x, y)
        action = _button_at(self.base.buttons, x, y)
        if action is not None:
            return action
        for hotspot in self.hotspots:
            if hotspot.rect.contains(x, y):
                return hotspot.action
        return None

    @property
    def cells(self) -> tuple[Cell, ...]:
        return self.base.cells

    def cell(self, key: str) -> Cell:
        for cell in self.base.cells:
            if cell.key == key:
                return cell
        raise KeyError(key)

    def cell_map(self) -> dict[str, Cell]:
        return {cell.key: cell for cell in self.base.cells}

    @property
    def lights(self) -> tuple[Light, ...]:
        return self.base.lights

    def light(self, server_id: int) -> Light:
        for light in self.base.lights:
            if light.server_id == server_id:
                return light
        raise KeyError(server_id)

    def clock(self, seat: int) -> ClockFace:
        """The clock face of ``seat``.

        :raises KeyError: an untimed game has none.
        """
        for face in self.base.clocks:
            if face.seat == seat:
                return face
        raise KeyError(seat)

    def button(self, name: str, value: str = "") -> Button:
        """The button with this action (in the overlay first)."""
        layers = [self.overlay, self.base] if self.overlay is not None else [self.base]
        for layer in layers:
            for button in layer.buttons:
                if button.action.name == name and (not value or button.action.value == value):
                    return button
        raise KeyError((name, value))

    def texts(self) -> list[str]:
        layers = [self.base] + ([self.overlay] if self.overlay is not None else [])
        found: list[str] = []
        for layer in layers:
            found.extend(label.text for label in layer.labels)
            found.extend(button.text for button in layer.buttons)
            for face in layer.clocks:
                found.extend((face.name, face.text))
        return found


def changed_cells(before: Scene, after: Scene) -> list[str]:
    """The keys of cells drawn differently in ``after`` (same layout assumed)."""
    old = before.cell_map()
    return [
        cell.key
        for cell in after.cells
        if cell.key not in old
        or old[cell.key].looks() != cell.looks()
        or old[cell.key].rect != cell.rect
    ]


def _button_at(buttons: tuple[Button, ...], x: float, y: float) -> Action | None:
    for button in buttons:
        if button.enabled and button.rect.contains(x, y):
            return button.action
    return None
