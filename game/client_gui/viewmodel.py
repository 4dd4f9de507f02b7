"""The view-model of the desktop game: what to draw, and what a click means.

Pure functions from frozen state values to a :class:`~game.client_gui.scene.Scene`;
no pyglet, no network.  The controller (:mod:`game.client_gui.controller`)
keeps the state and talks to the servers; the window
(:mod:`game.client_gui.window`) only draws scenes and forwards input.

Two screens: the lobby (:class:`LobbyState`, :func:`lobby_scene`) and a game
(:class:`GameState`, :func:`game_scene`).  Both show the replica bar
(:mod:`game.client_gui.replicas`): one light per server and how many
servers hold what is shown.
"""

from __future__ import annotations

from typing import Any, Final

import attrs

from game.client.document import GameDocument
from game.client.replay import Replay
from game.client_gui import palette as colour
from game.client_gui.boards import KIND_NAMES, SEAT_NAMES, board
from game.client_gui.clockview import (
    CHOICE_HEIGHT,
    clock_faces,
    clocks_height,
    control_name,
    time_control_choice,
)
from game.client_gui.offers_view import offer_panel
from game.client_gui.palette import RGB
from game.client_gui.replay_view import (
    board_document,
    move_list,
    replay_banner,
    replay_controls,
    replay_of,
    save_prompt,
)
from game.client_gui.replicas import BAR_HEIGHT, Replicas, Shown, replica_bar
from game.client_gui.scene import (
    Action,
    Box,
    Button,
    ClockFace,
    Hotspot,
    Label,
    Layer,
    Rect,
    Scene,
)

TITLE: Final = "replgame"
NOTICE_HEIGHT: Final = 26
TOP_HEIGHT: Final = 72
LOBBY_TOP: Final = 150
ROW_HEIGHT: Final = 40
KINDS_ORDER: Final = ("connect4", "reversi", "checkers")


def window_title(text: str) -> str:
    return f"{TITLE} \u2014 {text}"


# -- the game screen ------------------------------------------------------------------


@attrs.frozen
class GameState:
    """One game on screen.  ``seat`` is None for a watcher."""

    game_id: str
    seat: int | None = None
    token: str | None = None
    player: str = ""
    shown: Shown | None = None
    selection: tuple[int, ...] = ()
    notice: str = ""
    notice_error: bool = False
    #: "resign" while the resignation waits for confirmation.
    confirming: str | None = None
    #: What is being sent, e.g. "move 4"; clicks on the board wait for it.
    pending: str | None = None
    #: The move shown (:mod:`game.client.replay`); None: live.
    replay: Replay | None = None
    #: The path typed in the "Save record" prompt, while it is open.
    saving: str | None = None

    @property
    def document(self) -> GameDocument | None:
        return self.shown.document if self.shown is not None else None

    @property
    def my_turn(self) -> bool:
        document = self.document
        return document is not None and document.my_turn(self.seat)


def seat_label(document: GameDocument, seat: int) -> str:
    name = document.player(seat)
    return f"{name if name is not None else '(open seat)'} ({SEAT_NAMES[seat]})"


#: The reason of a game won because the other side's clock ran out.
TIME: Final = "time"


def result_text(document: GameDocument, seat: int | None) -> str:
    """``You win: four in a row``, ``bob (white) wins: resigned``, ``Draw: board full``,
    ``bob (white) wins on time``."""
    result = document.result
    winner, reason = (result.winner, result.reason) if result is not None else (None, "")
    if reason == "cancelled":
        return "Game cancelled"
    if winner is None:
        return f"Draw: {reason}"
    how = " on time" if reason == TIME else f": {reason}"
    if winner == seat:
        return f"You win{how}"
    return f"{seat_label(document, winner)} wins{how}"


def result_colour(document: GameDocument, seat: int | None) -> RGB:
    result = document.result
    winner = result.winner if result is not None else None
    if seat is None or winner is None or (result is not None and result.cancelled):
        return colour.BANNER_NEUTRAL
    return colour.BANNER_WIN if winner == seat else colour.BANNER_LOSS


