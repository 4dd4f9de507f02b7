"""What the player reads when the servers refuse a request or cannot be reached.

Shared by the lobby (:mod:`game.client_gui.lobby_controller`) and the game
screen (:mod:`game.client_gui.game_controller`).
"""

from __future__ import annotations

from typing import Final

from twisted.python.failure import Failure

from game.client.client import NoAnswer, NoServers, Outcome

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
