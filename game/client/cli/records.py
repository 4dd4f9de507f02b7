"""``replgame export`` and ``replgame import``: game records in and out of the cluster.

``export GAME [--format F]`` reads the game (``GetGame``, two servers
agreeing) and writes its record to standard output: PDN for checkers, GGF
for Reversi, the column string for Connect Four, or ``moves``/``json``
(:mod:`game.records`).  A timed game's PDN or GGF carries the clocks after
each move (``MoveClocks``, :mod:`game.client.recordclocks`); when the
servers do not give them, the record carries the clocks as the game stands
and a note on standard error says why.

``import FILE`` reads a record, replays it through the rules first (an
illegal record is refused with its move number before anything is
created), then plays it on the cluster as two players would: it creates a
game with one new seat token, joins it with another, and sends each move
for the seat to move, going on only when two servers acknowledged it.  A
resignation or an agreed draw is replayed too (the offer goes with the
last move, as the rules want); a loss on time cannot be, so that game stays
active.  The game is untimed whatever the record's clock.  Both seats are
kept in the user's seat store, so the game can be played on.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import attrs
from twisted.internet.defer import Deferred

from game import protocol as p
from game.client.boards import COLOURS
from game.client.cli.choices import CliError
from game.client.cli.session import Session, unreadable
from game.client.client import Outcome
from game.client.document import DocumentError
from game.client.recordclocks import RecordClocks, record_clocks
from game.client.tokens import Seat, new_token
from game.records import FORMATS, NATIVE_FORMATS, Record, RecordError, export, parse
from game.rules import KINDS

#: Why a game ended that an import cannot replay.
_NOT_REPLAYED = {"time": "a loss on time"}

StepKind = Literal["move", "offer", "accept", "resign"]


@attrs.frozen
class Step:
    """One request of an import after the game is created and joined."""

    kind: StepKind
    seat: int
    move: str = ""


def add_record_commands(
    command: Callable[[str, str, str | None], argparse.ArgumentParser],
    game_id: Callable[[str], str],
    player: Callable[[str], str],
) -> None:
    """Add ``export`` and ``import`` to ``replgame``'s subparsers."""
    native = ", ".join(f"{fmt} for {kind}" for kind, fmt in NATIVE_FORMATS.items())
    export_parser = command(
        "export",
        "write a game's record to standard output",
        f"Write a game's record to standard output: by default {native}; --format moves "
        "gives the bare move string, --format json the game document as the servers hold it.",
    )
    export_parser.add_argument("game", metavar="GAME", type=game_id, help="the game id")
    export_parser.add_argument("--format", choices=FORMATS, help="the record's format")
    import_parser = command(
        "import",
        "replay a game record as a new game between two seats of yours",
        "Read a record (PDN, GGF, a move string or a game document), check every move "
        "with the rules, then play it on the cluster as a new untimed game between two "
        "seats you hold; print the new game's id.",
    )
    import_parser.add_argument("file", metavar="FILE", help="the record, - for standard input")
    import_parser.add_argument(
        "--format", choices=FORMATS, help="the record's format (default: told from the text)"
    )
    import_parser.add_argument(
        "--kind", choices=KINDS, help="the game of a bare move string, if the text cannot tell"
    )
    import_parser.add_argument(
        "--black", type=player, metavar="NAME", help="seat 0's name (default: the record's)"
    )
    import_parser.add_argument(
        "--white", type=player, metavar="NAME", help="seat 1's name (default: the record's)"
    )


async def cmd_export(session: Session) -> None:
    await session.connect()
    game_id = session.game_id()
    outcome = await session.read_game(game_id)
    clocks = RecordClocks(None)
    try:
        document = outcome.game_document()
    except DocumentError:
        pass  # export says what is wrong with it
    else:
        clocks = await record_clocks(session.client, document, session.args.format)
    try:
        text = export(outcome.document, session.args.format, clocks.clocks)
    except RecordError as error:
        raise CliError(str(error)) from None
    if outcome.provisional:
        sys.stderr.write(
            f"note: only server {outcome.agreed[0]} answered; the record may not be final\n"
        )
    if clocks.note:
        sys.stderr.write(f"note: {clocks.note}\n")
    session.out.write(text if text.endswith("\n") else text + "\n")
    session.out.flush()


def read_record(args: argparse.Namespace) -> Record:
    """The record the arguments name, replayed through the rules.

    :raises CliError: it cannot be read, is illegal, or is no game of this cluster.
    """
    source = "standard input" if args.file == "-" else args.file
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"cannot read {source}: {error}") from None
    try:
        record = parse(text, args.format, args.kind)
    except RecordError as error:
        raise CliError(f"{source}: {error}") from None
    if record.start is not None:
        raise CliError(
            f"{source}: the game starts from a set-up position; games here start "
            "from the standard one"
        )
    return record