def turn_text(state: GameState) -> str:
    document = state.document
    if document is None:
        return "Loading the game\u2026"
    status = document.status
    if status == "finished":
        return result_text(document, state.seat)
    if status == "open":
        if state.seat is None:
            return "Waiting for a second player"
        return "Waiting for an opponent to join"
    to_move = document.to_move
    if to_move is None:
        return ""
    takeback = document.takeback
    if takeback is not None and state.seat is not None and takeback != state.seat:
        return f"{seat_label(document, takeback)} asks to take back their last move"
    if state.my_turn:
        offer = document.draw_offer
        if offer is not None and offer != state.seat:
            return f"Your move \u2014 {seat_label(document, offer)} offers a draw"
        return "Your move"
    return f"{seat_label(document, to_move)} to move"


def game_title(state: GameState) -> str:
    document = state.document
    if document is None:
        return window_title("loading")
    if state.my_turn:
        return window_title("Your move")
    kind = KIND_NAMES.get(document.kind, document.kind)
    return window_title(f"{kind} \u2014 {turn_text(state)}")


def game_layout(width: int, height: int) -> tuple[Rect, Rect, Rect, Rect]:
    """(board area, side panel, top bar, notice line) of a game screen."""
    panel_width = max(170, min(260, int(width * 0.26)))
    content_bottom = BAR_HEIGHT + NOTICE_HEIGHT
    content_height = max(40, height - TOP_HEIGHT - content_bottom)
    board_area = Rect(0, content_bottom, max(40, width - panel_width), content_height)
    panel = Rect(width - panel_width, content_bottom, panel_width, content_height)
    top = Rect(0, height - TOP_HEIGHT, width, TOP_HEIGHT)
    notice = Rect(0, BAR_HEIGHT, width, NOTICE_HEIGHT)
    return board_area, panel, top, notice


def _button(
    action: Action, rect: Rect, text: str, enabled: bool = True, danger: bool = False
) -> Button:
    if not enabled:
        disabled = colour.BUTTON_TEXT_DISABLED
        return Button(action, rect, text, colour.BUTTON_DISABLED, disabled, False)
    return Button(
        action, rect, text, colour.BUTTON_DANGER if danger else colour.BUTTON, colour.BUTTON_TEXT
    )


def _notice_layer(text: str, error: bool, rect: Rect) -> tuple[Label, ...]:
    if not text:
        return ()
    return (
        Label(
            text,
            10,
            rect.y + rect.height / 2,
            11,
            colour.ERROR_TEXT if error else colour.NOTICE_TEXT,
            "left",
            "center",
        ),
    )


