"""``replgame takeback GAME`` and ``replgame rematch GAME``: offer, or
accept the opponent's standing offer; ``--decline`` declines it (or
withdraws one's own).  The wire side is docs/protocol.md's "Takebacks and
rematches".

What a command does for a seat is decided from the game as read
(:func:`takeback_action`, :func:`rematch_action`, pure, over where the offer
stands: :mod:`game.client.offers`, shared with the GUI); a stale read is
read again once, as the other commands do.  A rematch offer chooses the
new game's id and the user's token for its seat there; offering and
accepting both keep that seat in the token store, so ``move`` finds it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from twisted.internet.defer import Deferred

from game.client import boards
from game.client.cli.choices import CliError, choose_seat
from game.client.cli.session import Session, act
from game.client.client import Outcome
from game.client.document import GameDocument
from game.client.offers import (
    ACCEPT,
    ACCEPTED,
    DECLINE,
    NONE,
    OFFER,
    THEIRS,
    RematchSeat,
    rematch_by,
    rematch_seat,
    rematch_stance,
    takeback_by,
    takeback_stance,
)
from game.client.reports import PROG
from game.client.tokens import Seat


def add_offer_commands(
    command: Callable[[str, str, str], argparse.ArgumentParser],
    game_id: Callable[[str], str],
    seat: Callable[[str], int],
) -> None:
    """Add ``takeback`` and ``rematch`` to ``replgame``'s parser.

    :param command: makes one subcommand's parser (name, help, description).
    :param game_id: the GAME argument's type; ``seat`` the ``--seat`` one's.
    """
    for name, help, description in (
        (
            "takeback",
            "ask to take back your last move, or accept the opponent's request",
            "In an untimed game, offer to take back your last move (and the reply to it, "
            "if there is one); it stands until your opponent accepts or declines it, or "
            "a move is made.  If your opponent's request stands, accept it.",
        ),
        (
            "rematch",
            "offer a finished game's opponent a rematch, or accept theirs",
            "Once a game is over, offer your opponent a rematch with colours swapped; if "
            "their offer stands, accept it: the new game starts with both of you seated.",
        ),
    ):
        sub = command(name, help, description)
        sub.add_argument("game", metavar="GAME", type=game_id, help="the game id")
        sub.add_argument(
            "--decline",
            action="store_true",
            help="decline the opponent's offer (or withdraw your own)",
        )
        sub.add_argument("--seat", type=seat, help="the seat to act for, if you hold both")


def takeback_action(document: GameDocument, seat: int, decline: bool) -> str:
    """``offer``, ``accept`` or ``decline``: what ``replgame takeback`` does for ``seat``.

    :raises CliError: there is nothing to do (no offer to decline, or the
        user's own offer already stands).
    """
    stance = takeback_stance(document, seat)
    game_id = document.game_id
    if decline:
        if stance == NONE:
            raise CliError(f"no takeback offer stands in game {game_id}")
        return DECLINE
    if stance == NONE:
        return OFFER
    if stance == THEIRS:
        return ACCEPT
    raise CliError(
        f"your takeback offer in game {game_id} already stands; it is up to "
        f"{boards.seat_label(document, 1 - seat)} to accept it "
        f"(or withdraw it: `{PROG} takeback {game_id} --decline`)"
    )


def rematch_action(document: GameDocument, seat: int, decline: bool) -> str:
    """``offer``, ``accept`` or ``decline``: what ``replgame rematch`` does for ``seat``.

    :raises CliError: there is nothing to do.
    """
    stance = rematch_stance(document, seat)
    game_id = document.game_id
    if decline:
        if stance in (NONE, ACCEPTED):
            raise CliError(f"no rematch offer stands in game {game_id}")
        return DECLINE
    if stance == NONE:
        return OFFER
    if stance == ACCEPTED:
        assert document.rematch is not None
        raise CliError(
            f"the rematch of game {game_id} was accepted: it is game {document.rematch.game}"
        )
    if stance == THEIRS:
        return ACCEPT
    raise CliError(
        f"your rematch offer in game {game_id} already stands; it is up to "
        f"{boards.seat_label(document, 1 - seat)} to accept it "
        f"(or withdraw it: `{PROG} rematch {game_id} --decline`)"
    )


def acting_seat(
    seats: Sequence[Seat], document: GameDocument, offer: int | None, requested: int | None
) -> Seat:
    """The user's seat that acts: with both held (a game against oneself),
    the one that did not make the standing offer (``offer``), else seat 0."""
    if requested is None and len(seats) == 2:
        wanted = 0 if offer is None else 1 - offer
        return next(seat for seat in seats if seat.seat == wanted)
    return choose_seat(seats, document, "offer", requested)


def takeback_text(action: str, document: GameDocument, player: str, seat: int) -> str:
    """What ``replgame takeback`` did; ``document`` is the game as read before."""
    who = f"{player} ({boards.COLOURS[seat]})"
    opponent = boards.seat_label(document, 1 - seat)
    if action == ACCEPT:
        return f"{who} accepted the takeback: the taken-back moves are undone\n"
    if action == DECLINE:
        if document.takeback == seat:
            return f"{who} withdrew the takeback offer\n"
        return f"{who} declined the takeback offer\n"
    return (
        f"{who} asked to take back their last move; it stands until {opponent} accepts it "
        f"(`{PROG} takeback {document.game_id}`), declines it, or a move is made\n"
    )


def rematch_text(
    action: str, document: GameDocument, player: str, seat: int, new_game: str | None
) -> str:
    """What ``replgame rematch`` did; ``document`` is the old game as read before."""
    who = f"{player} ({boards.COLOURS[seat]})"
    opponent = boards.seat_label(document, 1 - seat)
    if action == ACCEPT:
        return (
            f"{who} accepted the rematch: new game {new_game}, "
            f"{player} plays {boards.COLOURS[1 - seat]} (seat {1 - seat})\n"
        )
    if action == DECLINE:
        offer = document.rematch
        if offer is not None and offer.by == seat:
            return f"{who} withdrew the rematch offer\n"
        return f"{who} declined the rematch offer\n"
    return (
        f"{who} offered a rematch as new game {new_game} ({player} would play "
        f"{boards.COLOURS[1 - seat]}); it stands until {opponent} accepts it "
        f"(`{PROG} rematch {document.game_id}`) or declines it\n"
    )


def _chooser(
    standing: Callable[[GameDocument], int | None],
) -> Callable[[Sequence[Seat], GameDocument, int | None], Seat]:
    """Picks the seat that answers (or makes) the standing offer."""
    return lambda seats, document, requested: acting_seat(
        seats, document, standing(document), requested
    )


async def cmd_takeback(session: Session) -> None:
    client = session.client
    chosen: dict[str, str] = {}

    def send(document: GameDocument, seat: Seat) -> Deferred[Outcome]:
        action = chosen["action"] = takeback_action(document, seat.seat, session.args.decline)
        sender = {
            OFFER: client.offer_takeback,
            ACCEPT: client.accept_takeback,
            DECLINE: client.decline_takeback,
        }[action]
        return sender(document.game_id, document.version, seat.token)

    outcome, seat, document = await act(session, "takeback", send, _chooser(takeback_by))
    action = chosen["action"]
    session.show_outcome(
        outcome,
        takeback_text(action, document, seat.player, seat.seat),
        {"seat": seat.seat, "action": action},
    )


async def cmd_rematch(session: Session) -> None:
    client = session.client
    chosen: dict[str, Any] = {}

    def send(document: GameDocument, seat: Seat) -> Deferred[Outcome]:
        action = chosen["action"] = rematch_action(document, seat.seat, session.args.decline)
        game_id, version = document.game_id, document.version
        if action == DECLINE:
            return client.decline_rematch(game_id, version, seat.token)
        # Kept across a retry, so that a repeated request is the same request.
        new = chosen["new"] = rematch_seat(document, seat.seat, action, chosen.get("new"))
        if action == ACCEPT:
            return client.accept_rematch(game_id, version, seat.token, new.token)
        return client.offer_rematch(game_id, version, seat.token, new.game_id, new.token)

    outcome, seat, document = await act(session, "rematch", send, _chooser(rematch_by))
    action = chosen["action"]
    new: RematchSeat | None = chosen.get("new") if action != DECLINE else None
    new_game = new.game_id if new is not None else None
    extra: dict[str, Any] = {"seat": seat.seat, "action": action}
    if new is not None:
        session.remember(new.stored(session.cluster, seat.player, document.kind))
        extra.update(rematch_game=new.game_id, rematch_seat=new.seat)
    text = rematch_text(action, document, seat.player, seat.seat, new_game)
    session.show_outcome(outcome, text, extra)
