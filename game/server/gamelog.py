"""A game as a log of events, and everything derived from it.

Pure logic, no I/O: a replica decides a client command against a
:class:`GameLog` (:func:`decide`), appends the resulting :class:`Event`, and
answers the canonical document, which every replica derives byte for byte
from the same events.  Events are stored, hashed and sent to peers as
canonical JSON; the chain of hashes over them (``heads``) lets two replicas
tell in one comparison whether one history extends the other.
"""

from __future__ import annotations

import hashlib
import json
import json.encoder
import re
from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs

from game import errors as wire
from game.protocol import (
    MAX_AT,
    check_clock,
    check_game_id,
    check_kind,
    check_move,
    check_player,
)
from game.rules import IllegalMove, InvalidMove, Position, new_game
from game.server.gameclock import GameClock, check_request
from game.timecontrol import parse_time_control

CREATE: Final = "create"
JOIN: Final = "join"
MOVE: Final = "move"
RESIGN: Final = "resign"
OFFER_DRAW: Final = "offer_draw"
ACCEPT_DRAW: Final = "accept_draw"
#: ClaimTimeout's command type, and the timeout event's (protocol version 2).
TIMEOUT: Final = "timeout"
EVENT_TYPES: Final = (CREATE, JOIN, MOVE, RESIGN, OFFER_DRAW, ACCEPT_DRAW, TIMEOUT)
#: The ``clock_skew`` tuning's default, in ms.
DEFAULT_CLOCK_SKEW_MS: Final = 2000

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
_string: Final = json.encoder.encode_basestring