def game_scene(
    state: GameState,
    replicas: Replicas,
    width: int,
    height: int,
    drop: float | None = None,
    now_ms: int | None = None,
) -> Scene:
    """Everything a game screen shows.

    :param now_ms: now on the servers' time scale (ms since the epoch), for a
        timed game's clocks; None shows them as of the document's last event.
    """
    board_area, panel, top, notice = game_layout(width, height)
    boxes: list[Box] = [Box(top, colour.PANEL), Box(panel, colour.PANEL)]
    labels: list[Label] = []
    buttons: list[Button] = []
    document = state.document
    cells: tuple[Any, ...] = ()
    discs: tuple[Any, ...] = ()
    hotspots: tuple[Hotspot, ...] = ()

    kind_name = KIND_NAMES.get(document.kind, document.kind) if document else "Game"
    who = "Watching" if state.seat is None else f"You: {SEAT_NAMES[state.seat]}"
    labels.append(
        Label(f"{kind_name}  \u00b7  {who}", 12, top.top - 24, 15, colour.TEXT, bold=True)
    )
    if document is not None:
        players = f"{seat_label(document, 0)}  vs  {seat_label(document, 1)}"
        labels.append(Label(players, width - 12, top.top - 24, 11, colour.DIM_TEXT, "right"))

    # Line two: a banner (your move, the result) or whose turn it is.
    line = turn_text(state)
    if state.pending:
        line = f"{line}  \u2014  sending {state.pending}\u2026"
    banner_rect = Rect(8, top.y + 6, width - 16, 28)
    replay = replay_of(document, state.replay)
    past = replay_banner(replay, banner_rect, width)
    if past is not None:
        boxes.append(past[0])
        labels.append(past[1])
    elif document is not None and document.status == "finished":
        boxes.append(Box(banner_rect, result_colour(document, state.seat)))
        labels.append(
            Label(line, width / 2, banner_rect.y + 14, 14, colour.TEXT, "center", "center", True)
        )
    elif state.my_turn:
        boxes.append(Box(banner_rect, colour.BANNER_TURN))
        labels.append(
            Label(line, width / 2, banner_rect.y + 14, 13, colour.TEXT, "center", "center", True)
        )
    else:
        labels.append(Label(line, 12, banner_rect.y + 14, 12, colour.DIM_TEXT, "left", "center"))

    shown = board_document(replay) if replay is not None else None
    if shown is not None:
        # An earlier position is drawn still, read-only, with no selection.
        live = replay is not None and replay.live
        drawn = board(
            shown, state.seat, board_area, state.selection if live else (), drop if live else None
        )
        if drawn.frame is not None:
            boxes.append(drawn.frame)
        cells = drawn.cells
        discs = drawn.discs
        labels.extend(drawn.labels)
        hotspots = drawn.hotspots

    # The side panel: the clocks of a timed game, actions, offers, then the moves.
    x = panel.x + 10
    button_width = panel.width - 20
    y = panel.top - 10
    clocks: tuple[ClockFace, ...] = ()
    if document is not None and document.clock is not None:
        now = now_ms if now_ms is not None else (document.clock.at or 0)
        clocks = clock_faces(document, state.seat, x, y, button_width, now)
        y -= clocks_height(document)
    status = document.status if document else None
    seated = state.seat is not None
    idle = state.pending is None
    y -= 30
    buttons.append(_button(Action("lobby"), Rect(x, y, button_width, 30), "Lobby (Esc)"))
    if seated:
        y -= 38
        cancel = status == "open"
        buttons.append(
            _button(
                Action("resign"),
                Rect(x, y, button_width, 30),
                "Cancel game" if cancel else "Resign",
                enabled=idle and status in ("open", "active"),
                danger=True,
            )
        )
        offer = document.draw_offer if document else None
        y -= 38
        buttons.append(
            _button(
                Action("offer-draw"),
                Rect(x, y, button_width, 30),
                "Draw offered" if offer == state.seat and offer is not None else "Offer draw",
                enabled=idle and state.my_turn and offer is None,
            )
        )
        y -= 38
        buttons.append(
            _button(
                Action("accept-draw"),
                Rect(x, y, button_width, 30),
                "Accept draw",
                enabled=idle and state.my_turn and offer is not None and offer != state.seat,
            )
        )
    if document is not None:
        offers = offer_panel(document, state.seat, idle, x, y, button_width)
        y = offers.y
        boxes.extend(offers.boxes)
        buttons.extend(offers.buttons)
        labels.extend(offers.labels)
    if replay is not None:
        controls = replay_controls(replay, x, y, button_width)
        y = controls.y
        buttons.extend(controls.buttons)
        labels.extend(controls.labels)
    y -= 12
    if document is not None and replay is not None and shown is not None:
        if document.kind == "reversi":
            from game.rules import from_text

            position = from_text("reversi", shown.position)
            black, white = position.counts()  # type: ignore[attr-defined]
            y -= 18
            labels.append(Label(f"Discs: black {black}, white {white}", x, y, 11, colour.TEXT))
        offer = document.draw_offer
        if offer is not None and status == "active":
            y -= 18
            labels.append(
                Label(f"{seat_label(document, offer)} offers a draw", x, y, 10, colour.NOTICE_TEXT)
            )
        listed = move_list(replay, x, y, button_width, panel.y)
        boxes.extend(listed.boxes)
        labels.extend(listed.labels)

    labels.extend(_notice_layer(state.notice, state.notice_error, notice))
    bar = replica_bar(replicas, width)
    base = Layer(
        boxes=(*boxes, *bar.boxes),
        cells=cells,
        discs=discs,
        buttons=tuple(buttons),
        lights=bar.lights,
        labels=(*labels, *bar.labels),
        clocks=clocks,
    )
    overlay = (
        _confirm_overlay(state, width, height)
        if state.confirming
        else save_prompt(state.saving, document.kind if document else "", width, height)
    )
    return Scene(
        width,
        height,
        game_title(state),
        colour.BACKGROUND,
        base,
        overlay,
        hotspots,
        animating=bool(discs),
    )


