"""What the game screen's takeback and rematch buttons do.

:class:`OfferActions` sends the player's offers, acceptances and declines
through the game screen (:class:`~game.client_gui.game_controller.GameController`,
seen here as an :class:`OfferScreen`), and switches the screen to the new
game once a rematch is accepted: the accepter from ``AcceptRematch``'s
answer (the new game's document), the offerer when the watched old game
shows its offer accepted.  Both hold their seat in the new game already:
the seat an offer or accept chose (:func:`game.client.offers.rematch_seat`)
is kept in memory for a retry, and in the token store once the servers
took it, so that the lobby can resume it too.  Nothing here waits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from twisted.internet.defer import Deferred

from game.client.client import Outcome, ReplicatedClient
from game.client.document import GameDocument
from game.client.offers import (
    ACCEPT,
    ACCEPTED,
    MINE,
    OFFER,
    RematchSeat,
    rematch_seat,
    rematch_stance,
)
from game.client.tokens import Seat, TokenStore
from game.client_gui.boards import SEAT_NAMES
from game.client_gui.offers_view import (
    ACCEPT_REMATCH,
    ACCEPT_TAKEBACK,
    DECLINE_REMATCH,
    DECLINE_TAKEBACK,
    OPEN_REMATCH,
    REMATCH,
    TAKEBACK,
    name_of,
    offer_news,
)
from game.client_gui.replicas import Shown
from game.client_gui.viewmodel import GameState


class OfferScreen(Protocol):
    """What :class:`OfferActions` uses of the game screen."""

    client: ReplicatedClient
    state: GameState | None

    def send(
        self,
        what: str,
        send: Callable[[str], Deferred[Outcome]],
        refused_as: str,
        success_notice: str = "",
        on_success: Callable[[Outcome], None] | None = None,
    ) -> None: ...

    def show_answer(self, game_id: str, outcome: Outcome, notice: str) -> None: ...

    def open(self, game_id: str, seat: Seat | None, shown: Shown | None = None) -> None: ...

    def show_notice(self, text: str, error: bool = False) -> None: ...


class OfferActions:
    """The takeback and rematch actions of the game screen.

    :param store: where the seat in a rematch is kept (None: in memory only).
    """

    def __init__(self, screen: OfferScreen, store: TokenStore | None) -> None:
        self.screen = screen
        self.store = store
        #: The seat chosen in each old game's rematch (by the old game's id):
        #: a retry repeats the same request, and a switch finds its token.
        self.rematch_seats: dict[str, RematchSeat] = {}

    def actions(self) -> Mapping[str, Callable[[str], object]]:
        """The offers' actions by name, for the game screen's table."""
        return {
            TAKEBACK: lambda value: self.offer_takeback(),
            ACCEPT_TAKEBACK: lambda value: self.accept_takeback(),
            DECLINE_TAKEBACK: lambda value: self.decline_takeback(),
            REMATCH: lambda value: self.offer_rematch(),
            ACCEPT_REMATCH: lambda value: self.accept_rematch(),
            DECLINE_REMATCH: lambda value: self.decline_rematch(),
            OPEN_REMATCH: lambda value: self.open_rematch(),
        }

    def _seated(self) -> tuple[GameState, GameDocument, int] | None:
        """The game shown, its document and the player's seat; None for a watcher."""
        game = self.screen.state
        if game is None or game.document is None or game.seat is None:
            return None
        return game, game.document, game.seat

    # -- takebacks ------------------------------------------------------------------------

    def offer_takeback(self) -> None:
        seated = self._seated()
        if seated is None:
            return
        game, document, seat = seated
        version, client = document.version, self.screen.client
        self.screen.send(
            "takeback offer",
            lambda token: client.offer_takeback(game.game_id, version, token),
            "Offering a takeback",
            success_notice=(
                f"You asked to take back your last move; it stands until "
                f"{name_of(document, 1 - seat)} accepts or declines it, or a move is made."
            ),
        )

    def accept_takeback(self) -> None:
        seated = self._seated()
        if seated is None:
            return
        game, document, seat = seated
        version, client = document.version, self.screen.client

        def accepted(outcome: Outcome) -> None:
            news = offer_news(document, outcome.game_document(), seat)
            self.screen.show_answer(game.game_id, outcome, f"You accepted: {news}.")

        self.screen.send(
            "takeback acceptance",
            lambda token: client.accept_takeback(game.game_id, version, token),
            "Accepting the takeback",
            on_success=accepted,
        )

    def decline_takeback(self) -> None:
        seated = self._seated()
        if seated is None:
            return
        game, document, seat = seated
        version, client = document.version, self.screen.client
        withdraw = document.takeback == seat
        self.screen.send(
            "takeback withdrawal" if withdraw else "takeback refusal",
            lambda token: client.decline_takeback(game.game_id, version, token),
            "Withdrawing the takeback offer" if withdraw else "Declining the takeback",
            success_notice=(
                "You withdrew your takeback offer."
                if withdraw
                else f"You declined {name_of(document, 1 - seat)}'s takeback offer."
            ),
        )

    # -- rematches ------------------------------------------------------------------------

    def offer_rematch(self) -> None:
        seated = self._seated()
        if seated is None:
            return
        game, document, seat = seated
        version, client = document.version, self.screen.client
        new = rematch_seat(document, seat, OFFER, self.rematch_seats.get(game.game_id))
        self.rematch_seats[game.game_id] = new
        notice = (
            f"You offered a rematch (you would play {SEAT_NAMES[new.seat]}); it stands "
            f"until {name_of(document, 1 - seat)} accepts or declines it."
        )

        def offered(outcome: Outcome) -> None:
            error = self._remember(new.stored(self._cluster(), game.player, document.kind))
            self.screen.show_answer(game.game_id, outcome, notice)
            if error:
                self.screen.show_notice(error, True)

        self.screen.send(
            "rematch offer",
            lambda token: client.offer_rematch(
                game.game_id, version, token, new.game_id, new.token
            ),
            "Offering a rematch",
            on_success=offered,
        )

    def accept_rematch(self) -> None:
        seated = self._seated()
        if seated is None or seated[1].rematch is None:
            return
        game, document, seat = seated
        version, client = document.version, self.screen.client
        new = rematch_seat(document, seat, ACCEPT, self.rematch_seats.get(game.game_id))
        self.rematch_seats[game.game_id] = new

        def accepted(outcome: Outcome) -> None:
            stored = new.stored(self._cluster(), game.player, document.kind)
            error = self._remember(stored)
            shown = Shown.of(outcome.document, outcome.provisional, outcome.agreed)
            self.screen.open(new.game_id, stored, shown)
            notice = f"Rematch accepted: you play {SEAT_NAMES[new.seat]} in this new game."
            self.screen.show_notice(error or notice, bool(error))

        self.screen.send(
            "rematch acceptance",
            lambda token: client.accept_rematch(game.game_id, version, token, new.token),
            "Accepting the rematch",
            on_success=accepted,
        )

    def decline_rematch(self) -> None:
        seated = self._seated()
        if seated is None:
            return
        game, document, seat = seated
        version, client = document.version, self.screen.client
        withdraw = rematch_stance(document, seat) == MINE
        self.screen.send(
            "rematch withdrawal" if withdraw else "rematch refusal",
            lambda token: client.decline_rematch(game.game_id, version, token),
            "Withdrawing the rematch offer" if withdraw else "Declining the rematch",
            success_notice=(
                "You withdrew your rematch offer."
                if withdraw
                else f"You declined {name_of(document, 1 - seat)}'s rematch offer."
            ),
        )

    def open_rematch(self) -> None:
        """Show the accepted rematch of the game shown: in the player's seat
        there (from the token store, else from memory, then kept), or as a
        watcher when the player holds none."""
        game = self.screen.state
        document = game.document if game is not None else None
        if game is None or document is None or document.rematch is None:
            return
        if document.rematch.state != "accepted":
            return
        new_id = document.rematch.game
        held: Seat | None = None
        error = ""
        if game.seat is not None:
            new_seat = 1 - game.seat
            found = self.store.find(self._cluster(), new_id, new_seat) if self.store else []
            kept = self.rematch_seats.get(game.game_id)
            if found:
                held = found[0]
            elif kept is not None and kept.game_id == new_id:
                held = kept.stored(self._cluster(), game.player, document.kind)
                error = self._remember(held)
        self.screen.open(new_id, held, None)
        if held is not None:
            notice = f"Rematch: you play {SEAT_NAMES[held.seat]} in this new game."
        elif game.seat is not None:
            notice = "You hold no seat in this rematch (its token is not here): watching it."
        else:
            notice = "Watching the rematch."
        self.screen.show_notice(error or notice, bool(error))

    def shown(self, before: GameDocument | None, after: GameDocument, seat: int | None) -> None:
        """The game shown went from ``before`` to ``after``: once its rematch
        was accepted, a seated player goes to the new game (the offerer from
        here; the accepter from its answer, or from here if that was lost).
        A game opened with its rematch accepted long ago stays shown."""
        if before is None or seat is None or after.rematch is None:
            return
        if rematch_stance(before, seat) == ACCEPTED or rematch_stance(after, seat) != ACCEPTED:
            return
        kept = self.rematch_seats.get(after.game_id)
        if after.rematch.by == seat or (kept is not None and kept.game_id == after.rematch.game):
            self.open_rematch()

    def _cluster(self) -> str:
        return self.screen.client.config.cluster_id

    def _remember(self, seat: Seat) -> str:
        """Keep ``seat`` in the token store; the reason it could not be, or ""."""
        if self.store is None:
            return ""
        try:
            self.store.add(seat)
        except OSError as error:
            return f"You have the seat in the rematch, but it could not be saved: {error}"
        return ""
