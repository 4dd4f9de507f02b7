"""What the user's words mean for a game: the seat to act for, whether
``draw`` offers or accepts, the seat ``join`` takes, a game id from a prefix;
and :class:`CliError`, the one-line failure every command reports.

Pure: decisions over a game document and the user's seats, no I/O, so
that unit tests check each refusal's message without a reactor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from game.client import boards
from game.client.document import GameDocument
from game.client.reports import PROG
from game.client.tokens import Seat


class CliError(Exception):
    """A failure to report as one line ``replgame: MESSAGE`` (with ``--json``,
    ``data`` is printed too)."""

    def __init__(self, message: str, data: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = dict(data or {})

    @property
    def tag(self) -> str | None:
        """The tag of the error the servers answered, if they answered one."""
        tag: str | None = self.data.get("error", {}).get("tag")
        return tag


def choose_seat(
    seats: Sequence[Seat],
    document: GameDocument,
    action: str,
    requested: int | None = None,
) -> Seat:
    """The seat the user acts for in a game.

    With one seat held, that one.  With both, the seat to move for ``move``
    and ``draw``, the other one for ``claim``; ``resign`` needs ``requested``.

    :raises CliError: the user holds no such seat, or the choice is ambiguous.
    """
    game_id = document.game_id
    if requested is not None:
        for seat in seats:
            if seat.seat == requested:
                return seat
        held = ", ".join(str(s.seat) for s in seats)
        hint = f" (you hold seat {held})" if held else ""
        raise CliError(f"you hold no seat {requested} in game {game_id}{hint}")
    if not seats:
        if document.status == "open":
            raise CliError(
                f"you hold no seat in game {game_id}; take the free one with "
                f"`{PROG} join {game_id} --as NAME`"
            )
        raise CliError(
            f"you hold no seat in game {game_id} (its players are "
            f"{boards.seat_label(document, 0)} and {boards.seat_label(document, 1)})"
        )
    if len(seats) == 1:
        return seats[0]
    if action in ("move", "draw"):
        to_move = document.to_move
        if to_move is None:
            raise CliError(f"game {game_id} is {document.status}; nobody is to move")
        for seat in seats:
            if seat.seat == to_move:
                return seat
    if action == "claim" and document.to_move is not None:
        for seat in seats:
            if seat.seat != document.to_move:
                return seat
    raise CliError(
        f"you hold both seats of game {game_id}; choose one with --seat 0 (black) or --seat 1 "
        "(white)"
    )


def draw_action(document: GameDocument, seat: int) -> str:
    """``offer`` or ``accept``: what ``replgame draw`` does for ``seat``.

    :raises CliError: the user's own offer already stands.
    """
    offer = document.draw_offer
    if offer is None:
        return "offer"
    if offer != seat:
        return "accept"
    opponent = boards.seat_label(document, 1 - seat)
    then = (
        f"play your move, then {opponent} may accept it"
        if document.to_move == seat
        else f"it is up to {opponent} to accept it"
    )
    raise CliError(f"your draw offer in game {document.game_id} already stands; {then}")


def claim_seat(seats: Sequence[Seat], document: GameDocument) -> Seat | None:
    """The seat ``watch`` claims for when the side to move runs out of time:
    the user's seat that is not to move (None: the user holds no seat)."""
    if len(seats) <= 1:
        return seats[0] if seats else None
    return next((seat for seat in seats if seat.seat != document.to_move), seats[0])


def check_claim(document: GameDocument, seat: int) -> None:
    """Refuse a claim that cannot be one, before anything is sent.

    :raises CliError: the game is untimed, not active, or it is ``seat``'s
        own clock that runs.
    """
    game_id = document.game_id
    if document.clock is None:
        raise CliError(f"game {game_id} is untimed: there is no clock to claim on")
    if document.status != "active":
        raise CliError(f"game {game_id} is {document.status}; only an active game's clock runs")
    if document.to_move == seat:
        raise CliError(
            f"it is your turn in game {game_id}: you can only claim on your opponent's clock"
        )


def free_seat(document: GameDocument) -> int:
    """The seat ``join`` takes: the free one of an open game.

    :raises CliError: the game is not open.
    """
    seat = document.free_seat
    if document.status != "open" or seat is None:
        raise CliError(
            f"game {document.game_id} is {document.status}, not open (its players are "
            f"{boards.seat_label(document, 0)} and {boards.seat_label(document, 1)})"
        )
    return seat


def resolve_game(game: str, seats: Sequence[Seat]) -> str:
    """A game id, completing a unique prefix of a game the user holds a seat in."""
    ids = {seat.game_id for seat in seats}
    if game in ids:
        return game
    matches = sorted(i for i in ids if i.startswith(game))
    return matches[0] if len(matches) == 1 else game
