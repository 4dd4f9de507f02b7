"""The server's database: a crash-safe shelf in a locked data directory.

Two layers, each usable on its own (``commit.GroupCommitter`` batches the
commits of one reactor turn over the second):

* :class:`SqliteMapping`: a ``MutableMapping[bytes, bytes]`` over one sqlite3
  file (WAL, ``synchronous=FULL``) whose writes become durable only on
  :meth:`SqliteMapping.commit`.  ``shelve.open()`` is not used: without
  ``_gdbm``/``_dbm`` it falls back to ``dbm.dumb``, which a crash corrupts.
* :class:`Storage`: a :class:`shelve.Shelf` over that mapping, in a data
  directory guarded by an exclusive ``flock``, checked on open.

Values are pickled: they are plain Python data the replica builds itself and
never bytes that came over the network.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import shelve
import sqlite3
from collections.abc import Iterable, Iterator, MutableMapping
from pathlib import Path
from typing import Final

__all__ = [
    "DATABASE_NAME",
    "DELETE",
    "FORMAT",
    "LOCK_NAME",
    "META_KEY",
    "CommitFailed",
    "DataDirectoryInUse",
    "SqliteMapping",
    "Storage",
    "StorageError",
    "UnreadableDatabase",
    "connect_read_only",
    "fsync_directory",
    "lock_data_directory",
]

#: The on-disk format this code writes and reads; a database of any other format
#: is refused (format 2: index entries carry their anti-entropy bucket and leaf).
FORMAT: Final = 2
#: The database file inside the data directory.
DATABASE_NAME: Final = "games.sqlite"
#: The lock file inside the data directory; holds the owner's pid.
LOCK_NAME: Final = "lock"
#: The shelf key of the meta record; reserved, the replica must not use it.
META_KEY: Final = "meta"


class _Delete:
    def __repr__(self) -> str:
        return "DELETE"


#: A value for :meth:`GroupCommitter.write` that deletes its key.
DELETE: Final = _Delete()

_SCHEMA: Final = "CREATE TABLE kv (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID"
# sqlite's own verdicts on a file that is not (or no longer) a sound database;
# any other error (permissions, I/O, busy) is not cured by moving the file aside.
_UNREADABLE_ERRORS: Final = frozenset({"SQLITE_NOTADB", "SQLITE_CORRUPT"})
# Errors that are about the machine (disk, permissions, locks), not the file's
# contents: moving the file aside would not help.
_ENVIRONMENT_ERRORS: Final = (
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_CANTOPEN",
    "SQLITE_PERM",
    "SQLITE_READONLY",
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_NOMEM",
)
# Rows fetched per query while iterating, so that no statement stays open
# across the caller's writes and commits.
_PAGE: Final = 256


def _damaged_contents(error: sqlite3.Error) -> bool:
    """Whether sqlite refused the file for what it holds (e.g. a damaged
    header: "unsupported file format"), not for the state of the machine."""
    name = str(getattr(error, "sqlite_errorname", ""))
    return isinstance(error, sqlite3.DatabaseError) and not name.startswith(_ENVIRONMENT_ERRORS)


class _WrongShape(sqlite3.DatabaseError):
    """The file holds a ``kv`` table, but not the one :data:`_SCHEMA` makes."""


class StorageError(Exception):
    """Base of every error this module raises on purpose."""


class DataDirectoryInUse(StorageError):
    """Another process holds the data directory's lock."""


class UnreadableDatabase(StorageError):
    """The database file cannot be read as this server's database.

    :ivar reason: what is wrong with it, without the advice to the server's operator.
    """

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


class CommitFailed(StorageError):
    """A group commit failed; the server's in-memory state is no longer durable.

    :ivar cause: the exception the commit (or the staging) raised.
    """

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"commit failed: {cause!r}")
        self.cause = cause
        self.__cause__ = cause


