"""Backup and restore of one server's database, checked like a start-up.

A backup is sqlite's online backup of the live database into one file,
every page in one step: one read transaction, so the copy is one committed
snapshot, and under WAL a reader never blocks the server's writer.  The
copy is checked as the server checks its database when it starts
(:meth:`Storage.open_read_only`: quick check, table, format; then
:class:`~game.server.replica.Replica` sums the index entries against the
meta record) before it replaces the target, atomically and durably.

A restore is the same copy from a backup file into an empty data
directory, under the directory's lock.  The restored server catches up from
its peers before it serves, as after any restart (docs/operations.md).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Final

import attrs
from twisted.internet.task import Clock

from game.server.commit import GroupCommitter
from game.server.replica import Replica
from game.server.storage import (
    DATABASE_NAME,
    LOCK_NAME,
    DataDirectoryInUse,
    Storage,
    StorageError,
    UnreadableDatabase,
    connect_read_only,
    fsync_directory,
    lock_data_directory,
)

__all__ = ["BackupError", "Snapshot", "check_database", "copy_database", "restore_database"]

#: The side files of a WAL database: a copy must never be put beside stale ones.
_SIDE_FILES: Final = ("-wal", "-shm", "-journal")


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@attrs.frozen
class Snapshot:
    """What a checked database holds.

    :ivar digest: the replica's digest (64 hex digits), as ``Status`` reports it.
    :ivar size: the file's size in bytes.
    """

    games: int
    clock: int
    digest: str
    size: int


def check_database(path: Path, *, shown_as: str | None = None) -> Snapshot:
    """Check a database file as a server checks its own at start-up.

    :param shown_as: how error messages name the file (default: its path).
    :raises BackupError: it is missing, not a sound replgame database of this
        code's format, never initialised, or its index does not match its
        meta record.
    """
    name = shown_as or str(path)
    if not path.is_file():
        raise BackupError(f"{name}: no such file")
    try:
        storage = Storage.open_read_only(path)
    except UnreadableDatabase as error:
        raise BackupError(f"{name} is not a readable replgame database: {error.reason}") from None
    except StorageError as error:
        raise BackupError(f"{name}: {error}") from None
    try:
        meta = storage.get_meta()
        if meta is None or not meta.get("initialized", False):
            raise BackupError(
                f"{name} holds a database that was never initialised (a new server's, or a "
                "rebuild that did not finish): back up a server that serves"
            )
        try:
            # The clock is never run: a read-only replica commits nothing.
            replica = Replica(storage, GroupCommitter(storage, Clock()))
        except ValueError as error:
            raise BackupError(f"{name} is damaged: {error}") from None
        return Snapshot(
            len(replica.index), replica.clock, replica.digest_hex(), path.stat().st_size
        )
    finally:
        storage.close()


def copy_database(source: Path, target: Path) -> Snapshot:
    """Copy the database ``source`` (a live server's, or a backup) into ``target``.

    The copy is written beside ``target`` under a temporary name, checked
    (:func:`check_database`), fsynced, renamed over ``target`` and its
    directory fsynced: ``target`` is either untouched or the whole checked
    copy.  The copy is one file (journal mode DELETE, no WAL beside it).

    :raises BackupError: ``source`` cannot be read, ``target`` cannot be
        written, or the copy fails its check.
    """
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    target = target.absolute()
    if not target.parent.is_dir():
        raise BackupError(f"cannot write {target}: no directory {target.parent}")
    if target.exists() and target.samefile(source):
        raise BackupError(f"{target} is the database itself: write the copy elsewhere")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    _remove(partial)
    try:
        try:
            with (
                contextlib.closing(connect_read_only(source)) as reader,
                contextlib.closing(sqlite3.connect(partial, isolation_level=None)) as writer,
            ):
                # pages=-1: every page in one step, so one read transaction
                # (one snapshot), never restarted by the server's commits.
                reader.backup(writer, pages=-1)
                writer.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.Error as error:
            raise BackupError(f"cannot copy {source} to {target}: {error}") from None
        except OSError as error:
            raise BackupError(f"cannot write {target}: {error}") from None
        try:
            snapshot = check_database(partial)
        except BackupError as error:
            raise BackupError(f"the copy of {source} failed its check: {error}") from None
        try:
            _fsync_file(partial)
            os.replace(partial, target)
            fsync_directory(target.parent)
        except OSError as error:
            raise BackupError(f"cannot write {target}: {error}") from None
        return snapshot
    finally:
        _remove(partial)


def restore_database(backup: Path, directory: Path) -> Snapshot:
    """Put the backup file ``backup`` in place as the database of ``directory``.

    Refuses a data directory that holds anything but an unheld lock file,
    and holds the directory's lock while it copies (so no server starts on
    it meanwhile).

    :raises BackupError: ``backup`` fails its check, the directory is not
        empty or is in use, or the copy cannot be written.
    """
    check_database(backup)
    _require_empty(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        lock = lock_data_directory(directory)
    except DataDirectoryInUse as error:
        raise BackupError(f"{error}: stop that server first") from None
    except OSError as error:
        raise BackupError(f"cannot use data directory {directory}: {error}") from None
    try:
        _require_empty(directory)  # again, now that no server can start on it
        return copy_database(backup, directory / DATABASE_NAME)
    finally:
        os.close(lock)


def _require_empty(directory: Path) -> None:
    if not directory.exists():
        return
    if not directory.is_dir():
        raise BackupError(f"data directory {directory} is not a directory")
    held = sorted(entry.name for entry in directory.iterdir() if entry.name != LOCK_NAME)
    if held:
        shown = ", ".join(held[:5]) + (", ..." if len(held) > 5 else "")
        raise BackupError(
            f"data directory {directory} is not empty (it holds {shown}): a restore goes only "
            f"into an empty data directory. Stop the server and move the directory aside "
            f"first (mv {directory} {directory}.old), then restore again"
        )


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(partial: Path) -> None:
    """Remove a temporary copy and any side file sqlite left beside it."""
    for suffix in ("", *_SIDE_FILES):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{partial}{suffix}")
