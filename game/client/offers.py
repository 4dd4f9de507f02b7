"""Where a game's takeback and rematch offers stand for one seat, and the
seat a player takes in a rematch (docs/protocol.md, "Takebacks and
rematches").

Shared by ``replgame takeback`` / ``replgame rematch``
(:mod:`game.client.cli.offers`) and the desktop game's buttons
(:mod:`game.client_gui.offers_view`), so that both decide alike.  Pure
decisions over a :class:`~game.client.document.GameDocument`; only
:func:`rematch_seat` draws a fresh game id and token.
"""

from __future__ import annotations

import uuid
from typing import Final, Literal

import attrs

from game.client.document import GameDocument
from game.client.tokens import Seat, new_token

#: What a takeback or rematch command does for a seat.
OFFER: Final = "offer"
ACCEPT: Final = "accept"
DECLINE: Final = "decline"

#: Where an offer stands for a seat: none stands (it may offer), its own
#: stands (it may withdraw it), the opponent's stands (it may accept or
#: decline it), or (a rematch only) it was accepted.
Stance = Literal["none", "mine", "theirs", "accepted"]
NONE: Final = "none"
MINE: Final = "mine"
THEIRS: Final = "theirs"
ACCEPTED: Final = "accepted"


def takeback_by(document: GameDocument) -> int | None:
    """The seat whose takeback offer stands, if any."""
    return document.takeback


def rematch_by(document: GameDocument) -> int | None:
    """The seat whose rematch offer stands (not declined, not accepted), if any."""
    rematch = document.rematch
    return rematch.by if rematch is not None and rematch.state == "offered" else None


def _stance(offerer: int | None, seat: int | None) -> Stance:
    if offerer is None:
        return NONE
    return MINE if offerer == seat else THEIRS


def takeback_stance(document: GameDocument, seat: int | None) -> Stance:
    """Where the takeback offer stands for ``seat`` (None: a watcher, for
    whom any standing offer is ``theirs``)."""
    return _stance(takeback_by(document), seat)


def rematch_stance(document: GameDocument, seat: int | None) -> Stance:
    """Where the rematch offer stands for ``seat``: ``none`` also after a
    decline (either seat may offer again), ``accepted`` once it was."""
    rematch = document.rematch
    if rematch is not None and rematch.state == "accepted":
        return ACCEPTED
    return _stance(rematch_by(document), seat)


def takes_takebacks(document: GameDocument) -> bool:
    """Whether takebacks are possible in this game now: an untimed active game."""
    return document.clock is None and document.status == "active"


def has_moved(document: GameDocument, seat: int) -> bool:
    """Whether ``seat`` has a move on the board to take back
    (``NOTHING_TO_TAKE_BACK`` otherwise).

    The sides alternate in every kind (a Reversi pass is a move), so with
    two moves or more both sides have moved, and with one, the side not to
    move made it.
    """
    count = len(document.moves)
    if count >= 2:
        return True
    return count == 1 and document.to_move is not None and document.to_move != seat


def takes_rematches(document: GameDocument) -> bool:
    """Whether a rematch may be offered in this game: finished, with two
    players (``GAME_NOT_OVER``, ``NO_OPPONENT`` otherwise)."""
    return document.status == "finished" and None not in document.players


def moves_taken_back(before: GameDocument, after: GameDocument) -> int:
    """How many moves an accepted takeback undid between two documents of
    one game (0 when ``after``'s moves do not cut ``before``'s short)."""
    kept = len(after.moves)
    if kept < len(before.moves) and before.moves[:kept] == after.moves:
        return len(before.moves) - kept
    return 0


@attrs.frozen
class RematchSeat:
    """The seat a player takes in the rematch of a game: the new game's id,
    the other colour, and the player's fresh token there."""

    game_id: str
    seat: int
    token: str

    def stored(self, cluster: str, player: str, kind: str) -> Seat:
        """The seat as the token store keeps it."""
        return Seat(cluster, self.game_id, self.seat, player, self.token, kind)


def rematch_seat(
    document: GameDocument, seat: int, action: str, kept: RematchSeat | None = None
) -> RematchSeat:
    """The seat ``seat``'s player takes in the rematch it offers or accepts.

    An offer chooses the new game's id; an accept takes the standing
    offer's.  ``kept``, the seat chosen for an earlier try of the same
    request, keeps its token (and an offer its id), so that a repeated
    request is the same request.
    """
    token = kept.token if kept is not None else new_token()
    if action == ACCEPT:
        assert document.rematch is not None
        game_id = document.rematch.game
        if kept is not None and kept.game_id != game_id:
            token = new_token()
    else:
        game_id = kept.game_id if kept is not None else uuid.uuid4().hex
    return RematchSeat(game_id, 1 - seat, token)
