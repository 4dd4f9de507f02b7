"""The game document of PROTOCOL.md, parsed once into a typed, frozen value.

Servers answer a game as canonical JSON text ("The game document" in
PROTOCOL.md); :meth:`GameDocument.from_json` reads it into a
:class:`GameDocument` that the client, the bots and the GUI read by
attribute.  The text itself stays where answers are compared: two servers
agree when their texts are identical byte for byte, so majority votes
(:mod:`game.client.majority`) never compare parsed values.

Fields a later protocol version adds are ignored, as AMP ignores unknown
keys; version 2's optional ``clock`` is read when present, and so are the
offers' ``takeback``, ``rematch`` and ``rematch_of`` (docs/protocol.md).  A document that
lacks a field of version 1, or holds a value of the wrong type, is refused
with :class:`DocumentError` naming the field.  ``ListGames`` summaries are
read the same way into :class:`GameSummary`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, Literal, TypeGuard, cast

import attrs

Status = Literal["open", "active", "finished"]
STATUSES: Final[tuple[Status, ...]] = ("open", "active", "finished")
#: The reason of a game that ended before it began (its creator resigned).
CANCELLED: Final = "cancelled"


class DocumentError(ValueError):
    """A game document or summary that does not follow PROTOCOL.md."""


@attrs.frozen
class Result:
    """How a game ended: ``winner`` is the winning seat, None for a draw
    (or a cancelled game); ``reason`` is PROTOCOL.md's ``R``."""

    winner: int | None
    reason: str

    @property
    def cancelled(self) -> bool:
        return self.reason == CANCELLED


@attrs.frozen
class Clock:
    """A timed game's clock (protocol version 2): each seat's time left as
    of ``at``, and when the side to move runs out; ``at`` and ``deadline``
    are None until the game is active and after it ends."""

    control: str
    remaining: tuple[int, int]
    at: int | None
    deadline: int | None


@attrs.frozen
class Rematch:
    """A finished game's rematch offer (docs/protocol.md): by which seat,
    the new game's id, and ``state``: ``offered``, ``accepted`` or ``declined``."""

    by: int
    game: str
    state: str


@attrs.frozen
class GameDocument:
    """One game as a server answered it (PROTOCOL.md, "The game document")."""

    game_id: str
    kind: str
    version: int
    status: Status
    players: tuple[str | None, str | None]
    to_move: int | None
    moves: tuple[str, ...]
    position: str
    legal: tuple[str, ...]
    draw_offer: int | None
    result: Result | None
    clock: Clock | None = None
    #: The seat whose takeback offer stands (absent from the text when none).
    takeback: int | None = None
    #: This finished game's rematch offer, if one was made.
    rematch: Rematch | None = None
    #: The game this one is a rematch of.
    rematch_of: str | None = None

    @classmethod
    def from_json(cls, text: str | bytes) -> GameDocument:
        """Parse a ``game`` value.

        :raises DocumentError: not JSON, or not a game document.
        """
        return cls.from_mapping(_load(text, "game document"))

    @classmethod
    def from_mapping(cls, fields: Mapping[str, Any]) -> GameDocument:
        """Read the parsed JSON object of a game document.

        :raises DocumentError: a field is missing or of the wrong type.
        """
        read = _Reader(fields, "game document")
        result = read.optional_object("result")
        clock = read.optional_object("clock", may_be_absent=True)
        rematch = read.optional_object("rematch", may_be_absent=True)
        return cls(
            game_id=read.text("id"),
            kind=read.text("kind"),
            version=read.integer("version", minimum=1),
            status=read.status(),
            players=read.players(),
            to_move=read.seat("to_move"),
            moves=read.texts("moves"),
            position=read.text("position", empty=True),
            legal=read.texts("legal"),
            draw_offer=read.seat("draw_offer"),
            result=None if result is None else _result(result),
            clock=None if clock is None else _clock(clock),
            takeback=read.seat("takeback") if "takeback" in fields else None,
            rematch=None if rematch is None else _rematch(rematch),
            rematch_of=read.text("rematch_of") if "rematch_of" in fields else None,
        )

    def to_mapping(self) -> dict[str, Any]:
        """The JSON object of this document (``clock`` only when timed)."""
        fields: dict[str, Any] = {
            "id": self.game_id,
            "kind": self.kind,
            "version": self.version,
            "status": self.status,
            "players": list(self.players),
            "to_move": self.to_move,
            "moves": list(self.moves),
            "position": self.position,
            "legal": list(self.legal),
            "draw_offer": self.draw_offer,
            "result": None if self.result is None else attrs.asdict(self.result),
        }
        if self.clock is not None:
            clock = attrs.asdict(self.clock)
            clock["remaining"] = list(self.clock.remaining)
            fields["clock"] = clock
        # The offers' fields only when set, as a server writes them.
        if self.takeback is not None:
            fields["takeback"] = self.takeback
        if self.rematch is not None:
            fields["rematch"] = attrs.asdict(self.rematch)
        if self.rematch_of is not None:
            fields["rematch_of"] = self.rematch_of
        return fields

    def to_json(self) -> str:
        """The canonical JSON text, as a server writes it."""
        return canonical_json(self.to_mapping())

    def player(self, seat: int) -> str | None:
        """The name in ``seat``, None while it is free."""
        return self.players[seat]

    @property
    def free_seat(self) -> int | None:
        """The seat nobody holds yet, if any (seat 0 first)."""
        return next((seat for seat, name in enumerate(self.players) if name is None), None)

    @property
    def last_move(self) -> str | None:
        return self.moves[-1] if self.moves else None

    def my_turn(self, seat: int | None) -> bool:
        """Whether ``seat`` (None: a watcher) is to move in an active game."""
        return seat is not None and self.status == "active" and self.to_move == seat


