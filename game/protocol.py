# Twisted's AMP module has no annotations: calls into it are untyped, the rest is strict.
# mypy: untyped-calls-exclude=twisted.protocols.amp
"""Every AMP command of replgame, declared once for servers, clients and tests.

Client commands follow PROTOCOL.md exactly; peer commands (``Peer*``) are
ours and documented in ``docs/protocol.md``.  Arguments validate themselves
while parsing, and :class:`Command` turns any parsing failure into a
``BAD_REQUEST`` answer instead of stock AMP's dropped connection.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from twisted.protocols import amp

from game import errors as wire
from game.rules import KINDS
from game.timecontrol import InvalidTimeControl, parse_time_control

PROTOCOL_VERSION = 2
#: The largest ``at`` (ms since the epoch) accepted: 2^53, exact as a JSON number anywhere.
MAX_AT = 2**53
MAX_VERSION = 2**31 - 1
MAX_WATCHES = 100
#: Budget of one ``ListOf`` answer value (AMP's hard limit is 65,535 bytes).
LIST_BUDGET = 60_000
STATUSES = ("open", "active", "finished")

_GAME_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class InvalidArgument(ValueError):
    """An argument value outside what PROTOCOL.md allows."""


def check_game_id(value: str) -> str:
    if not _GAME_ID.fullmatch(value):
        raise InvalidArgument("game_id must be 1-64 characters from A-Z a-z 0-9 _ -")
    return value


def check_player(value: str) -> str:
    if not 1 <= len(value) <= 32:
        raise InvalidArgument("player must be 1-32 characters")
    if not value.isprintable():
        raise InvalidArgument("player must be printable characters")
    if value[0] == " " or value[-1] == " ":
        raise InvalidArgument("player must not start or end with a space")
    return value


_TOKEN = re.compile("[\x21-\x7e]{16,128}")


def check_token(value: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise InvalidArgument("token must be 16-128 ASCII characters from 0x21-0x7E")
    return value


def check_move(value: str) -> str:
    if len(value) > 64:
        raise InvalidArgument("move must be at most 64 characters")
    return value


def check_clock(value: str) -> str:
    """A time control's wire text (:mod:`game.timecontrol`); empty is checked by the caller."""
    try:
        parse_time_control(value)
    except InvalidTimeControl as error:
        raise InvalidArgument(str(error)) from None
    return value


def check_kind(value: str) -> str:
    if value not in KINDS:
        raise InvalidArgument(f"kind must be one of {', '.join(KINDS)}")
    return value


class CheckedUnicode(amp.Unicode):
    """A Unicode argument whose value is checked while parsing."""

    def __init__(self, check: Any, optional: bool = False, empty_ok: bool = False) -> None:
        super().__init__(optional=optional)  # type: ignore[no-untyped-call]
        self.check = check
        self.empty_ok = empty_ok

    def fromString(self, inString: bytes) -> str:
        value: str = super().fromString(inString)  # type: ignore[no-untyped-call]
        if value == "" and self.empty_ok:
            return value
        return str(self.check(value))


#: A decimal integer argument's bytes (compiled once: versions are parsed on every change).
_DECIMAL = re.compile(rb"-?[0-9]{1,20}")


class BoundedInteger(amp.Integer):
    """An Integer argument within ``[low, high]``."""

    def __init__(self, low: int, high: int, optional: bool = False) -> None:
        super().__init__(optional=optional)  # type: ignore[no-untyped-call]
        self.low = low
        self.high = high

    # amp.Integer's fromString is the int type itself, whose signature mypy compares.
    def fromString(self, inString: bytes) -> int:  # type: ignore[override]
        if not _DECIMAL.fullmatch(inString):
            raise InvalidArgument("not a decimal integer")
        value = int(inString)
        if not self.low <= value <= self.high:
            raise InvalidArgument(f"must be between {self.low} and {self.high}")
        return value


def _one_of(allowed: tuple[str, ...], what: str) -> Any:
    def check(value: str) -> str:
        if value not in allowed:
            raise InvalidArgument(f"{what} must be one of {', '.join(allowed)} or empty")
        return value

    return check


