"""The desktop game's state and its talk with the servers, without pyglet.

:class:`Controller` holds the screen state (the lobby or a game), turns
input the window forwards (clicks, keys, typed text, scrolls) into requests
to the :class:`~game.client.client.ReplicatedClient`, and takes the
answers and the watch stream back into the state.  Nothing here waits: every
request is a Deferred, and its answer updates the state when it arrives.
The window asks :meth:`Controller.scene` for what to draw.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Final

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from game import protocol as p
from game.client.client import NoAnswer, NoServers, Outcome, ReplicatedClient, WatchUpdate
from game.client.tokens import Seat, TokenStore, new_token
from game.client_gui.boards import (
    KIND_NAMES,
    Intent,
    click_board,
    connect4_last,
    drop_duration,
    keyboard_column,
)
from game.client_gui.scene import Action, Scene
from game.client_gui.viewmodel import (
    LISTS,
    GameState,
    ListedEntry,
    LobbyState,
    OwnSeat,
    Replicas,
    Shown,
    choose_shown,
    game_replicas,
    game_scene,
    lobby_replicas,
    lobby_scene,
)

log = Logger(namespace="replgame.gui")

#: Seconds between two listings of the games while the lobby shows.
LOBBY_INTERVAL: Final = 2.0
#: Games listed per list (one page).
LIST_LIMIT: Final = 100
#: Tags after which the client re-reads the game with SyncGame.
RESYNC_TAGS: Final = ("STALE_VERSION", "BEHIND")


def describe_failure(failure: Failure) -> str:
    error = failure.value
    if isinstance(error, NoServers):
        return "No server is reachable."
    if isinstance(error, NoAnswer):
        return "No server answered."
    return f"{type(error).__name__}: {error}"


def refusal(what: str, outcome: Outcome) -> str:
    """``Move 4 refused by the servers: ILLEGAL_MOVE ('9' is ...)``."""
    error = outcome.error
    assert error is not None
    text = f"{what} refused by the servers: {error.tag.decode()} ({error.description})"
    if outcome.provisional:
        text += " [provisional: one server only]"
    return text


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
        clock: Any,
        *,
        lobby_interval: float = LOBBY_INTERVAL,
    ) -> None:
        self.client = client
        self.store = store
        self.clock = clock
        self.cluster = client.config.cluster_id
        self.lobby = LobbyState(player)
        self.game: GameState | None = None
        #: Called with no argument after every change of what is shown.
        self.listeners: list[Callable[[], None]] = []
        #: Called when the player asks to quit (Ctrl+Q).
        self.on_quit: Callable[[], None] | None = None
        self._lobby_loop = LoopingCall(self.refresh_lobby)
        self._lobby_loop.clock = clock
        self._lobby_interval = lobby_interval
        self._listing: Deferred[Any] | None = None
        self._drop: tuple[float, float] | None = None
        self._passed_version: int | None = None
        self._scene: Scene | None = None
        self.generation = 0
        client.link_listeners.append(self._links_changed)

    # -- lifecycle -----------------------------------------------------------------

    @property
    def player(self) -> str:
        return self.lobby.player

    def start(self) -> None:
        self.show_lobby()

    def stop(self) -> None:
        if self._lobby_loop.running:
            self._lobby_loop.stop()
        if self.game is not None:
            self.client.unwatch(self.game.game_id)
        if self._links_changed in self.client.link_listeners:
            self.client.link_listeners.remove(self._links_changed)

    def _changed(self) -> None:
        self.generation += 1
        for listener in list(self.listeners):
            listener()

    def _links_changed(self, client: ReplicatedClient) -> None:
        self._changed()

    # -- what to draw --------------------------------------------------------------------

    def replicas(self) -> Replicas:
        links = self.client.links
        if self.game is not None:
            watch = self.client.watches.get(self.game.game_id)
            held = watch.documents if watch is not None else {}
            holdings = {
                server_id: held[server_id][1] if server_id in held else None for server_id in links
            }
            return game_replicas(
                {
                    server_id: (link.ready, bool(link.status and link.status.serving))
                    for server_id, link in links.items()
                },
                holdings,
                self.game.shown,
            )
        return lobby_replicas(
            {
                server_id: (
                    link.ready,
                    bool(link.status and link.status.serving),
                    link.status.digest if link.status else "",
                )
                for server_id, link in links.items()
            }
        )

    def drop_progress(self) -> float | None:
        if self._drop is None:
            return None
        started, duration = self._drop
        progress = (self.clock.seconds() - started) / duration
        if progress >= 1:
            self._drop = None
            return None
        return max(0.0, progress)

    def scene(self, width: int, height: int) -> Scene:
        if self.game is not None:
            scene = game_scene(self.game, self.replicas(), width, height, drop=self.drop_progress())
        else:
            scene = lobby_scene(self.lobby, self.replicas(), width, height)
        self._scene = scene
        return scene

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
            self.finish_name_edit(keep=True)
        if action is not None:
            self.perform(action)
        return action

    def scroll(self, x: float, y: float, width: int, height: int, rows: int) -> None:
        """The mouse wheel over a lobby list: ``rows`` > 0 scrolls down."""
        if self.game is not None:
            return
        for hotspot in self.scene(width, height).hotspots:
            if hotspot.action.name == "area" and hotspot.rect.contains(x, y):
                index = LISTS.index(hotspot.action.value)
                scroll = list(self.lobby.scroll)
                scroll[index] = max(0, scroll[index] + rows)
                self.lobby = attrs.evolve(self.lobby, scroll=tuple(scroll))  # type: ignore[arg-type]
                self._changed()

    def key(self, name: str) -> None:
        """A key: ``escape``, ``enter``, ``backspace``, ``quit``, or a digit ``"1"``-``"9"``."""
        if name == "quit":
            if self.on_quit is not None:
                self.on_quit()
            return
        if self.lobby.editing is not None and self.game is None:
            if name == "escape":
                self.finish_name_edit(keep=False)
            elif name == "enter":
                self.finish_name_edit(keep=True)
            elif name == "backspace":
                self.lobby = attrs.evolve(self.lobby, editing=self.lobby.editing[:-1])
                self._changed()
            return
        if self.game is None:
            return
        if name == "escape":
            if self.game.confirming:
                self._update(confirming=None)
            else:
                self.show_lobby()
        elif name.isdigit() and len(name) == 1 and self.game.document is not None:
            self._board_intent(keyboard_column(self.game.document, self.game.seat, int(name)))

    def text(self, typed: str) -> None:
        """Typed characters (for the name field)."""
        if self.game is None and self.lobby.editing is not None:
            typed = "".join(ch for ch in typed if ch.isprintable() and ch not in "\r\n")
            self.lobby = attrs.evolve(self.lobby, editing=(self.lobby.editing + typed)[:32])
            self._changed()

    def perform(self, action: Action) -> None:
        handler = getattr(self, "_do_" + action.name.replace("-", "_"), None)
        if handler is not None:
            handler(action.value)

    # -- lobby actions -------------------------------------------------------------------

    def _do_area(self, value: str) -> None:
        pass

    def _do_edit_name(self, value: str) -> None:
        if self.lobby.editing is None:
            self.lobby = attrs.evolve(self.lobby, editing=self.lobby.player)
            self._changed()

    def finish_name_edit(self, keep: bool) -> None:
        typed = self.lobby.editing
        if typed is None:
            return
        lobby = attrs.evolve(self.lobby, editing=None)
        if keep and typed != lobby.player:
            try:
                name = p.check_player(typed)
            except p.InvalidArgument as error:
                lobby = attrs.evolve(lobby, notice=f"Name not changed: {error}", notice_error=True)
            else:
                lobby = attrs.evolve(
                    lobby, player=name, notice=f"You play as {name}.", notice_error=False
                )
        self.lobby = lobby
        self._changed()
        self.refresh_lobby()

    def _do_create(self, kind: str) -> None:
        self.create_game(kind)

    def _do_join(self, game_id: str) -> None:
        self.join_game(game_id)

    def _do_watch(self, game_id: str) -> None:
        self.open_game(game_id, None)

    def _do_resume(self, value: str) -> None:
        game_id, _, seat_text = value.rpartition(":")
        try:
            seats = self.store.find(self.cluster, game_id, int(seat_text))
        except (OSError, ValueError) as error:
            self._lobby_notice(f"Cannot read the saved seats: {error}", error=True)
            return
        if not seats:
            self._lobby_notice(f"No saved seat for game {game_id[:8]}.", error=True)
            return
        self.open_game(game_id, seats[0])

    def _lobby_notice(self, text: str, error: bool = False, busy: str = "") -> None:
        self.lobby = attrs.evolve(self.lobby, notice=text, notice_error=error, busy=busy)
        self._changed()

    def show_lobby(self) -> None:
        if self.game is not None:
            self.client.unwatch(self.game.game_id)
            self.game = None
        self._drop = None
        self._changed()
        if not self._lobby_loop.running:
            self._lobby_loop.start(self._lobby_interval, now=True)
        else:
            self.refresh_lobby()

    def refresh_lobby(self) -> None:
        """List the open and active games, and read the saved seats."""
        if self._listing is not None:
            return
        try:
            seats = self.store.seats(self.cluster)
        except OSError as error:
            seats = []
            self._lobby_notice(str(error), error=True)
        if not self.client.active:
            self._apply_listing([], [], seats)
            return
        lists = Deferred.fromCoroutine(self._list())
        self._listing = lists

        def done(result: Any) -> None:
            self._listing = None
            if isinstance(result, Failure):
                self._lobby_notice(f"Listing the games failed: {describe_failure(result)}", True)
                return
            open_games, active_games = result
            self._apply_listing(open_games, active_games, seats)

        lists.addBoth(done)

    async def _list(self) -> tuple[list[Any], list[Any]]:
        open_page = await self.client.list_games(status="open", limit=LIST_LIMIT)
        active_page = await self.client.list_games(status="active", limit=LIST_LIMIT)
        return list(open_page.games), list(active_page.games)

    def _apply_listing(
        self, open_games: list[Any], active_games: list[Any], seats: list[Seat]
    ) -> None:
        name = self.lobby.player
        mine = {(seat.game_id): seat.seat for seat in seats if seat.player == name}

        def entry(listed: Any) -> ListedEntry:
            summary = listed.summary
            players = summary.get("players") or [None, None]
            return ListedEntry(
                summary["id"],
                summary["kind"],
                summary["status"],
                (players[0], players[1]),
                mine.get(summary["id"]),
                listed.provisional,
            )

        statuses = {listed.summary["id"]: listed.summary["status"] for listed in open_games}
        statuses.update({listed.summary["id"]: listed.summary["status"] for listed in active_games})
        own = tuple(
            OwnSeat(seat.game_id, seat.kind, seat.seat, seat.player, statuses.get(seat.game_id, ""))
            for seat in reversed(seats)
        )
        self.lobby = attrs.evolve(
            self.lobby,
            open_games=tuple(entry(g) for g in open_games),
            active_games=tuple(entry(g) for g in active_games),
            own=own,
            loaded=True,
        )
        if not self.client.active:
            self.lobby = attrs.evolve(
                self.lobby, notice="No server is reachable; retrying.", notice_error=True
            )
        elif self.lobby.notice == "No server is reachable; retrying.":
            self.lobby = attrs.evolve(self.lobby, notice="", notice_error=False)
        self._changed()

    def create_game(self, kind: str) -> Deferred[None]:
        return self._lobby_task(
            f"Creating a {KIND_NAMES.get(kind, kind)} game\u2026", self._create(kind)
        )

    def join_game(self, game_id: str) -> Deferred[None]:
        return self._lobby_task(f"Joining game {game_id[:8]}\u2026", self._join(game_id))

    def _lobby_task(self, busy: str, work: Any) -> Deferred[None]:
        if self.lobby.busy:
            work.close()
            return Deferred.fromCoroutine(_nothing())
        self._lobby_notice("", busy=busy)
        task = Deferred.fromCoroutine(work)

        def failed(failure: Failure) -> None:
            log.failure("lobby action failed", failure)
            self._lobby_notice(describe_failure(failure), error=True)

        def finished(result: Any) -> Any:
            if self.lobby.busy == busy:
                self.lobby = attrs.evolve(self.lobby, busy="")
                self._changed()
            return result

        return task.addErrback(failed).addBoth(finished)

    async def _create(self, kind: str) -> None:
        game_id = uuid.uuid4().hex
        token = new_token()
        player = self.lobby.player
        outcome = await self.client.create_game(game_id, kind, player, token, 0)
        if outcome.decision.chosen is None:
            self._lobby_notice("No server answered; the game was not created.", error=True)
            return
        if outcome.error is not None:
            self._lobby_notice(refusal("Creating the game", outcome), error=True)
            return
        seat = Seat(self.cluster, game_id, 0, player, token, kind)
        if not self._remember(seat):
            return
        shown = Shown.of(outcome.document, outcome.provisional, outcome.agreed)
        self.open_game(game_id, seat, shown)

    async def _join(self, game_id: str) -> None:
        player = self.lobby.player
        token = new_token()
        for attempt in range(2):
            reading = self.client.get_game if attempt == 0 else self.client.sync_game
            read = await reading(game_id)
            if read.decision.chosen is None or read.error is not None:
                text = "No server answered."
                if read.error is not None:
                    text = refusal("Reading the game", read)
                self._lobby_notice(text, error=True)
                return
            document = read.game()
            if document["status"] != "open":
                self._lobby_notice(
                    f"Game {game_id[:8]} is {document['status']}: someone else joined first.",
                    error=True,
                )
                self.refresh_lobby()
                return
            seat = document["players"].index(None)
            outcome = await self.client.join_game(game_id, document["version"], player, token)
            if outcome.decision.chosen is None:
                self._lobby_notice("No server answered; you did not join.", error=True)
                return
            if outcome.error is not None:
                if attempt == 0 and outcome.error.tag.decode() in RESYNC_TAGS:
                    continue
                self._lobby_notice(refusal("Joining", outcome), error=True)
                return
            stored = Seat(self.cluster, game_id, seat, player, token, document["kind"])
            if not self._remember(stored):
                return
            self.open_game(
                game_id, stored, Shown.of(outcome.document, outcome.provisional, outcome.agreed)
            )
            return

    def _remember(self, seat: Seat) -> bool:
        try:
            self.store.add(seat)
        except OSError as error:
            self._lobby_notice(f"You have the seat, but it could not be saved: {error}", True)
            return False
        return True

    # -- the game screen -------------------------------------------------------------------

    def open_game(self, game_id: str, seat: Seat | None, shown: Shown | None = None) -> None:
        """Show a game: as ``seat``'s player, or as a watcher when None."""
        if self.game is not None and self.game.game_id != game_id:
            self.client.unwatch(self.game.game_id)
        if self._lobby_loop.running:
            self._lobby_loop.stop()
        self.lobby = attrs.evolve(self.lobby, notice="", notice_error=False, editing=None)
        self._drop = None
        self._passed_version = None
        self.game = GameState(
            game_id,
            seat.seat if seat is not None else None,
            seat.token if seat is not None else None,
            seat.player if seat is not None else "",
            shown,
        )
        self.client.watch(game_id, lambda update: self._watched(game_id, update))
        if shown is None:
            self.client.get_game(game_id).addCallbacks(
                lambda outcome: self._read(game_id, outcome),
                lambda failure: self._game_notice(game_id, describe_failure(failure), True),
            )
        self._changed()
        self._after_show()

    def _read(self, game_id: str, outcome: Outcome) -> None:
        if self.game is None or self.game.game_id != game_id:
            return
        if outcome.error is not None:
            if outcome.error.tag == b"UNKNOWN_GAME" and self.game.shown is None:
                self.show_lobby()
                self._lobby_notice(f"No server knows game {game_id[:8]}.", error=True)
                return
            self._game_notice(game_id, refusal("Reading the game", outcome), True)
            return
        if outcome.decision.chosen is None:
            return
        self._show(game_id, Shown.of(outcome.document, outcome.provisional, outcome.agreed))

    def _watched(self, game_id: str, update: WatchUpdate) -> None:
        self._show(game_id, Shown.of(update.document, update.provisional, update.agreed))

    def _show(self, game_id: str, incoming: Shown) -> None:
        game = self.game
        if game is None or game.game_id != game_id:
            return
        chosen = choose_shown(game.shown, incoming)
        if chosen == game.shown:
            self._changed()  # the lights may have changed
            return
        before = game.shown
        changes: dict[str, Any] = {"shown": chosen}
        if before is None or before.version != chosen.version:
            changes["selection"] = ()
            if chosen.document.get("status") == "finished":
                changes["confirming"] = None
            if before is not None and game.notice and not game.pending:
                changes["notice"] = ""
            self._start_drop(before, chosen)
        self.game = attrs.evolve(game, **changes)
        self._changed()
        self._after_show()

    def _start_drop(self, before: Shown | None, after: Shown) -> None:
        document = after.document
        if before is None or document["kind"] != "connect4":
            return
        if len(document.get("moves") or ()) != len(before.document.get("moves") or ()) + 1:
            return
        last = connect4_last(document)
        if last is not None:
            self._drop = (self.clock.seconds(), drop_duration(last[1]))

    def _after_show(self) -> None:
        """Play ``pass`` for the player when it is their only move."""
        game = self.game
        if game is None or game.shown is None or game.pending or game.shown.provisional:
            return
        document = game.shown.document
        if (
            document["kind"] == "reversi"
            and game.my_turn
            and list(document.get("legal") or ()) == ["pass"]
            and self._passed_version != document["version"]
        ):
            version = self._passed_version = document["version"]
            self._send(
                "pass",
                lambda token: self.client.make_move(game.game_id, version, "pass", token),
                "Move pass",
                success_notice="You have no legal move: pass was played for you.",
            )

    def _update(self, **changes: Any) -> None:
        if self.game is not None:
            self.game = attrs.evolve(self.game, **changes)
            self._changed()

    def _game_notice(self, game_id: str, text: str, error: bool = False) -> None:
        if self.game is not None and self.game.game_id == game_id:
            self._update(notice=text, notice_error=error)

    def _board_intent(self, intent: Intent) -> None:
        game = self.game
        if game is None:
            return
        changes: dict[str, Any] = {"selection": intent.selection}
        if intent.notice is not None:
            changes["notice"] = intent.notice
            changes["notice_error"] = False
        self.game = attrs.evolve(game, **changes)
        self._changed()
        if intent.move is not None:
            self.move(intent.move)

    def _do_column(self, value: str) -> None:
        self._do_square(value, name="column")

    def _do_square(self, value: str, name: str = "square") -> None:
        game = self.game
        if game is None or game.document is None or game.confirming:
            return
        if game.pending:
            self._update(notice=f"Wait: {game.pending} is on its way.", notice_error=False)
            return
        action = Action(name, value)
        self._board_intent(click_board(game.document, game.seat, game.selection, action))

    def move(self, move: str) -> None:
        """Send ``move`` for the player's seat, at the version shown."""
        game = self.game
        if game is None or game.document is None:
            return
        version = game.document["version"]
        self._send(
            f"move {move}",
            lambda token: self.client.make_move(game.game_id, version, move, token),
            f"Move {move}",
        )

    def _do_lobby(self, value: str) -> None:
        self.show_lobby()

    def _do_resign(self, value: str) -> None:
        if self.game is not None and self.game.seat is not None:
            self._update(confirming="resign")

    def _do_cancel(self, value: str) -> None:
        self._update(confirming=None)

    def _do_confirm_resign(self, value: str) -> None:
        game = self.game
        if game is None or game.document is None:
            return
        self.game = attrs.evolve(game, confirming=None)
        version = game.document["version"]
        self._send(
            "resignation",
            lambda token: self.client.resign(game.game_id, version, token),
            "Resigning",
        )

    def _do_offer_draw(self, value: str) -> None:
        game = self.game
        if game is None or game.document is None:
            return
        version = game.document["version"]
        self._send(
            "draw offer",
            lambda token: self.client.offer_draw(game.game_id, version, token),
            "Offering a draw",
            success_notice="You offered a draw; it stands until your opponent accepts or moves.",
        )

    def _do_accept_draw(self, value: str) -> None:
        game = self.game
        if game is None or game.document is None:
            return
        version = game.document["version"]
        self._send(
            "draw acceptance",
            lambda token: self.client.accept_draw(game.game_id, version, token),
            "Accepting the draw",
        )

    def _send(
        self,
        what: str,
        send: Callable[[str], Deferred[Outcome]],
        refused_as: str,
        success_notice: str = "",
    ) -> None:
        game = self.game
        if game is None or game.token is None or game.pending:
            return
        game_id = game.game_id
        self.game = attrs.evolve(game, pending=what, notice="", notice_error=False)
        self._changed()
        try:
            answer = send(game.token)
        except Exception:  # a bug or a closed client: report, never raise into the loop
            self._answered_failure(Failure(), game_id)
            return
        answer.addCallbacks(
            self._answered,
            self._answered_failure,
            callbackArgs=(game_id, refused_as, success_notice),
            errbackArgs=(game_id,),
        )

    def _answered(
        self, outcome: Outcome, game_id: str, refused_as: str, success_notice: str
    ) -> None:
        game = self.game
        if game is None or game.game_id != game_id:
            return
        self.game = attrs.evolve(game, pending=None)
        if outcome.decision.chosen is None:
            self._update(notice=f"{refused_as}: no server answered.", notice_error=True)
            return
        if outcome.error is not None:
            tag = outcome.error.tag.decode()
            self._update(notice=refusal(refused_as, outcome), notice_error=True, selection=())
            # Whatever was refused, show the board as the majority holds it.
            reread = self.client.sync_game if tag in RESYNC_TAGS else self.client.get_game
            reread(game_id).addCallbacks(lambda o: self._read(game_id, o), lambda f: None)
            return
        notice = success_notice
        if outcome.provisional:
            notice = (
                f"Only server {outcome.agreed[0] if outcome.agreed else '?'} has taken it so far "
                "(provisional)."
            )
        self._show(game_id, Shown.of(outcome.document, outcome.provisional, outcome.agreed))
        self._update(notice=notice, notice_error=False)
        self._after_show()

    def _answered_failure(self, failure: Failure, game_id: str) -> None:
        game = self.game
        if game is None or game.game_id != game_id:
            return
        self.game = attrs.evolve(game, pending=None)
        self._update(notice=f"Not sent: {describe_failure(failure)}", notice_error=True)


async def _nothing() -> None:
    return None
