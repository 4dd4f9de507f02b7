"""Tests for game.server.backup: online backup under writes, the checks, restore's refusals."""

from __future__ import annotations

import os
import pickle
import shutil
import sqlite3
import tempfile
import threading
from pathlib import Path

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from game.server.backup import (
    BackupError,
    Snapshot,
    check_database,
    copy_database,
    restore_database,
)
from game.server.commit import GroupCommitter
from game.server.replica import Replica
from game.server.storage import (
    DATABASE_NAME,
    FORMAT,
    META_KEY,
    SqliteMapping,
    Storage,
    lock_data_directory,
)

TOKEN = "seat-zero-token-0123456789"


def temp_dir(case: SynchronousTestCase) -> Path:
    path = Path(tempfile.mkdtemp(prefix="test_backup-"))
    case.addCleanup(shutil.rmtree, path, True)
    return path


class Server:
    """A data directory with a replica over it, committed by hand (``Clock``)."""

    def __init__(self, directory: Path) -> None:
        self.clock = Clock()
        self.storage = Storage.open(directory)
        self.replica = Replica(self.storage, GroupCommitter(self.storage, self.clock))
        self.created = 0

    def create(self, count: int) -> None:
        """Create ``count`` games in one commit."""
        for _ in range(count):
            self.replica.create(f"g{self.created:05d}", "connect4", "alice", 0, TOKEN)
            self.created += 1
        self.clock.advance(0)

    def initialise(self) -> None:
        self.replica.mark_initialized()
        self.clock.advance(0)

    def snapshot(self) -> tuple[int, int, str]:
        return (len(self.replica.index), self.replica.clock, self.replica.digest_hex())

    def close(self) -> None:
        self.storage.close()


def seeded(directory: Path, games: int = 5) -> Server:
    server = Server(directory)
    server.initialise()
    server.create(games)
    return server


def state(snapshot: Snapshot) -> tuple[int, int, str]:
    return (snapshot.games, snapshot.clock, snapshot.digest)


def rewrite_meta(database: Path, **changes: object) -> None:
    """Change fields of the committed meta record behind the storage's back."""
    mapping = SqliteMapping(database)
    try:
        meta = pickle.loads(mapping[META_KEY.encode()])
        meta.update(changes)
        mapping[META_KEY.encode()] = pickle.dumps(meta, protocol=5)
        mapping.commit()
    finally:
        mapping.close()


class BackupTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.root = temp_dir(self)
        self.data = self.root / "data"
        self.server = seeded(self.data)
        self.addCleanup(self.server.close)
        self.database = self.data / DATABASE_NAME

    def test_copy_of_a_live_database(self) -> None:
        """The server keeps its database open (and its lock): the copy holds
        what it committed, checked, and the server goes on writing."""
        snapshot = copy_database(self.database, self.root / "backup.sqlite")
        self.assertEqual(state(snapshot), self.server.snapshot())
        self.assertEqual(snapshot.size, (self.root / "backup.sqlite").stat().st_size)
        self.server.create(1)
        self.assertEqual(self.server.snapshot()[0], 6)
        # One file, nothing left beside it.
        self.assertEqual(sorted(p.name for p in self.root.iterdir()), ["backup.sqlite", "data"])

    def test_uncommitted_writes_are_not_copied(self) -> None:
        before = self.server.snapshot()
        self.server.replica.create("staged", "connect4", "alice", 0, TOKEN)  # not committed
        snapshot = copy_database(self.database, self.root / "backup.sqlite")
        self.assertEqual(state(snapshot), before)
        self.server.clock.advance(0)

    def test_consistent_under_concurrent_commits(self) -> None:
        """A writer committing through another connection, in another thread,
        while backups run: each copy is exactly one committed state."""
        writer_dir = self.root / "busy"
        committed: set[tuple[int, int, str]] = set()
        done = threading.Event()
        ready = threading.Event()
        failures: list[BaseException] = []

        def write() -> None:
            try:
                server = seeded(writer_dir, games=50)
                try:
                    committed.add(server.snapshot())
                    ready.set()
                    while not done.is_set():
                        server.create(20)
                        committed.add(server.snapshot())
                finally:
                    server.close()
            except BaseException as error:
                failures.append(error)
                ready.set()

        thread = threading.Thread(target=write)
        thread.start()
        try:
            ready.wait(30)
            copies = [
                copy_database(writer_dir / DATABASE_NAME, self.root / f"copy-{n}.sqlite")
                for n in range(15)
            ]
        finally:
            done.set()
            thread.join(30)
        self.assertEqual(failures, [])
        for copy in copies:
            self.assertIn(state(copy), committed)
        counts = [copy.games for copy in copies]
        self.assertEqual(counts, sorted(counts))
        # The writer did commit while the backups ran (else this proves nothing).
        self.assertGreater(counts[-1], counts[0])

    def test_backup_replaces_the_target_atomically(self) -> None:
        target = self.root / "backup.sqlite"
        copy_database(self.database, target)
        self.server.create(2)
        snapshot = copy_database(self.database, target)
        self.assertEqual(snapshot.games, 7)
        self.assertEqual(state(check_database(target)), state(snapshot))

    def test_failed_check_leaves_the_target_alone(self) -> None:
        target = self.root / "backup.sqlite"
        first = copy_database(self.database, target)
        self.server.close()
        rewrite_meta(self.database, clock=999)
        error = self.assertRaises(BackupError, copy_database, self.database, target)
        self.assertIn("failed its check", str(error))
        self.assertIn("clock 999 recorded", str(error))
        self.assertEqual(state(check_database(target)), state(first))
        self.assertEqual(sorted(p.name for p in self.root.iterdir()), ["backup.sqlite", "data"])

    def test_missing_source(self) -> None:
        error = self.assertRaises(
            BackupError, copy_database, self.root / "nothing" / DATABASE_NAME, self.root / "b"
        )
        self.assertIn("no database at", str(error))

    def test_missing_target_directory(self) -> None:
        error = self.assertRaises(
            BackupError, copy_database, self.database, self.root / "no" / "backup.sqlite"
        )
        self.assertIn("no directory", str(error))

    def test_target_is_the_source(self) -> None:
        error = self.assertRaises(BackupError, copy_database, self.database, self.database)
        self.assertIn("is the database itself", str(error))


class CheckTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.root = temp_dir(self)

    def backup_of(self, games: int = 3) -> Path:
        server = seeded(self.root / "data", games)
        server.close()
        target = self.root / "backup.sqlite"
        copy_database(self.root / "data" / DATABASE_NAME, target)
        return target

    def refused(self, path: Path) -> str:
        return str(self.assertRaises(BackupError, check_database, path))

    def test_sound_backup(self) -> None:
        snapshot = check_database(self.backup_of(4))
        self.assertEqual((snapshot.games, snapshot.clock), (4, 4))
        self.assertEqual(len(snapshot.digest), 64)

    def test_missing_file(self) -> None:
        self.assertIn("no such file", self.refused(self.root / "absent"))

    def test_not_a_database(self) -> None:
        path = self.root / "notes.txt"
        path.write_bytes(b"these are not the pages you are looking for\n" * 200)
        message = self.refused(path)
        self.assertIn("is not a readable replgame database", message)
        self.assertNotIn("--rebuild", message)  # that advice is the server's

    def test_another_sqlite_database(self) -> None:
        path = self.root / "other.sqlite"
        connection = sqlite3.connect(path)
        connection.execute("CREATE TABLE t (x)")
        connection.commit()
        connection.close()
        self.assertIn("table kv has the wrong shape", self.refused(path))

    def test_newer_format(self) -> None:
        path = self.backup_of()
        rewrite_meta(path, format=FORMAT + 1)
        self.assertIn(f"its format {FORMAT + 1} is newer", self.refused(path))

    def test_sums_differ_from_the_index(self) -> None:
        path = self.backup_of()
        rewrite_meta(path, games=2)
        message = self.refused(path)
        self.assertIn("is damaged", message)
        self.assertIn("games 2 recorded, 3 found", message)

    def test_damaged_pages(self) -> None:
        path = self.backup_of(200)
        with path.open("r+b") as file:  # garble a page past the header
            file.seek(2 * 4096)
            file.write(b"\xa5" * 4096)
        self.assertIn("is not a readable replgame database", self.refused(path))

    def test_never_initialised(self) -> None:
        server = Server(self.root / "data")  # a new server, before it served
        server.create(1)
        server.close()
        self.assertIn("never initialised", self.refused(self.root / "data" / DATABASE_NAME))

    def test_check_writes_nothing(self) -> None:
        path = self.backup_of()
        before = path.read_bytes()
        check_database(path)
        self.assertEqual(path.read_bytes(), before)
        self.assertEqual(sorted(p.name for p in self.root.iterdir()), ["backup.sqlite", "data"])


class RestoreTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.root = temp_dir(self)
        server = seeded(self.root / "old", 6)
        self.expected = server.snapshot()
        server.close()
        self.backup = self.root / "backup.sqlite"
        copy_database(self.root / "old" / DATABASE_NAME, self.backup)
        self.data = self.root / "new"

    def test_restore_into_a_new_directory(self) -> None:
        snapshot = restore_database(self.backup, self.data)
        self.assertEqual(state(snapshot), self.expected)
        self.assertEqual(sorted(p.name for p in self.data.iterdir()), [DATABASE_NAME, "lock"])
        # The server opens it as an initialised database: it catches up, not rebuilds.
        storage = Storage.open(self.data)
        self.addCleanup(storage.close)
        replica = Replica(storage, GroupCommitter(storage, Clock()))
        self.assertFalse(replica.is_new)
        self.assertEqual((len(replica.index), replica.clock, replica.digest_hex()), self.expected)

    def test_restore_into_an_empty_directory(self) -> None:
        self.data.mkdir()
        (self.data / "lock").write_text("123\n")  # a lock nobody holds is no data
        self.assertEqual(state(restore_database(self.backup, self.data)), self.expected)

    def test_refuses_a_directory_with_a_database(self) -> None:
        server = seeded(self.data, 1)
        server.close()
        error = str(self.assertRaises(BackupError, restore_database, self.backup, self.data))
        self.assertIn("is not empty (it holds games.sqlite", error)
        self.assertIn(f"mv {self.data} {self.data}.old", error)

    def test_refuses_a_directory_with_anything(self) -> None:
        self.data.mkdir()
        (self.data / "games.sqlite.broken-1").write_bytes(b"x")
        error = str(self.assertRaises(BackupError, restore_database, self.backup, self.data))
        self.assertIn("games.sqlite.broken-1", error)

    def test_refuses_a_directory_in_use(self) -> None:
        self.data.mkdir()
        lock = lock_data_directory(self.data)
        self.addCleanup(os.close, lock)
        error = str(self.assertRaises(BackupError, restore_database, self.backup, self.data))
        self.assertIn(f"is in use by pid {os.getpid()}", error)
        self.assertIn("stop that server first", error)
        self.assertEqual(sorted(p.name for p in self.data.iterdir()), ["lock"])

    def test_refuses_a_bad_backup_before_touching_the_directory(self) -> None:
        garbage = self.root / "garbage"
        garbage.write_bytes(b"\0" * 10000)
        error = str(self.assertRaises(BackupError, restore_database, garbage, self.data))
        self.assertIn(f"{garbage} is not a readable replgame database", error)
        self.assertFalse(self.data.exists())

    def test_refuses_a_missing_backup(self) -> None:
        error = str(
            self.assertRaises(BackupError, restore_database, self.root / "absent", self.data)
        )
        self.assertIn("no such file", error)
        self.assertFalse(self.data.exists())
