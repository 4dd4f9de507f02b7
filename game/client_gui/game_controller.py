"""The game screen's state and its talk with the servers, without pyglet.

:class:`GameController` shows one game (or none): it watches the game on
every server, takes each new view and each answer into the
:class:`~game.client_gui.viewmodel.GameState` (:func:`choose_shown` decides
which document to show), turns clicks and keys on the board into moves,
sends moves, resignations and draw offers for the player's seat (and
takebacks and rematches, :mod:`game.client_gui.offer_actions`), animates
a Connect Four disc's drop, and in a timed game claims the timeout once
the opponent's clock runs out.  It steps through the moves
(:class:`~game.client.replay.Replay`; an earlier position refuses moves) and
writes the game's record (:mod:`game.client_gui.saving`).  Nothing here waits
but the record's small file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure

from game.client.client import Outcome, ReplicatedClient
from game.client.recordclocks import RecordClocks, record_clocks
from game.client.replay import STEPS, Replay
from game.client.tokens import Seat, TokenStore
from game.client.watching import WatchUpdate
from game.client_gui.boards import (
    Intent,
    click_board,
    connect4_last,
    drop_duration,
    keyboard_column,
)
from game.client_gui.clockview import reading_of
from game.client_gui.notices import RESYNC_TAGS, describe_failure, refusal
from game.client_gui.offer_actions import OfferActions
from game.client_gui.offers_view import offer_news
from game.client_gui.replay_view import (
    REPLAY,
    REPLAY_KEYS,
    SAVE_CANCEL,
    SAVE_RECORD,
    SAVE_WRITE,
    read_only_notice,
    replay_of,
)
from game.client_gui.replicas import Replicas, Shown, choose_shown, game_replicas
from game.client_gui.saving import SaveFailed, default_path, typed_into, write_record
from game.client_gui.scene import Action, Scene
from game.client_gui.viewmodel import GameState, game_scene

#: Seconds after the opponent's deadline (by the client's estimate of the
#: servers' time) before the claim is sent, so that its ``at`` is past it.
CLAIM_MARGIN: Final = 0.05
#: Seconds before a claim the servers found early (``TIME_LEFT``) is sent again.
CLAIM_RETRY: Final = 1.0


class GameController:
    """One game on screen, or none (:attr:`state` is None).

    :param changed: called after every change of what the game screen shows.
    :param leave: shows the lobby instead, with this error notice if not empty.
    :param store: where a seat in a rematch is kept (None: in memory only).
    """

    def __init__(
        self,
        client: ReplicatedClient,
        clock: IReactorTime,
        *,
        changed: Callable[[], None],
        leave: Callable[[str], None],
        store: TokenStore | None = None,
    ) -> None:
        self.client = client
        self.clock = clock
        self.state: GameState | None = None
        self._changed = changed
        self._leave = leave
        #: When the last Connect Four disc started to fall, and for how long it falls.
        self._drop: tuple[float, float] | None = None
        #: The version at which ``pass`` was played for the player (once per version).
        self._passed_version: int | None = None
        #: The version whose timeout was claimed (once per version, unless TIME_LEFT).
        self._claimed_version: int | None = None
        #: When to look again at the opponent's clock.
        self._flag_check: IDelayedCall | None = None
        self.offers = OfferActions(self, store)

    def actions(self) -> Mapping[str, Callable[[str], object]]:
        """The game screen's actions by name (see :class:`~game.client_gui.scene.Action`)."""
        return {
            "column": lambda value: self._click_board(Action("column", value)),
            "square": lambda value: self._click_board(Action("square", value)),
            "lobby": lambda value: self._leave(""),
            "resign": lambda value: self._ask_to_resign(),
            "cancel": lambda value: self._update(confirming=None),
            "confirm-resign": lambda value: self.resign(),
            "offer-draw": lambda value: self.offer_draw(),
            "accept-draw": lambda value: self.accept_draw(),
            REPLAY: self.replay_step,
            SAVE_RECORD: lambda value: self.ask_where_to_save(),
            SAVE_WRITE: lambda value: self.save_record(),
            SAVE_CANCEL: lambda value: self._update(saving=None),
            **self.offers.actions(),
        }

    # -- showing -----------------------------------------------------------------------

    def open(self, game_id: str, seat: Seat | None, shown: Shown | None = None) -> None:
        """Show a game: as ``seat``'s player, or as a watcher when None."""
        if self.state is not None and self.state.game_id != game_id:
            self.client.unwatch(self.state.game_id)
        self._drop = None
        self._passed_version = None
        self._claimed_version = None
        self._cancel_flag_check()
        self.state = GameState(
            game_id,
            seat.seat if seat is not None else None,
            seat.token if seat is not None else None,
            seat.player if seat is not None else "",
            shown,
            replay=Replay.of(shown.document) if shown is not None else None,
        )
        self.client.watch(game_id, lambda update: self._watched(game_id, update))
        if shown is None:
            self.client.get_game(game_id).addCallbacks(
                lambda outcome: self._read(game_id, outcome),
                lambda failure: self._notice(game_id, describe_failure(failure), True),
            )
        self._changed()
        self._after_show()

    def close(self) -> None:
        """Show no game: stop watching it."""
        if self.state is not None:
            self.client.unwatch(self.state.game_id)
            self.state = None
        self._drop = None
        self._cancel_flag_check()

    def stop(self) -> None:
        """The window closes: stop watching the game (still shown)."""
        if self.state is not None:
            self.client.unwatch(self.state.game_id)
        self._cancel_flag_check()

    def replicas(self) -> Replicas:
        links = self.client.links
        shown = self.state.shown if self.state is not None else None
        watch = self.client.watches.get(self.state.game_id) if self.state is not None else None
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
            shown,
        )

    def drop_progress(self) -> float | None:
        """How far the last Connect Four disc has fallen, 0 to 1; None once it landed."""
        if self._drop is None:
            return None
        started, duration = self._drop
        progress = (self.clock.seconds() - started) / duration
        if progress >= 1:
            self._drop = None
            return None
        return max(0.0, progress)

    def server_now(self) -> int | None:
        """Now on the servers' time scale, for a timed game's clocks (None when untimed)."""
        document = self.state.document if self.state is not None else None
        if document is None or document.clock is None:
            return None
        return self.client.server_now()

    def scene(self, width: int, height: int) -> Scene:
        assert self.state is not None
        return game_scene(
            self.state,
            self.replicas(),
            width,
            height,
            drop=self.drop_progress(),
            now_ms=self.server_now(),
        )

    # -- what the servers say ----------------------------------------------------------

    def _read(self, game_id: str, outcome: Outcome) -> None:
        if self.state is None or self.state.game_id != game_id:
            return
        if outcome.error is not None:
            if outcome.error.tag == b"UNKNOWN_GAME" and self.state.shown is None:
                self._leave(f"No server knows game {game_id[:8]}.")
                return
            self._notice(game_id, refusal("Reading the game", outcome), True)
            return
        if outcome.decision.chosen is None:
            return
        self._show(game_id, Shown.of(outcome.document, outcome.provisional, outcome.agreed))

    def _watched(self, game_id: str, update: WatchUpdate) -> None:
        self._show(game_id, Shown.of(update.document, update.provisional, update.agreed))

    def _show(self, game_id: str, incoming: Shown) -> None:
        game = self.state
        if game is None or game.game_id != game_id:
            return
        chosen = choose_shown(game.shown, incoming)
        if chosen == game.shown:
            self._changed()  # the lights may have changed
            return
        before = game.shown
        changes: dict[str, Any] = {
            "shown": chosen,
            "replay": replay_of(chosen.document, game.replay),
        }
        if before is None or before.version != chosen.version:
            changes["selection"] = ()
            if chosen.document.status == "finished":
                changes["confirming"] = None
            if before is not None and not game.pending:
                # What changed about an offer; else an old notice goes.
                news = offer_news(before.document, chosen.document, game.seat)
                if news or game.notice:
                    changes.update(notice=news, notice_error=False)
            if changes["replay"] is None or changes["replay"].live:
                self._start_drop(before, chosen)  # no disc falls onto an earlier position
        self.state = attrs.evolve(game, **changes)
        self._changed()
        self._after_show()
        if before is not None and before.version != chosen.version:
            self.offers.shown(before.document, chosen.document, game.seat)

    def _start_drop(self, before: Shown | None, after: Shown) -> None:
        document = after.document
        if before is None or document.kind != "connect4":
            return
        if len(document.moves) != len(before.document.moves) + 1:
            return
        last = connect4_last(document)
        if last is not None:
            self._drop = (self.clock.seconds(), drop_duration(last[1]))

    def _after_show(self) -> None:
        """Play ``pass`` for the player when it is their only move; watch the opponent's clock."""
        self._schedule_flag_check()
        game = self.state
        if game is None or game.shown is None or game.pending or game.shown.provisional:
            return
        document = game.shown.document
        if (
            document.kind == "reversi"
            and game.my_turn
            and document.legal == ("pass",)
            and self._passed_version != document.version
        ):
            version = self._passed_version = document.version
            self.send(
                "pass",
                lambda token: self.client.make_move(game.game_id, version, "pass", token),
                "Move pass",
                success_notice="You have no legal move: pass was played for you.",
            )

    # -- the opponent's clock ------------------------------------------------------------

    def _schedule_flag_check(self, delay: float | None = None) -> None:
        """Look at the opponent's clock when their deadline passes (or after
        ``delay`` seconds), if the player is seated in a timed game that the
        opponent is to move in, and that version was not claimed yet."""
        self._cancel_flag_check()
        game = self.state
        if game is None or game.seat is None or game.token is None or game.shown is None:
            return
        document = game.shown.document
        clock = document.clock
        if (
            clock is None
            or clock.deadline is None
            or document.status != "active"
            or document.to_move != 1 - game.seat
            or self._claimed_version == document.version
        ):
            return
        if delay is None:
            delay = max(0, clock.deadline - self.client.server_now()) / 1000 + CLAIM_MARGIN
        self._flag_check = self.clock.callLater(delay, self._claim_if_flagged)

    def _cancel_flag_check(self) -> None:
        if self._flag_check is not None and self._flag_check.active():
            self._flag_check.cancel()
        self._flag_check = None

    def _claim_if_flagged(self) -> None:
        """Claim the timeout if the opponent's clock has run out by now.

        Only majority documents are claimed on (as ``pass`` is played): a
        provisional one may be undone, and the servers end an abandoned game
        by themselves anyway.
        """
        self._flag_check = None
        game = self.state
        if game is None or game.seat is None or game.shown is None or game.shown.provisional:
            return
        document = game.shown.document
        reading = reading_of(document, self.client.server_now())
        if reading is None or reading.running != 1 - game.seat:
            return
        if not reading.flagged():
            self._schedule_flag_check()  # woken early: the deadline is still ahead
            return
        if game.pending:
            self._schedule_flag_check(CLAIM_RETRY)
            return
        version = self._claimed_version = document.version
        self.send(
            "timeout claim",
            lambda token: self.client.claim_timeout(game.game_id, version, token),
            "Claiming the timeout",
        )

    def _update(self, **changes: Any) -> None:
        if self.state is not None:
            self.state = attrs.evolve(self.state, **changes)
            self._changed()

    def _notice(self, game_id: str, text: str, error: bool = False) -> None:
        if self.state is not None and self.state.game_id == game_id:
            self._update(notice=text, notice_error=error)

    def show_notice(self, text: str, error: bool = False) -> None:
        """Say ``text`` on the notice line of the game shown."""
        self._update(notice=text, notice_error=error)

    # -- what the player does ------------------------------------------------------------

    def key(self, name: str) -> None:
        """``escape`` (close the dialog, else back to the lobby), a digit (a
        column), ``home``/``left``/``right``/``end`` (replay), or the keys of
        the "Save record" prompt (``enter``, ``escape``, ``backspace``)."""
        game = self.state
        if game is None:
            return
        if game.saving is not None:
            self._save_prompt_key(name, game.saving)
        elif name == "escape":
            if game.confirming:
                self._update(confirming=None)
            else:
                self._leave("")
        elif name in REPLAY_KEYS and not game.confirming:
            self.replay_step(REPLAY_KEYS[name])
        elif name.isdigit() and len(name) == 1 and game.document is not None:
            if self._refused_in_the_past():
                return
            self._board_intent(keyboard_column(game.document, game.seat, int(name)))

    def type_text(self, typed: str) -> None:
        """Characters typed into the "Save record" prompt."""
        if self.state is not None and self.state.saving is not None:
            self._update(saving=typed_into(self.state.saving, typed))

    def replay_step(self, step: str) -> None:
        """Show another move: one of :data:`~game.client.replay.STEPS`."""
        game = self.state
        replay = replay_of(game.document, game.replay) if game is not None else None
        if game is None or replay is None or step not in STEPS:
            return
        stepped = replay.step(step)
        if stepped != game.replay:
            notice = "" if game.notice.startswith("Viewing ") else game.notice
            self._update(replay=stepped, selection=(), notice=notice)

    def _refused_in_the_past(self) -> bool:
        """Refuse a move on an earlier position (it is read-only), saying how to go back."""
        game = self.state
        replay = replay_of(game.document, game.replay) if game is not None else None
        if replay is None or replay.live:
            return False
        self._update(notice=read_only_notice(replay), notice_error=False, selection=())
        return True

    def ask_where_to_save(self) -> None:
        """Open the "Save record" prompt, prefilled with a path under the home folder."""
        game = self.state
        if game is not None and game.document is not None and not game.confirming:
            self._update(saving=default_path(game.document))

    def _save_prompt_key(self, name: str, typed: str) -> None:
        if name == "escape":
            self._update(saving=None)
        elif name == "enter":
            self.save_record()
        elif name == "backspace":
            self._update(saving=typed[:-1])

    def save_record(self) -> None:
        """Write the record of the game shown to the path typed, a timed game's
        with its clocks after each move (asked of the servers first); say
        where, or why not."""
        game = self.state
        if game is None or game.saving is None or game.shown is None:
            return
        game_id, shown, typed = game.game_id, game.shown, game.saving
        record_clocks(self.client, shown.document).addCallback(
            lambda clocks: self._write_record(game_id, shown.text, typed, clocks)
        )

    def _write_record(self, game_id: str, text: str, typed: str, clocks: RecordClocks) -> None:
        game = self.state
        if game is None or game.game_id != game_id or game.saving is None:
            return  # another game, or the prompt closed meanwhile
        try:
            path = write_record(text, typed, clocks.clocks)
        except SaveFailed as error:
            self._update(notice=str(error), notice_error=True)  # the prompt stays open
            return
        # The notice line is short: the servers' words are replgame export's.
        note = (
            " (clocks as the game stands: none per move from the servers)" if clocks.missing else ""
        )
        self._update(saving=None, notice=f"Record saved to {path}{note}", notice_error=False)

    def _click_board(self, action: Action) -> None:
        game = self.state
        if game is None or game.document is None or game.confirming:
            return
        if self._refused_in_the_past():
            return
        if game.pending:
            self._update(notice=f"Wait: {game.pending} is on its way.", notice_error=False)
            return
        self._board_intent(click_board(game.document, game.seat, game.selection, action))

    def _board_intent(self, intent: Intent) -> None:
        game = self.state
        if game is None:
            return
        changes: dict[str, Any] = {"selection": intent.selection}
        if intent.notice is not None:
            changes["notice"] = intent.notice
            changes["notice_error"] = False
        self.state = attrs.evolve(game, **changes)
        self._changed()
        if intent.move is not None:
            self.move(intent.move)

    def _ask_to_resign(self) -> None:
        if self.state is not None and self.state.seat is not None:
            self._update(confirming="resign")

    def move(self, move: str) -> None:
        """Send ``move`` for the player's seat, at the version shown."""
        game = self.state
        if game is None or game.document is None:
            return
        version = game.document.version
        self.send(
            f"move {move}",
            lambda token: self.client.make_move(game.game_id, version, move, token),
            f"Move {move}",
        )

    def resign(self) -> None:
        """Resign (or cancel an open game), once the player confirmed it."""
        game = self.state
        if game is None or game.document is None:
            return
        self.state = attrs.evolve(game, confirming=None)
        version = game.document.version
        self.send(
            "resignation",
            lambda token: self.client.resign(game.game_id, version, token),
            "Resigning",
        )

    def offer_draw(self) -> None:
        game = self.state
        if game is None or game.document is None:
            return
        version = game.document.version
        self.send(
            "draw offer",
            lambda token: self.client.offer_draw(game.game_id, version, token),
            "Offering a draw",
            success_notice="You offered a draw; it stands until your opponent accepts or moves.",
        )

    def accept_draw(self) -> None:
        game = self.state
        if game is None or game.document is None:
            return
        version = game.document.version
        self.send(
            "draw acceptance",
            lambda token: self.client.accept_draw(game.game_id, version, token),
            "Accepting the draw",
        )

    # -- sending -------------------------------------------------------------------------

    def send(
        self,
        what: str,
        send: Callable[[str], Deferred[Outcome]],
        refused_as: str,
        success_notice: str = "",
        on_success: Callable[[Outcome], None] | None = None,
    ) -> None:
        """Send a request for the player's seat (``send`` gets its token),
        one at a time: ``what`` is shown as pending until the answer.

        :param refused_as: how a refusal's notice names the request.
        :param success_notice: the notice once the servers took it.
        :param on_success: called with the answer in place of showing its
            document (an answer that is not the game shown).
        """
        game = self.state
        if game is None or game.token is None or game.pending:
            return
        game_id = game.game_id
        self.state = attrs.evolve(game, pending=what, notice="", notice_error=False)
        self._changed()
        try:
            answer = send(game.token)
        except Exception:  # a bug or a closed client: report, never raise into the loop
            failure = Failure()  # type: ignore[no-untyped-call]  # Failure.__init__ is unannotated
            self._answered_failure(failure, game_id)
            return
        answer.addCallbacks(
            self._answered,
            self._answered_failure,
            callbackArgs=(game_id, refused_as, success_notice, on_success),
            errbackArgs=(game_id,),
        )

    def _answered(
        self,
        outcome: Outcome,
        game_id: str,
        refused_as: str,
        success_notice: str,
        on_success: Callable[[Outcome], None] | None,
    ) -> None:
        game = self.state
        if game is None or game.game_id != game_id:
            return
        self.state = attrs.evolve(game, pending=None)
        if outcome.decision.chosen is None:
            self._update(notice=f"{refused_as}: no server answered.", notice_error=True)
            return
        if outcome.error is not None:
            tag = outcome.error.tag.decode()
            self._update(notice=refusal(refused_as, outcome), notice_error=True, selection=())
            if tag == "TIME_LEFT":
                # The claim was early by the servers' clocks: claim again shortly.
                self._claimed_version = None
                self._schedule_flag_check(CLAIM_RETRY)
            # Whatever was refused, show the board as the majority holds it.
            reread = self.client.sync_game if tag in RESYNC_TAGS else self.client.get_game
            reread(game_id).addCallbacks(lambda o: self._read(game_id, o), lambda f: None)
            return
        if on_success is not None:
            on_success(outcome)
        else:
            self.show_answer(game_id, outcome, success_notice)

    def show_answer(self, game_id: str, outcome: Outcome, notice: str) -> None:
        """Show the game as a request's answer holds it, with ``notice``
        (or, for a provisional answer, which server took it)."""
        if outcome.provisional:
            notice = (
                f"Only server {outcome.agreed[0] if outcome.agreed else '?'} has taken it so far "
                "(provisional)."
            )
        self._show(game_id, Shown.of(outcome.document, outcome.provisional, outcome.agreed))
        self._update(notice=notice, notice_error=False)
        self._after_show()

    def _answered_failure(self, failure: Failure, game_id: str) -> None:
        game = self.state
        if game is None or game.game_id != game_id:
            return
        self.state = attrs.evolve(game, pending=None)
        self._update(notice=f"Not sent: {describe_failure(failure)}", notice_error=True)