def _confirm_overlay(state: GameState, width: int, height: int) -> Layer:
    document = state.document
    cancel = document is not None and document.status == "open"
    question = "Cancel this game?" if cancel else "Resign this game?"
    detail = "Nobody has joined it yet." if cancel else ""
    if not cancel and state.seat is not None and document is not None:
        detail = f"{seat_label(document, 1 - state.seat)} wins."
    box = Rect(width / 2 - 170, height / 2 - 75, 340, 150)
    verb = "Cancel game" if cancel else "Resign"
    return Layer(
        boxes=(Box(box.inset(-3), colour.SHADE), Box(box, colour.DIALOG)),
        buttons=(
            _button(
                Action("confirm-resign"), Rect(box.x + 20, box.y + 18, 140, 34), verb, danger=True
            ),
            _button(Action("cancel"), Rect(box.right - 160, box.y + 18, 140, 34), "Keep playing"),
        ),
        labels=(
            Label(question, width / 2, box.top - 36, 15, colour.TEXT, "center", "center", True),
            Label(detail, width / 2, box.top - 64, 11, colour.DIM_TEXT, "center", "center"),
        ),
    )


# -- the lobby ---------------------------------------------------------------------------


@attrs.frozen
class ListedEntry:
    """A game in the lobby's lists.  ``mine``: the seat this player holds, if any."""

    game_id: str
    kind: str
    status: str
    players: tuple[str | None, str | None]
    mine: int | None = None
    provisional: bool = False
    #: The time control (``live:300+3``, ``corr:3``), None for an untimed game.
    clock: str | None = None


@attrs.frozen
class OwnSeat:
    """A seat from the saved tokens."""

    game_id: str
    kind: str
    seat: int
    player: str
    status: str = ""
    #: The time control, None when untimed; shown only when ``status`` is known.
    clock: str | None = None


@attrs.frozen
class LobbyState:
    player: str
    open_games: tuple[ListedEntry, ...] = ()
    active_games: tuple[ListedEntry, ...] = ()
    own: tuple[OwnSeat, ...] = ()
    loaded: bool = False
    notice: str = ""
    notice_error: bool = False
    #: The name being typed, while the name field is edited.
    editing: str | None = None
    #: Rows scrolled off the top of each list: open, active, own.
    scroll: tuple[int, int, int] = (0, 0, 0)
    busy: str = ""
    #: The time control of the games the player creates ("" untimed, else the wire text).
    time_control: str = ""


LISTS: Final = ("open", "active", "own")


def _short(game_id: str) -> str:
    return game_id[:8]


def _fit(text: str, width: float, size: float) -> str:
    """Cut ``text`` to about ``width`` pixels at font ``size`` (points)."""
    room = max(4, int(width / (size * 0.62)))
    return text if len(text) <= room else text[: room - 1] + "\u2026"


@attrs.frozen
class LobbyRow:
    """One game in a lobby list: ``Connect Four · 3f9c2a1b`` over its players."""

    title: str
    detail: str
    action: Action
    verb: str
    #: The game's time control as players name it; empty when unknown.
    control: str = ""