def player_names(record: Record, black: str | None, white: str | None) -> tuple[str, str | None]:
    """The two seats' names: the arguments', else the record's, else the colours
    (None for the free seat of a game nobody joined).

    :raises CliError: a record's name is not a valid player name.
    """
    names: list[str | None] = []
    for seat, given in enumerate((black, white)):
        name = given or record.players[seat] or COLOURS[seat]
        if seat == 1 and (waits_for_white(record, white) or _cancelled(record)):
            names.append(None)
            continue
        try:
            names.append(p.check_player(name))
        except p.InvalidArgument as error:
            raise CliError(
                f"the record's {COLOURS[seat]} player {name!r} is no player name here "
                f"({error}); give --{COLOURS[seat]} NAME"
            ) from None
    assert names[0] is not None
    return names[0], names[1]


def _cancelled(record: Record) -> bool:
    return record.result is not None and record.result.reason == "cancelled"


def waits_for_white(record: Record, white: str | None) -> bool:
    """Whether the record is of a game nobody joined (and no name is given for it)."""
    return not record.moves and record.result is None and record.players[1] is None and not white


def import_steps(record: Record) -> list[Step]:
    """The requests that replay ``record`` once its game is active (pure).

    A draw agreed is offered by the last mover before that move and accepted
    after it (an offer is made on one's own turn and accepted on the
    opponent's); a resignation comes after the last move.
    """
    steps = [Step("move", ply % 2, move) for ply, move in enumerate(record.moves)]
    result = record.result
    if result is None:
        return steps
    if result.reason == "draw agreed" and steps:
        last = steps[-1]
        steps[-1:] = [Step("offer", last.seat), last, Step("accept", 1 - last.seat)]
    elif result.reason == "resigned" and result.winner is not None:
        steps.append(Step("resign", 1 - result.winner))
    return steps


async def cmd_import(session: Session) -> None:
    args = session.args
    record = read_record(args)
    black, white = player_names(record, args.black, args.white)
    if record.result is not None and record.result.reason == "draw agreed" and not record.moves:
        raise CliError("a draw agreed before any move cannot be replayed: an offer needs a move")
    await session.connect()
    client = session.client
    game_id = uuid.uuid4().hex
    tokens = (new_token(), new_token())
    outcome = await _acknowledged(
        session,
        "import (create)",
        lambda: client.create_game(game_id, record.kind, black, tokens[0]),
    )
    session.remember(Seat(session.cluster, game_id, 0, black, tokens[0], record.kind))
    if _cancelled(record):
        outcome = await _acknowledged(
            session, "import (cancel)", lambda: client.resign(game_id, 1, tokens[0])
        )
    elif waits_for_white(record, args.white):
        pass  # an open game stays open
    else:
        assert white is not None
        joiner = white
        outcome = await _acknowledged(
            session, "import (join)", lambda: client.join_game(game_id, 1, joiner, tokens[1])
        )
        session.remember(Seat(session.cluster, game_id, 1, white, tokens[1], record.kind))
        for number, step in enumerate(import_steps(record), start=1):
            version = _version(outcome)
            send = _sender(session, game_id, version, step, tokens[step.seat])
            outcome = await _acknowledged(session, f"import (step {number}: {step.kind})", send)
    notes = []
    if record.clock is not None:
        notes.append(f"the record's clock ({record.clock.control}) is not replayed: untimed")
    if record.result is not None and record.result.reason in _NOT_REPLAYED:
        notes.append(
            f"the record ends in {_NOT_REPLAYED[record.result.reason]}, which cannot be "
            "replayed: the game stays active"
        )
    text = (
        f"imported game {game_id}: {len(record.moves)} moves, "
        f"{black} (black) v {white or 'nobody yet'} (white)"
    )
    session.show_outcome(
        outcome,
        "\n".join([text, *(f"note: {note}" for note in notes)]),
        {"imported": len(record.moves), "notes": notes},
    )


def _sender(
    session: Session, game_id: str, version: int, step: Step, token: str
) -> Callable[[], Deferred[Outcome]]:
    client = session.client
    if step.kind == "move":
        return lambda: client.make_move(game_id, version, step.move, token)
    if step.kind == "offer":
        return lambda: client.offer_draw(game_id, version, token)
    if step.kind == "accept":
        return lambda: client.accept_draw(game_id, version, token)
    return lambda: client.resign(game_id, version, token)


async def _acknowledged(
    session: Session, action: str, send: Callable[[], Deferred[Outcome]]
) -> Outcome:
    """The outcome of one request, which two servers must have acknowledged."""
    outcome = await session.request(action, send)
    if outcome.provisional:
        data: dict[str, Any] = {"game": outcome.document}
        raise CliError(
            f"{action}: only server {outcome.agreed[0]} answered, so it is not acknowledged; "
            "stopped there (the game keeps what was acknowledged before)",
            data,
        )
    return outcome


def _version(outcome: Outcome) -> int:
    try:
        return outcome.game_document().version
    except DocumentError as error:
        raise CliError(unreadable(error)) from None