def _hex(length: int) -> Any:
    def check(value: str) -> str:
        if not re.fullmatch(f"[0-9a-f]{{{length}}}", value):
            raise InvalidArgument(f"expected {length} lowercase hex digits")
        return value

    return check


# Argument factories, named like the AMP types they build.
def GameId() -> CheckedUnicode:
    return CheckedUnicode(check_game_id)


def Version() -> BoundedInteger:
    return BoundedInteger(1, MAX_VERSION)


def Token() -> CheckedUnicode:
    return CheckedUnicode(check_token)


def Player() -> CheckedUnicode:
    return CheckedUnicode(check_player)


def At() -> BoundedInteger:
    """``at?``: when the player acted, ms since the epoch (version 2)."""
    return BoundedInteger(0, MAX_AT, optional=True)


def Hex64() -> CheckedUnicode:
    return CheckedUnicode(_hex(64))


class Command(amp.Command):
    """An AMP command whose malformed arguments answer ``BAD_REQUEST``.

    Stock AMP lets an exception from argument parsing escape, which closes
    the connection; PROTOCOL.md wants an error answer and an open connection.
    """

    errors: ClassVar[dict[type[Exception], bytes]] = dict(wire.COMMON_ERRORS)

    @classmethod
    def parseArguments(cls, box: amp.AmpBox, protocol: amp.AMP) -> dict[str, Any]:
        try:
            return dict(super().parseArguments(box, protocol))  # type: ignore[no-untyped-call]
        except Exception as error:
            raise amp.RemoteAmpError(
                wire.BadRequest.tag, _bad_request_description(cls, error)
            ) from error