def _prefix_successor(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with ``prefix``.

    :returns: ``None`` when there is none (``prefix`` is empty or all ``0xff``).
    """
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def connect_read_only(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A read-only connection to an existing database file (``mode=ro``).

    It takes no lock of ours and never writes the database, so it may read
    the database of a running server (WAL: it reads one committed snapshot
    per transaction without blocking the server's writer).

    :raises sqlite3.OperationalError: the file does not exist or cannot be opened.
    """
    uri = Path(path).absolute().as_uri() + "?mode=ro"
    return sqlite3.connect(uri, uri=True, isolation_level=None)


#: How values are pickled: by the shelf, and by Storage.stage_many alike.
_PICKLE_PROTOCOL: Final = 5
_UPSERT: Final = (
    "INSERT INTO kv (key, value) VALUES (?, ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


def _require_bytes(key: object, value: object) -> None:
    # A str key would be stored as TEXT, which sorts apart from every BLOB.
    if not isinstance(key, bytes) or not isinstance(value, bytes):
        raise TypeError(f"keys and values must be bytes, not {type(key)} and {type(value)}")


class SqliteMapping(MutableMapping[bytes, bytes]):
    """A crash-safe ``bytes -> bytes`` mapping over one sqlite3 file.

    Writes go into a transaction opened lazily (``BEGIN IMMEDIATE``) and are
    durable only after :meth:`commit`; reads see them at once.  Closing without
    a commit, or a crash, loses them and nothing else.

    :param path: the database file; created if missing (unless ``read_only``).
    :param read_only: open an existing file with :func:`connect_read_only`,
        as it is (no WAL or table set up); every write fails.
    :raises sqlite3.DatabaseError: the file is not a database, is corrupt, or
        holds a ``kv`` table of another shape.
    :raises StorageError: sqlite refused WAL mode or ``synchronous=FULL``.
    """

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool = False) -> None:
        self.path = Path(path)
        #: How many transactions :meth:`commit` committed.
        self.commits = 0
        # isolation_level=None: the sqlite3 module never opens or commits a
        # transaction behind our back.
        if read_only:
            self._connection = connect_read_only(self.path)
        else:
            self._connection = sqlite3.connect(self.path, isolation_level=None)
        try:
            if read_only:
                self._check_shape()
            else:
                self._configure()
        except BaseException:
            self._connection.close()
            raise

    def _configure(self) -> None:
        connection = self._connection
        # journal_mode answers with the mode in effect, which stays the old one
        # when WAL is impossible (e.g. on some network file systems).
        (mode,) = connection.execute("PRAGMA journal_mode=WAL").fetchone()
        if mode != "wal":
            raise StorageError(f"{self.path}: sqlite refused journal_mode=WAL (got {mode!r})")
        # FULL, not WAL's usual NORMAL: NORMAL may lose the last commits on
        # power loss, and an answered move must survive it.
        connection.execute("PRAGMA synchronous=FULL")
        (synchronous,) = connection.execute("PRAGMA synchronous").fetchone()
        if synchronous != 2:
            raise StorageError(f"{self.path}: sqlite refused synchronous=FULL (got {synchronous})")
        connection.execute(_SCHEMA.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))
        self._check_shape()

    def _check_shape(self) -> None:
        """Compare ``kv`` with the table :data:`_SCHEMA` makes, as sqlite reports both."""
        with contextlib.closing(sqlite3.connect(":memory:")) as reference:
            reference.execute(_SCHEMA)
            expected = reference.execute("PRAGMA table_info(kv)").fetchall()
        actual = self._connection.execute("PRAGMA table_info(kv)").fetchall()
        if actual != expected:
            raise _WrongShape(f"table kv has the wrong shape: {actual!r}")
        try:
            # Only a WITHOUT ROWID table lacks the rowid column.
            self._connection.execute("SELECT rowid FROM kv LIMIT 0")
        except sqlite3.OperationalError:
            return
        raise _WrongShape("table kv has the wrong shape: it is not WITHOUT ROWID")

    def quick_check(self) -> list[str]:
        """Run ``PRAGMA quick_check``.

        :returns: ``["ok"]`` for a sound database, else sqlite's first few complaints.
        :raises sqlite3.DatabaseError: the file is too damaged to check.
        """
        return [row[0] for row in self._connection.execute("PRAGMA quick_check(5)")]

    def _begin(self) -> None:
        if not self._connection.in_transaction:
            # IMMEDIATE takes the write lock now rather than at the first write.
            self._connection.execute("BEGIN IMMEDIATE")

    def __getitem__(self, key: bytes) -> bytes:
        row = self._connection.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        value: bytes = row[0]
        return value

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, bytes):
            return False
        query = "SELECT 1 FROM kv WHERE key = ?"
        return self._connection.execute(query, (key,)).fetchone() is not None

    def __setitem__(self, key: bytes, value: bytes) -> None:
        _require_bytes(key, value)
        self._begin()
        self._connection.execute(_UPSERT, (key, value))

    def set_many(self, items: list[tuple[bytes, bytes]]) -> None:
        """``self[key] = value`` for each pair, in order, in one statement
        (``executemany``): a rebuild writes hundreds of thousands of rows."""
        for key, value in items:
            _require_bytes(key, value)
        self._begin()
        self._connection.executemany(_UPSERT, items)

    def __delitem__(self, key: bytes) -> None:
        self._begin()
        cursor = self._connection.execute("DELETE FROM kv WHERE key = ?", (key,))
        if cursor.rowcount == 0:
            raise KeyError(key)

    def __len__(self) -> int:
        (count,) = self._connection.execute("SELECT count(*) FROM kv").fetchone()
        assert isinstance(count, int)
        return count

    def __iter__(self) -> Iterator[bytes]:
        for key, _ in self.items_with_prefix(b""):
            yield key

    def items_with_prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """The items whose key starts with ``prefix``, in key order.

        A range query on the primary key, fetched a page at a time, so that
        writes and commits between two steps of the iteration are safe.

        :param prefix: the key prefix; ``b""`` yields every item.
        """
        successor = _prefix_successor(prefix)
        upper = "" if successor is None else " AND key < :upper"
        first = f"SELECT key, value FROM kv WHERE key >= :lower{upper} ORDER BY key LIMIT {_PAGE}"
        rest = f"SELECT key, value FROM kv WHERE key > :lower{upper} ORDER BY key LIMIT {_PAGE}"
        query, bounds = first, {"lower": prefix, "upper": successor}
        while True:
            rows: list[tuple[bytes, bytes]] = self._connection.execute(query, bounds).fetchall()
            yield from rows
            if len(rows) < _PAGE:
                return
            query, bounds = rest, {"lower": rows[-1][0], "upper": successor}

    def all_with_prefix(self, prefix: bytes) -> list[tuple[bytes, bytes]]:
        """The items whose key starts with ``prefix``, in key order, in one query.

        For start-up, when nothing writes meanwhile: one statement is much
        cheaper than :meth:`items_with_prefix`'s pages.
        """
        successor = _prefix_successor(prefix)
        upper = "" if successor is None else " AND key < :upper"
        query = f"SELECT key, value FROM kv WHERE key >= :lower{upper} ORDER BY key"
        rows: list[tuple[bytes, bytes]] = self._connection.execute(
            query, {"lower": prefix, "upper": successor}
        ).fetchall()
        return rows

    def commit(self) -> None:
        """Make every write so far durable (``COMMIT``), if there is any."""
        if self._connection.in_transaction:
            self._connection.execute("COMMIT")
            self.commits += 1

    def rollback(self) -> None:
        """Forget every write since the last :meth:`commit`."""
        if self._connection.in_transaction:
            self._connection.execute("ROLLBACK")

    def close(self) -> None:
        """Roll back anything uncommitted and close the file.  Idempotent."""
        with contextlib.suppress(sqlite3.ProgrammingError):  # already closed
            self.rollback()
        self._connection.close()