def lobby_rows(state: LobbyState) -> tuple[list[LobbyRow], list[LobbyRow], list[LobbyRow]]:
    """The rows of the three lists: open games, active games, the player's seats."""
    open_rows = []
    for entry in state.open_games:
        creator = next((name for name in entry.players if name is not None), "?")
        title = f"{KIND_NAMES.get(entry.kind, entry.kind)} \u00b7 {_short(entry.game_id)}"
        if entry.mine is not None:
            action = Action("resume", f"{entry.game_id}:{entry.mine}")
            open_rows.append(
                LobbyRow(title, f"by {creator} (you)", action, "Resume", control_name(entry.clock))
            )
        else:
            open_rows.append(
                LobbyRow(
                    title,
                    f"by {creator}",
                    Action("join", entry.game_id),
                    "Join",
                    control_name(entry.clock),
                )
            )
    active_rows = []
    for entry in state.active_games:
        title = f"{KIND_NAMES.get(entry.kind, entry.kind)} \u00b7 {_short(entry.game_id)}"
        detail = f"{entry.players[0]} vs {entry.players[1]}"
        if entry.mine is not None:
            action = Action("resume", f"{entry.game_id}:{entry.mine}")
            active_rows.append(LobbyRow(title, detail, action, "Resume", control_name(entry.clock)))
        else:
            active_rows.append(
                LobbyRow(
                    title,
                    detail,
                    Action("watch", entry.game_id),
                    "Watch",
                    control_name(entry.clock),
                )
            )
    own_rows = []
    for seat in state.own:
        title = f"{KIND_NAMES.get(seat.kind, seat.kind or 'Game')} \u00b7 {_short(seat.game_id)}"
        status = f", {seat.status}" if seat.status else ""
        detail = f"{seat.player} ({SEAT_NAMES[seat.seat]}){status}"
        action = Action("resume", f"{seat.game_id}:{seat.seat}")
        control = control_name(seat.clock) if seat.status else ""
        own_rows.append(LobbyRow(title, detail, action, "Resume", control))
    return open_rows, active_rows, own_rows


def lobby_layout(width: int, height: int) -> tuple[Rect, list[Rect]]:
    """(the name field, the three list areas)."""
    name_field = Rect(230, height - 48, min(260, max(120, width - 400)), 32)
    bottom = BAR_HEIGHT + NOTICE_HEIGHT + 6
    top = height - LOBBY_TOP
    gap = 12
    column_width = (width - 2 * gap - 20) / 3
    areas = [
        Rect(10 + index * (column_width + gap), bottom, column_width, max(40, top - bottom))
        for index in range(3)
    ]
    return name_field, areas


