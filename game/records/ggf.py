"""Reversi records as GGF, the Generic Game Format of Buro's GGS.

Written as the GGS Othello server writes a game, on one line::

    (;GM[Othello]PC[replgame]PB[alice]PW[bob]TI[05:00/00:05/]TY[8]RE[+12.000]
    BO[8 -------- -------- -------- ---O*--- ---*O--- -------- -------- -------- *]
    B[f5]W[d6]B[c3]...W[pass]...;)

- Properties in GGS's order: ``GM``, ``PC``, ``DT`` (when the date is known:
  never from a game document), ``PB``/``PW`` (absent for a free seat),
  ``TI``, ``TY[8]`` (standard 8x8 Othello), ``RE`` (absent while the game
  goes on), ``BO``, then the moves.
- ``BO``: the board size, the eight rows top (rank 1) to bottom, each
  a-h, ``*`` black, ``O`` white, ``-`` empty, separated by spaces as GGS
  writes them, then the side to move (``*`` black).
- Moves ``B[f5]``/``W[d6]``: the square in lower case and a pass
  ``pass``, as the GGS game archive has them since 2003 (``B[d3//0.01]``,
  ``B[pass]``; its 2000 games are upper case, ``B[E6//4.09]``).  Reading
  takes either case, ``PA`` (NBoard's pass) and the ``/eval/time`` GGS
  appends to a move.
- ``RE``: the score from Black's view with three decimals: the disc
  difference, empty squares going to the winner as the World Othello rules
  count them (``+12.000``, ``-4.000``, ``0.000``); a resignation
  ``+64.000:r`` (``:t`` lost on time), a draw agreed ``0.000:s`` (GGS's
  mutual score).  GGF has no word for a cancelled game: one is written
  without ``RE`` and reads back as unfinished.
- ``TI``: ``base/increment/extension`` as ``mm:ss`` fields, an empty field
  for zero (``TI[05:00/00:05/]`` is ``live:300+5``).  Correspondence has no
  GGS clock and is left out.
- Times: with the clocks after each move (the servers' ``MoveClocks``),
  each move carries the time it took as GGS writes it, in seconds with two
  decimals after an empty evaluation (``B[f5//1.23]``): its mover's clock
  before it, plus the increment, less its clock after it.  Without them
  (the document alone holds only the clocks as the game stands) no move
  carries one.  Reading rebuilds the clocks after each move from ``TI``
  and the times, when every move has one.
"""

from __future__ import annotations

import re
from typing import Final

from game.records.clocks import clocks_from_times, move_times
from game.records.record import (
    CANCELLED,
    DRAW_AGREED,
    RESIGNED,
    TIME,
    MalformedRecord,
    Record,
    RecordClock,
    RecordError,
    Replay,
    clock_control,
    line_column,
    located,
    settle_result,
    start_position,
)
from game.rules import Outcome
from game.rules.reversi import PASS, SIZE, Reversi
from game.timecontrol import LIVE, parse_time_control

PLACE: Final = "replgame"
_PROPERTY: Final = re.compile(r"\s*([A-Za-z]+)\s*\[((?:[^\]\\]|\\.)*)\]")
_SCORE: Final = re.compile(r"([+-]?[0-9]+(?:\.[0-9]*)?)(?::([rtsRTS]))?")
_TIME: Final = re.compile(r"([0-9]{1,9})(?:\.([0-9]*))?")
_FLAGS: Final = {RESIGNED: "r", TIME: "t", DRAW_AGREED: "s"}
_BOARD_CHARS: Final = {"*": "X", "O": "O", "-": "-"}


# -- writing -------------------------------------------------------------------------


