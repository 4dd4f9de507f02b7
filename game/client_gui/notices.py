"""What the player reads when the servers refuse a request or cannot be reached.

Shared by the lobby (:mod:`game.client_gui.lobby_controller`) and the game
screen (:mod:`game.client_gui.game_controller`).  The refusals of takebacks
and rematches say in the player's words what happened and what to do
(:data:`OFFER_REFUSALS`), in place of the servers' terse description.
"""

from __future__ import annotations

from typing import Final

from twisted.python.failure import Failure

from game.client.client import NoAnswer, NoServers, Outcome

#: Tags after which the client re-reads the game with SyncGame.
RESYNC_TAGS: Final = ("STALE_VERSION", "BEHIND")

#: The takeback and rematch errors (docs/protocol.md): what each means, and
#: what the player can do about it.
OFFER_REFUSALS: Final[dict[str, str]] = {
    "TIMED_GAME": "a timed game allows no takebacks; play on, or offer a draw",
    "NOTHING_TO_TAKE_BACK": (
        "you have made no move in this game yet, so there is nothing to take back"
    ),
    "TAKEBACK_PENDING": (
        "a takeback offer already stands; wait for the answer, or accept or decline it"
    ),
    "NO_TAKEBACK_OFFER": (
        "that takeback offer no longer stands (it was withdrawn, declined or cleared by a move)"
    ),
    "GAME_NOT_OVER": "a rematch can be offered only once this game is over; finish it first",
    "NO_OPPONENT": "nobody joined this game, so there is nobody to play a rematch with",
    "REMATCH_PENDING": (
        "a rematch offer already stands or was accepted; answer it, or wait for the answer"
    ),
    "NO_REMATCH_OFFER": (
        "that rematch offer no longer stands (it was withdrawn or declined); you may offer one"
    ),
}


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
    tag = error.tag.decode()
    meaning = OFFER_REFUSALS.get(tag, error.description)
    text = f"{what} refused by the servers: {tag} ({meaning})"
    if outcome.provisional:
        text += " [provisional: one server only]"
    return text
