"""The game screen's takebacks and rematches: the side panel's buttons and
the card of a standing offer, and what the player reads when an offer
comes, goes or is accepted.  Pure: scene primitives and texts from a game
document and the player's seat (no pyglet, no network).

What a seat may do follows :mod:`game.client.offers`, shared with
``replgame takeback`` and ``replgame rematch``: "Take back" in an untimed
active game (none at all in a timed one), "Rematch" once a game with two
players is over; a standing offer shows as a card, with "Accept ..." and
"Decline" for the opponent and "Withdraw" for the one who made it.
"""

from __future__ import annotations

from typing import Final

from game.client.document import GameDocument
from game.client.offers import (
    ACCEPTED,
    MINE,
    NONE,
    has_moved,
    moves_taken_back,
    rematch_stance,
    takeback_stance,
    takes_rematches,
    takes_takebacks,
)
from game.client_gui import palette as colour
from game.client_gui.boards import SEAT_NAMES
from game.client_gui.replay_view import Part
from game.client_gui.scene import Action, Box, Button, Label, Rect

#: The actions of the offers' buttons (the Xvfb tests click them by these names).
TAKEBACK: Final = "takeback"
ACCEPT_TAKEBACK: Final = "accept-takeback"
DECLINE_TAKEBACK: Final = "decline-takeback"
REMATCH: Final = "rematch"
ACCEPT_REMATCH: Final = "accept-rematch"
DECLINE_REMATCH: Final = "decline-rematch"
#: Open the accepted rematch (the new game) from the old one.
OPEN_REMATCH: Final = "open-rematch"

#: The card's text size (points) and the pixels between its lines.
CARD_TEXT: Final = 10
CARD_LINE: Final = 14
PADDING: Final = 6


def name_of(document: GameDocument, seat: int) -> str:
    """The player in ``seat`` by name (a free seat: ``black``, ``white``)."""
    return document.player(seat) or SEAT_NAMES[seat]


def _moves(count: int) -> str:
    return "1 move" if count == 1 else f"{count} moves"


# -- what the card says -------------------------------------------------------------------


def takeback_offer_text(document: GameDocument, seat: int | None) -> str:
    """The standing takeback offer as ``seat`` reads it (empty: none stands)."""
    offerer = document.takeback
    if offerer is None:
        return ""
    if offerer == seat:
        return "Take back offered \u2014 waiting"
    return f"{name_of(document, offerer)} asks to take back their last move"


def rematch_offer_text(document: GameDocument, seat: int | None) -> str:
    """The rematch as ``seat`` reads it: the opponent's offer and the colour
    the player would play, the player's own offer, or the accepted one."""
    rematch = document.rematch
    if rematch is None or rematch.state == "declined":
        return ""
    if rematch.state == "accepted":
        return f"Rematch accepted: game {rematch.game[:8]}"
    if rematch.by == seat:
        return "Rematch offered \u2014 waiting"
    offerer = name_of(document, rematch.by)
    if seat is None:
        return f"{offerer} offers {name_of(document, 1 - rematch.by)} a rematch"
    return f"{offerer} offers a rematch: you play {SEAT_NAMES[1 - seat]}"


def wrap(text: str, width: float, size: float) -> list[str]:
    """``text`` in lines of about ``width`` pixels at font ``size`` (points)."""
    room = max(8, int(width / (size * 0.62)))
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= room:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines


# -- the side panel ------------------------------------------------------------------------


def _button(action: str, rect: Rect, text: str, enabled: bool, accept: bool = False) -> Button:
    if not enabled:
        return Button(
            Action(action), rect, text, colour.BUTTON_DISABLED, colour.BUTTON_TEXT_DISABLED, False
        )
    fill = colour.BUTTON_ACCEPT if accept else colour.BUTTON
    return Button(Action(action), rect, text, fill, colour.BUTTON_TEXT)


#: A card's button: (action, text, is it the accepting one).
CardButton = tuple[str, str, bool]


def _card(
    text: str, choices: tuple[CardButton, ...], idle: bool, x: float, y: float, width: float
) -> Part:
    """Below ``y``: a box of :data:`~game.client_gui.palette.OFFER_CARD` with
    ``text`` and a full-width button per choice under it."""
    top = y - 8
    y = top - PADDING
    labels = []
    for line in wrap(text, width - 2 * PADDING, CARD_TEXT):
        y -= CARD_LINE
        labels.append(Label(line, x + PADDING, y, CARD_TEXT, colour.TEXT))
    y -= PADDING
    buttons = []
    for action, label, accept in choices:
        y -= 28
        rect = Rect(x + PADDING, y, width - 2 * PADDING, 28)
        buttons.append(_button(action, rect, label, idle, accept))
        y -= 4
    y -= PADDING - 4 if choices else 0
    box = Box(Rect(x, y, width, top - y), colour.OFFER_CARD)
    return Part(y, boxes=(box,), buttons=tuple(buttons), labels=tuple(labels))