def export_ggf(record: Record) -> str:
    """The GGF text of a Reversi record (see the module's doc)."""
    if record.kind != "reversi":
        raise RecordError(f"GGF records Reversi games here, not {record.kind}")
    start = start_position(record.kind, record.start)
    parts = [f"(;GM[Othello]PC[{PLACE}]"]
    for letter, name in zip("BW", record.players, strict=True):
        if name is not None:
            parts.append(f"P{letter}[{_escape(name)}]")
    ti = None if record.clock is None else ggs_time_control(record.clock.control)
    if ti is not None:
        parts.append(f"TI[{ti}]")
    parts.append("TY[8]")
    if record.result is not None and record.result.reason != CANCELLED:
        final = record.positions()[-1]
        assert isinstance(final, Reversi)
        parts.append(f"RE[{score(final, record.result)}]")
    parts.append(f"BO[{board(start.to_text())}]")
    seat = start.to_move
    times = [""] * len(record.moves)
    if ti is not None and record.clock is not None and record.clock.move_clocks is not None:
        spent = move_times(record.clock.control, seat, record.clock.move_clocks)
        times = [f"//{seconds_text(ms)}" for ms in spent]
    for move, time in zip(record.moves, times, strict=True):
        parts.append(f"{'BW'[seat]}[{move}{time}]")
        seat = 1 - seat
    parts.append(";)")
    return "".join(parts) + "\n"


def board(position_text: str) -> str:
    """GGF's ``BO`` value of a Reversi position text."""
    cells = position_text[: SIZE * SIZE].replace("X", "*")
    rows = " ".join(cells[row * SIZE : (row + 1) * SIZE] for row in range(SIZE))
    return f"{SIZE} {rows} {'*' if position_text.endswith('X') else 'O'}"


def score(final: Reversi, result: Outcome) -> str:
    """``RE``'s value: Black's score, then GGS's flag when the board did not decide it."""
    flag = _FLAGS.get(result.reason)
    if flag is not None:
        points = {0: 64, 1: -64, None: 0}[result.winner]
        return f"{points:+.3f}:{flag}" if points else f"0.000:{flag}"
    black, white = final.counts()
    empty = SIZE * SIZE - black - white
    difference = black - white
    if difference > 0:
        difference += empty
    elif difference < 0:
        difference -= empty
    return f"{difference:+.3f}" if difference else "0.000"


