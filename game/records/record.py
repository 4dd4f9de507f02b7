"""What every record format shares: the :class:`Record` value, its errors,
reading it from a game document, and replaying its moves through the rules.

A record is what a game file says: the kind, the two players, the moves in
the game's notation (PROTOCOL.md), how the game ended and its clock.  Every
format reads into one and writes from one, so a record read from any format
has been replayed through :mod:`game.rules` from its start: an illegal move
is refused as :class:`IllegalRecord` (its move number and the rules' reason),
text that is not the format at all as :class:`MalformedRecord` (line and
column).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from game.records.reasons import illegal_reason, seat_name
from game.rules import KINDS, Outcome, Position, RulesError, from_text, new_game
from game.timecontrol import InvalidTimeControl, parse_time_control

#: Why a game ended, when a record cannot tell it from the position alone.
RESIGNED: Final = "resigned"
DRAW_AGREED: Final = "draw agreed"
TIME: Final = "time"
CANCELLED: Final = "cancelled"


class RecordError(ValueError):
    """A record that cannot be read, or not as a game of this cluster."""

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class MalformedRecord(RecordError):
    """Text that is not the format: ``line`` and ``column`` (1-based) say where."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.line = line
        self.column = column


class IllegalRecord(RecordError):
    """A move the rules refuse.

    :ivar number: the move's number as the record counts it (PDN's full-move
        numbers; every other format counts plies from 1).
    :ivar ply: the move's index in the game, from 0.
    """

    def __init__(self, number: int, seat: int, move: str, reason: str, ply: int) -> None:
        super().__init__(f"move {number} ({seat_name(seat)}): {move} is not legal here: {reason}")
        self.number = number
        self.seat = seat
        self.move = move
        self.reason = reason
        self.ply = ply


@attrs.frozen
class RecordClock:
    """A timed game's clock as a record holds it.

    :ivar control: the wire form of the time control (``live:300+5``).
    :ivar remaining: each seat's time in ms as the game last stood (the
        document's ``remaining``), None when the record does not say.
    :ivar running: the seat whose clock was running then, None if stopped.
    :ivar move_clocks: the mover's time in ms right after each move, its
        increment added (the servers' ``MoveClocks``), None when the record
        does not say (and in a record of no moves).
    """

    control: str
    remaining: tuple[int, int] | None = None
    running: int | None = None
    move_clocks: tuple[int, ...] | None = None


@attrs.frozen
class Record:
    """One game as a record holds it.

    :ivar result: None while the game goes on; the reason is PROTOCOL.md's.
    :ivar start: the position text it started from, None for the standard
        start (a game of this cluster always has None).
    :ivar document: the game document's JSON object when the record was one
        (``json``), so that it is written back unchanged.
    """

    kind: str
    players: tuple[str | None, str | None]
    moves: tuple[str, ...]
    result: Outcome | None = None
    clock: RecordClock | None = None
    game_id: str | None = None
    start: str | None = None
    document: Mapping[str, Any] | None = attrs.field(default=None, eq=False, repr=False)

    @classmethod
    def from_document(
        cls, fields: Mapping[str, Any], clocks: Sequence[int] | None = None
    ) -> Record:
        """The record of a game document's JSON object (PROTOCOL.md).

        :param clocks: a timed game's clocks after each move (``MoveClocks``'
            answer, one per move); ignored for an untimed game.
        :raises RecordError: a field the record needs is missing or wrong,
            or ``clocks`` is not one per move.
        """
        try:
            kind = fields["kind"]
            players = tuple(fields["players"])
            moves = tuple(fields["moves"])
            result = fields["result"]
            clock = fields.get("clock")
            if kind not in KINDS or len(players) != 2 or not all(isinstance(m, str) for m in moves):
                raise TypeError
            outcome = None if result is None else Outcome(result["winner"], result["reason"])
        except (KeyError, TypeError) as error:
            raise RecordError(f"not a game document: {error!r}") from None
        record_clock = None
        if clock is not None:
            remaining = tuple(clock["remaining"])
            running = fields.get("to_move") if clock.get("at") is not None else None
            record_clock = RecordClock(clock["control"], (remaining[0], remaining[1]), running)
            if clocks is not None and moves:
                if len(clocks) != len(moves):
                    raise RecordError(f"{len(clocks)} move clocks for {len(moves)} moves")
                record_clock = attrs.evolve(record_clock, move_clocks=tuple(clocks))
        return cls(
            kind=kind,
            players=(players[0], players[1]),
            moves=moves,
            result=outcome,
            clock=record_clock,
            game_id=fields.get("id"),
            document=fields,
        )

    def start_position(self) -> Position:
        """The position the record starts from.

        :raises RecordError: the start position text is not one.
        """
        return start_position(self.kind, self.start)

    def positions(self) -> list[Position]:
        """The start and the position after each move (trusted: the moves are
        legal, as in every record read or exported)."""
        position = self.start_position()
        positions = [position]
        for move in self.moves:
            position = position.play(move)
            positions.append(position)
        return positions


