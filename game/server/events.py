"""A game's events and their canonical JSON (pure, no I/O).

An :class:`Event` is one state change of a game, stored, hashed and sent
to peers as canonical JSON; :meth:`Event.from_json` checks an event's shape
(whether it applies is the game log's check, :mod:`game.server.gamelog`).
The chain of hashes over a history (:func:`chain`) lets two replicas tell
in one comparison whether one history extends the other.
"""

from __future__ import annotations

import hashlib
import json
import json.encoder
import re
from collections.abc import Iterable, Sequence
from typing import Final

import attrs

from game.protocol import MAX_AT, check_clock, check_game_id, check_kind, check_move, check_player

CREATE: Final = "create"
JOIN: Final = "join"
MOVE: Final = "move"
RESIGN: Final = "resign"
OFFER_DRAW: Final = "offer_draw"
ACCEPT_DRAW: Final = "accept_draw"
#: ClaimTimeout's command type, and the timeout event's (protocol version 2).
TIMEOUT: Final = "timeout"
# Takebacks and rematches (docs/protocol.md, "Takebacks and rematches").
OFFER_TAKEBACK: Final = "offer_takeback"
ACCEPT_TAKEBACK: Final = "accept_takeback"
DECLINE_TAKEBACK: Final = "decline_takeback"
OFFER_REMATCH: Final = "offer_rematch"
ACCEPT_REMATCH: Final = "accept_rematch"
DECLINE_REMATCH: Final = "decline_rematch"
TAKEBACK_TYPES: Final = (OFFER_TAKEBACK, ACCEPT_TAKEBACK, DECLINE_TAKEBACK)
REMATCH_TYPES: Final = (OFFER_REMATCH, ACCEPT_REMATCH, DECLINE_REMATCH)
EVENT_TYPES: Final = (
    CREATE,
    JOIN,
    MOVE,
    RESIGN,
    OFFER_DRAW,
    ACCEPT_DRAW,
    TIMEOUT,
    *TAKEBACK_TYPES,
    *REMATCH_TYPES,
)

#: The head of an empty history.
EMPTY_HEAD: Final = bytes(32)


def _unencodable(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# json.dumps with these options builds a JSONEncoder on every call, which costs
# more than encoding a small document; the C encoder it ends up using is made
# once here instead (same options, same text).
_C_ENCODER: Final = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, _unencodable, json.encoder.encode_basestring, None, ":", ",", True, False, True
    )
    if json.encoder.c_make_encoder is not None  # type: ignore[attr-defined]
    else None
)


#: A string as canonical JSON writes it (ensure_ascii=False).
json_string: Final = json.encoder.encode_basestring


