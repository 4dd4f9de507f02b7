"""Game records: a game written in the notation its players' programs read, and read back.

The formats, one module each:

=========  ==========================================================  ==========
format     what                                                        kinds
=========  ==========================================================  ==========
``pdn``    PDN 3.0, the draughts standard (:mod:`.pdn`)                checkers
``ggf``    GGF as Buro's GGS Othello server writes it (:mod:`.ggf`)    reversi
``moves``  the bare move string: ``4453``, ``f5d6c3``, ``11-15 23-19``  every kind
           (:mod:`.movestring`)
``json``   the game document as the servers answered it (canonical)    every kind
=========  ==========================================================  ==========

:func:`export` writes a game document (its JSON object or text) in a format,
with a timed game's clocks after each move when given (the servers'
``MoveClocks``: PDN and GGF carry them, :mod:`.clocks`);
:func:`parse` reads a record back into a :class:`Record`, replaying every
move through :mod:`game.rules` from the start (or from a PDN ``FEN``), and
refuses an illegal record with the move's number and the rules' reason
(:class:`IllegalRecord`) and text that is not the format with its line and
column (:class:`MalformedRecord`).  Pure: the standard library,
:mod:`game.rules` and :mod:`game.timecontrol` only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from game.records.ggf import export_ggf, parse_ggf
from game.records.movestring import export_moves, parse_moves
from game.records.pdn import export_pdn, parse_pdn
from game.records.record import (
    IllegalRecord,
    MalformedRecord,
    Record,
    RecordClock,
    RecordError,
    Replay,
)
from game.rules import KINDS

__all__ = [
    "CLOCK_FORMATS",
    "FORMATS",
    "NATIVE_FORMATS",
    "IllegalRecord",
    "MalformedRecord",
    "Record",
    "RecordClock",
    "RecordError",
    "export",
    "export_record",
    "parse",
    "sniff",
]

FORMATS: Final = ("pdn", "ggf", "moves", "json")
#: Each kind's own format: what ``replgame export`` writes by default.
NATIVE_FORMATS: Final = {"checkers": "pdn", "reversi": "ggf", "connect4": "moves"}
#: The formats that carry a timed game's clocks after each move.
CLOCK_FORMATS: Final = ("pdn", "ggf")
#: Which kinds each format can hold.
FORMAT_KINDS: Final = {
    "pdn": ("checkers",),
    "ggf": ("reversi",),
    "moves": KINDS,
    "json": KINDS,
}

_REVERSI_MOVES: Final = re.compile(r"(?:\s*(?:[a-hA-H][1-8]|pa|PA|pass))+\s*")
_CONNECT4_MOVES: Final = re.compile(r"[1-7\s]+")
_CHECKERS_MOVES: Final = re.compile(r"(?:\s*[0-9]{1,2}(?:[-x:][0-9]{1,2})+)+\s*")


def export(
    document: Mapping[str, Any] | str,
    format: str | None = None,
    clocks: Sequence[int] | None = None,
) -> str:
    """A game document (its JSON object, or its text) as a record in ``format``
    (default: the kind's own, :data:`NATIVE_FORMATS`).

    :param clocks: a timed game's clocks after each move (the servers'
        ``MoveClocks``), written move by move in PDN and GGF; without them
        (or for an untimed game) only the clocks as the game stands.
    :raises RecordError: not a game document, a format its kind has not,
        or ``clocks`` not one per move.
    """
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as error:
            raise RecordError(f"not a game document: {error}") from None
        if not isinstance(document, Mapping):
            raise RecordError("not a game document: not a JSON object")
    return export_record(Record.from_document(document, clocks), format)


def export_record(record: Record, format: str | None = None) -> str:
    """``record`` in ``format`` (default: the kind's own).

    :raises RecordError: a format the kind has not, or ``json`` for a record
        that was not read from a document.
    """
    format = format or NATIVE_FORMATS[record.kind]
    _check_format(format, record.kind)
    if format == "pdn":
        return export_pdn(record)
    if format == "ggf":
        return export_ggf(record)
    if format == "moves":
        return export_moves(record)
    if record.document is None:
        raise RecordError("json writes a game document; this record was not read from one")
    return json.dumps(record.document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def parse(text: str, format: str | None = None, kind: str | None = None) -> Record:
    """Read a record, replaying its moves through the rules.

    :param format: one of :data:`FORMATS`; None to tell it from the text
        (:func:`sniff`).
    :param kind: the game kind, needed only for a ``moves`` string that
        could be more than one kind (none can be told from an empty one).
    :raises MalformedRecord: the text is not the format (line and column).
    :raises IllegalRecord: a move is not legal (move number and reason).
    :raises RecordError: a record of another game, or one that contradicts itself.
    """
    if format is None:
        try:
            format, sniffed = sniff(text)
        except RecordError:
            if kind is None:
                raise
            format, sniffed = "moves", kind  # its reader says where it goes wrong
        kind = kind or sniffed
    if format not in FORMATS:
        raise RecordError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    if format == "pdn":
        record = parse_pdn(text)
    elif format == "ggf":
        record = parse_ggf(text)
    elif format == "json":
        record = _parse_json(text)
    else:
        kind = kind or _moves_kind(text)
        if kind is None:
            raise RecordError("which game's moves these are cannot be told: give the kind")
        record = parse_moves(text, kind)
    if kind is not None and record.kind != kind:
        raise RecordError(f"this is a {record.kind} record, not {kind}")
    return record


def sniff(text: str) -> tuple[str, str | None]:
    """The format of ``text`` and, where the text tells it, the kind.

    :raises RecordError: no format fits.
    """
    head = text.lstrip()
    if head.startswith("(;"):
        return "ggf", "reversi"
    if head.startswith("{"):
        return "json", None
    if head.startswith("[") or re.match(r"[0-9]+\.", head):
        return "pdn", "checkers"
    kind = _moves_kind(text)
    if kind is not None or not head:
        return "moves", kind
    raise RecordError("not a record in a known format (pdn, ggf, moves or json)")


def _moves_kind(text: str) -> str | None:
    if not text.strip():
        return None
    if _CONNECT4_MOVES.fullmatch(text):
        return "connect4"
    if _REVERSI_MOVES.fullmatch(text):
        return "reversi"
    if _CHECKERS_MOVES.fullmatch(text):
        return "checkers"
    return None


def _check_format(format: str, kind: str) -> None:
    if format not in FORMATS:
        raise RecordError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    if kind not in FORMAT_KINDS[format]:
        raise RecordError(f"{format} records {', '.join(FORMAT_KINDS[format])} games, not {kind}")


def _parse_json(text: str) -> Record:
    """A game document, its moves replayed to check them."""
    try:
        fields = json.loads(text)
    except ValueError as error:
        line, column = getattr(error, "lineno", 1), getattr(error, "colno", 1)
        raise MalformedRecord(f"not JSON: {getattr(error, 'msg', error)}", line, column) from None
    if not isinstance(fields, dict):
        raise MalformedRecord("a game document is a JSON object", 1, 1)
    record = Record.from_document(fields)
    replay = Replay(record.kind)
    for move in record.moves:
        replay.play(move)
    return record