def ggs_time_control(control: str) -> str | None:
    """``TI``'s value of a wire control; None for correspondence."""
    parsed = parse_time_control(control)
    if parsed.kind != LIVE:
        return None
    base = _mm_ss(parsed.base_ms // 1000)
    increment = _mm_ss(parsed.increment_ms // 1000) if parsed.increment_ms else ""
    return f"{base}/{increment}/"


def seconds_text(ms: int) -> str:
    """A move's time as GGS writes it: seconds with two decimals (``4.09``),
    rounded to the nearest hundredth; never negative."""
    hundredths = (max(0, ms) + 5) // 10
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def _mm_ss(seconds: int) -> str:
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("]", "\\]")


# -- reading -------------------------------------------------------------------------


def parse_ggf(text: str) -> Record:
    """The first game of a GGF text, replayed through the rules.

    :raises MalformedRecord: the text is not GGF (with the line and column).
    :raises IllegalRecord: a move is not legal (its number counts plies from 1).
    :raises RecordError: not standard 8x8 Othello, or the result contradicts
        the moves.
    """
    begin = text.find("(;")
    if begin < 0:
        raise MalformedRecord("no GGF game: it starts with '(;'", 1, 1)
    position = begin + 2
    properties: dict[str, tuple[str, int]] = {}
    moves: list[tuple[str, str, int]] = []
    while True:
        rest = text[position:].lstrip()
        position = len(text) - len(rest)
        if rest.startswith(";)"):
            break
        match = _PROPERTY.match(text, position)
        if match is None:
            what = repr(text[position]) if position < len(text) else "the end of the text"
            raise MalformedRecord(
                f"expected a property or ';)', found {what}", *line_column(text, position)
            )
        name, value = match[1].upper(), re.sub(r"\\(.)", r"\1", match[2])
        if name in ("B", "W"):
            moves.append((name, value, match.start(1)))
        elif name not in properties:
            properties[name] = (value, match.start(2))
        position = match.end()
    _check_game(properties)
    start = _start(text, properties)
    replay = Replay("reversi", start)
    for colour, value, offset in moves:
        written = f"{colour}[{value}]"
        move = _move(value)
        if "BW".index(colour) != replay.seat:
            error = replay.refuse(
                written, f"it is {'black' if replay.seat == 0 else 'white'}'s turn"
            )
            raise located(error, text, offset)
        try:
            replay.play(move, written)
        except RecordError as error:
            raise located(error, text, offset) from None
    clock = _clock(properties)
    times = [_time(value) for _, value, _ in moves]
    if clock is not None and moves and None not in times:
        first = replay.start.to_move
        clocks = clocks_from_times(clock.control, first, [t for t in times if t is not None])
        clock = RecordClock(clock.control, move_clocks=clocks)
    return Record(
        kind="reversi",
        players=(_name(properties, "PB"), _name(properties, "PW")),
        moves=tuple(replay.moves),
        result=_result(replay, properties),
        clock=clock,
        start=start,
    )


def _check_game(properties: dict[str, tuple[str, int]]) -> None:
    game, _ = properties.get("GM", ("", 0))
    if game.strip().lower() != "othello":
        raise RecordError(f"GM[{game}] is not an Othello game")
    kind = properties.get("TY", ("8", 0))[0]
    if kind.strip() != "8":
        raise RecordError(
            f"TY[{kind}]: only standard 8x8 Othello (TY[8]) is a game of this cluster"
        )


def _start(text: str, properties: dict[str, tuple[str, int]]) -> str | None:
    """The position text of ``BO``, None when it is the standard start."""
    value, offset = properties.get("BO", ("", 0))
    if not value:
        return None
    cells = "".join(value.split())
    if not cells.startswith(str(SIZE)) or len(cells) != 1 + SIZE * SIZE + 1:
        raise MalformedRecord(
            f"BO is the size 8, 64 squares and the side to move, not {value!r}",
            *line_column(text, offset),
        )
    squares, side = cells[1:-1], cells[-1]
    if any(c not in _BOARD_CHARS for c in squares) or side not in "*O":
        raise MalformedRecord(
            f"BO's squares are *, O or -, and the side to move * or O: {value!r}",
            *line_column(text, offset),
        )
    position = "".join(_BOARD_CHARS[c] for c in squares) + (" X" if side == "*" else " O")
    return None if position == Reversi.start().to_text() else position


def _move(value: str) -> str:
    move = value.split("/")[0].strip().lower()
    return PASS if move in ("pa", "pass") else move


def _time(value: str) -> int | None:
    """The time (ms) a move value's ``move/eval/time`` gives, None without one."""
    fields = value.split("/")
    match = _TIME.fullmatch(fields[2].strip()) if len(fields) > 2 else None
    if match is None:
        return None
    return int(match[1]) * 1000 + int((match[2] or "").ljust(3, "0")[:3])


def _name(properties: dict[str, tuple[str, int]], key: str) -> str | None:
    name = properties.get(key, ("", 0))[0].strip()
    return name or None


def _result(replay: Replay, properties: dict[str, tuple[str, int]]) -> Outcome | None:
    value = properties.get("RE", ("", 0))[0].strip()
    if not value:
        return settle_result(replay, None, finished=False)
    match = _SCORE.fullmatch(value)
    if match is None:
        raise RecordError(f"RE[{value}] is not a score such as +12.000 or -64.000:r")
    points = float(match[1])
    winner = 0 if points > 0 else 1 if points < 0 else None
    flag = (match[2] or "").lower()
    return settle_result(replay, winner, finished=True, termination=TIME if flag == "t" else None)


def _clock(properties: dict[str, tuple[str, int]]) -> RecordClock | None:
    value = properties.get("TI", ("", 0))[0].strip()
    fields = value.split("/")
    if not value or len(fields) > 3:
        return None
    try:
        base, increment = (_seconds(f) for f in [*fields, "", ""][:2])
    except ValueError:
        return None
    control = clock_control(f"live:{base}+{increment}")
    return None if control is None else RecordClock(control)


def _seconds(field: str) -> int:
    """``[[h:]m:]s`` as seconds, 0 when empty.

    :raises ValueError: not that form.
    """
    if not field.strip():
        return 0
    total = 0
    for part in field.strip().split(":"):
        total = total * 60 + int(part)
    return total
