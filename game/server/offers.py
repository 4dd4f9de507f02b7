"""Takebacks and rematches: who may offer, accept or decline, and what
accepting does (docs/protocol.md, "Takebacks and rematches").

Pure: each rule is decided from the few facts of a game it needs, passed
in, so that :mod:`game.server.gamelog` asks here in its place in the check
order, for a client's command and for a replayed event alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import attrs

from game import errors as wire
from game.server.events import (
    ACCEPT_REMATCH,
    ACCEPT_TAKEBACK,
    CREATE,
    DECLINE_REMATCH,
    JOIN,
    OFFER_REMATCH,
    OFFER_TAKEBACK,
    Event,
    json_string,
)

OFFERED: Final = "offered"
ACCEPTED: Final = "accepted"
DECLINED: Final = "declined"


@attrs.frozen
class RematchOffer:
    """A finished game's rematch offer: by which seat, the new game's id,
    and where it stands.  ``token`` (the token hash of the offerer's seat in
    the new game) is kept for the new game's create event, never shown."""

    by: int
    game: str
    token: str
    state: str = OFFERED

    def to_json(self) -> str:
        """The document's ``rematch`` field, as canonical JSON."""
        return f'{{"by":{self.by},"game":{json_string(self.game)},"state":"{self.state}"}}'

    def fields(self) -> dict[str, object]:
        """The ``rematch`` field as a dict (tests compare it with :meth:`to_json`)."""
        return {"by": self.by, "game": self.game, "state": self.state}


def decide_takeback(
    event_type: str,
    *,
    seat: int,
    token: str,
    status: str,
    timed: bool,
    standing: int | None,
    movers: Sequence[int],
) -> Event:
    """The takeback event a seat's command makes, after ``GAME_OVER``:
    ``TIMED_GAME``, ``NOT_YOUR_TURN``, ``TAKEBACK_PENDING``,
    ``NO_TAKEBACK_OFFER``, ``NOTHING_TO_TAKE_BACK``.

    :param standing: the seat whose takeback offer stands, if any.
    :param movers: the seat that made each move of the game, in order.
    :raises WireError: the command's error.
    """
    if timed:
        raise wire.TimedGame()
    if status == "open":
        raise wire.NotYourTurn("the game has not started")
    if event_type == OFFER_TAKEBACK:
        if standing is not None:
            raise wire.TakebackPending()
        if seat not in movers:
            raise wire.NothingToTakeBack()
    elif event_type == ACCEPT_TAKEBACK:
        if standing == seat:
            raise wire.NotYourTurn("the opponent accepts a takeback offer, not the offerer")
        if standing is None:
            raise wire.NoTakebackOffer()
    elif standing is None:
        raise wire.NoTakebackOffer()
    return Event(event_type, seat, token)


def moves_kept(movers: Sequence[int], offerer: int) -> int:
    """How many moves an accepted takeback keeps: those before the
    offerer's last move (which goes, with every move after it)."""
    for index in range(len(movers) - 1, -1, -1):
        if movers[index] == offerer:
            return index
    raise ValueError(f"seat {offerer} made no move")


def decide_rematch(
    event_type: str,
    *,
    seat: int,
    token: str,
    status: str,
    players: Sequence[str | None],
    standing: RematchOffer | None,
    rematch_id: str | None,
    new_seat_hash: Callable[[str, int], str],
    at: int | None,
    check_time: Callable[[], object],
) -> Event:
    """The rematch event a seat's command makes, in ``GAME_OVER``'s place:
    ``GAME_NOT_OVER``, ``NO_OPPONENT``, ``CLOCK_SKEW`` (accepting in a timed
    game, by ``check_time``), ``NOT_YOUR_TURN``, ``REMATCH_PENDING``,
    ``NO_REMATCH_OFFER``.  (``GAME_EXISTS``, last, is the replica's check:
    it knows the other games.)

    :param rematch_id: the new game's id an offer names.
    :param new_seat_hash: the token hash of the acting seat's seat in the
        new game, by new game id and seat.
    :param at: the request's time (an accept in a timed game only).
    :raises WireError: the command's error.
    """
    if status != "finished":
        raise wire.GameNotOver()
    if None in players:
        raise wire.NoOpponent()
    if event_type == ACCEPT_REMATCH:
        check_time()
    offered = standing is not None and standing.state == OFFERED
    if event_type == ACCEPT_REMATCH and offered and standing is not None and standing.by == seat:
        raise wire.NotYourTurn("the opponent accepts a rematch offer, not the offerer")
    if event_type == OFFER_REMATCH:
        if standing is not None and standing.state != DECLINED:
            raise wire.RematchPending()
        if rematch_id is None:
            raise wire.BadRequest("OfferRematch: rematch_id is required")
        return Event(
            OFFER_REMATCH,
            seat,
            token,
            rematch=rematch_id,
            rematch_token=new_seat_hash(rematch_id, 1 - seat),
        )
    if not offered or standing is None:
        raise wire.NoRematchOffer()
    if event_type == DECLINE_REMATCH:
        return Event(DECLINE_REMATCH, seat, token)
    return Event(
        ACCEPT_REMATCH,
        seat,
        token,
        at=at,
        rematch=standing.game,
        rematch_token=new_seat_hash(standing.game, 1 - seat),
    )


def rematch_events(
    old_id: str,
    kind: str,
    control: str,
    players: Sequence[str | None],
    offer: RematchOffer,
    accept: Event,
) -> tuple[Event, Event]:
    """The first two events of the game an accepted rematch creates: the
    offerer's creation (colours swapped, same kind and time control, linked
    to the old game by ``of``) and the accepter's join, at the accept's time."""
    offerer = offer.by
    accepter = 1 - offerer
    assert accept.rematch_token is not None
    create = Event(
        CREATE,
        1 - offerer,
        offer.token,
        kind=kind,
        player=players[offerer],
        clock=control or None,
        of=old_id,
    )
    join = Event(JOIN, 1 - accepter, accept.rematch_token, player=players[accepter], at=accept.at)
    return create, join


__all__ = [
    "ACCEPTED",
    "DECLINED",
    "OFFERED",
    "RematchOffer",
    "decide_rematch",
    "decide_takeback",
    "moves_kept",
    "rematch_events",
]
