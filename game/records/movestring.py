"""The bare move string of a game, as solvers and databases take it (``moves``).

- Connect Four: the columns played, 1-based from the left, one digit each
  (``4453``): the form Pascal Pons' solver and most Connect Four databases read.
- Reversi: the squares played in lower case, no separator (``f5d6c3``), passes
  left out, as WZebra and Edax transcripts write them: a pass is forced, so
  the reader plays one wherever the side to move has no disc to place
  (``pa``/``pass`` written out are read too).  A pass at the very end of an
  unfinished game is not written, so it does not read back.
- Checkers: the moves in the protocol's notation separated by spaces
  (``11-15 23-19 8-11 22x15``); the reader also takes PDN's short captures.

The string holds neither players nor result: a record read from it has none,
unless its last position is over by the rules.
"""

from __future__ import annotations

import re
from typing import Final

from game.records.pdn import play_checkers_move
from game.records.record import (
    MalformedRecord,
    Record,
    RecordError,
    Replay,
    line_column,
    located,
    settle_result,
)
from game.rules.connect4 import COLUMNS
from game.rules.reversi import PASS

_REVERSI_TOKEN: Final = re.compile(r"\s*(?:([a-hA-H][1-8])|(pass|pa|PA|PASS))")
_CHECKERS_TOKEN: Final = re.compile(r"\s*([0-9]{1,2}(?:[-x:][0-9]{1,2})+)")


def export_moves(record: Record) -> str:
    """The move string of ``record`` (see the module's doc), with a final newline."""
    if record.start is not None:
        raise RecordError("a move string starts from the standard position")
    if record.kind == "connect4":
        text = "".join(record.moves)
    elif record.kind == "reversi":
        text = "".join(move for move in record.moves if move != PASS)
    else:
        text = " ".join(record.moves)
    return text + "\n"


def parse_moves(text: str, kind: str) -> Record:
    """A move string of ``kind``, replayed through the rules.

    :raises MalformedRecord: a character that is no move (line and column).
    :raises IllegalRecord: a move is not legal (plies counted from 1).
    """
    replay = Replay(kind)
    if kind == "connect4":
        _connect4(text, replay)
    elif kind == "reversi":
        _reversi(text, replay)
    else:
        _checkers(text, replay)
    return Record(
        kind=kind,
        players=(None, None),
        moves=tuple(replay.moves),
        result=settle_result(replay, None, finished=False),
    )


def _connect4(text: str, replay: Replay) -> None:
    columns = "".join(str(c + 1) for c in range(COLUMNS))
    for offset, char in enumerate(text):
        if char.isspace():
            continue
        if char not in columns:
            raise MalformedRecord(
                f"{char!r} is not a column 1-{COLUMNS}", *line_column(text, offset)
            )
        _play(replay, char, char, text, offset)


def _reversi(text: str, replay: Replay) -> None:
    offset = 0
    while text[offset:].strip():
        match = _REVERSI_TOKEN.match(text, offset)
        if match is None:
            start = len(text) - len(text[offset:].lstrip())
            raise MalformedRecord(
                f"{text[start : start + 2]!r} is not a square a1-h8", *line_column(text, start)
            )
        square = match[1]
        if square is not None:
            # The forced passes the string leaves out.
            while replay.position.legal_moves() == [PASS]:
                replay.play(PASS)
            _play(replay, square.lower(), square, text, match.start(1))
        else:
            _play(replay, PASS, match[2], text, match.start(2))
        offset = match.end()


def _checkers(text: str, replay: Replay) -> None:
    offset = 0
    while text[offset:].strip():
        match = _CHECKERS_TOKEN.match(text, offset)
        if match is None:
            start = len(text) - len(text[offset:].lstrip())
            word = text[start:].split()[0]
            raise MalformedRecord(f"{word!r} is not a checkers move", *line_column(text, start))
        try:
            play_checkers_move(replay, match[1])
        except RecordError as error:
            raise located(error, text, match.start(1)) from None
        offset = match.end()


def _play(replay: Replay, move: str, written: str, text: str, offset: int) -> None:
    try:
        replay.play(move, written)
    except RecordError as error:
        raise located(error, text, offset) from None