def _bad_request_description(command: type[amp.Command], error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"{command.commandName.decode()}: missing argument {error.args[0]!r}"
    if isinstance(error, UnicodeDecodeError):
        return f"{command.commandName.decode()}: an argument is not valid UTF-8"
    if isinstance(error, InvalidArgument):
        return f"{command.commandName.decode()}: {error}"
    return f"{command.commandName.decode()}: malformed arguments"


def _errors(*extra: type[wire.WireError]) -> dict[type[Exception], bytes]:
    table = dict(wire.COMMON_ERRORS)
    table.update({error: error.tag for error in extra})
    return table


# -- client commands (PROTOCOL.md) ------------------------------------------------


class Status(Command):
    arguments: ClassVar[list[tuple[bytes, amp.Argument]]] = []
    response: ClassVar[list[tuple[bytes, amp.Argument]]] = [
        (b"server_id", amp.Integer()),
        (b"clock", amp.Integer()),
        (b"games", amp.Integer()),
        (b"serving", amp.Boolean()),
        (b"protocol", amp.Integer()),
        (b"digest", amp.Unicode()),
        # Version 2.  Optional here so that a client still reads a version 1
        # server's answer (None) during a rolling upgrade; servers always send it.
        (b"now", amp.Integer(optional=True)),
    ]
    errors = _errors()


_GAME_RESPONSE: list[tuple[bytes, amp.Argument]] = [(b"game", amp.Unicode())]


class CreateGame(Command):
    arguments = [
        (b"game_id", GameId()),
        (b"kind", CheckedUnicode(check_kind)),
        (b"player", Player()),
        (b"token", Token()),
        (b"seat", BoundedInteger(0, 1, optional=True)),
        (b"clock", CheckedUnicode(check_clock, optional=True, empty_ok=True)),
        (b"at", At()),
    ]
    response = _GAME_RESPONSE
    errors = _errors(wire.GameExists)


class JoinGame(Command):
    arguments = [
        (b"game_id", GameId()),
        (b"version", Version()),
        (b"player", Player()),
        (b"token", Token()),
        (b"at", At()),
    ]
    response = _GAME_RESPONSE
    errors = _errors(*wire.TIMED_COMMAND_ERRORS, wire.Flagged, wire.GameFull)


class MakeMove(Command):
    arguments = [
        (b"game_id", GameId()),
        (b"version", Version()),
        (b"move", CheckedUnicode(check_move)),
        (b"token", Token()),
        (b"at", At()),
    ]
    response = _GAME_RESPONSE
    errors = _errors(
        *wire.TIMED_COMMAND_ERRORS, wire.Flagged, wire.NotYourTurn, wire.IllegalMoveError
    )


_SEAT_ACTION_ARGUMENTS: list[tuple[bytes, amp.Argument]] = [
    (b"game_id", GameId()),
    (b"version", Version()),
    (b"token", Token()),
    (b"at", At()),
]


class Resign(Command):
    arguments = _SEAT_ACTION_ARGUMENTS
    response = _GAME_RESPONSE
    errors = _errors(*wire.TIMED_COMMAND_ERRORS, wire.Flagged)


class OfferDraw(Command):
    arguments = _SEAT_ACTION_ARGUMENTS
    response = _GAME_RESPONSE
    errors = _errors(*wire.TIMED_COMMAND_ERRORS, wire.Flagged, wire.NotYourTurn, wire.DrawPending)


class AcceptDraw(Command):
    arguments = _SEAT_ACTION_ARGUMENTS
    response = _GAME_RESPONSE
    errors = _errors(*wire.TIMED_COMMAND_ERRORS, wire.Flagged, wire.NotYourTurn, wire.NoDrawOffer)


class ClaimTimeout(Command):
    """Version 2: end a timed game whose side to move ran out of time.

    ``at`` is required here (as in every command on a timed game); on an
    untimed game the command answers ``BAD_REQUEST``.
    """

    arguments = [
        (b"game_id", GameId()),
        (b"version", Version()),
        (b"token", Token()),
        (b"at", BoundedInteger(0, MAX_AT)),
    ]
    response = _GAME_RESPONSE
    errors = _errors(*wire.TIMED_COMMAND_ERRORS, wire.TimeLeft)


# -- takebacks and rematches (docs/protocol.md) ---------------------------------------

_OFFER_ARGUMENTS: list[tuple[bytes, amp.Argument]] = [
    (b"game_id", GameId()),
    (b"version", Version()),
    (b"token", Token()),
]
_TAKEBACK_ERRORS = (*wire.GAME_COMMAND_ERRORS, wire.TimedGame, wire.NotYourTurn)
#: A rematch command's errors: GAME_NOT_OVER in GAME_OVER's place.
_REMATCH_ERRORS = (
    *(error for error in wire.GAME_COMMAND_ERRORS if error is not wire.GameIsOver),
    wire.GameNotOver,
    wire.NoOpponent,
)


class OfferTakeback(Command):
    """Ask to take back this seat's last move (and any reply to it); untimed games."""

    arguments = _OFFER_ARGUMENTS
    response = _GAME_RESPONSE
    errors = _errors(*_TAKEBACK_ERRORS, wire.TakebackPending, wire.NothingToTakeBack)


class AcceptTakeback(Command):
    arguments = _OFFER_ARGUMENTS
    response = _GAME_RESPONSE
    errors = _errors(*_TAKEBACK_ERRORS, wire.NoTakebackOffer)


class DeclineTakeback(Command):
    """Decline the opponent's takeback offer, or withdraw one's own."""

    arguments = _OFFER_ARGUMENTS
    response = _GAME_RESPONSE
    errors = _errors(*_TAKEBACK_ERRORS, wire.NoTakebackOffer)


class OfferRematch(Command):
    """Offer a finished game's opponent a rematch, colours swapped: the new
    game's id and the offerer's token for its seat there are chosen here."""

    arguments = [
        *_OFFER_ARGUMENTS,
        (b"rematch_id", GameId()),
        (b"rematch_token", Token()),
    ]
    response = _GAME_RESPONSE
    errors = _errors(*_REMATCH_ERRORS, wire.RematchPending, wire.GameExists)


class AcceptRematch(Command):
    """Accept the opponent's rematch offer; answers the new game."""

    arguments = [*_OFFER_ARGUMENTS, (b"rematch_token", Token()), (b"at", At())]
    response = _GAME_RESPONSE
    errors = _errors(
        *_REMATCH_ERRORS, wire.ClockSkew, wire.NotYourTurn, wire.NoRematchOffer, wire.GameExists
    )


class DeclineRematch(Command):
    """Decline the opponent's rematch offer, or withdraw one's own."""

    arguments = _OFFER_ARGUMENTS
    response = _GAME_RESPONSE
    errors = _errors(*_REMATCH_ERRORS, wire.NoRematchOffer)


class GetGame(Command):
    arguments = [(b"game_id", GameId())]
    response = _GAME_RESPONSE
    errors = _errors(wire.UnknownGame)


class SyncGame(Command):
    arguments = [(b"game_id", GameId())]
    response = _GAME_RESPONSE
    errors = _errors(wire.UnknownGame)


class ListGames(Command):
    arguments = [
        (b"status", CheckedUnicode(_one_of(STATUSES, "status"), optional=True, empty_ok=True)),
        (b"kind", CheckedUnicode(check_kind, optional=True, empty_ok=True)),
        (b"player", CheckedUnicode(check_player, optional=True, empty_ok=True)),
        (b"limit", BoundedInteger(1, 100, optional=True)),
        (b"after", CheckedUnicode(check_game_id, optional=True, empty_ok=True)),
    ]
    response = [(b"games", amp.ListOf(amp.Unicode())), (b"next", amp.Unicode())]
    errors = _errors()


class Watch(Command):
    arguments = [(b"game_id", GameId())]
    response = _GAME_RESPONSE
    errors = _errors(wire.UnknownGame)


class Unwatch(Command):
    arguments = [(b"game_id", GameId())]
    response: ClassVar[list[tuple[bytes, amp.Argument]]] = []
    errors = _errors()


class GameChanged(Command):
    """Server to client, after every durable change of a watched game."""

    arguments = [(b"game", amp.Unicode())]
    requiresAnswer = False


class ServerInfo(Command):
    """Ours (docs/protocol.md): what an operator sees of one server, in every
    state.  ``info`` is canonical JSON (:func:`canonical_info`); an older
    server answers ``UNHANDLED``."""

    arguments: ClassVar[list[tuple[bytes, amp.Argument]]] = []
    response: ClassVar[list[tuple[bytes, amp.Argument]]] = [(b"info", amp.Unicode())]
    errors: ClassVar[dict[type[Exception], bytes]] = {wire.Internal: wire.Internal.tag}


def canonical_info(info: dict[str, Any]) -> str:
    """``ServerInfo``'s ``info`` text, as the game document's: sorted keys,
    no spaces, UTF-8 left as it is."""
    return json.dumps(info, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class MoveClocks(Command):
    """Ours (docs/protocol.md): the clocks after each move of a game, for its
    record.  ``clocks`` is canonical JSON: the mover's time left in ms right
    after each of the document's ``moves``, ``[]`` for an untimed game; an
    older server answers ``UNHANDLED``."""

    arguments = [(b"game_id", GameId())]
    response: ClassVar[list[tuple[bytes, amp.Argument]]] = [(b"clocks", amp.Unicode())]
    errors = _errors(wire.UnknownGame)


CLIENT_COMMANDS: tuple[type[Command], ...] = (
    Status,
    ServerInfo,
    CreateGame,
    JoinGame,
    MakeMove,
    Resign,
    OfferDraw,
    AcceptDraw,
    ClaimTimeout,
    OfferTakeback,
    AcceptTakeback,
    DeclineTakeback,
    OfferRematch,
    AcceptRematch,
    DeclineRematch,
    GetGame,
    SyncGame,
    ListGames,
    Watch,
    Unwatch,
    MoveClocks,
)

# -- peer commands (docs/protocol.md) ---------------------------------------------


class PeerHello(Command):
    """Start of the mutual challenge-response: the caller's id and nonce.

    The answer carries the callee's id, its own nonce, and its proof that it
    knows the cluster secret (HMAC over both nonces and both ids).
    """

    arguments = [(b"server_id", BoundedInteger(1, 3)), (b"nonce", Hex64())]
    response = [
        (b"server_id", amp.Integer()),
        (b"nonce", amp.Unicode()),
        (b"proof", amp.Unicode()),
    ]
    errors = _errors(wire.PeerRefused)


class PeerProve(Command):
    """The caller's proof; once accepted, the connection may use peer commands."""

    arguments = [(b"proof", Hex64())]
    response: ClassVar[list[tuple[bytes, amp.Argument]]] = []
    errors = _errors(wire.PeerRefused)


class PeerStatus(Command):
    arguments: ClassVar[list[tuple[bytes, amp.Argument]]] = []
    response = [
        (b"server_id", amp.Integer()),
        (b"clock", amp.Integer()),
        (b"games", amp.Integer()),
        (b"serving", amp.Boolean()),
        (b"digest", amp.Unicode()),
        (b"tree", amp.Unicode()),
        (b"fresh", amp.Boolean()),
    ]
    errors = _errors(wire.NotPeer)


class PeerTree(Command):
    """Digests of the children of hash-prefix nodes (anti-entropy descent)."""

    arguments = [(b"prefixes", amp.ListOf(amp.Unicode()))]
    response = [(b"children", amp.ListOf(amp.Unicode()))]
    errors = _errors(wire.NotPeer)


class PeerBucket(Command):
    """The games under one leaf prefix: ``"id version head"`` lines."""

    arguments = [
        (b"prefix", amp.Unicode()),
        (b"after", CheckedUnicode(check_game_id, optional=True, empty_ok=True)),
    ]
    response = [(b"games", amp.ListOf(amp.Unicode())), (b"next", amp.Unicode())]
    errors = _errors(wire.NotPeer)


#: Leaf buckets one PeerBuckets may ask for.
MAX_BUCKETS = 256


class PeerBuckets(Command):
    """:class:`PeerBucket` for many leaf buckets in one round trip: the
    ``"id version head"`` lines of every game in the first ``answered``
    buckets asked, each bucket whole.  The caller asks again for the rest;
    ``answered`` 0 means the first bucket alone does not fit a page (read
    it with :class:`PeerBucket`)."""

    arguments = [(b"prefixes", amp.ListOf(amp.Unicode()))]
    response = [(b"games", amp.ListOf(amp.Unicode())), (b"answered", amp.Integer())]
    errors = _errors(wire.NotPeer)


class PeerEvents(Command):
    """Events of one game from ``since``, if the caller's head at ``since``
    matches this server's history; otherwise from the start (``start`` says
    which).  Paged: ``complete`` is false when more events follow."""

    arguments = [
        (b"game_id", GameId()),
        (b"since", BoundedInteger(0, MAX_VERSION)),
        (b"head", Hex64()),
    ]
    response = [
        (b"kind", amp.Unicode()),
        (b"version", amp.Integer()),
        (b"head", amp.Unicode()),
        (b"start", amp.Integer()),
        (b"events", amp.ListOf(amp.Unicode())),
        (b"complete", amp.Boolean()),
    ]
    errors = _errors(wire.NotPeer, wire.UnknownGame)


#: Games asked for in one :class:`PeerHistories` request.
MAX_HISTORIES = 100


class PeerHistories(Command):
    """:class:`PeerEvents` for many games in one round trip.

    ``games``: one ``"game_id since head"`` line per game (at most
    :data:`MAX_HISTORIES`).  The answer holds, in the order asked, one
    canonical JSON object per game: what :class:`PeerEvents` answers, with
    ``id``; ``{"id", "unknown": true}`` for a game this server lacks;
    ``{"id", "unavailable": true}`` for one it cannot send now (its copy is
    damaged).  As many as fit in one value: the caller asks again for the
    games left out.
    """

    arguments = [(b"games", amp.ListOf(amp.Unicode()))]
    response = [(b"games", amp.ListOf(amp.Unicode()))]
    errors = _errors(wire.NotPeer)


class PeerDump(Command):
    """Whole games in id order, for rebuilding an empty database.  A game too
    big for one page comes as ``{"id": ..., "more": true}``; fetch it with
    :class:`PeerEvents`."""

    arguments = [(b"after", CheckedUnicode(check_game_id, optional=True, empty_ok=True))]
    response = [(b"games", amp.ListOf(amp.Unicode())), (b"next", amp.Unicode())]
    errors = _errors(wire.NotPeer)


PEER_COMMANDS: tuple[type[Command], ...] = (
    PeerHello,
    PeerProve,
    PeerStatus,
    PeerTree,
    PeerBucket,
    PeerBuckets,
    PeerEvents,
    PeerHistories,
    PeerDump,
)