def start_position(kind: str, start: str | None) -> Position:
    """:raises RecordError: ``start`` is not a position text of ``kind``."""
    if start is None:
        return new_game(kind)
    try:
        return from_text(kind, start)
    except RulesError as error:
        raise RecordError(f"the start position is not one: {error}") from None


def ply_seat(start: Position, ply: int) -> int:
    """The seat that plays ply ``ply`` (every kind alternates; a pass is a move)."""
    return (start.to_move + ply) % 2


class Replay:
    """Moves played one at a time from a start, each refusal an :class:`IllegalRecord`."""

    def __init__(self, kind: str, start: str | None = None) -> None:
        self.kind = kind
        self.start = start_position(kind, start)
        self.position = self.start
        self.moves: list[str] = []

    @property
    def ply(self) -> int:
        return len(self.moves)

    @property
    def seat(self) -> int:
        return self.position.to_move

    def refuse(self, written: str, reason: str, number: int | None = None) -> IllegalRecord:
        """The error for the next move, written ``written``, refused for ``reason``."""
        shown = self.ply + 1 if number is None else number
        return IllegalRecord(shown, self.seat, written, reason, self.ply)

    def play(self, move: str, written: str | None = None, number: int | None = None) -> None:
        """Play ``move`` (shown as ``written`` in errors).

        :raises IllegalRecord: the rules refuse it.
        """
        try:
            position = self.position.play(move)
        except RulesError as error:
            reason = illegal_reason(self.position, move, error)
            raise self.refuse(written or move, reason, number) from None
        self.position = position
        self.moves.append(move)


def settle_result(
    replay: Replay, winner: int | None, finished: bool, termination: str | None = None
) -> Outcome | None:
    """How the game ended, from what the record says and the final position.

    ``termination`` is ``TIME`` or ``CANCELLED`` when the record says so.  A
    final position that is over decides the reason; otherwise a decisive
    record is a resignation (or a loss on time), a drawn one a draw agreed.

    :raises RecordError: the record contradicts the position.
    """
    over = replay.position.outcome()
    if termination == CANCELLED:
        if replay.moves:
            raise RecordError("a cancelled game has no moves, but this record has some")
        return Outcome(None, CANCELLED)
    if over is not None:
        if finished and winner != over.winner:
            said = "a draw" if winner is None else f"{seat_name(winner)} won"
            raise RecordError(f"the record says {said}, but the game ended {describe(over)}")
        return over
    if not finished:
        return None
    if termination == TIME:
        if winner is None:
            raise RecordError("a game lost on time has a winner")
        return Outcome(winner, TIME)
    return Outcome(winner, RESIGNED if winner is not None else DRAW_AGREED)


def line_column(text: str, offset: int) -> tuple[int, int]:
    """The 1-based line and column of ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def located(error: RecordError, text: str, offset: int) -> RecordError:
    """``error`` (its type kept) saying where in ``text`` its move is written."""
    line, column = line_column(text, offset)
    error.args = (f"{error.message} (line {line}, column {column})",)
    return error


def describe(outcome: Outcome) -> str:
    """``"with black winning (no legal move)"``-style words for an outcome."""
    if outcome.winner is None:
        return f"drawn ({outcome.reason})"
    return f"with {seat_name(outcome.winner)} winning ({outcome.reason})"


def clock_control(text: str) -> str | None:
    """The wire form of a time control, None if ``text`` is not one."""
    try:
        return parse_time_control(text).text
    except InvalidTimeControl:
        return None
