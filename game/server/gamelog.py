"""A game as a log of events, and everything derived from it.

Pure logic, no I/O: a replica decides a client command against a
:class:`GameLog` (:func:`decide`), appends the resulting :class:`Event`, and
answers the canonical document, which every replica derives byte for byte
from the same events.  Events are stored, hashed and sent to peers as
canonical JSON; the chain of hashes over them (``heads``) lets two replicas
tell in one comparison whether one history extends the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs

from game import errors as wire
from game.protocol import check_game_id
from game.rules import IllegalMove, InvalidMove, Position, new_game
from game.server import offers
from game.server.events import (
    ACCEPT_DRAW,
    ACCEPT_REMATCH,
    ACCEPT_TAKEBACK,
    CREATE,
    DECLINE_REMATCH,
    DECLINE_TAKEBACK,
    EMPTY_HEAD,
    EVENT_TYPES,
    JOIN,
    MOVE,
    OFFER_DRAW,
    OFFER_REMATCH,
    OFFER_TAKEBACK,
    REMATCH_TYPES,
    RESIGN,
    TAKEBACK_TYPES,
    TIMEOUT,
    Event,
    InvalidEvent,
    canonical_json,
    chain,
    int_or_null,
    json_string,
    players_json,
    token_hash,
)
from game.server.gameclock import GameClock, check_request
from game.server.offers import RematchOffer
from game.timecontrol import parse_time_control

#: The ``clock_skew`` tuning's default, in ms.
DEFAULT_CLOCK_SKEW_MS: Final = 2000
#: Raw tokens whose hashes a game remembers (its two seats' and a few others).
_TOKEN_CACHE: Final = 8

_string: Final = json_string
_int_or_null: Final = int_or_null
_players_json: Final = players_json


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
        #: The seat that made each move, for takebacks.
        self.movers: list[int] = []
        # The moves as JSON text, without the brackets, kept as they are played.
        self._moves_json = ""
        self.draw_offer: int | None = None
        #: The seat whose takeback offer stands, if any.
        self.takeback: int | None = None
        #: This finished game's rematch offer, if one was made.
        self.rematch: RematchOffer | None = None
        #: The game this one is a rematch of, if it is one.
        self.rematch_of: str | None = create.of
        self.result: Result | None = None
        #: The two clocks of a timed game; ``None`` when untimed.
        self.clock: GameClock | None = (
            GameClock.new(parse_time_control(create.clock)) if create.clock else None
        )
        self._document: str | None = None
        self._encoded: bytes | None = None  # document() as UTF-8, once per version
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
                f'"position":{_string(self.position.to_text())},'
                + ("" if self.rematch is None else f'"rematch":{self.rematch.to_json()},')
                + ("" if self.rematch_of is None else f'"rematch_of":{_string(self.rematch_of)},')
                + '"result":'
                + (
                    "null"
                    if result is None
                    else f'{{"reason":{_string(result.reason)},"winner":'
                    f"{_int_or_null(result.winner)}}}"
                )
                + f',"status":{_string(status)},'
                + ("" if self.takeback is None else f'"takeback":{self.takeback},')
                + f'"to_move":{_int_or_null(self.position.to_move if active else None)},'
                f'"version":{self.version}}}'
            )
        return self._document

    def encoded_document(self) -> bytes:
        """:meth:`document` as UTF-8 bytes, encoded once per version."""
        encoded = self._encoded
        if encoded is None:
            encoded = self._encoded = self.document().encode("utf-8")
        return encoded

    def document_fields(self) -> dict[str, Any]:
        """The fields of :meth:`document`, as a dict."""
        active = self.status == "active"
        timed = (
            {}
            if self.clock is None
            else {"clock": self.clock.fields(self.position.to_move if active else None)}
        )
        # The offers' fields only when set, so that other games keep their bytes.
        offered = {
            name: value
            for name, value in (
                ("takeback", self.takeback),
                ("rematch", None if self.rematch is None else self.rematch.fields()),
                ("rematch_of", self.rematch_of),
            )
            if value is not None
        }
        return {
            **timed,
            **offered,
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
            self.movers.append(event.seat)
            self.takeback = None  # any move declines a standing takeback offer
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
        elif event.type in TAKEBACK_TYPES or event.type in REMATCH_TYPES:
            self._apply_offer(event)
        text = event.to_json()
        self.events.append(event)
        self.event_json.append(text)
        self.heads.append(chain(self.heads[-1], text))
        self._document = None
        self._encoded = None

    def append_checked(self, event: Event) -> None:
        """Apply an event that came from storage or a peer, checking that it
        is exactly what :func:`decide` would accept here.

        :raises InvalidEvent: it does not apply to this game.
        """
        try:
            expected = _decide_event(
                self,
                event.type,
                (event.token, event.token),
                player=event.player,
                move=event.move,
                rematch_id=event.rematch,
                new_seat_hash=lambda game_id, seat: event.rematch_token or "",
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

    def _apply_offer(self, event: Event) -> None:
        """A takeback or rematch event (docs/protocol.md)."""
        if event.type == OFFER_TAKEBACK:
            self.takeback = event.seat
        elif event.type == DECLINE_TAKEBACK:
            self.takeback = None
        elif event.type == ACCEPT_TAKEBACK:
            self._take_back(offers.moves_kept(self.movers, 1 - event.seat))
        elif event.type == OFFER_REMATCH:
            assert event.rematch is not None and event.rematch_token is not None
            self.rematch = RematchOffer(event.seat, event.rematch, event.rematch_token)
        elif self.rematch is not None:
            state = offers.ACCEPTED if event.type == ACCEPT_REMATCH else offers.DECLINED
            self.rematch = attrs.evolve(self.rematch, state=state)

    def _take_back(self, kept: int) -> None:
        """Keep the first ``kept`` moves: the position is theirs, replayed."""
        moves = self.moves[:kept]
        position = new_game(self.kind)
        for move in moves:
            position = position.play(move)
        self.position = position
        self.moves = moves
        self.movers = self.movers[:kept]
        self._moves_json = ",".join(map(_string, moves))
        self._decided = None
        self.takeback = None
        self.draw_offer = None  # an accepted takeback clears a standing draw offer

    def rematch_events(self, accept: Event) -> tuple[Event, Event]:
        """The create and join events of the game ``accept`` (this game's
        accepted rematch, appended or about to be) creates."""
        assert self.rematch is not None
        return offers.rematch_events(
            self.game_id, self.kind, self.control, self.players, self.rematch, accept
        )

    def _finish(self, result: Result) -> None:
        self.result = result
        self.draw_offer = None
        self.takeback = None
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
    #: OfferRematch: the new game's id; Offer/AcceptRematch: the raw token
    #: of the acting seat's seat in the new game.
    rematch_id: str | None = None
    rematch_token: str | None = None


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
    elif command.type in _UNTIMED_COMMANDS:
        at = None  # takebacks (TIMED_GAME), and rematch offers after the clock stopped
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
    rematch_token = command.rematch_token
    return _decide_event(
        game,
        command.type,
        game.token_hashes(command.token),
        player=command.player,
        move=command.move,
        rematch_id=command.rematch_id,
        new_seat_hash=lambda game_id, seat: token_hash(game_id, seat, rematch_token or ""),
        at=at,
        now=now,
        skew_ms=clock_skew_ms,
    )


def _repeats(game: GameLog, command: Command, held: Event) -> bool:
    if command.type == TIMEOUT:  # the same event, whoever claimed it (or the server)
        return held.type == TIMEOUT and game.seat_of(command.token) is not None
    if held.rematch is not None:  # an offer or accept: the same new game and seat too
        if command.rematch_id not in (None, held.rematch) or command.rematch_token is None:
            return False
        new_seat = token_hash(held.rematch, 1 - held.seat, command.rematch_token)
        if new_seat != held.rematch_token:
            return False
    return (
        held.type == command.type
        and held.player == command.player
        and held.move == command.move
        and held.token == game.token_hashes(command.token)[held.seat]
    )


#: Commands that never carry a time: takebacks (untimed games only) and a
#: finished game's rematch offer or its refusal.
_UNTIMED_COMMANDS: Final = (*TAKEBACK_TYPES, OFFER_REMATCH, DECLINE_REMATCH)


def _decide_event(
    game: GameLog,
    event_type: str,
    claimed: tuple[str, str],
    *,
    player: str | None,
    move: str | None,
    rematch_id: str | None = None,
    new_seat_hash: Callable[[str, int], str] = lambda game_id, seat: "",
    seat_hint: int | None = None,
    at: int | None = None,
    now: int | None = None,
    skew_ms: int = DEFAULT_CLOCK_SKEW_MS,
) -> Event:
    """The event a request makes at the end of ``game``, or its error.

    ``claimed[seat]`` is the request's token hash for ``seat``: it holds the
    seat if the game stores that hash there; a join stores it for its seat;
    ``new_seat_hash(game_id, seat)`` the one a rematch would store for the
    acting seat's seat in the new game ``rematch_id`` names (an offer's).
    ``seat_hint`` is the seat a replayed event claims.  ``at`` is the
    request's time (timed games only), ``now`` the server's clock (``None``
    when replaying).
    """
    tokens = game.tokens
    if tokens[0] == claimed[0]:
        seats = [0, 1] if tokens[1] == claimed[1] else [0]
    else:
        seats = [1] if tokens[1] == claimed[1] else []
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
        return Event(JOIN, seat, claimed[seat], player=player, at=at)
    if event_type == CREATE:
        raise wire.GameExists()
    if not seats or (seat_hint is not None and seat_hint not in seats):
        raise wire.BadToken()
    seat = seats[0] if seat_hint is None else seat_hint
    token = game.tokens[seat]
    assert token is not None
    replay = seat_hint is not None
    if event_type in REMATCH_TYPES:  # after the game: in GAME_OVER's place
        return offers.decide_rematch(
            event_type,
            seat=seat,
            token=token,
            status=game.status,
            players=game.players,
            standing=game.rematch,
            rematch_id=rematch_id,
            new_seat_hash=new_seat_hash,
            at=at,
            check_time=lambda: _check_time(game, event_type, at, now, skew_ms, replay=replay),
        )
    if game.status == "finished":
        raise wire.GameIsOver()
    if event_type in TAKEBACK_TYPES:
        return offers.decide_takeback(
            event_type,
            seat=seat,
            token=token,
            status=game.status,
            timed=game.clock is not None,
            standing=game.takeback,
            movers=game.movers,
        )
    deadline = _check_time(game, event_type, at, now, skew_ms, replay=replay)
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


__all__ = [
    "ACCEPT_DRAW",
    "ACCEPT_REMATCH",
    "ACCEPT_TAKEBACK",
    "CREATE",
    "DECLINE_REMATCH",
    "DECLINE_TAKEBACK",
    "DEFAULT_CLOCK_SKEW_MS",
    "EMPTY_HEAD",
    "EVENT_TYPES",
    "JOIN",
    "MOVE",
    "OFFER_DRAW",
    "OFFER_REMATCH",
    "OFFER_TAKEBACK",
    "REMATCH_TYPES",
    "REPEAT",
    "RESIGN",
    "TAKEBACK_TYPES",
    "TIMEOUT",
    "Command",
    "Event",
    "GameLog",
    "InvalidEvent",
    "Repeat",
    "Result",
    "canonical_json",
    "chain",
    "create_event",
    "decide",
    "summary_json",
    "token_hash",
]
