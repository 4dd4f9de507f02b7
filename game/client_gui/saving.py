"""Saving a game's record from the desktop game ("Save record..."), without pyglet.

pyglet has no file dialog, so the game screen asks for the path in a
prompt (:func:`game.client_gui.replay_view.save_prompt`) prefilled with
:func:`default_path`; :func:`write_record` writes the record in the kind's
own format (:data:`game.records.NATIVE_FORMATS`: PDN for checkers, GGF for
Reversi, the column string for Connect Four), exactly as ``replgame export``
prints it, with a timed game's clocks after each move when the servers gave
them.  A record is a few kilobytes, so it is written at once, on the
reactor's thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from game.client.document import GameDocument
from game.records import NATIVE_FORMATS, RecordError, export

#: Where records go unless the player types another path.
RECORDS_DIRECTORY: Final = "~/replgame-records"
#: The file name extension of each format.
EXTENSIONS: Final = {"pdn": "pdn", "ggf": "ggf", "moves": "txt"}
#: The longest path the prompt takes.
MAX_PATH: Final = 1024


class SaveFailed(Exception):
    """The record was not written; the message says why and what to do."""


def default_path(document: GameDocument) -> str:
    """``~/replgame-records/<game id>.pdn`` (``.ggf``, ``.txt``)."""
    extension = EXTENSIONS[NATIVE_FORMATS.get(document.kind, "moves")]
    return f"{RECORDS_DIRECTORY}/{document.game_id}.{extension}"


def typed_into(path: str, typed: str) -> str:
    """The path after typing ``typed`` (control characters dropped)."""
    printable = "".join(ch for ch in typed if ch.isprintable())
    return (path + printable)[:MAX_PATH]


def target(typed: str) -> Path:
    """The file a typed path names: ``~`` expanded, a relative path under the home folder.

    :raises SaveFailed: nothing typed.
    """
    text = typed.strip()
    if not text:
        raise SaveFailed("Type the file to save the record to, then press Enter.")
    path = Path(text).expanduser()
    return path if path.is_absolute() else Path.home() / path


def write_record(document_text: str, typed: str, clocks: Sequence[int] | None = None) -> Path:
    """Write the record of a game document (the servers' JSON text) to the
    file ``typed`` names, creating its folder; returns the file written.

    :param clocks: a timed game's clocks after each move (``MoveClocks``,
        :mod:`game.client.recordclocks`), one per move of the document.
    :raises SaveFailed: no record of that document, or the file could not be
        written (the message says what to do).
    """
    path = target(typed)
    try:
        text = export(document_text, clocks=clocks)
    except RecordError as error:
        raise SaveFailed(f"No record of this game: {error}") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except PermissionError:
        raise SaveFailed(
            f"Cannot write {path}: permission denied. Type a path in a folder you may "
            f"write to (e.g. {RECORDS_DIRECTORY}/...) and press Enter."
        ) from None
    except IsADirectoryError:
        raise SaveFailed(f"{path} is a folder: add a file name and press Enter.") from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise SaveFailed(
            f"Cannot write {path}: {reason}. Type another path and press Enter."
        ) from None
    return path
