"""The desktop game's screens and the input the window forwards, without pyglet.

:class:`Controller` switches between the lobby
(:class:`~game.client_gui.lobby_controller.LobbyController`) and a game
(:class:`~game.client_gui.game_controller.GameController`), routes clicks,
keys, typed text and scrolls to the screen shown, and performs the
:class:`~game.client_gui.scene.Action` a click meant through one
:class:`ActionTable`, which refuses names it does not know.  The window asks
:meth:`Controller.scene` for what to draw.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from game.client.client import ReplicatedClient
from game.client.tokens import Seat, TokenStore
from game.client_gui.game_controller import GameController
from game.client_gui.lobby_controller import LOBBY_INTERVAL, LobbyController
from game.client_gui.replicas import Replicas, Shown
from game.client_gui.scene import Action, Scene
from game.client_gui.viewmodel import GameState, LobbyState


class UnknownAction(ValueError):
    """An action name no screen handles: a scene and the table disagree."""


@attrs.frozen
class ActionTable:
    """Every action the screens perform, by name: one handler per name,
    called with the action's value."""

    handlers: Mapping[str, Callable[[str], object]]

    @classmethod
    def of(cls, *tables: Mapping[str, Callable[[str], object]]) -> ActionTable:
        """One table of several screens' tables.

        :raises ValueError: two screens handle the same name.
        """
        handlers: dict[str, Callable[[str], object]] = {}
        for table in tables:
            twice = handlers.keys() & table.keys()
            if twice:
                raise ValueError(f"actions handled twice: {', '.join(sorted(twice))}")
            handlers.update(table)
        return cls(handlers)

    def perform(self, action: Action) -> None:
        """:raises UnknownAction: no handler has this name."""
        handler = self.handlers.get(action.name)
        if handler is None:
            known = ", ".join(sorted(self.handlers))
            raise UnknownAction(f"unknown action {action.name!r} (known: {known})")
        handler(action.value)


class Controller:
    """The screens and everything the player does.

    :param client: a started :class:`ReplicatedClient`.
    :param store: where seat tokens are kept.
    :param player: the player's name for new games and joins.
    :param clock: the reactor (``seconds``, ``callLater``).
    """

    def __init__(
        self,
        client: ReplicatedClient,
        store: TokenStore,
        player: str,
        clock: IReactorTime,
        *,
        lobby_interval: float = LOBBY_INTERVAL,
    ) -> None:
        self.client = client
        #: Called with no argument after every change of what is shown.
        self.listeners: list[Callable[[], None]] = []
        #: Called when the player asks to quit (Ctrl+Q).
        self.on_quit: Callable[[], None] | None = None
        self.generation = 0
        self.lobby_screen = LobbyController(
            client,
            store,
            player,
            clock,
            changed=self._changed,
            open_game=self.open_game,
            interval=lobby_interval,
        )
        self.game_screen = GameController(
            client, clock, changed=self._changed, leave=self._leave_game, store=store
        )
        self.actions = ActionTable.of(self.lobby_screen.actions(), self.game_screen.actions())
        client.link_listeners.append(self._links_changed)

    # -- lifecycle -----------------------------------------------------------------

    @property
    def lobby(self) -> LobbyState:
        return self.lobby_screen.state

    @property
    def game(self) -> GameState | None:
        """The game shown, None while the lobby shows."""
        return self.game_screen.state

    @property
    def player(self) -> str:
        return self.lobby.player

    def start(self) -> None:
        self.show_lobby()

    def stop(self) -> None:
        self.lobby_screen.stop()
        self.game_screen.stop()
        if self._links_changed in self.client.link_listeners:
            self.client.link_listeners.remove(self._links_changed)

    def _changed(self) -> None:
        self.generation += 1
        for listener in list(self.listeners):
            listener()

    def _links_changed(self, client: ReplicatedClient) -> None:
        self._changed()

    # -- switching screens -----------------------------------------------------------

    def show_lobby(self) -> None:
        self.game_screen.close()
        self._changed()
        self.lobby_screen.show()

    def open_game(self, game_id: str, seat: Seat | None, shown: Shown | None = None) -> None:
        """Show a game: as ``seat``'s player, or as a watcher when None."""
        self.lobby_screen.hide()
        self.game_screen.open(game_id, seat, shown)

    def _leave_game(self, notice: str) -> None:
        self.show_lobby()
        if notice:
            self.lobby_screen.notice(notice, error=True)

    # -- what to draw --------------------------------------------------------------------

    def replicas(self) -> Replicas:
        if self.game is not None:
            return self.game_screen.replicas()
        return self.lobby_screen.replicas()

    def drop_progress(self) -> float | None:
        return self.game_screen.drop_progress()

    def scene(self, width: int, height: int) -> Scene:
        if self.game is not None:
            return self.game_screen.scene(width, height)
        return self.lobby_screen.scene(width, height)

    @property
    def idle(self) -> bool:
        """Nothing sent and unanswered, nothing moving."""
        busy = self.game.pending if self.game is not None else self.lobby.busy
        return not busy and self.drop_progress() is None

    # -- input ---------------------------------------------------------------------------

    def click(self, x: float, y: float, width: int, height: int) -> Action | None:
        """A left click at (x, y) in a window of this size; returns what it meant."""
        action = self.scene(width, height).hit(x, y)
        if self.lobby.editing is not None and (action is None or action.name != "edit-name"):
            self.lobby_screen.finish_name_edit(keep=True)
        if action is not None:
            self.perform(action)
        return action

    def scroll(self, x: float, y: float, width: int, height: int, rows: int) -> None:
        """The mouse wheel over a lobby list: ``rows`` > 0 scrolls down."""
        if self.game is None:
            self.lobby_screen.scroll(self.scene(width, height), x, y, rows)

    def key(self, name: str) -> None:
        """A key: ``escape``, ``enter``, ``backspace``, ``quit``, a digit ``"1"``-``"9"``,
        or ``home``, ``left``, ``right``, ``end``."""
        if name == "quit":
            if self.on_quit is not None:
                self.on_quit()
        elif self.game is not None:
            self.game_screen.key(name)
        else:
            self.lobby_screen.key(name)

    def text(self, typed: str) -> None:
        """Typed characters (for the name field, or the path of a record to save)."""
        if self.game is None:
            self.lobby_screen.type_text(typed)
        else:
            self.game_screen.type_text(typed)

    def perform(self, action: Action) -> None:
        """Do what ``action`` means, on whichever screen handles it.

        :raises UnknownAction: no screen knows the action's name.
        """
        self.actions.perform(action)

    # -- the requests tests and scripts make directly ------------------------------------

    def refresh_lobby(self) -> None:
        self.lobby_screen.refresh()

    def finish_name_edit(self, keep: bool) -> None:
        self.lobby_screen.finish_name_edit(keep)

    def create_game(self, kind: str) -> Deferred[None]:
        return self.lobby_screen.create_game(kind)

    def join_game(self, game_id: str) -> Deferred[None]:
        return self.lobby_screen.join_game(game_id)

    def move(self, move: str) -> None:
        self.game_screen.move(move)