def offer_panel(
    document: GameDocument, seat: int | None, idle: bool, x: float, y: float, width: float
) -> Part:
    """Below ``y``: the takeback or rematch part of the side panel.

    A seated player gets "Take back" (untimed active games; enabled once it
    has a move to take back) or "Rematch" (finished games with two players);
    a standing offer is a card with its answers; watchers see the card only.
    """
    if takes_takebacks(document):
        stance = takeback_stance(document, seat)
        text = takeback_offer_text(document, seat)
        if stance == NONE:
            if seat is None:
                return Part(y)
            y -= 38
            enabled = idle and has_moved(document, seat)
            return Part(
                y, buttons=(_button(TAKEBACK, Rect(x, y, width, 30), "Take back", enabled),)
            )
        if seat is None:
            return _card(text, (), idle, x, y, width)
        if stance == MINE:
            return _card(text, ((DECLINE_TAKEBACK, "Withdraw", False),), idle, x, y, width)
        choices = (
            (ACCEPT_TAKEBACK, "Accept take back", True),
            (DECLINE_TAKEBACK, "Decline", False),
        )
        return _card(text, choices, idle, x, y, width)
    if not takes_rematches(document):
        return Part(y)
    stance = rematch_stance(document, seat)
    text = rematch_offer_text(document, seat)
    if stance == NONE:
        if seat is None:
            return Part(y)
        y -= 38
        return Part(y, buttons=(_button(REMATCH, Rect(x, y, width, 30), "Rematch", idle),))
    if stance == ACCEPTED:
        verb = "Watch the rematch" if seat is None else "Go to rematch"
        return _card(text, ((OPEN_REMATCH, verb, True),), idle, x, y, width)
    if seat is None:
        return _card(text, (), idle, x, y, width)
    if stance == MINE:
        return _card(text, ((DECLINE_REMATCH, "Withdraw", False),), idle, x, y, width)
    choices = ((ACCEPT_REMATCH, "Accept rematch", True), (DECLINE_REMATCH, "Decline", False))
    return _card(text, choices, idle, x, y, width)


# -- what changed --------------------------------------------------------------------------


def offer_news(before: GameDocument, after: GameDocument, seat: int | None) -> str:
    """What the player reads when the game shown goes from ``before`` to
    ``after`` (a watched change, or the answer to the player's own request):
    an offer made, declined, withdrawn, or a takeback accepted.  Empty when
    no offer changed."""
    opponent = name_of(after, 1 - seat) if seat is not None else ""
    taken = moves_taken_back(before, after)
    if taken:
        offerer = before.takeback
        if offerer is None:
            return f"{_moves(taken)} taken back"
        if offerer == seat:
            return f"{opponent} accepted your takeback: {_moves(taken)} taken back"
        return f"{name_of(after, offerer)} took back {_moves(taken)}"
    offerer = before.takeback
    if offerer is None and after.takeback is not None and after.takeback != seat:
        return takeback_offer_text(after, seat)
    if offerer is not None and after.takeback is None and after.moves == before.moves:
        if after.status != before.status:
            return ""  # the game ended, which cleared the offer
        if seat is None:
            return f"{name_of(after, offerer)}'s takeback offer was withdrawn or declined"
        if offerer == seat:
            return f"{opponent} declined your takeback offer"
        return f"{opponent} withdrew their takeback offer"
    return _rematch_news(before, after, seat, opponent)


def _rematch_news(
    before: GameDocument, after: GameDocument, seat: int | None, opponent: str
) -> str:
    old, new = before.rematch, after.rematch
    if new is None or old == new:
        return ""
    if new.state == "offered" and new.by != seat:
        return rematch_offer_text(after, seat)
    if new.state == "declined" and old is not None and old.state == "offered":
        if seat is None:
            return f"{name_of(after, old.by)}'s rematch offer was withdrawn or declined"
        if old.by == seat:
            return f"{opponent} declined your rematch offer"
        return f"{opponent} withdrew their rematch offer"
    if new.state == "accepted":
        return rematch_offer_text(after, seat)
    return ""