@attrs.frozen
class GameSummary:
    """One game of a ``ListGames`` page: ``{"id","kind","status","players","version"}``
    (and version 2's ``clock``, the control of a timed game)."""

    game_id: str
    kind: str
    status: Status
    players: tuple[str | None, str | None]
    version: int
    clock: str | None = None

    @classmethod
    def from_json(cls, text: str | bytes) -> GameSummary:
        """:raises DocumentError: not JSON, or not a game summary."""
        return cls.from_mapping(_load(text, "game summary"))

    @classmethod
    def from_mapping(cls, fields: Mapping[str, Any]) -> GameSummary:
        """:raises DocumentError: a field is missing or of the wrong type."""
        read = _Reader(fields, "game summary")
        clock = fields.get("clock")
        return cls(
            game_id=read.text("id"),
            kind=read.text("kind"),
            status=read.status(),
            players=read.players(),
            version=read.integer("version", minimum=1),
            clock=None if clock is None else read.text("clock"),
        )


def canonical_json(value: object) -> str:
    """PROTOCOL.md's canonical JSON text of ``value``."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# -- reading -------------------------------------------------------------------------


def _load(text: str | bytes, what: str) -> Mapping[str, Any]:
    try:
        fields = json.loads(text)
    except ValueError as error:  # UnicodeDecodeError is one too
        raise DocumentError(f"{what} is not JSON: {error}") from None
    if not isinstance(fields, dict):
        raise DocumentError(f"{what} is not a JSON object: {text[:60]!r}")
    return fields


def _is_integer(value: object) -> TypeGuard[int]:
    # JSON true and false are Python bools, which are ints too.
    return isinstance(value, int) and not isinstance(value, bool)


@attrs.frozen
class _Reader:
    """Typed reads of one JSON object's fields, each refusal naming its field."""

    fields: Mapping[str, Any]
    what: str

    def _get(self, name: str) -> Any:
        if name not in self.fields:
            raise DocumentError(f"{self.what} has no {name!r} field")
        return self.fields[name]

    def _refuse(self, name: str, expected: str) -> DocumentError:
        value = repr(self.fields.get(name))[:60]
        return DocumentError(f"{self.what} field {name!r} must be {expected}, not {value}")

    def text(self, name: str, empty: bool = False) -> str:
        value = self._get(name)
        if not isinstance(value, str) or not (value or empty):
            raise self._refuse(name, "a string" if empty else "a non-empty string")
        return value

    def integer(self, name: str, minimum: int) -> int:
        value = self._get(name)
        if not _is_integer(value) or value < minimum:
            raise self._refuse(name, f"an integer of at least {minimum}")
        return value

    def seat(self, name: str) -> int | None:
        value = self._get(name)
        if isinstance(value, bool) or value not in (None, 0, 1):
            raise self._refuse(name, "0, 1 or null")
        return cast("int | None", value)

    def optional_integer(self, name: str) -> int | None:
        value = self._get(name)
        if value is not None and not _is_integer(value):
            raise self._refuse(name, "an integer or null")
        return value

    def two_integers(self, name: str) -> tuple[int, int]:
        value = self._get(name)
        if not (isinstance(value, list) and len(value) == 2 and all(map(_is_integer, value))):
            raise self._refuse(name, "two integers")
        return value[0], value[1]

    def texts(self, name: str) -> tuple[str, ...]:
        value = self._get(name)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self._refuse(name, "a list of strings")
        return tuple(value)

    def status(self) -> Status:
        value = self._get("status")
        if value not in STATUSES:
            raise self._refuse("status", " or ".join(repr(status) for status in STATUSES))
        return cast(Status, value)

    def players(self) -> tuple[str | None, str | None]:
        value = self._get("players")
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(name is None or (isinstance(name, str) and name) for name in value)
        ):
            raise self._refuse("players", "two names or nulls")
        return value[0], value[1]

    def optional_object(self, name: str, may_be_absent: bool = False) -> Mapping[str, Any] | None:
        value = self.fields.get(name) if may_be_absent else self._get(name)
        if value is not None and not isinstance(value, dict):
            raise self._refuse(name, "an object or null")
        return value


def _result(fields: Mapping[str, Any]) -> Result:
    read = _Reader(fields, "game result")
    return Result(read.seat("winner"), read.text("reason"))


def _clock(fields: Mapping[str, Any]) -> Clock:
    read = _Reader(fields, "game clock")
    return Clock(
        control=read.text("control"),
        remaining=read.two_integers("remaining"),
        at=read.optional_integer("at"),
        deadline=read.optional_integer("deadline"),
    )


def _rematch(fields: Mapping[str, Any]) -> Rematch:
    read = _Reader(fields, "game rematch")
    by = read.seat("by")
    state = read.text("state")
    if by is None or state not in ("offered", "accepted", "declined"):
        raise DocumentError(f"game rematch {dict(fields)!r:.80} is not an offer")
    return Rematch(by, read.text("game"), state)