def int_or_null(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def players_json(players: Sequence[str | None]) -> str:
    if len(players) == 2:  # every game's (written on every change): no generator
        first, second = players
        return ("[null," if first is None else "[" + json_string(first) + ",") + (
            "null]" if second is None else json_string(second) + "]"
        )
    return "[" + ",".join("null" if p is None else json_string(p) for p in players) + "]"


def canonical_json(value: object) -> str:
    """The one JSON text of ``value`` that every replica produces: that of
    ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``."""
    if _C_ENCODER is None:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "".join(_C_ENCODER(value, 0))


def token_hash(game_id: str, seat: int, token: str) -> str:
    """What a server stores of a seat's token (PROTOCOL.md)."""
    return hashlib.sha256(f"{game_id}\0{seat}\0{token}".encode()).hexdigest()


def chain(head: bytes, event_json: str) -> bytes:
    """The head after appending one event to a history whose head is ``head``."""
    return hashlib.sha256(head + event_json.encode()).digest()


def head_of(events: Iterable[str]) -> bytes:
    """The head of a history: the hash chain over its event texts."""
    head = EMPTY_HEAD
    for text in events:
        head = chain(head, text)
    return head


class InvalidEvent(ValueError):
    """An event (from storage or a peer) that is malformed or cannot apply."""


@attrs.frozen
class Event:
    """One state change.  ``token`` is the acting seat's token hash.

    Timed games only (absent, so untimed events keep their version 1 bytes):
    ``at``, when the player acted (the timeout event: the deadline that ran
    out; its ``seat`` and ``token`` are the flagged seat's), and ``clock``,
    the time control of a create event.

    Rematches only: ``rematch``, the new game's id (offer and accept);
    ``rematch_token``, the token hash of the acting seat's seat in the new
    game (offer: the offerer's; accept: the accepter's); ``of``, in the
    create event of a rematch, the id of the game it is a rematch of.
    """

    type: str
    seat: int
    token: str
    kind: str | None = None
    player: str | None = None
    move: str | None = None
    at: int | None = None
    clock: str | None = None
    rematch: str | None = None
    rematch_token: str | None = None
    of: str | None = None

    def to_json(self) -> str:
        """The event's canonical JSON, written field by field in sorted key order
        (what :func:`canonical_json` makes of its fields; tests compare the two)."""
        parts = []
        if self.at is not None:
            parts.append(f'"at":{int(self.at)}')
        if self.clock is not None:
            parts.append('"clock":' + json_string(self.clock))
        if self.kind is not None:
            parts.append('"kind":' + json_string(self.kind))
        if self.move is not None:
            parts.append('"move":' + json_string(self.move))
        if self.of is not None:
            parts.append('"of":' + json_string(self.of))
        if self.player is not None:
            parts.append('"player":' + json_string(self.player))
        if self.rematch is not None:
            parts.append('"rematch":' + json_string(self.rematch))
        if self.rematch_token is not None:
            parts.append('"rematch_token":' + json_string(self.rematch_token))
        parts.append(
            f'"seat":{int(self.seat)},"token":{json_string(self.token)},'
            f'"type":{json_string(self.type)}'
        )
        return "{" + ",".join(parts) + "}"

    @classmethod
    def from_json(cls, text: str) -> Event:
        """Parse and check one event's shape (not whether it applies).

        :raises InvalidEvent: the text is not a well-formed event.
        """
        if not isinstance(text, str):
            raise InvalidEvent("an event is a JSON text")
        try:
            fields = json.loads(text)
        except (ValueError, RecursionError) as error:
            raise InvalidEvent(f"not JSON: {error}") from None
        if not isinstance(fields, dict) or fields.get("type") not in EVENT_TYPES:
            raise InvalidEvent("an event is a JSON object with a known type")
        expected = {"type", "seat", "token", *_EXTRA_FIELDS.get(fields["type"], ())}
        # Optional fields (which events must carry them is the replay's check).
        expected |= _OPTIONAL_FIELDS.get(fields["type"], _TIME_ONLY) & fields.keys()
        if set(fields) != expected:
            raise InvalidEvent(f"event fields {sorted(fields)} are not {sorted(expected)}")
        event_type, seat, token = fields["type"], fields["seat"], fields["token"]
        if event_type not in EVENT_TYPES or seat not in (0, 1) or type(seat) is not int:
            raise InvalidEvent("bad event type or seat")
        for name in ("token", "rematch_token"):
            value = fields.get(name, "0" * 64)
            if not isinstance(value, str) or not _HEX64.fullmatch(value):
                raise InvalidEvent(f"bad {name.replace('_', ' ')} hash")
        try:
            if "kind" in fields:
                check_kind(_text(fields["kind"]))
            if "player" in fields:
                check_player(_text(fields["player"]))
            if "move" in fields:
                check_move(_text(fields["move"]))
            if "clock" in fields:
                check_clock(_text(fields["clock"]))
            for name in ("rematch", "of"):
                if name in fields:
                    check_game_id(_text(fields[name]))
        except ValueError as error:
            raise InvalidEvent(str(error)) from None
        at = fields.get("at")
        if at is not None and (type(at) is not int or not 0 <= at <= MAX_AT):
            raise InvalidEvent("bad event time")
        event = cls(
            event_type,
            seat,
            token,
            fields.get("kind"),
            fields.get("player"),
            fields.get("move"),
            at,
            fields.get("clock"),
            fields.get("rematch"),
            fields.get("rematch_token"),
            fields.get("of"),
        )
        if event.to_json() != text:
            raise InvalidEvent("event is not in canonical form")
        return event


_EXTRA_FIELDS: Final[dict[object, tuple[str, ...]]] = {
    CREATE: ("kind", "player"),
    JOIN: ("player",),
    MOVE: ("move",),
    OFFER_REMATCH: ("rematch", "rematch_token"),
    ACCEPT_REMATCH: ("rematch", "rematch_token"),
}
#: Fields an event may carry (every other type: ``at``, in timed games).
_TIME_ONLY: Final = frozenset({"at"})
_OPTIONAL_FIELDS: Final[dict[object, frozenset[str]]] = {
    CREATE: frozenset({"at", "clock", "of"}),
    # Takebacks are for untimed games; a rematch offer or its refusal comes
    # after the game's clock stopped.
    **{event_type: frozenset() for event_type in (*TAKEBACK_TYPES, OFFER_REMATCH, DECLINE_REMATCH)},
}

_HEX64: Final = re.compile("[0-9a-f]{64}")


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidEvent("expected a string")
    return value