def lobby_scene(state: LobbyState, replicas: Replicas, width: int, height: int) -> Scene:
    """Everything the lobby shows."""
    boxes: list[Box] = [Box(Rect(0, height - 60, width, 60), colour.PANEL)]
    labels: list[Label] = [
        Label("replgame", 14, height - 40, 20, colour.TEXT, bold=True),
        Label("You:", 222, height - 32, 12, colour.DIM_TEXT, "right", "center"),
    ]
    buttons: list[Button] = []
    hotspots: list[Hotspot] = []
    name_field, areas = lobby_layout(width, height)
    editing = state.editing is not None
    boxes.append(Box(name_field, colour.FIELD_EDITING if editing else colour.FIELD))
    name_text = f"{state.editing}|" if editing else state.player
    labels.append(
        Label(name_text, name_field.x + 8, name_field.y + 16, 12, colour.TEXT, "left", "center")
    )
    hint = "Enter to keep, Esc to cancel" if editing else "click to change"
    labels.append(
        Label(hint, name_field.right + 10, name_field.y + 16, 10, colour.DIM_TEXT, "left", "center")
    )
    hotspots.append(Hotspot(name_field, Action("edit-name")))

    # New games, and a game against the computer (its panel: computer_panel.py).
    y = height - 104
    x = 10.0
    button_width = min(190.0, (width - 50) / 4)
    new_games = [(Action("create", kind), f"New {KIND_NAMES[kind]}") for kind in KINDS_ORDER]
    for action, text in (*new_games, (Action("computer"), "Play the computer")):
        buttons.append(_button(action, Rect(x, y, button_width, 34), text, enabled=not state.busy))
        x += button_width + 10
    choice_labels, choice_buttons = time_control_choice(
        state.time_control, 10, height - 112 - CHOICE_HEIGHT, width - 20
    )
    labels.extend(choice_labels)
    buttons.extend(choice_buttons)

    headers = ("Open games", "Active games", "Your games")
    for index, (area, rows, header) in enumerate(
        zip(areas, lobby_rows(state), headers, strict=True)
    ):
        boxes.append(Box(area, colour.PANEL))
        labels.append(
            Label(f"{header} ({len(rows)})", area.x + 8, area.top - 20, 12, colour.TEXT, bold=True)
        )
        room = max(0, int((area.height - 34) // (ROW_HEIGHT + 4)))
        offset = max(0, min(state.scroll[index], max(0, len(rows) - room)))
        visible = rows[offset : offset + room]
        row_y = area.top - 34
        for entry in visible:
            row_y -= ROW_HEIGHT + 4
            row = Rect(area.x + 4, row_y, area.width - 8, ROW_HEIGHT)
            boxes.append(Box(row, colour.ROW))
            room_text = row.width - 96
            detail_room = room_text
            if entry.control:
                # The control, right-aligned on the detail line; the detail yields room.
                control = _fit(entry.control, room_text / 2, 9)
                detail_room = room_text - len(control) * 9 * 0.62 - 8
                tint = colour.DIM_TEXT if entry.control == "untimed" else colour.NOTICE_TEXT
                labels.append(Label(control, row.right - 88, row.y + 8, 9, tint, "right"))
            labels.append(
                Label(_fit(entry.title, room_text, 10), row.x + 6, row.y + 23, 10, colour.TEXT)
            )
            labels.append(
                Label(_fit(entry.detail, detail_room, 9), row.x + 6, row.y + 8, 9, colour.DIM_TEXT)
            )
            buttons.append(
                _button(
                    entry.action,
                    Rect(row.right - 80, row.y + 6, 76, ROW_HEIGHT - 12),
                    entry.verb,
                )
            )
        if not rows:
            empty = "loading\u2026" if not state.loaded else "none"
            labels.append(Label(empty, area.x + 10, area.top - 52, 10, colour.DIM_TEXT))
        elif offset + room < len(rows) or offset:
            labels.append(
                Label(
                    f"rows {offset + 1}-{offset + len(visible)} of {len(rows)} (scroll)",
                    area.right - 8,
                    area.top - 20,
                    9,
                    colour.DIM_TEXT,
                    "right",
                )
            )
        hotspots.append(Hotspot(area, Action("area", LISTS[index])))

    notice_rect = Rect(0, BAR_HEIGHT, width, NOTICE_HEIGHT)
    notice = state.busy or state.notice
    labels.extend(_notice_layer(notice, state.notice_error and not state.busy, notice_rect))
    bar = replica_bar(replicas, width)
    base = Layer(
        boxes=(*boxes, *bar.boxes),
        buttons=tuple(buttons),
        lights=bar.lights,
        labels=(*labels, *bar.labels),
    )
    return Scene(
        width,
        height,
        window_title(f"Lobby ({state.player})"),
        colour.BACKGROUND,
        base,
        None,
        tuple(hotspots),
    )


def clicks_for_move(scene: Scene, kind: str, move: str) -> list[tuple[int, int]]:
    """Where to click, in order, to play ``move`` on this scene's board
    (the inverse of the click mapping; used by tests and the screenshot script).

    :raises KeyError: the scene has no such column or square.
    """
    if kind == "connect4":
        for hotspot in scene.hotspots:
            if hotspot.action == Action("column", move):
                x, _ = hotspot.rect.centre
                return [(int(x), int(hotspot.rect.y + hotspot.rect.width / 2))]
        raise KeyError(move)
    squares = move.replace("x", "-").split("-") if kind == "checkers" else [move]
    points = []
    for square in squares:
        x, y = scene.cell(square).rect.centre
        points.append((int(x), int(y)))
    return points