def _int_or_null(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def _players_json(players: Sequence[str | None]) -> str:
    return "[" + ",".join("null" if p is None else _string(p) for p in players) + "]"


def summary_json(
    game_id: str,
    kind: str,
    status: str,
    players: Sequence[str | None],
    version: int,
    clock: str = "",
) -> str:
    """``canonical_json`` of a game's ``ListGames`` summary, written directly.

    :param clock: the time control of a timed game (empty: untimed, no field).
    """
    return (
        (f'{{"clock":{_string(clock)},' if clock else "{")
        + f'"id":{_string(game_id)},"kind":{_string(kind)},'
        f'"players":{_players_json(players)},"status":{_string(status)},'
        f'"version":{version}}}'
    )


def canonical_json(value: object) -> str:
    """The one JSON text of ``value`` that every replica produces: that of
    ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``."""
    if _C_ENCODER is None:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "".join(_C_ENCODER(value, 0))


def token_hash(game_id: str, seat: int, token: str) -> str:
    """What a server stores of a seat's token (PROTOCOL.md)."""
    return hashlib.sha256(f"{game_id}\0{seat}\0{token}".encode()).hexdigest()


class InvalidEvent(ValueError):
    """An event (from storage or a peer) that is malformed or cannot apply."""


@attrs.frozen
class Event:
    """One state change.  ``token`` is the acting seat's token hash.

    Timed games only (absent, so untimed events keep their version 1 bytes):
    ``at``, when the player acted (the timeout event: the deadline that ran
    out; its ``seat`` and ``token`` are the flagged seat's), and ``clock``,
    the time control of a create event.
    """

    type: str
    seat: int
    token: str
    kind: str | None = None
    player: str | None = None
    move: str | None = None
    at: int | None = None
    clock: str | None = None

    def to_json(self) -> str:
        """The event's canonical JSON, written field by field in sorted key order
        (what :func:`canonical_json` makes of its fields; tests compare the two)."""
        parts = []
        if self.at is not None:
            parts.append(f'"at":{int(self.at)}')
        if self.clock is not None:
            parts.append('"clock":' + _string(self.clock))
        if self.kind is not None:
            parts.append('"kind":' + _string(self.kind))
        if self.move is not None:
            parts.append('"move":' + _string(self.move))
        if self.player is not None:
            parts.append('"player":' + _string(self.player))
        parts.append(
            f'"seat":{int(self.seat)},"token":{_string(self.token)},"type":{_string(self.type)}'
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
        # Timed games' optional fields (which events must carry them is the replay's check).
        expected |= (
            {"at", "clock"} & set(fields) if fields["type"] == CREATE else {"at"} & set(fields)
        )
        if set(fields) != expected:
            raise InvalidEvent(f"event fields {sorted(fields)} are not {sorted(expected)}")
        event_type, seat, token = fields["type"], fields["seat"], fields["token"]
        if event_type not in EVENT_TYPES or seat not in (0, 1) or type(seat) is not int:
            raise InvalidEvent("bad event type or seat")
        if not isinstance(token, str) or not _HEX64.fullmatch(token):
            raise InvalidEvent("bad token hash")
        try:
            if "kind" in fields:
                check_kind(_text(fields["kind"]))
            if "player" in fields:
                check_player(_text(fields["player"]))
            if "move" in fields:
                check_move(_text(fields["move"]))
            if "clock" in fields:
                check_clock(_text(fields["clock"]))
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
        )
        if event.to_json() != text:
            raise InvalidEvent("event is not in canonical form")
        return event


_EXTRA_FIELDS: Final[dict[object, tuple[str, ...]]] = {
    CREATE: ("kind", "player"),
    JOIN: ("player",),
    MOVE: ("move",),
}


_HEX64: Final = re.compile("[0-9a-f]{64}")
#: Raw tokens whose hashes a game remembers (its two seats' and a few others).
_TOKEN_CACHE: Final = 8


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidEvent("expected a string")
    return value


def chain(head: bytes, event_json: str) -> bytes:
    """The head after appending one event to a history whose head is ``head``."""
    return hashlib.sha256(head + event_json.encode()).digest()


@attrs.frozen
class Result:
    winner: int | None
    reason: str


class GameLog:
    """One game: its events and the state derived from them.

    Mutable on purpose: a replica appends in place, inside one reactor turn,
    and rebuilds a fresh log when it adopts another branch.
    """

    def __init__(self, game_id: str, create: Event) -> None:
        if create.type != CREATE or create.kind is None or create.player is None:
            raise InvalidEvent("a game starts with a create event")
        if create.at is not None:
            raise InvalidEvent("a create event has no time (the clock starts when joined)")
        self.game_id = game_id
        self.kind: str = create.kind
        self.events: list[Event] = []
        self.event_json: list[str] = []
        self.heads: list[bytes] = [EMPTY_HEAD]
        self.players: list[str | None] = [None, None]
        self.tokens: list[str | None] = [None, None]
        self.position: Position = new_game(create.kind)
        self.moves: list[str] = []
        # The moves as JSON text, without the brackets, kept as they are played.
        self._moves_json = ""
        self.draw_offer: int | None = None
        self.result: Result | None = None
        #: The two clocks of a timed game; ``None`` when untimed.
        self.clock: GameClock | None = (
            GameClock.new(parse_time_control(create.clock)) if create.clock else None
        )
        self._document: str | None = None
        # The position a decided move leads to, so that appending that move
        # does not play it a second time: (position before, move, position after).
        self._decided: tuple[Position, str, Position] | None = None
        # Token hashes by raw token, for the few tokens that act on this game.
        self._token_hashes: dict[str, tuple[str, str]] = {}
        self.append(create)

    @classmethod
    def from_events(cls, game_id: str, events: list[str]) -> GameLog:
        """Rebuild a game from canonical event texts, checking every one.

        :raises InvalidEvent: an event is malformed or does not apply.
        """
        try:
            check_game_id(game_id)
        except ValueError as error:
            raise InvalidEvent(str(error)) from None
        if not isinstance(events, (list, tuple)) or not events:
            raise InvalidEvent("a game has at least its create event")
        game = cls(game_id, Event.from_json(events[0]))
        for text in events[1:]:
            game.append_checked(Event.from_json(text))
        return game

    # -- derived state -------------------------------------------------------

    @property
    def version(self) -> int:
        return len(self.events)

    @property
    def head(self) -> bytes:
        return self.heads[-1]

    @property
    def status(self) -> str:
        if self.result is not None:
            return "finished"
        return "active" if None not in self.players else "open"

    def document(self) -> str:
        """The canonical game document of PROTOCOL.md.

        Written field by field in sorted key order, the moves kept as JSON
        text as they are played: what :func:`canonical_json` makes of
        :meth:`document_fields` (tests compare the two), at a fraction of
        the cost on every change.
        """
        if self._document is None:
            status = self.status
            active = status == "active"
            legal = self.position.legal_moves() if active else []
            result = self.result
            clock = self.clock
            self._document = (
                (
                    "{"
                    if clock is None
                    else '{"clock":'
                    + clock.to_json(self.position.to_move if active else None)
                    + ","
                )
                + f'"draw_offer":{_int_or_null(self.draw_offer)},"id":{_string(self.game_id)},'
                f'"kind":{_string(self.kind)},"legal":[{",".join(map(_string, legal))}],'
                f'"moves":[{self._moves_json}],"players":{self._players_json()},'
                f'"position":{_string(self.position.to_text())},"result":'
                + (
                    "null"
                    if result is None
                    else f'{{"reason":{_string(result.reason)},"winner":'
                    f"{_int_or_null(result.winner)}}}"
                )
                + f',"status":{_string(status)},'
                f'"to_move":{_int_or_null(self.position.to_move if active else None)},'
                f'"version":{self.version}}}'
            )
        return self._document

    def document_fields(self) -> dict[str, Any]:
        """The fields of :meth:`document`, as a dict."""
        active = self.status == "active"
        timed = (
            {}
            if self.clock is None
            else {"clock": self.clock.fields(self.position.to_move if active else None)}
        )
        return {
            **timed,
            "id": self.game_id,
            "kind": self.kind,
            "version": self.version,
            "status": self.status,
            "players": self.players,
            "to_move": self.position.to_move if active else None,
            "moves": self.moves,
            "position": self.position.to_text(),
            "legal": self.position.legal_moves() if active else [],
            "draw_offer": self.draw_offer,
            "result": None if self.result is None else attrs.asdict(self.result),
        }

    def _players_json(self) -> str:
        return _players_json(self.players)

    @property
    def control(self) -> str:
        """The time control's text; empty when untimed."""
        return "" if self.clock is None else self.clock.control.text

    def deadline(self) -> int | None:
        """When the side to move runs out (ms); ``None`` unless timed and active."""
        if self.clock is None or self.status != "active":
            return None
        return self.clock.deadline(self.position.to_move)

    def timeout_event(self) -> Event | None:
        """The event that ends this game on time, if its clock runs: the
        flagged seat's, at its deadline, the same on every replica."""
        deadline = self.deadline()
        if deadline is None:
            return None
        seat = self.position.to_move
        token = self.tokens[seat]
        assert token is not None
        return Event(TIMEOUT, seat, token, at=deadline)

    def summary(self) -> dict[str, Any]:
        return {
            **({"clock": self.control} if self.clock is not None else {}),
            "id": self.game_id,
            "kind": self.kind,
            "status": self.status,
            "players": list(self.players),
            "version": self.version,
        }

    def token_hashes(self, token: str) -> tuple[str, str]:
        """What this token's hash would be for seat 0 and for seat 1 of this game."""
        hashes = self._token_hashes.get(token)
        if hashes is None:
            if len(self._token_hashes) >= _TOKEN_CACHE:
                self._token_hashes.clear()  # a game has two seats: only bad tokens get here
            hashes = (token_hash(self.game_id, 0, token), token_hash(self.game_id, 1, token))
            self._token_hashes[token] = hashes
        return hashes

    def seat_of(self, token: str) -> int | None:
        """The seat this token holds, if any."""
        hashes = self.token_hashes(token)
        for seat in (0, 1):
            if self.tokens[seat] == hashes[seat]:
                return seat
        return None

    def play(self, move: str) -> Position:
        """The position after ``move`` (remembered for :meth:`append`).

        :raises IllegalMove, InvalidMove, GameOver: as :meth:`Position.play`.
        """
        position = self.position
        after = position.play(move)
        self._decided = (position, move, after)
        return after

    # -- applying events -----------------------------------------------------

    def append(self, event: Event) -> None:
        """Apply an event that :func:`decide` produced (or that was checked)."""
        if self.clock is not None and event.at is not None:
            self._run_clock(event)
        if event.type in (CREATE, JOIN):
            self.players[event.seat] = event.player
            self.tokens[event.seat] = event.token
        elif event.type == MOVE:
            assert event.move is not None
            decided, self._decided = self._decided, None
            if decided is not None and decided[0] is self.position and decided[1] == event.move:
                self.position = decided[2]
            else:
                self.position = self.position.play(event.move)
            self._moves_json += ("," if self.moves else "") + _string(event.move)
            self.moves.append(event.move)
            if self.draw_offer is not None and self.draw_offer != event.seat:
                self.draw_offer = None  # moving declines the opponent's offer
            outcome = self.position.outcome()
            if outcome is not None:
                self._finish(Result(outcome.winner, outcome.reason))
        elif event.type == RESIGN:
            if self.status == "open":
                self._finish(Result(None, "cancelled"))
            else:
                self._finish(Result(1 - event.seat, "resigned"))
        elif event.type == OFFER_DRAW:
            self.draw_offer = event.seat
        elif event.type == ACCEPT_DRAW:
            self._finish(Result(None, "draw agreed"))
        elif event.type == TIMEOUT:
            self._finish(Result(1 - event.seat, "time"))
        text = event.to_json()
        self.events.append(event)
        self.event_json.append(text)
        self.heads.append(chain(self.heads[-1], text))
        self._document = None

    def append_checked(self, event: Event) -> None:
        """Apply an event that came from storage or a peer, checking that it
        is exactly what :func:`decide` would accept here.

        :raises InvalidEvent: it does not apply to this game.
        """
        try:
            expected = _decide_event(
                self,
                event.type,
                holds=lambda seat: self.tokens[seat] == event.token,
                join_hash=lambda seat: event.token,
                player=event.player,
                move=event.move,
                seat_hint=event.seat,
                # An untimed game's events have no time: one that does is not what decide makes.
                at=event.at if self.clock is not None else None,
            )
        except wire.WireError as error:
            raise InvalidEvent(f"event {self.version + 1} does not apply: {error}") from None
        if expected != event:
            raise InvalidEvent(f"event {self.version + 1} does not apply")
        self.append(event)

    def _run_clock(self, event: Event) -> None:
        """What a timed event does to the clocks (before the event applies)."""
        clock = self.clock
        assert clock is not None and event.at is not None
        if event.type == JOIN:
            clock.start(event.at)
        elif event.type == MOVE:
            clock.moved(event.seat, event.at)
        elif event.type == TIMEOUT:
            clock.flagged(self.position.to_move)
        else:
            clock.spend(self.position.to_move, event.at)

    def _finish(self, result: Result) -> None:
        self.result = result
        self.draw_offer = None
        if self.clock is not None:
            self.clock.stop()


# -- deciding commands -------------------------------------------------------------


@attrs.frozen
class Command:
    """A client's state-changing request, after argument parsing."""

    type: str
    version: int
    token: str
    player: str | None = None
    move: str | None = None
    #: When the player acted (ms, the servers' scale); used by timed games only.
    at: int | None = None


@attrs.frozen
class Repeat:
    """The command repeats the event this game already holds: answer as is."""


REPEAT: Final = Repeat()


def decide(
    game: GameLog,
    command: Command,
    now: int | None = None,
    clock_skew_ms: int = DEFAULT_CLOCK_SKEW_MS,
) -> Event | Repeat:
    """Decide a command against this replica's game, in PROTOCOL.md's order.

    ``UNKNOWN_GAME`` (no game) and ``NOT_SERVING`` are the caller's checks.
    A ``Behind`` error asks the caller to catch up before answering.

    :param now: the server's clock (ms), which a timed command's ``at`` must
        be within ``clock_skew_ms`` of; passed in, never read here.
    :raises WireError: the error the command answers.
    """
    if game.clock is None:
        if command.type == TIMEOUT:
            raise wire.BadRequest("ClaimTimeout: this game has no clock")
        at = None  # ignored, and not stored: untimed events keep their bytes
    elif command.at is None:
        raise wire.BadRequest("at is required in a timed game")
    else:
        at = command.at
    version = command.version
    if version < game.version:
        held = game.events[version]
        if _repeats(game, command, held):
            return REPEAT
        raise wire.StaleVersion.at(game.version)
    if version > game.version:
        raise wire.Behind(f"this server holds version {game.version}")
    hashes = game.token_hashes(command.token)
    return _decide_event(
        game,
        command.type,
        holds=lambda seat: game.tokens[seat] == hashes[seat],
        join_hash=hashes.__getitem__,
        player=command.player,
        move=command.move,
        at=at,
        now=now,
        skew_ms=clock_skew_ms,
    )


def _repeats(game: GameLog, command: Command, held: Event) -> bool:
    if command.type == TIMEOUT:  # the same event, whoever claimed it (or the server)
        return held.type == TIMEOUT and game.seat_of(command.token) is not None
    return (
        held.type == command.type
        and held.player == command.player
        and held.move == command.move
        and held.token == game.token_hashes(command.token)[held.seat]
    )


def _decide_event(
    game: GameLog,
    event_type: str,
    *,
    holds: Callable[[int], bool],
    join_hash: Callable[[int], str],
    player: str | None,
    move: str | None,
    seat_hint: int | None = None,
    at: int | None = None,
    now: int | None = None,
    skew_ms: int = DEFAULT_CLOCK_SKEW_MS,
) -> Event:
    """The event a request makes at the end of ``game``, or its error.

    ``holds(seat)`` says whether the request's token holds ``seat``;
    ``join_hash(seat)`` is the token hash a join would store for it.
    ``seat_hint`` is the seat a replayed event claims.  ``at`` is the
    request's time (timed games only), ``now`` the server's clock (``None``
    when replaying).
    """
    seats = [seat for seat in (0, 1) if holds(seat)]
    if event_type == JOIN:
        if seats:
            raise wire.BadToken("this token already holds a seat in this game")
        if game.status == "finished":
            raise wire.GameIsOver()
        _check_time(game, JOIN, at, now, skew_ms, replay=seat_hint is not None)
        if game.status == "active":
            raise wire.GameFull()
        seat = game.players.index(None)
        if seat_hint not in (None, seat):
            raise wire.BadToken("not the free seat")
        return Event(JOIN, seat, join_hash(seat), player=player, at=at)
    if event_type == CREATE:
        raise wire.GameExists()
    if not seats or (seat_hint is not None and seat_hint not in seats):
        raise wire.BadToken()
    seat = seats[0] if seat_hint is None else seat_hint
    token = game.tokens[seat]
    assert token is not None
    if game.status == "finished":
        raise wire.GameIsOver()
    deadline = _check_time(game, event_type, at, now, skew_ms, replay=seat_hint is not None)
    if event_type == TIMEOUT:
        timeout = game.timeout_event()
        if deadline is None or timeout is None:
            raise wire.BadRequest("ClaimTimeout: this game has no clock")
        return timeout
    if event_type == RESIGN:
        return Event(RESIGN, seat, token, at=at)
    if game.status == "open" or game.position.to_move != seat:
        raise wire.NotYourTurn()
    if event_type == OFFER_DRAW:
        if game.draw_offer is not None:
            raise wire.DrawPending()
        return Event(OFFER_DRAW, seat, token, at=at)
    if event_type == ACCEPT_DRAW:
        if game.draw_offer is None or game.draw_offer == seat:
            raise wire.NoDrawOffer()
        return Event(ACCEPT_DRAW, seat, token, at=at)
    if event_type == MOVE and move is not None:
        try:
            game.play(move)
        except (IllegalMove, InvalidMove) as error:
            raise wire.IllegalMoveError(str(error)) from None
        return Event(MOVE, seat, token, move=move, at=at)
    raise wire.BadRequest(f"unknown command type {event_type!r}")


def _check_time(
    game: GameLog, event_type: str, at: int | None, now: int | None, skew_ms: int, *, replay: bool
) -> int | None:
    """:func:`~game.server.gameclock.check_request` for this game (after ``GAME_OVER``)."""
    if game.clock is None:
        return None
    return check_request(
        game.clock, game.deadline(), at, now, skew_ms, claim=event_type == TIMEOUT, replay=replay
    )


def create_event(
    kind: str, player: str, seat: int, token: str, game_id: str, clock: str = ""
) -> Event:
    """A game's first event; ``clock`` is its time control (empty: untimed)."""
    return Event(
        CREATE,
        seat,
        token_hash(game_id, seat, token),
        kind=kind,
        player=player,
        clock=clock or None,
    )
