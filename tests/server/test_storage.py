"""Tests for game.server.storage: the sqlite mapping, the data directory, group commit."""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from game.server.commit import GroupCommitter
from game.server.storage import (
    _PAGE,
    DATABASE_NAME,
    DELETE,
    FORMAT,
    META_KEY,
    CommitFailed,
    DataDirectoryInUse,
    SqliteMapping,
    Storage,
    StorageError,
    UnreadableDatabase,
    _prefix_successor,
)

ROOT = Path(__file__).resolve().parents[2]


def temp_dir(case: SynchronousTestCase) -> Path:
    """A fresh absolute directory, removed after the test, whatever the runner's cwd."""
    path = Path(tempfile.mkdtemp(prefix="test_storage-"))
    case.addCleanup(shutil.rmtree, path, True)
    return path


def committed_rows(path: Path) -> dict[bytes, bytes]:
    """What another connection (hence a restart) would see: committed rows only."""
    connection = sqlite3.connect(path)
    try:
        return dict(connection.execute("SELECT key, value FROM kv"))
    finally:
        connection.close()


def run_child(code: str, *, pipes: bool = False) -> subprocess.Popen[str]:
    """Start ``code`` in a fresh interpreter that can import ``game``.

    :param pipes: connect the child's stdin and stdout to pipes.
    """
    pipe = subprocess.PIPE if pipes else None
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, text=True, stdin=pipe, stdout=pipe
    )


class PrefixSuccessorTests(SynchronousTestCase):
    def test_successor(self) -> None:
        self.assertEqual(_prefix_successor(b"ab"), b"ac")
        self.assertEqual(_prefix_successor(b"a\xff\xff"), b"b")
        self.assertEqual(_prefix_successor(b"a\x00"), b"a\x01")

    def test_no_successor(self) -> None:
        self.assertIsNone(_prefix_successor(b""))
        self.assertIsNone(_prefix_successor(b"\xff\xff"))


class SqliteMappingTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.path = temp_dir(self) / "kv.sqlite"
        self.mapping = self.open()

    def open(self) -> SqliteMapping:
        mapping = SqliteMapping(self.path)
        self.addCleanup(mapping.close)
        return mapping

    def test_round_trip(self) -> None:
        m = self.mapping
        m[b"b"] = b"2"
        m[b"a"] = b"1"
        m[b"a"] = b"one"
        self.assertEqual(m[b"a"], b"one")
        self.assertIn(b"b", m)
        self.assertNotIn(b"c", m)
        self.assertNotIn("a", m)
        self.assertEqual(list(m), [b"a", b"b"])
        self.assertEqual(len(m), 2)
        del m[b"b"]
        self.assertRaises(KeyError, m.__getitem__, b"b")
        self.assertRaises(KeyError, m.__delitem__, b"b")
        m.commit()
        m.close()
        self.assertEqual(dict(self.open().items()), {b"a": b"one"})

    def test_only_bytes(self) -> None:
        self.assertRaises(TypeError, self.mapping.__setitem__, "a", b"1")
        self.assertRaises(TypeError, self.mapping.__setitem__, b"a", "1")

    def test_pragmas(self) -> None:
        connection = self.mapping._connection
        self.assertIsNone(connection.isolation_level)
        self.assertEqual(connection.execute("PRAGMA journal_mode").fetchone(), ("wal",))
        self.assertEqual(connection.execute("PRAGMA synchronous").fetchone(), (2,))  # FULL
        # WAL is recorded in the file itself.
        other = sqlite3.connect(self.path)
        self.addCleanup(other.close)
        self.assertEqual(other.execute("PRAGMA journal_mode").fetchone(), ("wal",))

    def test_transaction_opened_lazily(self) -> None:
        connection = self.mapping._connection
        self.assertFalse(connection.in_transaction)
        self.mapping.get(b"a")
        self.assertFalse(connection.in_transaction)
        self.mapping[b"a"] = b"1"
        self.assertTrue(connection.in_transaction)
        self.mapping.commit()
        self.assertFalse(connection.in_transaction)

    def test_uncommitted_writes_visible_but_not_durable(self) -> None:
        self.mapping[b"kept"] = b"1"
        self.mapping.commit()
        self.mapping[b"lost"] = b"2"
        self.mapping[b"kept"] = b"changed"
        self.assertEqual(self.mapping[b"lost"], b"2")
        self.assertEqual(self.mapping[b"kept"], b"changed")
        self.assertEqual(committed_rows(self.path), {b"kept": b"1"})
        # Closing without a commit drops the transaction, as a crash would.
        self.mapping.close()
        self.assertEqual(dict(self.open().items()), {b"kept": b"1"})

    def test_commit_makes_durable_and_counts(self) -> None:
        self.mapping.commit()
        self.assertEqual(self.mapping.commits, 0)  # nothing to commit
        self.mapping[b"a"] = b"1"
        del self.mapping[b"a"]
        self.mapping[b"b"] = b"2"
        self.mapping.commit()
        self.assertEqual(self.mapping.commits, 1)
        self.assertEqual(committed_rows(self.path), {b"b": b"2"})

    def test_rollback(self) -> None:
        self.mapping[b"a"] = b"1"
        self.mapping.commit()
        self.mapping[b"a"] = b"2"
        self.mapping[b"b"] = b"3"
        self.mapping.rollback()
        self.assertEqual(dict(self.mapping.items()), {b"a": b"1"})

    def test_items_with_prefix(self) -> None:
        keys = [b"b", b"ab\xff", b"a", b"ac", b"ab", b"ab\x00", b"a\xff\xff", b"aa"]
        for key in keys:
            self.mapping[key] = key.upper()
        self.assertEqual(
            list(self.mapping.items_with_prefix(b"ab")),
            [(b"ab", b"AB"), (b"ab\x00", b"AB\x00"), (b"ab\xff", b"AB\xff")],
        )
        self.assertEqual([k for k, _ in self.mapping.items_with_prefix(b"a\xff")], [b"a\xff\xff"])
        self.assertEqual([k for k, _ in self.mapping.items_with_prefix(b"")], sorted(keys))
        self.assertEqual(list(self.mapping.items_with_prefix(b"z")), [])

    def test_items_with_prefix_across_pages_and_writes(self) -> None:
        for i in range(700):
            self.mapping[b"g/%04d" % i] = b"x"
        self.mapping[b"h"] = b"outside"
        self.mapping.commit()
        seen = []
        for key, _ in self.mapping.items_with_prefix(b"g/"):
            seen.append(key)
            # Writes and commits in the middle do not disturb the iteration.
            self.mapping[key] = b"y"
            self.mapping.commit()
        self.assertEqual(seen, [b"g/%04d" % i for i in range(700)])

    def test_items_with_prefix_is_a_range_search(self) -> None:
        self.mapping[b"ab"] = b"1"
        statements: list[str] = []
        self.mapping._connection.set_trace_callback(statements.append)
        list(self.mapping.items_with_prefix(b"ab"))
        self.mapping._connection.set_trace_callback(None)
        (statement,) = statements
        plan = " ".join(
            row[-1] for row in self.mapping._connection.execute("EXPLAIN QUERY PLAN " + statement)
        )
        self.assertIn("SEARCH kv USING PRIMARY KEY (key>? AND key<?)", plan)

    def test_wrong_shape(self) -> None:
        self.mapping.close()
        for schema in [
            "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT)",
            "CREATE TABLE kv (key BLOB PRIMARY KEY, value BLOB NOT NULL)",  # has a rowid
        ]:
            os.remove(self.path)
            connection = sqlite3.connect(self.path)
            connection.execute(schema)
            connection.close()
            with self.assertRaises(sqlite3.DatabaseError) as caught:
                SqliteMapping(self.path)
            self.assertIn("wrong shape", str(caught.exception))


class StorageTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.directory = temp_dir(self) / "data"  # Storage.open creates it

    def open(self, *, rebuild: bool = False) -> Storage:
        storage = Storage.open(self.directory, rebuild=rebuild)
        self.addCleanup(storage.close)
        return storage

    def test_round_trip(self) -> None:
        storage = self.open()
        self.assertTrue(self.directory.is_dir())
        self.assertEqual(storage.path, self.directory / DATABASE_NAME)
        value = {"moves": ["4", "3"], "version": (1, 2), "over": None}
        storage.stage("game/1", value)
        self.assertEqual(storage.get("game/1"), value)
        self.assertIsNone(storage.get("game/2"))
        storage.commit()
        self.assertEqual(storage.commits, 1)
        storage.close()
        self.assertEqual(self.open().get("game/1"), value)

    def test_scan_in_key_order(self) -> None:
        storage = self.open()
        for key in ["game/2", "game/10", "gamez", "game/é", "game/1", "clock"]:
            storage.stage(key, key.upper())
        self.assertEqual(
            list(storage.scan("game/")),
            [("game/1", "GAME/1"), ("game/10", "GAME/10"), ("game/2", "GAME/2"),
             ("game/é", "GAME/É")],
        )  # fmt: skip

    def test_uncommitted_lost_on_close(self) -> None:
        storage = self.open()
        storage.stage("a", 1)
        storage.commit()
        storage.stage("a", 2)
        storage.stage("b", 3)
        self.assertEqual(storage.get("a"), 2)
        storage.close()
        storage = self.open()
        self.assertEqual((storage.get("a"), storage.get("b")), (1, None))

    def test_meta(self) -> None:
        storage = self.open()
        self.assertTrue(storage.is_new)
        self.assertIsNone(storage.get_meta())
        storage.stage_meta({"server": "s1", "format": 99})
        self.assertEqual(storage.get_meta(), {"server": "s1", "format": FORMAT})
        self.assertTrue(storage.is_new)  # is_new describes the database as opened
        storage.commit()
        storage.close()
        storage = self.open()
        self.assertFalse(storage.is_new)
        self.assertIsNone(storage.moved_aside)
        self.assertEqual(storage.get_meta(), {"server": "s1", "format": FORMAT})

    def test_lock_refuses_second_open_until_close(self) -> None:
        storage = self.open()
        # A second open() is a second open file description: flock conflicts.
        with self.assertRaises(DataDirectoryInUse) as caught:
            Storage.open(self.directory)
        self.assertIn(str(self.directory), str(caught.exception))
        self.assertIn(f"pid {os.getpid()}", str(caught.exception))
        self.assertIsInstance(caught.exception, StorageError)
        storage.close()
        self.open().close()

    def test_lock_held_by_another_process(self) -> None:
        child = run_child(
            f"""
            import sys
            from game.server.storage import Storage
            storage = Storage.open({str(self.directory)!r})
            print("ready", flush=True)
            sys.stdin.read()
            """,
            pipes=True,
        )
        assert child.stdin is not None and child.stdout is not None
        try:
            self.assertEqual(child.stdout.readline(), "ready\n")
            with self.assertRaises(DataDirectoryInUse) as caught:
                Storage.open(self.directory)
            self.assertIn(f"pid {child.pid}", str(caught.exception))
        finally:
            child.stdin.close()
            child.wait(10)
            child.stdout.close()
        self.open()

    def assert_unreadable(self, reason: str) -> None:
        with self.assertRaises(UnreadableDatabase) as caught:
            Storage.open(self.directory)
        message = str(caught.exception)
        self.assertIn(str(self.directory / DATABASE_NAME), message)
        self.assertIn(reason, message)
        self.assertIn("--rebuild", message)
        # The failed open released the lock.
        self.open(rebuild=True)

    def write_database(self, data: bytes) -> None:
        self.directory.mkdir()
        (self.directory / DATABASE_NAME).write_bytes(data)

    def test_garbage_file(self) -> None:
        self.write_database(os.urandom(8192))
        self.assert_unreadable("file is not a database")

    def test_truncated_database(self) -> None:
        storage = self.open()
        for i in range(300):
            storage.stage(f"game/{i}", "x" * 200)
        storage.commit()
        storage.close()  # checkpoints the WAL into the file
        path = self.directory / DATABASE_NAME
        self.assertFalse(Path(f"{path}-wal").exists())
        os.truncate(path, path.stat().st_size // 2)
        self.assert_unreadable("malformed")

    def damage_page(self, offset: int, data: bytes) -> None:
        """Write 300 rows, close, then overwrite the database file at ``offset``."""
        storage = self.open()
        for i in range(300):
            storage.stage(f"game/{i}", "x" * 200)
        storage.commit()
        storage.close()
        with (self.directory / DATABASE_NAME).open("r+b") as f:
            f.seek(offset)
            f.write(data)

    def test_corrupt_page(self) -> None:
        # Opening reads only the schema; the quick check finds a damaged data page.
        self.damage_page(10 * 4096, b"\xa5" * 4096)
        self.assert_unreadable(str(self.directory))

    def test_quick_check_complaints_on_one_line(self) -> None:
        # sqlite's own complaints hold newlines; the server logs the reason as one line.
        self.damage_page(4096, bytes(range(256)) * 16)  # the table's first page
        with self.assertRaises(UnreadableDatabase) as caught:
            Storage.open(self.directory)
        self.assertNotIn("\n", str(caught.exception))

    def test_meta_of_newer_format(self) -> None:
        storage = self.open()
        storage.stage(META_KEY, {"format": FORMAT + 1})
        storage.commit()
        storage.close()
        self.assert_unreadable(f"format {FORMAT + 1} is newer")

    def test_meta_of_older_format(self) -> None:
        # Format 1 index entries lack the tree's bucket and leaf: refused, not misread.
        storage = self.open()
        storage.stage(META_KEY, {"format": FORMAT - 1, "clock": 0, "digest": "0" * 64})
        storage.commit()
        storage.close()
        self.assert_unreadable(f"format {FORMAT - 1} is older")

    def test_load_reads_a_prefix_in_one_query(self) -> None:
        storage = self.open()
        for i in range(2 * _PAGE + 3):
            storage.stage(f"i/{i:04}", (i, "x"))
        storage.stage("h/0", "before")
        storage.stage("j/0", "after")
        storage.commit()
        self.assertEqual(storage.load("i/"), [(f"{i:04}", (i, "x")) for i in range(2 * _PAGE + 3)])
        self.assertEqual(storage.load("z/"), [])

    def test_meta_that_does_not_unpickle(self) -> None:
        self.directory.mkdir()
        mapping = SqliteMapping(self.directory / DATABASE_NAME)
        mapping[META_KEY.encode()] = pickle.dumps({"format": 1})[:-3]
        mapping.commit()
        mapping.close()
        self.assert_unreadable("does not unpickle")

    def test_table_of_wrong_shape(self) -> None:
        self.directory.mkdir()
        connection = sqlite3.connect(self.directory / DATABASE_NAME)
        connection.execute("CREATE TABLE kv (key TEXT, value TEXT)")
        connection.close()
        self.assert_unreadable("wrong shape")

    def test_rebuild_moves_aside(self) -> None:
        garbage = os.urandom(8192)
        self.write_database(garbage)
        (self.directory / f"{DATABASE_NAME}-wal").write_bytes(b"stale wal")
        storage = self.open(rebuild=True)
        first = self.directory / f"{DATABASE_NAME}.broken-1"
        self.assertEqual(storage.moved_aside, first)
        self.assertEqual(first.read_bytes(), garbage)
        self.assertEqual(Path(f"{first}-wal").read_bytes(), b"stale wal")
        self.assertTrue(storage.is_new)
        self.assertEqual(list(storage.scan("")), [])
        storage.close()
        storage = self.open(rebuild=True)
        self.assertEqual(storage.moved_aside, self.directory / f"{DATABASE_NAME}.broken-2")
        self.assertEqual(first.read_bytes(), garbage)

    def test_rebuild_without_database(self) -> None:
        self.assertIsNone(self.open(rebuild=True).moved_aside)

    def test_crash_keeps_exactly_the_commits(self) -> None:
        child = run_child(
            f"""
            import os, signal
            from game.server.storage import Storage
            storage = Storage.open({str(self.directory)!r})
            for i in range(20):
                storage.stage(f"game/{{i:02}}", {{"n": i}})
                storage.commit()
            storage.stage("game/20", {{"n": 20}})
            storage.stage("game/00", {{"n": "overwritten"}})
            os.kill(os.getpid(), signal.SIGKILL)
            """
        )
        self.assertEqual(child.wait(10), -signal.SIGKILL)
        storage = self.open()  # the dead process's lock went with it
        self.assertEqual(
            list(storage.scan("game/")), [(f"game/{i:02}", {"n": i}) for i in range(20)]
        )


class CommitterCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.storage = Storage.open(temp_dir(self))
        self.addCleanup(self.storage.close)
        self.clock = Clock()
        self.failures: list[Failure] = []
        self.committer = GroupCommitter(self.storage, self.clock, on_failure=self.failures.append)


class GroupCommitterTests(CommitterCase):
    def test_one_commit_per_turn(self) -> None:
        fired: list[int] = []

        def record(_: None, i: int) -> None:
            fired.append(i)

        deferreds = []
        for i in range(100):
            d = self.committer.write([(f"game/{i:03}", i), (f"clock/{i:03}", -i)])
            d.addCallback(record, i)
            deferreds.append(d)
        # Staged (readable) but neither committed nor answered.
        self.assertEqual(self.storage.get("game/042"), 42)
        self.assertEqual(fired, [])
        self.assertEqual(self.storage.commits, 0)
        self.assertEqual(committed_rows(self.storage.path), {})
        self.clock.advance(0)
        self.assertEqual(self.storage.commits, 1)
        self.assertEqual(fired, list(range(100)))
        self.assertEqual((self.committer.batches, self.committer.last_batch_size), (1, 100))
        self.assertEqual(len(committed_rows(self.storage.path)), 200)
        for d in deferreds:
            self.assertIsNone(self.successResultOf(d))

    def test_next_turn_next_commit(self) -> None:
        self.committer.write([("a", 1)])
        self.clock.advance(0)
        d = self.committer.write([("b", 2)])
        # The answer is released only once a restart would find the write.
        seen_by_callback: list[set[bytes]] = []
        d.addCallback(lambda _: seen_by_callback.append(set(committed_rows(self.storage.path))))
        self.assertNoResult(d)
        self.clock.advance(0)
        self.successResultOf(d)
        self.assertEqual(seen_by_callback, [{b"a", b"b"}])
        self.assertEqual((self.storage.commits, self.committer.last_batch_size), (2, 1))

    def test_write_from_a_callback_starts_a_new_batch(self) -> None:
        later: list[Deferred[None]] = []
        first = self.committer.write([("a", 1)])
        first.addCallback(lambda _: later.append(self.committer.write([("b", 2)])))
        self.clock.advance(0)  # Clock also runs calls scheduled while advancing
        self.successResultOf(later[0])
        self.assertEqual((self.committer.batches, self.storage.commits), (2, 2))
        self.assertEqual(self.committer.last_batch_size, 1)

    def test_after_pending(self) -> None:
        self.successResultOf(self.committer.after_pending())  # nothing pending
        written = self.committer.write([("a", 1)])
        order: list[str] = []
        written.addCallback(lambda _: order.append("write"))
        pending = self.committer.after_pending()
        pending.addCallback(lambda _: order.append("read"))
        self.assertNoResult(pending)
        self.clock.advance(0)
        self.assertEqual(order, ["write", "read"])
        self.assertEqual(self.committer.last_batch_size, 1)  # waiters are not writes

    def test_failing_commit(self) -> None:
        def broken_commit() -> None:
            raise sqlite3.OperationalError("disk I/O error")

        self.storage.commit = broken_commit  # type: ignore[method-assign]
        writes = [self.committer.write([(f"k{i}", i)]) for i in range(3)]
        pending = self.committer.after_pending()
        self.clock.advance(0)
        for d in [*writes, pending]:
            error = self.failureResultOf(d, CommitFailed).value
            self.assertIsInstance(error.cause, sqlite3.OperationalError)
        (reason,) = self.failures
        self.assertEqual(str(reason.value), "disk I/O error")
        # The staged writes will never be durable: they are gone from reads too.
        self.assertIsNone(self.storage.get("k0"))
        # From now on, nothing is accepted.
        self.failureResultOf(self.committer.write([("k9", 9)]), CommitFailed)
        self.failureResultOf(self.committer.after_pending(), CommitFailed)
        self.assertIsNone(self.storage.get("k9"))
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(self.committer.batches, 0)

    def test_failing_stage(self) -> None:
        first = self.committer.write([("a", 1)])
        second = self.committer.write([("b", 2), ("c", lambda: None)])  # does not pickle
        self.failureResultOf(first, CommitFailed)
        self.failureResultOf(second, CommitFailed)
        self.assertEqual(len(self.failures), 1)
        self.assertIsNone(self.storage.get("a"))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_close_flushes(self) -> None:
        d = self.committer.write([("a", 1)])
        self.committer.close()
        self.successResultOf(d)
        self.assertEqual(committed_rows(self.storage.path), {b"a": pickle.dumps(1, protocol=5)})
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.failureResultOf(self.committer.write([("b", 2)]), StorageError)
        self.assertIsNone(self.storage.get("b"))
        self.successResultOf(self.committer.after_pending())


class GroupCommitterRecordsTests(CommitterCase):
    """Deleting through a write, and records staged once per batch."""

    def test_delete(self) -> None:
        self.committer.write([("a", 1), ("b", 2)])
        self.clock.advance(0)
        d = self.committer.write([("a", DELETE), ("never", DELETE), ("c", 3)])
        self.clock.advance(0)
        self.successResultOf(d)
        self.assertEqual(set(committed_rows(self.storage.path)), {b"b", b"c"})

    def test_at_commit_staged_once_with_its_last_value(self) -> None:
        counter = {"n": 0}
        calls: list[int] = []

        def value_of() -> int:
            calls.append(counter["n"])
            return counter["n"]

        deferreds = []
        for n in range(5):
            counter["n"] = n
            deferreds.append(self.committer.write([(f"k{n}", n)], ("meta-ish", value_of)))
        self.assertEqual(calls, [])  # nothing staged before the commit
        self.clock.advance(0)
        for d in deferreds:
            self.successResultOf(d)
        self.assertEqual(calls, [4])
        self.assertEqual(self.storage.get("meta-ish"), 4)
        self.assertEqual(committed_rows(self.storage.path)[b"meta-ish"], pickle.dumps(4, 5))
        # The next batch stages it again, only if a write asks for it.
        self.committer.write([("x", 1)])
        self.clock.advance(0)
        self.assertEqual(calls, [4])

    def test_at_commit_failure_fails_the_batch(self) -> None:
        def broken() -> object:
            raise ValueError("cannot compute")

        d = self.committer.write([("a", 1)], ("meta-ish", broken))
        self.clock.advance(0)
        self.assertIsInstance(self.failureResultOf(d, CommitFailed).value.cause, ValueError)
        self.assertEqual(len(self.failures), 1)
        self.assertIsNone(self.storage.get("a"))
