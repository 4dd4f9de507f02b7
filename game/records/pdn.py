"""Checkers records as PDN 3.0 (Portable Draughts Notation, the FMJD standard).

Written::

    [Event "replgame"]
    [Site "?"]
    [Date "????.??.??"]
    [Round "?"]
    [White "bob"]
    [Black "alice"]
    [Result "1-0"]
    [GameType "21"]
    [GameId "5f0c..."]
    [TimeControl "300+5"]
    [Termination "normal"]

    1. 11-15 {[%clock W0:05:00 b0:05:03]} 23-19 {[%clock w0:05:02 B0:05:03]}
    2. 8-11 {[%clock W0:05:02 b0:04:58]} 22-17 {[%clock w0:04:53 b0:04:58]} 1-0

- The Seven Tag Roster in its order, then ``GameType "21"`` (English
  draughts), ``SetUp``/``FEN`` only for a game that did not start from the
  standard position (never one of this cluster's), ``GameId`` (a tag of our
  own), ``TimeControl`` in timed games, and ``Termination`` (PGN's values:
  ``normal``, ``time forfeit``, ``abandoned`` for a cancelled game,
  ``unterminated`` while it goes on).
- Black (seat 0, squares 1-12) moves first; the White tag names seat 1.
  ``1-0`` is a win for Black, the side that moves first, as English
  checkers records (the ACF archives, CheckerBoard) write it; ``0-1`` for
  White, ``1/2-1/2`` a draw, ``*`` unfinished.
- Moves in standard numbering, full-move numbers before Black's moves
  (``12...`` when a game starts with White to move).  A capture is written
  from its first to its last square (``9x25``) unless another capture joins
  the same two squares: then every landing square (``9x18x25``), as PDN 3.0
  asks for ambiguous captures.  Reading accepts either, ``:`` for ``x``,
  move strengths, NAGs, variations (skipped), comments and ``%`` lines.
- Clocks: ``TimeControl`` is ``B+I`` (seconds) for a live control and ``1/S``
  (one move in S seconds, repeating) for correspondence.  With the clocks
  after each move (the servers' ``MoveClocks``), a PDN 3.0 ``[%clock]``
  comment follows every move: both clocks right after it (White's, then
  Black's; the mover's with its increment added), the letter of the clock
  that runs next upper case.  After the last move comes the game as it
  stands (``running`` as the document says), and one more comment when the
  clocks moved since (a resignation, a loss on time).  Without them (the
  document alone holds only the clocks as the game stands) one comment
  follows the last move.  A comment is left out when a clock exceeds 99
  hours, beyond its ``h:mm:ss``.  Reading takes the clocks after each move
  from the first ``[%clock]`` after it, when every move has one written as
  above (both clocks, the mover's other clock as its last move left it, the
  right letter upper case); otherwise the last comment is the game as it
  stands, as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

import attrs

from game.records.clocks import clocks_after_moves
from game.records.record import (
    CANCELLED,
    TIME,
    MalformedRecord,
    Record,
    RecordClock,
    RecordError,
    Replay,
    clock_control,
    line_column,
    settle_result,
    start_position,
)
from game.rules import Outcome, Position
from game.timecontrol import CORR, DAY_MS, parse_time_control

GAME_TYPE: Final = "21"
LINE_WIDTH: Final = 79
_RESULTS: Final = {"1-0": 0, "0-1": 1, "1/2-1/2": None, "2-0": 0, "0-2": 1, "1-1": None}
_TERMINATIONS: Final = {TIME: "time forfeit", CANCELLED: "abandoned"}
_TOKEN: Final = re.compile(
    r"""(?P<space>\s+)
    |(?P<tag>\[\s*(?P<name>[A-Za-z][A-Za-z0-9_]*)\s*"(?P<value>(?:[^"\\]|\\.)*)"\s*\])
    |(?P<comment>\{[^}]*\})
    |(?P<result>(?:1-0|0-1|1/2-1/2|2-0|0-2|1-1|0-0|\*)(?=[\s{(;)]|$))
    |(?P<number>[0-9]+\.(?:\.\.)?)
    |(?P<ellipsis>\.\.\.)
    |(?P<move>[0-9]{1,2}(?:[-x:][0-9]{1,2})+)(?P<strength>[!?]+|\([!?]+\))?
    |(?P<nag>\$[0-9]+)
    |(?P<open>\()
    |(?P<close>\))
    |(?P<setup>/[^/]*/)
    """,
    re.VERBOSE,
)
_KINDS: Final = (
    "space",
    "tag",
    "comment",
    "result",
    "number",
    "ellipsis",
    "move",
    "nag",
    "open",
    "close",
    "setup",
)
_CLOCK: Final = re.compile(
    r"\[%(?:clock|clk)\s*([wWbB])(\d{1,2}):(\d\d):(\d\d)\s*(?:([wWbB])(\d{1,2}):(\d\d):(\d\d)\s*)?\]"
)


# -- writing -------------------------------------------------------------------------


def export_pdn(record: Record) -> str:
    """The PDN text of a checkers record (see the module's doc)."""
    _require_checkers(record.kind)
    tags = [
        ("Event", "replgame"),
        ("Site", "?"),
        ("Date", "????.??.??"),
        ("Round", "?"),
        ("White", record.players[1] or "?"),
        ("Black", record.players[0] or "?"),
        ("Result", result_token(record.result)),
        ("GameType", GAME_TYPE),
    ]
    if record.start is not None:
        tags += [("SetUp", "1"), ("FEN", record.start)]
    if record.game_id:
        tags.append(("GameId", record.game_id))
    if record.clock is not None:
        tags.append(("TimeControl", pdn_time_control(record.clock.control)))
    tags.append(("Termination", termination(record.result)))
    lines = [f'[{name} "{_escape(value)}"]' for name, value in tags]
    return "\n".join(lines) + "\n\n" + "\n".join(_wrap(_movetext(record))) + "\n"


def result_token(result: Outcome | None) -> str:
    if result is None or result.reason == CANCELLED:
        return "*"
    return {0: "1-0", 1: "0-1", None: "1/2-1/2"}[result.winner]


def termination(result: Outcome | None) -> str:
    if result is None:
        return "unterminated"
    return _TERMINATIONS.get(result.reason, "normal")


def pdn_time_control(control: str) -> str:
    """PDN/PGN's TimeControl value of a wire control (``live:300+5`` -> ``300+5``)."""
    parsed = parse_time_control(control)
    if parsed.kind == CORR:
        return f"1/{parsed.days * DAY_MS // 1000}"
    return f"{parsed.base_ms // 1000}+{parsed.increment_ms // 1000}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _movetext(record: Record) -> Iterator[str]:
    position = start_position(record.kind, record.start)
    offset = position.to_move
    after = move_comments(record, offset)
    for ply, move in enumerate(record.moves):
        index = ply + offset
        written = short_capture(position, move)
        # A move number stays on the line of its move.
        if index % 2 == 0:
            yield f"{index // 2 + 1}. {written}"
        elif ply == 0:
            yield f"{index // 2 + 1}... {written}"
        else:
            yield written
        comment = after[ply] if after else None
        if comment:
            yield comment
        position = position.play(move)
    if record.clock is not None and record.clock.remaining is not None:
        comment = clock_comment(record.clock.remaining, record.clock.running)
        # As the game stands, unless the last move's comment says just that.
        if comment and not (after and after[-1] == comment):
            yield comment
    yield result_token(record.result)


def move_comments(record: Record, first_seat: int) -> list[str | None]:
    """The ``[%clock]`` comment after each move: both clocks right after it,
    the next mover's running (after the last move, as the game stands); ``[]``
    when the record has no clocks per move."""
    clock = record.clock
    if clock is None or clock.move_clocks is None:
        return []
    both = clocks_after_moves(clock.control, first_seat, clock.move_clocks)
    last = len(both) - 1
    return [
        clock_comment(clocks, clock.running if ply == last else (first_seat + ply + 1) % 2)
        for ply, clocks in enumerate(both)
    ]


def short_capture(position: Position, move: str) -> str:
    """``move`` as PDN 3.0 writes it: a capture from first to last square when
    no other capture joins those two squares."""
    squares = move.split("x")
    if len(squares) <= 2:
        return move
    same_ends = [
        m
        for m in position.legal_moves()
        if m.startswith(squares[0] + "x") and m.endswith("x" + squares[-1])
    ]
    return f"{squares[0]}x{squares[-1]}" if same_ends == [move] else move


def clock_comment(remaining: tuple[int, int], running: int | None) -> str | None:
    """``{[%clock w0:04:53 B0:04:31]}``: White's clock, then Black's, the
    running one's letter upper case; None past 99 hours."""
    parts = []
    for seat, letter in ((1, "w"), (0, "b")):
        seconds = max(0, remaining[seat]) // 1000
        hours, rest = divmod(seconds, 3600)
        if hours > 99:
            return None
        shown = letter.upper() if running == seat else letter
        parts.append(f"{shown}{hours}:{rest // 60:02d}:{rest % 60:02d}")
    return "{[%clock " + " ".join(parts) + "]}"


def _wrap(tokens: Iterator[str]) -> Iterator[str]:
    line = ""
    for token in tokens:
        if line and len(line) + 1 + len(token) > LINE_WIDTH:
            yield line
            line = token
        else:
            line = f"{line} {token}" if line else token
    yield line


def _require_checkers(kind: str) -> None:
    if kind != "checkers":
        raise RecordError(f"PDN records checkers games, not {kind}")


# -- reading -------------------------------------------------------------------------


@attrs.define
class _Game:
    """What the text of one game says, before its moves are replayed."""

    tags: dict[str, str] = attrs.field(factory=dict)
    #: (move as written, line, column)
    moves: list[tuple[str, int, int]] = attrs.field(factory=list)
    comments: list[str] = attrs.field(factory=list)
    #: The first clock comment after each move, by the move's index.
    move_clocks: dict[int, str] = attrs.field(factory=dict)
    terminator: str | None = None


def parse_pdn(text: str) -> Record:
    """The first game of a PDN text, replayed through the rules.

    :raises MalformedRecord: the text is not PDN (with the line and column).
    :raises IllegalRecord: a move is not legal (with its move number).
    :raises RecordError: the game is not English draughts, or its result
        contradicts its moves.
    """
    game = _read_game(text)
    game_type = game.tags.get("GameType", GAME_TYPE).split(",")[0].strip()
    if game_type != GAME_TYPE:
        raise RecordError(f'GameType "{game_type}" is not English draughts ("21")')
    start = _fen(game.tags["FEN"]) if "FEN" in game.tags else None
    replay = Replay("checkers", start)
    offset = replay.start.to_move
    for written, line, column in game.moves:
        number = (replay.ply + offset) // 2 + 1
        try:
            play_checkers_move(replay, written, number)
        except RecordError as error:
            error.args = (f"{error.message} (line {line}, column {column})",)
            raise
    result = _result(game)
    finished = result != "*"
    winner = _RESULTS.get(result)
    term = game.tags.get("Termination", "").strip().lower()
    termination_reason = {"time forfeit": TIME, "abandoned": CANCELLED}.get(term)
    outcome = settle_result(replay, winner, finished, termination_reason)
    record = Record(
        kind="checkers",
        players=(_player(game.tags.get("Black")), _player(game.tags.get("White"))),
        moves=tuple(replay.moves),
        result=outcome,
        clock=_clock(game, offset, len(replay.moves)),
        game_id=game.tags.get("GameId") or None,
        start=start,
    )
    return _checked_move_clocks(record, game, offset)


def _checked_move_clocks(record: Record, game: _Game, first_seat: int) -> Record:
    """``record``, its clocks after each move kept only if its comments are
    exactly those this module writes for them: the single comment after the
    last move of a record without them (or another program's clocks) is no
    clock per move, so that every record reads back as it was written."""
    clock = record.clock
    if clock is None or clock.move_clocks is None:
        return record
    written = [game.move_clocks.get(ply) for ply in range(len(record.moves))]
    if move_comments(record, first_seat) == written:
        return record
    return attrs.evolve(record, clock=attrs.evolve(clock, move_clocks=None))


def _read_game(text: str) -> _Game:
    game = _Game()
    depth = 0
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            line, column = line_column(text, position)
            if text.startswith("%", position) and column == 1:
                end = text.find("\n", position)
                position = len(text) if end < 0 else end
                continue
            raise MalformedRecord(f"unexpected {text[position]!r}", line, column)
        kind = next(name for name in _KINDS if match.group(name) is not None)
        position = match.end()
        if kind == "space":
            continue
        line, column = line_column(text, match.start())
        if kind == "tag":
            if game.moves or game.terminator is not None:
                break  # the next game's tags
            game.tags[match["name"]] = re.sub(r"\\(.)", r"\1", match["value"])
        elif kind == "open":
            depth += 1
        elif kind == "close":
            if depth == 0:
                raise MalformedRecord("')' closes no variation", line, column)
            depth -= 1
        elif depth:
            continue  # inside a variation: not the game's own line
        elif kind == "comment":
            game.comments.append(match["comment"])
            if game.moves and _CLOCK.search(match["comment"]):
                game.move_clocks.setdefault(len(game.moves) - 1, match["comment"])
        elif kind == "move":
            game.moves.append((match["move"], line, column))
        elif kind == "result":
            game.terminator = match["result"]
            break
        elif kind == "setup":
            raise MalformedRecord("a setup inside the game is not supported", line, column)
    if depth:
        raise MalformedRecord("a variation is not closed", *line_column(text, len(text)))
    if not game.tags and not game.moves and game.terminator is None:
        raise MalformedRecord("no game in the text", *line_column(text, len(text)))
    return game


def play_checkers_move(replay: Replay, written: str, number: int | None = None) -> None:
    """Play a checkers move as a record writes it (``11-15``, ``9x25``,
    ``9x18x25``, ``9:18``, ``05-09``).

    :raises IllegalRecord: it is not legal, or names two captures.
    """
    ambiguous = _ambiguous(replay.position, written)
    if ambiguous:
        raise replay.refuse(written, ambiguous, number)
    replay.play(_resolve(replay.position, written), written, number)


def _resolve(position: Position, written: str) -> str:
    """The move in the rules' notation that ``written`` means: itself, or the one
    capture joining its first and last squares (the rules refuse any other)."""
    move, joining = _captures_joining(position, written)
    return joining[0] if move not in position.legal_moves() and len(joining) == 1 else move


def _ambiguous(position: Position, written: str) -> str | None:
    """Why ``written`` names no single move: two captures join its squares."""
    move, joining = _captures_joining(position, written)
    if move in position.legal_moves() or len(joining) < 2:
        return None
    return f"it could be {' or '.join(joining)}; write every landing square"


def _captures_joining(position: Position, written: str) -> tuple[str, list[str]]:
    """``written`` in the rules' notation, and the legal captures from its first
    to its last square (``-`` is read as a capture where only a capture fits)."""
    squares = [str(int(s)) for s in re.split(r"[-x:]", written)]
    move = ("x" if "x" in written or ":" in written else "-").join(squares)
    if len(squares) > 2:
        return move, [m for m in position.legal_moves() if m == move]
    joining = [
        m
        for m in position.legal_moves()
        if "x" in m and m.split("x")[0] == squares[0] and m.split("x")[-1] == squares[-1]
    ]
    return move, joining


def _result(game: _Game) -> str:
    tag = game.tags.get("Result", "*").strip() or "*"
    end = game.terminator or tag
    if tag != "*" and end != "*" and tag != end:
        raise RecordError(f"the Result tag says {tag} but the game ends {end}")
    result = end if end != "*" else tag
    if result not in _RESULTS and result != "*":
        raise RecordError(f"the result {result} is not one of 1-0, 0-1, 1/2-1/2, *")
    return result


def _player(name: str | None) -> str | None:
    name = (name or "").strip()
    return None if name in ("", "?") else name


def _fen(text: str) -> str:
    """A PDN FEN in the rules' form (ranges ``1-12`` expanded, a final ``.`` dropped)."""
    fields = []
    for field in text.strip().rstrip(".").split(":"):
        head, squares = field[:1], field[1:]
        expanded = []
        for piece in filter(None, squares.split(",")):
            king = piece.startswith("K")
            bounds = piece.lstrip("K").split("-")
            if len(bounds) == 2 and all(b.isdigit() for b in bounds):
                names = [str(s) for s in range(int(bounds[0]), int(bounds[1]) + 1)]
            else:
                names = [piece.lstrip("K")]
            expanded += ["K" + n if king else n for n in names]
        fields.append(head + ",".join(expanded))
    return ":".join(fields)


def _clock(game: _Game, first_seat: int, moves: int) -> RecordClock | None:
    """The clock of the tags and comments: as the last ``[%clock]`` says,
    and after each move when every move has one."""
    control_tag = game.tags.get("TimeControl")
    if control_tag is None:
        return None
    control = _wire_control(control_tag.strip())
    if control is None:
        return None
    remaining: tuple[int, int] | None = None
    running = None
    for comment in game.comments:
        for match in _CLOCK.finditer(comment):
            seconds, running = _clock_values(match)
            remaining = (seconds.get(0, 0) * 1000, seconds.get(1, 0) * 1000)
    return RecordClock(control, remaining, running, _move_clocks(game, first_seat, moves))


def _clock_values(match: re.Match[str]) -> tuple[dict[int, int], int | None]:
    """The seconds of each seat a ``[%clock]`` gives, and the seat whose runs."""
    seconds: dict[int, int] = {}
    running = None
    for letter, h, m, s in (match.group(1, 2, 3, 4), match.group(5, 6, 7, 8)):
        if letter is None:
            continue
        seat = 1 if letter in "wW" else 0
        seconds[seat] = int(h) * 3600 + int(m) * 60 + int(s)
        if letter.isupper():
            running = seat
    return seconds, running


def _move_clocks(game: _Game, first_seat: int, moves: int) -> tuple[int, ...] | None:
    """The mover's clock after each move, when a ``[%clock]`` follows every move."""
    clocks = []
    for ply in range(moves):
        match = _CLOCK.search(game.move_clocks.get(ply, ""))
        seconds = {} if match is None else _clock_values(match)[0]
        mover = (first_seat + ply) % 2
        if mover not in seconds:
            return None
        clocks.append(seconds[mover] * 1000)
    return tuple(clocks) or None


def _wire_control(value: str) -> str | None:
    live = re.fullmatch(r"([0-9]+)\+([0-9]+)", value)
    if live:
        return clock_control(f"live:{int(live[1])}+{int(live[2])}")
    corr = re.fullmatch(r"1/([0-9]+)", value)
    if corr and int(corr[1]) % (DAY_MS // 1000) == 0:
        return clock_control(f"corr:{int(corr[1]) // (DAY_MS // 1000)}")
    return None
