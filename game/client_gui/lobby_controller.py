"""The lobby screen's state and its talk with the servers, without pyglet.

:class:`LobbyController` lists the open and active games every
:data:`LOBBY_INTERVAL` seconds while the lobby shows, reads the player's
saved seats, edits the player's name, and creates, joins, watches or
resumes a game, which it hands to the screen switch
(:class:`~game.client_gui.controller.Controller`) to show.  "Play the
computer" opens its panel (:mod:`game.client_gui.computer_panel`), creates
the game with the person's seat, and has a computer
(:class:`~game.client_gui.computer_opponents.ComputerOpponents`) join it;
the computers stop when the lobby shows again or the window closes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Final

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from game import protocol as p
from game.client.client import ReplicatedClient
from game.client.majority import ListedGame
from game.client.tokens import Seat, TokenStore, new_token
from game.client_gui import computer_panel as panel
from game.client_gui.boards import KIND_NAMES
from game.client_gui.clockview import CHOOSE_CONTROL, TIME_CONTROL_CHOICES, control_name
from game.client_gui.computer_opponents import ComputerOpponents
from game.client_gui.computer_panel import ComputerChoice, computer_panel, human_seat
from game.client_gui.notices import RESYNC_TAGS, describe_failure, refusal
from game.client_gui.replicas import Replicas, Shown, lobby_replicas
from game.client_gui.scene import Scene
from game.client_gui.viewmodel import LISTS, ListedEntry, LobbyState, OwnSeat, lobby_scene

log = Logger(namespace="replgame.gui")

#: Seconds between two listings of the games while the lobby shows.
LOBBY_INTERVAL: Final = 2.0
#: Games listed per list (one page).
LIST_LIMIT: Final = 100
NO_SERVER: Final = "No server is reachable; retrying."

#: Shows a game: its id, the seat played (None: watch it), and what the servers answered.
OpenGame = Callable[[str, Seat | None, Shown | None], None]


class LobbyController:
    """The lobby: the game lists, the name field, and starting a game.

    :param changed: called after every change of what the lobby shows.
    :param open_game: shows a game (the screen switch's ``open_game``).
    :param computers: the computer players (default: on the client's cluster).
    """

    def __init__(
        self,
        client: ReplicatedClient,
        store: TokenStore,
        player: str,
        clock: IReactorTime,
        *,
        changed: Callable[[], None],
        open_game: OpenGame,
        interval: float = LOBBY_INTERVAL,
        computers: ComputerOpponents | None = None,
    ) -> None:
        self.client = client
        self.computers = computers or ComputerOpponents(client.config, clock)
        #: The "Play the computer" panel's choices while it is open.
        self.computer_choice: ComputerChoice | None = None
        self._last_choice = ComputerChoice()
        self.store = store
        self.cluster = client.config.cluster_id
        self.state = LobbyState(player)
        self._changed = changed
        self._open_game = open_game
        self._loop = LoopingCall(self.refresh)
        self._loop.clock = clock
        self._interval = interval
        self._listing: Deferred[Any] | None = None

    def actions(self) -> Mapping[str, Callable[[str], object]]:
        """The lobby's actions by name (see :class:`~game.client_gui.scene.Action`)."""
        return {
            "area": lambda value: None,  # a list's area: only scrolled, never clicked
            "edit-name": lambda value: self.edit_name(),
            "create": self.create_game,
            "join": self.join_game,
            "watch": lambda game_id: self._open_game(game_id, None, None),
            "resume": self.resume,
            CHOOSE_CONTROL: self.choose_time_control,
            panel.OPEN: lambda value: self.open_computer_panel(),
            panel.KIND: lambda kind: self.choose_computer(kind=kind),
            panel.LEVEL: lambda level: self.choose_computer(level=int(level)),
            panel.COLOUR: lambda colour: self.choose_computer(colour=colour),
            panel.PLAY: lambda value: self.play_computer(),
            panel.CANCEL: lambda value: self.close_computer_panel(),
        }

    # -- showing ---------------------------------------------------------------------

    def show(self) -> None:
        """List the games now, then every ``interval`` seconds.  The window
        left any game a computer played: those computers stop."""
        self.computers.stop()
        if not self._loop.running:
            self._loop.start(self._interval, now=True)
        else:
            self.refresh()

    def hide(self) -> None:
        """A game shows instead: stop listing, drop the notice and the name being typed."""
        if self._loop.running:
            self._loop.stop()
        self.state = attrs.evolve(self.state, notice="", notice_error=False, editing=None)
        self.computer_choice = None

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()
        self.computers.close()

    def replicas(self) -> Replicas:
        return lobby_replicas(
            {
                server_id: (
                    link.ready,
                    bool(link.status and link.status.serving),
                    link.status.digest if link.status else "",
                )
                for server_id, link in self.client.links.items()
            }
        )

    def scene(self, width: int, height: int) -> Scene:
        scene = lobby_scene(self.state, self.replicas(), width, height)
        choice = self.computer_choice
        if choice is None:
            return scene
        overlay = computer_panel(
            choice, self.state.time_control, width, height, bool(self.state.busy)
        )
        return attrs.evolve(scene, overlay=overlay)

    def notice(self, text: str, error: bool = False, busy: str = "") -> None:
        self.state = attrs.evolve(self.state, notice=text, notice_error=error, busy=busy)
        self._changed()

    # -- input -------------------------------------------------------------------------

    def scroll(self, scene: Scene, x: float, y: float, rows: int) -> None:
        """The wheel at (x, y) over a list of ``scene``: ``rows`` > 0 scrolls down."""
        for hotspot in scene.hotspots:
            if hotspot.action.name == "area" and hotspot.rect.contains(x, y):
                index = LISTS.index(hotspot.action.value)
                scroll = list(self.state.scroll)
                scroll[index] = max(0, scroll[index] + rows)
                self.state = attrs.evolve(self.state, scroll=tuple(scroll))  # type: ignore[arg-type]
                self._changed()

    def edit_name(self) -> None:
        if self.state.editing is None:
            self.state = attrs.evolve(self.state, editing=self.state.player)
            self._changed()

    def key(self, name: str) -> None:
        """A key in the lobby: the name field's while it is edited; else Esc
        closes the "Play the computer" panel and Enter plays it."""
        if self.state.editing is not None:
            self.edit_key(name)
        elif self.computer_choice is not None:
            if name == "escape":
                self.close_computer_panel()
            elif name == "enter":
                self.play_computer()

    def edit_key(self, name: str) -> None:
        """A key while the name is edited: ``escape``, ``enter``, ``backspace``."""
        editing = self.state.editing
        if editing is None:
            return
        if name == "escape":
            self.finish_name_edit(keep=False)
        elif name == "enter":
            self.finish_name_edit(keep=True)
        elif name == "backspace":
            self.state = attrs.evolve(self.state, editing=editing[:-1])
            self._changed()

    def type_text(self, typed: str) -> None:
        """Characters typed into the name field."""
        editing = self.state.editing
        if editing is not None:
            typed = "".join(ch for ch in typed if ch.isprintable() and ch not in "\r\n")
            self.state = attrs.evolve(self.state, editing=(editing + typed)[:32])
            self._changed()

    def choose_time_control(self, control: str) -> None:
        """The time control of the games created from now on: a wire text of
        :data:`~game.client_gui.clockview.TIME_CONTROL_CHOICES` ("" untimed)."""
        if control in dict(TIME_CONTROL_CHOICES) and control != self.state.time_control:
            self.state = attrs.evolve(self.state, time_control=control)
            self._changed()

    def finish_name_edit(self, keep: bool) -> None:
        typed = self.state.editing
        if typed is None:
            return
        lobby = attrs.evolve(self.state, editing=None)
        if keep and typed != lobby.player:
            try:
                name = p.check_player(typed)
            except p.InvalidArgument as error:
                lobby = attrs.evolve(lobby, notice=f"Name not changed: {error}", notice_error=True)
            else:
                lobby = attrs.evolve(
                    lobby, player=name, notice=f"You play as {name}.", notice_error=False
                )
        self.state = lobby
        self._changed()
        self.refresh()

    # -- the lists ---------------------------------------------------------------------

    def refresh(self) -> None:
        """List the open and active games, and read the saved seats."""
        if self._listing is not None:
            return
        try:
            seats = self.store.seats(self.cluster)
        except OSError as error:
            seats = []
            self.notice(str(error), error=True)
        if not self.client.active:
            self._apply_listing([], [], seats)
            return
        lists = Deferred.fromCoroutine(self._list())
        self._listing = lists

        def done(result: Any) -> None:
            self._listing = None
            if isinstance(result, Failure):
                self.notice(f"Listing the games failed: {describe_failure(result)}", True)
                return
            open_games, active_games = result
            self._apply_listing(open_games, active_games, seats)

        lists.addBoth(done)

    async def _list(self) -> tuple[list[ListedGame], list[ListedGame]]:
        open_page = await self.client.list_games(status="open", limit=LIST_LIMIT)
        active_page = await self.client.list_games(status="active", limit=LIST_LIMIT)
        return list(open_page.games), list(active_page.games)

    def _apply_listing(
        self, open_games: list[ListedGame], active_games: list[ListedGame], seats: list[Seat]
    ) -> None:
        name = self.state.player
        mine = {seat.game_id: seat.seat for seat in seats if seat.player == name}

        def entry(listed: ListedGame) -> ListedEntry:
            game = listed.game
            return ListedEntry(
                game.game_id,
                game.kind,
                game.status,
                game.players,
                mine.get(game.game_id),
                listed.provisional,
                game.clock,
            )

        listed = {game.game.game_id: game.game for game in (*open_games, *active_games)}
        own = tuple(
            OwnSeat(
                seat.game_id,
                seat.kind,
                seat.seat,
                seat.player,
                listed[seat.game_id].status if seat.game_id in listed else "",
                listed[seat.game_id].clock if seat.game_id in listed else None,
            )
            for seat in reversed(seats)
        )
        self.state = attrs.evolve(
            self.state,
            open_games=tuple(entry(g) for g in open_games),
            active_games=tuple(entry(g) for g in active_games),
            own=own,
            loaded=True,
        )
        if not self.client.active:
            self.state = attrs.evolve(self.state, notice=NO_SERVER, notice_error=True)
        elif self.state.notice == NO_SERVER:
            self.state = attrs.evolve(self.state, notice="", notice_error=False)
        self._changed()

    # -- starting a game ---------------------------------------------------------------

    def resume(self, value: str) -> None:
        """Play on a saved seat: ``value`` is ``game_id:seat``."""
        game_id, _, seat_text = value.rpartition(":")
        try:
            seats = self.store.find(self.cluster, game_id, int(seat_text))
        except (OSError, ValueError) as error:
            self.notice(f"Cannot read the saved seats: {error}", error=True)
            return
        if not seats:
            self.notice(f"No saved seat for game {game_id[:8]}.", error=True)
            return
        self._open_game(game_id, seats[0], None)

    # -- the computer ---------------------------------------------------------------

    def open_computer_panel(self) -> None:
        if self.computer_choice is None and not self.state.busy:
            self.computer_choice = self._last_choice
            self._changed()

    def close_computer_panel(self) -> None:
        if self.computer_choice is not None:
            self.computer_choice = None
            self._changed()

    def choose_computer(
        self, *, kind: str | None = None, level: int | None = None, colour: str | None = None
    ) -> None:
        """Change one of the panel's choices (unknown values are ignored)."""
        choice = self.computer_choice
        if choice is None:
            return
        if kind in panel.KINDS:
            choice = attrs.evolve(choice, kind=kind)
        if level is not None and level in panel.LEVEL_NAMES:
            choice = attrs.evolve(choice, level=level)
        if colour in panel.COLOURS:
            choice = attrs.evolve(choice, colour=colour)
        self.computer_choice = self._last_choice = choice
        self._changed()

    def play_computer(self) -> Deferred[None]:
        """Create the panel's game with the person's seat, have a computer
        join it, and show it."""
        choice = self.computer_choice or self._last_choice
        control = self.state.time_control
        timing = f" ({control_name(control)})" if control else ""
        kind_name = KIND_NAMES.get(choice.kind, choice.kind)
        busy = f"Starting {kind_name} against the computer (level {choice.level}){timing}\u2026"
        game_id = uuid.uuid4().hex

        def computer_joins() -> None:
            self.computers.start(game_id, choice.level).addErrback(
                lambda failure: log.failure("the computer failed", failure)
            )

        work = self._create(
            choice.kind, control, human_seat(choice.colour, game_id), game_id, computer_joins
        )
        return self._task(busy, work)

    def create_game(self, kind: str) -> Deferred[None]:
        """Create a ``kind`` game with the chosen time control, and show it."""
        control = self.state.time_control
        timing = f" ({control_name(control)})" if control else ""
        busy = f"Creating a {KIND_NAMES.get(kind, kind)} game{timing}\u2026"
        return self._task(busy, self._create(kind, control))

    def join_game(self, game_id: str) -> Deferred[None]:
        return self._task(f"Joining game {game_id[:8]}\u2026", self._join(game_id))

    def _task(self, busy: str, work: Coroutine[Any, Any, None]) -> Deferred[None]:
        """Run ``work`` unless another lobby task runs; ``busy`` shows meanwhile."""
        if self.state.busy:
            work.close()
            return Deferred.fromCoroutine(_nothing())
        self.notice("", busy=busy)
        task = Deferred.fromCoroutine(work)

        def failed(failure: Failure) -> None:
            log.failure("lobby action failed", failure)
            self.notice(describe_failure(failure), error=True)

        def finished(result: Any) -> Any:
            if self.state.busy == busy:
                self.state = attrs.evolve(self.state, busy="")
                self._changed()
            return result

        return task.addErrback(failed).addBoth(finished)

    async def _create(
        self,
        kind: str,
        control: str,
        seat: int = 0,
        game_id: str | None = None,
        created: Callable[[], None] | None = None,
    ) -> None:
        """Create a game, take ``seat``, tell ``created``, show the game."""
        game_id = game_id or uuid.uuid4().hex
        token = new_token()
        player = self.state.player
        if control:
            outcome = await self.client.create_game(
                game_id, kind, player, token, seat, clock=control
            )
        else:
            # An untimed game is created with exactly the request of protocol version 1.
            outcome = await self.client.create_game(game_id, kind, player, token, seat)
        if outcome.decision.chosen is None:
            self.notice("No server answered; the game was not created.", error=True)
            return
        if outcome.error is not None:
            self.notice(refusal("Creating the game", outcome), error=True)
            return
        held = Seat(self.cluster, game_id, seat, player, token, kind)
        if not self._remember(held):
            return
        self.computer_choice = None
        if created is not None:
            created()
        self._open_game(
            game_id, held, Shown.of(outcome.document, outcome.provisional, outcome.agreed)
        )

    async def _join(self, game_id: str) -> None:
        player = self.state.player
        token = new_token()
        for attempt in range(2):
            reading = self.client.get_game if attempt == 0 else self.client.sync_game
            read = await reading(game_id)
            if read.decision.chosen is None or read.error is not None:
                text = "No server answered."
                if read.error is not None:
                    text = refusal("Reading the game", read)
                self.notice(text, error=True)
                return
            document = read.game_document()
            seat = document.free_seat
            if document.status != "open" or seat is None:
                self.notice(
                    f"Game {game_id[:8]} is {document.status}: someone else joined first.",
                    error=True,
                )
                self.refresh()
                return
            outcome = await self.client.join_game(game_id, document.version, player, token)
            if outcome.decision.chosen is None:
                self.notice("No server answered; you did not join.", error=True)
                return
            if outcome.error is not None:
                if attempt == 0 and outcome.error.tag.decode() in RESYNC_TAGS:
                    continue
                self.notice(refusal("Joining", outcome), error=True)
                return
            stored = Seat(self.cluster, game_id, seat, player, token, document.kind)
            if not self._remember(stored):
                return
            shown = Shown.of(outcome.document, outcome.provisional, outcome.agreed)
            self._open_game(game_id, stored, shown)
            return

    def _remember(self, seat: Seat) -> bool:
        try:
            self.store.add(seat)
        except OSError as error:
            self.notice(f"You have the seat, but it could not be saved: {error}", True)
            return False
        return True


async def _nothing() -> None:
    return None