def lock_data_directory(directory: Path) -> int:
    """Lock ``directory`` for this process and write our pid into the lock file.

    :returns: the lock file's descriptor; closing it releases the lock.
    :raises DataDirectoryInUse: another open file description holds the lock.
    """
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        # flock, not fcntl/lockf: flock locks belong to the open file
        # description, so they are neither shared nor dropped by other opens
        # of the same file in this process, and the kernel drops them when
        # the process dies (kill -9 leaves no stale lock).
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        os.close(fd)
        other = f"pid {text}" if text.isdigit() else "a process whose pid is not written yet"
        raise DataDirectoryInUse(
            f"data directory {directory} is in use by {other} (lock file {directory / LOCK_NAME})"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd


def fsync_directory(directory: Path) -> None:
    """Make renames and file creations in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _move_aside(database: Path) -> Path | None:
    """Rename ``database`` and its ``-wal``/``-shm`` files to the first free ``.broken-<n>``.

    The side files move too: a stale WAL would otherwise be replayed into
    the new database.

    :returns: the new path of the database, or ``None`` if there was nothing to move.
    """
    suffixes = ("", "-wal", "-shm")
    present = [s for s in suffixes if Path(f"{database}{s}").exists()]
    if not present:
        return None
    n = 1
    while any(Path(f"{database}.broken-{n}{s}").exists() for s in suffixes):
        n += 1
    for suffix in present:
        os.rename(f"{database}{suffix}", f"{database}.broken-{n}{suffix}")
    fsync_directory(database.parent)
    return Path(f"{database}.broken-{n}")


class Storage:
    """The server's database: a :class:`shelve.Shelf` over a :class:`SqliteMapping`.

    Build it with :meth:`open` (in ``startService``, after twistd has forked),
    not with the constructor.  Writes are staged into one open transaction and
    become durable on :meth:`commit`; reads see staged writes.

    :ivar directory: the data directory.
    :ivar path: the database file, ``<directory>/games.sqlite``.
    :ivar is_new: the database had no meta record when it was opened (it is
        brand-new or rebuilt); fixed at open, staging a meta record does not
        change it.
    :ivar moved_aside: where ``open(..., rebuild=True)`` moved the old
        database, or ``None``.
    """

    def __init__(
        self,
        directory: Path,
        mapping: SqliteMapping,
        lock_fd: int | None,
        *,
        moved_aside: Path | None = None,
    ) -> None:
        self.directory = directory
        self.path = mapping.path
        self.moved_aside = moved_aside
        self._mapping = mapping
        self._shelf: shelve.Shelf[object] = shelve.Shelf(
            mapping, protocol=_PICKLE_PROTOCOL, writeback=False, keyencoding="utf-8"
        )
        self._lock_fd = lock_fd
        self._open = True
        self.is_new = self._read_meta() is None

    @classmethod
    def open(cls, directory: str | os.PathLike[str], *, rebuild: bool = False) -> Storage:
        """Lock the data directory and open (or create) its database.

        :param directory: the data directory; created if missing.
        :param rebuild: first move an existing database aside to
            ``games.sqlite.broken-<n>`` and start empty.
        :raises DataDirectoryInUse: another process holds the directory.
        :raises UnreadableDatabase: the file is not a sound database of a
            format this code reads.
        :raises StorageError: sqlite cannot open the file or refuses WAL mode.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        lock_fd = lock_data_directory(directory)
        database = directory / DATABASE_NAME
        try:
            moved_aside = _move_aside(database) if rebuild else None
            mapping = cls._open_mapping(database)
            try:
                # The database file may be new: make its directory entry durable.
                fsync_directory(directory)
                return cls(directory, mapping, lock_fd, moved_aside=moved_aside)
            except BaseException:
                mapping.close()
                raise
        except BaseException:
            os.close(lock_fd)
            raise

    @classmethod
    def open_read_only(cls, path: str | os.PathLike[str]) -> Storage:
        """Open a database file read-only, without the data directory's lock:
        for a backup of a running server and the check of a copy.

        Checked as :meth:`open` checks (quick check, table, meta record's
        format); every write fails.

        :param path: the database file (it must exist).
        :raises UnreadableDatabase: as for :meth:`open`.
        :raises StorageError: sqlite cannot open the file.
        """
        database = Path(path)
        mapping = cls._open_mapping(database, read_only=True)
        try:
            return cls(database.parent, mapping, None)
        except BaseException:
            mapping.close()
            raise

    @staticmethod
    def _open_mapping(database: Path, *, read_only: bool = False) -> SqliteMapping:
        """Open ``database`` and run sqlite's quick check on it."""
        mapping: SqliteMapping | None = None
        try:
            mapping = SqliteMapping(database, read_only=read_only)
            problems = mapping.quick_check()
        except sqlite3.Error as e:
            if mapping is not None:
                mapping.close()
            if (
                isinstance(e, _WrongShape)
                or (getattr(e, "sqlite_errorname", None) in _UNREADABLE_ERRORS)
                or _damaged_contents(e)
            ):
                raise _unreadable(database, str(e)) from e
            raise StorageError(f"cannot open database {database}: {e}") from e
        if problems != ["ok"]:
            mapping.close()
            # sqlite's complaints span lines; the log message must stay one line.
            found = "; ".join(" ".join(problem.split()) for problem in problems)
            raise _unreadable(database, "quick_check found: " + found)
        return mapping

    def _read_meta(self) -> dict[str, object] | None:
        """Read and vet the meta record.

        :raises UnreadableDatabase: it does not unpickle, is not a dict, or
            has a ``format`` this code does not read.
        """
        try:
            raw = self._mapping[META_KEY.encode("utf-8")]
        except KeyError:
            return None
        try:
            meta = pickle.loads(raw)
        except Exception as e:
            # Unpickling fails in many ways (UnpicklingError, EOFError,
            # AttributeError, ImportError, ...): all mean the same here.
            raise _unreadable(self.path, f"the meta record does not unpickle: {e!r}") from e
        if not isinstance(meta, dict):
            reason = f"the meta record is a {type(meta).__name__}, not a dict"
            raise _unreadable(self.path, reason)
        version = meta.get("format")
        if type(version) is not int or version < 1:
            raise _unreadable(self.path, f"the meta record has no valid format: {version!r}")
        if version > FORMAT:
            reason = f"its format {version} is newer than this code's format {FORMAT}"
            raise _unreadable(self.path, reason)
        if version < FORMAT:
            # No released database has an older format: refuse rather than misread it.
            reason = f"its format {version} is older than this code's format {FORMAT}"
            raise _unreadable(self.path, reason)
        return meta

    def get(self, key: str) -> object | None:
        """The value at ``key``, staged or committed, or ``None``."""
        try:
            return self._shelf[key]
        except KeyError:
            return None

    def stage(self, key: str, value: object) -> None:
        """Write ``value`` at ``key`` into the open transaction.

        :param value: plain picklable data built by the replica.
        """
        self._shelf[key] = value

    def stage_many(self, changes: Iterable[tuple[str, object]]) -> None:
        """Stage ``(key, value)`` pairs in order (the value :data:`DELETE`
        deletes its key): each run of writes in one ``executemany``.

        :param changes: values are plain picklable data built by the replica.
        """
        run: list[tuple[bytes, bytes]] = []
        for key, value in changes:
            if value is DELETE:
                if run:
                    self._mapping.set_many(run)
                    run = []
                self.delete(key)
            else:
                run.append((key.encode("utf-8"), pickle.dumps(value, protocol=_PICKLE_PROTOCOL)))
        if run:
            self._mapping.set_many(run)

    def delete(self, key: str) -> None:
        """Delete ``key`` in the open transaction; nothing happens if it is absent."""
        encoded = key.encode("utf-8")
        if encoded in self._mapping:
            del self._mapping[encoded]

    def scan(self, prefix: str) -> Iterator[tuple[str, object]]:
        """Every ``(key, value)`` whose key starts with ``prefix``, in key order.

        UTF-8 preserves code point order, so this is also ``str`` order.  The
        meta record (key :data:`META_KEY`) is included when the prefix matches it.
        """
        for key, raw in self._mapping.items_with_prefix(prefix.encode("utf-8")):
            yield key.decode("utf-8"), pickle.loads(raw)

    def load(self, prefix: str) -> list[tuple[str, object]]:
        """Every ``(key, value)`` whose key starts with ``prefix``, the keys
        without the prefix, in key order: one query, for start-up.
        """
        loads = pickle.loads
        start = len(prefix.encode("utf-8"))
        return [
            (key[start:].decode("utf-8"), loads(raw))
            for key, raw in self._mapping.all_with_prefix(prefix.encode("utf-8"))
        ]

    def get_meta(self) -> dict[str, object] | None:
        """The meta record, or ``None`` if there is none yet."""
        return self._read_meta()

    def stage_meta(self, meta: dict[str, object]) -> None:
        """Stage ``meta`` as the meta record, stamped with ``format`` = :data:`FORMAT`."""
        self.stage(META_KEY, {**meta, "format": FORMAT})

    def commit(self) -> None:
        """Make everything staged durable."""
        self._mapping.commit()

    def rollback(self) -> None:
        """Forget everything staged since the last commit."""
        self._mapping.rollback()

    @property
    def commits(self) -> int:
        """How many commits this storage made."""
        return self._mapping.commits

    def close(self) -> None:
        """Roll back anything uncommitted, close the database, release the lock.

        Idempotent.
        """
        if not self._open:
            return
        self._open = False
        try:
            # Shelf.close closes the mapping, which rolls back: the mapping has
            # no sync() for Shelf.close to commit with.
            self._shelf.close()
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None


def _unreadable(path: Path, reason: str) -> UnreadableDatabase:
    return UnreadableDatabase(
        f"cannot read database {path}: {reason}. Start the server with --rebuild to move "
        "it aside and rebuild the database from the peers.",
        reason,
    )
