"""Errors a client or a peer can see on the wire.

Each error is an exception carrying its AMP error code (``tag``) and built
from one string, the short sentence sent as the error description; AMP
rebuilds the same class on the calling side from the tag.
"""

from __future__ import annotations

from typing import ClassVar


class WireError(Exception):
    """An error answered to a command; ``tag`` is its AMP error code."""

    tag: ClassVar[bytes] = b""

    def __init__(self, description: str = "") -> None:
        super().__init__(description or self.default)

    default: ClassVar[str] = ""

    @property
    def description(self) -> str:
        return str(self.args[0])


class BadRequest(WireError):
    tag = b"BAD_REQUEST"
    default = "malformed request"


class NotServing(WireError):
    tag = b"NOT_SERVING"
    default = "this server is catching up and does not serve clients yet"


class Internal(WireError):
    tag = b"INTERNAL"
    default = "internal server error"


class GameExists(WireError):
    tag = b"GAME_EXISTS"
    default = "a different game with this id exists"


class UnknownGame(WireError):
    tag = b"UNKNOWN_GAME"
    default = "no such game"


class StaleVersion(WireError):
    tag = b"STALE_VERSION"
    default = "version is older than the game's"

    @classmethod
    def at(cls, current: int) -> StaleVersion:
        return cls(f"current version {current}")


class Behind(WireError):
    tag = b"BEHIND"
    default = "this server does not hold that version yet"


class BadToken(WireError):
    tag = b"BAD_TOKEN"
    default = "the token does not hold a seat in this game"


class GameIsOver(WireError):
    tag = b"GAME_OVER"
    default = "the game is over"


class GameFull(WireError):
    tag = b"GAME_FULL"
    default = "both seats are taken"


class NotYourTurn(WireError):
    tag = b"NOT_YOUR_TURN"
    default = "it is not this seat's turn"


class DrawPending(WireError):
    tag = b"DRAW_PENDING"
    default = "a draw offer already stands"


class NoDrawOffer(WireError):
    tag = b"NO_DRAW_OFFER"
    default = "there is no draw offer to accept"


class IllegalMoveError(WireError):
    tag = b"ILLEGAL_MOVE"
    default = "not a legal move in this position"


# Time controls (protocol version 2).


class ClockSkew(WireError):
    tag = b"CLOCK_SKEW"
    default = "the request's time is too far from the server's clock"


class Flagged(WireError):
    tag = b"FLAGGED"
    default = "the side to move has run out of time"

    @classmethod
    def at(cls, deadline: int) -> Flagged:
        """The description PROTOCOL.md fixes: ``time ran out at D`` (ms)."""
        return cls(f"time ran out at {deadline}")


class TimeLeft(WireError):
    tag = b"TIME_LEFT"
    default = "the side to move still has time"


# Takebacks and rematches (docs/protocol.md, "Takebacks and rematches").


class TimedGame(WireError):
    tag = b"TIMED_GAME"
    default = "takebacks are for untimed games"


class NothingToTakeBack(WireError):
    tag = b"NOTHING_TO_TAKE_BACK"
    default = "this seat has made no move in this game"


class TakebackPending(WireError):
    tag = b"TAKEBACK_PENDING"
    default = "a takeback offer already stands"


class NoTakebackOffer(WireError):
    tag = b"NO_TAKEBACK_OFFER"
    default = "there is no takeback offer to accept or decline"


class GameNotOver(WireError):
    tag = b"GAME_NOT_OVER"
    default = "a rematch is offered once the game is over"


class NoOpponent(WireError):
    tag = b"NO_OPPONENT"
    default = "this game had no opponent (it was cancelled)"


class RematchPending(WireError):
    tag = b"REMATCH_PENDING"
    default = "a rematch offer already stands or was accepted"


class NoRematchOffer(WireError):
    tag = b"NO_REMATCH_OFFER"
    default = "there is no rematch offer to accept or decline"


# Peer-only errors.


class PeerRefused(WireError):
    tag = b"PEER_REFUSED"
    default = "peer authentication failed"


class NotPeer(WireError):
    tag = b"NOT_PEER"
    default = "peer commands need an authenticated peer connection"


#: What every command may answer besides its own errors.
COMMON_ERRORS: dict[type[Exception], bytes] = {
    BadRequest: BadRequest.tag,
    NotServing: NotServing.tag,
    Internal: Internal.tag,
}

GAME_COMMAND_ERRORS: tuple[type[WireError], ...] = (
    UnknownGame,
    StaleVersion,
    Behind,
    BadToken,
    GameIsOver,
)

#: What a command on a timed game may answer besides those (version 2).
TIMED_COMMAND_ERRORS: tuple[type[WireError], ...] = (*GAME_COMMAND_ERRORS, ClockSkew)

ALL_ERRORS: tuple[type[WireError], ...] = (
    BadRequest,
    NotServing,
    Internal,
    GameExists,
    UnknownGame,
    StaleVersion,
    Behind,
    BadToken,
    GameIsOver,
    GameFull,
    NotYourTurn,
    DrawPending,
    NoDrawOffer,
    IllegalMoveError,
    ClockSkew,
    Flagged,
    TimeLeft,
    TimedGame,
    NothingToTakeBack,
    TakebackPending,
    NoTakebackOffer,
    GameNotOver,
    NoOpponent,
    RematchPending,
    NoRematchOffer,
    PeerRefused,
    NotPeer,
)

BY_TAG: dict[bytes, type[WireError]] = {error.tag: error for error in ALL_ERRORS}
