"""Tests for game.server.replica: one server's games over a real Storage and group commit."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.protocols import amp
from twisted.trial.unittest import SynchronousTestCase

from game import errors as wire
from game.protocol import LIST_BUDGET
from game.server.commit import GroupCommitter
from game.server.gamelog import (
    EMPTY_HEAD,
    JOIN,
    MOVE,
    RESIGN,
    Command,
    Event,
    GameLog,
    InvalidEvent,
    canonical_json,
    create_event,
    decide,
)
from game.server.index import bucket_of, leaf_value
from game.server.replica import DamagedGame, Replica
from game.server.storage import Storage

T0 = "seat-zero-token-0123456789"
T1 = "seat-one-token-0123456789"
HEX = "0123456789abcdef"


def sha256_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest(), "big")


def head_of(events: list[str]) -> bytes:
    head = EMPTY_HEAD
    for text in events:
        head = hashlib.sha256(head + text.encode("utf-8")).digest()
    return head


def branch(game_id: str, moves: list[str], kind: str = "connect4") -> GameLog:
    """A history built apart from the replica: Alice (T0) creates, Bob (T1) joins."""
    game = GameLog(game_id, create_event(kind, "alice", 0, T0, game_id))
    game.append(_event(game, Command(JOIN, game.version, T1, player="bob")))
    for move in moves:
        token = (T0, T1)[game.position.to_move]
        game.append(_event(game, Command(MOVE, game.version, token, move=move)))
    return game


def _event(game: GameLog, command: Command) -> Event:
    outcome = decide(game, command)
    assert isinstance(outcome, Event)
    return outcome


class ReplicaTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="test_replica-"))
        self.addCleanup(shutil.rmtree, self.directory, True)
        self.changes: list[tuple[str, str]] = []
        #: The last answer for every game: what the test expects the replica to hold.
        self.documents: dict[str, str] = {}
        self.open()

    def open(self) -> None:
        self.clock = Clock()
        self.storage = Storage.open(self.directory)
        self.addCleanup(self.storage.close)
        self.committer = GroupCommitter(self.storage, self.clock)
        self.replica = Replica(
            self.storage, self.committer, on_change=lambda g, d: self.changes.append((g, d))
        )

    def reopen(self) -> None:
        self.committer.close()
        self.storage.close()
        self.open()

    def durable(self, deferred: Deferred[str]) -> str:
        """The answer of a change: none before the commit, the document after."""
        self.assertNoResult(deferred)
        self.clock.advance(0)
        document = self.successResultOf(deferred)
        self.documents[json.loads(document)["id"]] = document
        return document

    def create(
        self,
        game_id: str,
        kind: str = "connect4",
        player: str = "alice",
        seat: int = 0,
        token: str = T0,
    ) -> str:
        return self.durable(self.replica.create(game_id, kind, player, seat, token))

    def apply(
        self,
        game_id: str,
        event_type: str,
        token: str,
        *,
        version: int | None = None,
        player: str | None = None,
        move: str | None = None,
    ) -> str:
        command = self.command(
            game_id, event_type, token, version=version, player=player, move=move
        )
        return self.durable(self.replica.apply(game_id, command))

    def command(
        self,
        game_id: str,
        event_type: str,
        token: str,
        *,
        version: int | None = None,
        player: str | None = None,
        move: str | None = None,
    ) -> Command:
        if version is None:
            game = self.replica.game(game_id)
            assert game is not None
            version = game.version
        return Command(event_type, version, token, player=player, move=move)

    def active(self, game_id: str, kind: str = "connect4", moves: tuple[str, ...] = ()) -> str:
        self.create(game_id, kind)
        document = self.apply(game_id, JOIN, T1, player="bob")
        for move in moves:
            to_move = json.loads(document)["to_move"]
            document = self.apply(game_id, MOVE, (T0, T1)[to_move], move=move)
        return document

    def snapshot(self) -> tuple[Any, ...]:
        """Everything the replica derives from its index, for comparing across a reopen."""
        replica = self.replica
        return (
            {game_id: entry.to_record() for game_id, entry in replica.index.items()},
            replica.sorted_ids,
            replica.clock,
            replica.digest_hex(),
            dict(replica.tree),
            replica.buckets,
        )

    def check_bookkeeping(self) -> None:
        """Clock, digest, index and tree, recomputed here from the documents answered."""
        replica = self.replica
        self.assertEqual(sorted(replica.index), sorted(self.documents))
        self.assertEqual(replica.sorted_ids, sorted(self.documents))
        versions = [json.loads(document)["version"] for document in self.documents.values()]
        self.assertEqual(replica.clock, sum(versions))
        digest = 0
        for document in self.documents.values():
            digest ^= sha256_int(document)
        self.assertEqual(replica.digest_hex(), f"{digest:064x}")
        self.assertEqual(len(replica.digest_hex()), 64)
        for game_id, document in self.documents.items():
            self.assertEqual(self.successResultOf(replica.document(game_id)), document)
        # The anti-entropy tree, from bucket_of and leaf_value.
        nodes: dict[str, int] = {}
        buckets: dict[str, list[tuple[str, bytes]]] = {}
        for game_id in self.documents:
            game = replica.game(game_id)
            assert game is not None
            head = head_of(game.event_json)
            bucket = bucket_of(game_id)
            self.assertEqual(bucket, hashlib.sha256(game_id.encode()).hexdigest()[:4])
            buckets.setdefault(bucket, []).append((game_id, head))
            for depth in range(5):
                nodes[bucket[:depth]] = nodes.get(bucket[:depth], 0) ^ leaf_value(game_id, head)
        for prefix in {bucket[:depth] for bucket in buckets for depth in range(4)} | {""}:
            children = replica.tree_children(prefix)
            self.assertEqual(children, [nodes.get(prefix + digit, 0) for digit in HEX], prefix)
            if prefix in nodes:
                root = 0
                for value in children:
                    root ^= value
                self.assertEqual(root, nodes[prefix])
        for bucket, games in buckets.items():
            held = [(game_id, entry.head) for game_id, entry in replica.bucket_heads(bucket)]
            self.assertEqual(held, sorted(games))
        self.assertEqual(list(replica.bucket_heads("zzzz")), [])


class AnswerAfterCommitTests(ReplicaTestCase):
    def test_create(self) -> None:
        commits = self.storage.commits
        deferred = self.replica.create("g1", "connect4", "alice", 0, T0)
        self.assertNoResult(deferred)
        self.assertEqual((self.storage.commits, self.changes), (commits, []))
        self.clock.advance(0)
        document = self.successResultOf(deferred)
        self.assertEqual(self.storage.commits, commits + 1)
        self.assertEqual(self.changes, [("g1", document)])
        self.assertEqual(
            json.loads(document),
            {
                "id": "g1",
                "kind": "connect4",
                "version": 1,
                "status": "open",
                "players": ["alice", None],
                "to_move": None,
                "moves": [],
                "position": "",
                "legal": [],
                "draw_offer": None,
                "result": None,
            },
        )

    def test_apply(self) -> None:
        self.create("g1")
        commits = self.storage.commits
        deferred = self.replica.apply("g1", Command(JOIN, 1, T1, player="bob"))
        self.assertNoResult(deferred)
        self.assertEqual(self.storage.commits, commits)
        self.assertEqual(len(self.changes), 1)
        # A read of the game in the same turn waits for the commit too.
        read = self.replica.document("g1")
        self.assertNoResult(read)
        self.clock.advance(0)
        document = self.successResultOf(deferred)
        self.assertEqual(self.successResultOf(read), document)
        self.assertEqual(json.loads(document)["status"], "active")
        self.assertEqual(self.storage.commits, commits + 1)
        self.assertEqual(self.changes[1:], [("g1", document)])

    def test_hundred_applies_one_commit(self) -> None:
        ids = [f"game-{n:03}" for n in range(100)]
        for game_id in ids:
            self.replica.create(game_id, "connect4", "alice", 0, T0)
        self.clock.advance(0)
        commits = self.storage.commits
        self.changes.clear()
        answers = [
            self.replica.apply(game_id, Command(JOIN, 1, T1, player="bob")) for game_id in ids
        ]
        for deferred in answers:
            self.assertNoResult(deferred)
        self.assertEqual(self.storage.commits, commits)
        self.assertEqual(self.changes, [])
        self.clock.advance(0)
        self.assertEqual(self.storage.commits, commits + 1)
        self.assertEqual(self.committer.last_batch_size, 100)
        documents = [self.successResultOf(deferred) for deferred in answers]
        self.assertEqual([json.loads(d)["id"] for d in documents], ids)
        self.assertEqual({json.loads(d)["version"] for d in documents}, {2})
        self.assertEqual(self.changes, list(zip(ids, documents, strict=True)))
        self.assertEqual(self.replica.clock, 200)

    def test_on_change_once_per_change_in_order(self) -> None:
        self.create("g1")
        self.changes.clear()
        join = self.replica.apply("g1", Command(JOIN, 1, T1, player="bob"))
        move = self.replica.apply("g1", Command(MOVE, 2, T0, move="4"))
        repeat = self.replica.apply("g1", Command(JOIN, 1, T1, player="bob"))
        self.assertRaises(wire.StaleVersion, self.replica.apply, "g1", Command(RESIGN, 1, T0))
        self.assertRaises(
            wire.IllegalMoveError, self.replica.apply, "g1", Command(MOVE, 3, T1, move="9")
        )
        self.assertEqual(self.changes, [])
        self.clock.advance(0)
        joined, moved = self.successResultOf(join), self.successResultOf(move)
        self.assertEqual(self.changes, [("g1", joined), ("g1", moved)])
        self.assertEqual(json.loads(joined)["version"], 2)
        self.assertEqual(json.loads(moved)["version"], 3)
        # The repeat answers the current game, and is no change.
        self.assertEqual(self.successResultOf(repeat), moved)
        self.assertEqual(len(self.changes), 2)

    def test_unknown_game(self) -> None:
        self.assertRaises(wire.UnknownGame, self.replica.apply, "nope", Command(MOVE, 1, T0))
        self.assertRaises(wire.UnknownGame, self.replica.document, "nope")
        self.assertIsNone(self.replica.game("nope"))


class BookkeepingTests(ReplicaTestCase):
    def test_empty(self) -> None:
        self.assertEqual((self.replica.clock, self.replica.digest_hex()), (0, "0" * 64))
        self.assertEqual(self.replica.tree_children(""), [0] * 16)
        self.check_bookkeeping()

    def test_creates_and_moves(self) -> None:
        self.create("c4", "connect4")
        self.check_bookkeeping()
        self.create("rev", "reversi", player="Zoë 😀", seat=1)
        self.create("chk", "checkers")
        self.check_bookkeeping()
        self.apply("c4", JOIN, T1, player="bob")
        self.apply("c4", MOVE, T0, move="4")
        self.apply("chk", JOIN, T1, player="bob")
        self.apply("chk", MOVE, T0, move="11-15")
        self.apply("rev", RESIGN, T0)
        self.assertEqual(self.replica.clock, 3 + 3 + 2)
        self.check_bookkeeping()

    def test_clock_counts_changes_only(self) -> None:
        self.active("g1", moves=("4",))
        clock, digest, commits = self.replica.clock, self.replica.digest, self.storage.commits
        self.assertEqual(clock, 3)
        self.successResultOf(self.replica.document("g1"))
        self.successResultOf(self.replica.apply("g1", Command(MOVE, 2, T0, move="4")))  # repeat
        for command in (
            Command(MOVE, 2, T1, move="4"),  # stale
            Command(MOVE, 3, T0, move="4"),  # not your turn
            Command(MOVE, 9, T1, move="4"),  # behind
        ):
            self.assertRaises(wire.WireError, self.replica.apply, "g1", command)
        self.assertRaises(wire.GameExists, self.replica.create, "g1", "reversi", "x", 0, T0)
        self.clock.advance(0)
        self.assertEqual((self.replica.clock, self.replica.digest), (clock, digest))
        self.assertEqual(self.storage.commits, commits)
        self.apply("g1", MOVE, T1, move="3")
        self.assertEqual(self.replica.clock, clock + 1)
        self.check_bookkeeping()

    def test_census_follows_every_change(self) -> None:
        """Counted once from the index, then kept by each change; a reload
        counts again."""
        self.create("c4", "connect4")
        self.assertEqual(self.replica.census(), {("connect4", "open"): 1})
        self.create("chk", "checkers")
        self.apply("c4", JOIN, T1, player="bob")
        self.apply("chk", RESIGN, T0)
        expected = {("connect4", "active"): 1, ("checkers", "finished"): 1}
        self.assertEqual(self.replica.census(), expected)
        self.reopen()
        self.assertEqual(self.replica.census(), expected)

    def test_many_games_tree(self) -> None:
        for n in range(40):
            self.replica.create(f"tree-{n}", "connect4", "alice", 0, T0)
        self.clock.advance(0)
        for n in range(40):
            self.documents[f"tree-{n}"] = self.successResultOf(self.replica.document(f"tree-{n}"))
        for n in range(0, 40, 3):
            self.apply(f"tree-{n}", JOIN, T1, player="bob")
        self.check_bookkeeping()
        self.assertNotEqual(self.replica.tree_children(""), [0] * 16)


class AdoptTests(ReplicaTestCase):
    def test_adopt_a_longer_history(self) -> None:
        self.active("g1", moves=("4",))
        longer = branch("g1", ["4", "3", "4", "3"])
        clock = self.replica.clock
        self.changes.clear()
        document = self.durable(self.replica.adopt("g1", tuple(longer.event_json)))
        self.assertEqual(document, longer.document())
        self.assertEqual(self.changes, [("g1", document)])
        self.assertEqual(self.replica.clock, clock + 3)
        self.check_bookkeeping()
        # The adopted events are this replica's: repeats and new moves use them.
        self.successResultOf(self.replica.apply("g1", Command(MOVE, 5, T1, move="3")))
        self.apply("g1", MOVE, T0, move="5")
        self.check_bookkeeping()

    def test_an_extension_replays_only_the_new_events(self) -> None:
        self.active("g1", moves=("4",))
        self.replica._cache.clear()  # read back from the disk, as in a catch-up
        longer = branch("g1", ["4", "3", "4"])

        def whole_history(*args: object) -> GameLog:
            raise AssertionError("the whole history was replayed")

        replay = GameLog.from_events
        self.replica.game("g1")
        self.patch(GameLog, "from_events", whole_history)
        document = self.durable(self.replica.adopt("g1", tuple(longer.event_json)))
        self.assertEqual(document, longer.document())
        self.patch(GameLog, "from_events", replay)
        self.check_bookkeeping()
        self.reopen()
        self.check_bookkeeping()

    def test_an_extension_that_fails_part_way_changes_nothing(self) -> None:
        self.active("g1", moves=("4",))
        before = self.snapshot()
        game = self.replica.game("g1")
        assert game is not None
        events = list(game.event_json)
        good = branch("g1", ["4", "3"]).event_json[-1]
        bad = good.replace('"3"', '"9"')
        self.assertRaises(InvalidEvent, self.replica.adopt, "g1", (*events, good, bad))
        self.clock.advance(0)
        self.assertEqual(self.snapshot(), before)
        game = self.replica.game("g1")
        assert game is not None
        self.assertEqual(game.event_json, events)
        self.check_bookkeeping()

    def test_adopt_a_shorter_fork(self) -> None:
        self.active("g1", moves=("4", "4", "4"))
        self.active("other", moves=("1",))
        old_tree = self.replica.tree_children("")
        clock = self.replica.clock
        fork = branch("g1", ["3"])
        document = self.durable(self.replica.adopt("g1", tuple(fork.event_json)))
        self.assertEqual(json.loads(document)["moves"], ["3"])
        self.assertEqual(self.replica.clock, clock - 2)  # the clock falls
        self.assertNotEqual(self.replica.tree_children(""), old_tree)
        self.check_bookkeeping()
        # The lost branch's move at version 2 is no repeat any more.
        self.assertRaises(
            wire.StaleVersion, self.replica.apply, "g1", Command(MOVE, 2, T0, move="4")
        )
        self.apply("g1", MOVE, T1, move="4")
        self.check_bookkeeping()

    def test_adopt_an_unknown_game(self) -> None:
        self.active("b")
        game = branch("a", ["2"], kind="connect4")
        self.durable(self.replica.adopt("a", tuple(game.event_json)))
        self.assertEqual(self.replica.sorted_ids, ["a", "b"])
        self.assertEqual(
            self.replica.list_games("", "", "", 10, "")[0][0], canonical_json(game.summary())
        )
        self.check_bookkeeping()

    def test_adopt_the_same_history(self) -> None:
        self.active("g1", moves=("4",))
        clock, digest, tree = (
            self.replica.clock,
            self.replica.digest,
            self.replica.tree_children(""),
        )
        game = self.replica.game("g1")
        assert game is not None
        self.durable(self.replica.adopt("g1", tuple(game.event_json)))
        self.assertEqual(
            (self.replica.clock, self.replica.digest, self.replica.tree_children("")),
            (clock, digest, tree),
        )

    def test_adopt_an_invalid_history_changes_nothing(self) -> None:
        self.active("g1", moves=("4",))
        clock, digest, tree = (
            self.replica.clock,
            self.replica.digest,
            self.replica.tree_children(""),
        )
        commits = self.storage.commits
        game = self.replica.game("g1")
        assert game is not None
        events = list(game.event_json)
        for bad in (
            [],
            events[1:],
            [*events, events[-1]],  # the same seat twice
            [*events[:2], events[0]],
            [*events[:-1], events[-1].replace('"4"', '"8"')],
        ):
            self.assertRaises(InvalidEvent, self.replica.adopt, "g1", tuple(bad))
        self.clock.advance(0)
        self.assertEqual(
            (self.replica.clock, self.replica.digest, self.replica.tree_children("")),
            (clock, digest, tree),
        )
        self.assertEqual(self.storage.commits, commits)
        self.assertEqual(self.replica.game("g1"), game)
        self.check_bookkeeping()


class PersistenceTests(ReplicaTestCase):
    def events(self, game_id: str) -> list[str]:
        game = self.replica.game(game_id)
        assert game is not None
        return list(game.event_json)

    def test_reopen(self) -> None:
        self.active("c4", moves=("4", "4"))
        self.active("chk", kind="checkers", moves=("11-15",))
        self.create("open", "reversi", player="Zoë 😀", seat=1)
        self.durable(self.replica.adopt("forked", tuple(branch("forked", ["1"]).event_json)))
        self.durable(self.replica.adopt("c4", tuple(branch("c4", ["3"]).event_json)))
        before = self.snapshot()
        events = {game_id: self.events(game_id) for game_id in self.documents}
        self.reopen()
        self.assertEqual(self.snapshot(), before)
        for game_id, document in self.documents.items():
            game = self.replica.game(game_id)
            assert game is not None
            self.assertEqual(game.document(), document)
            self.assertEqual(game.event_json, events[game_id])
        self.check_bookkeeping()
        # The reloaded games decide as before: a repeat, then a new move.
        self.successResultOf(self.replica.apply("c4", Command(MOVE, 2, T0, move="3")))
        self.apply("c4", MOVE, T1, move="3")
        self.check_bookkeeping()

    def test_an_unanswered_change_is_not_kept(self) -> None:
        self.active("g1")
        before = self.snapshot()
        deferred = self.replica.apply("g1", Command(MOVE, 2, T0, move="4"))
        self.assertNoResult(deferred)
        # Closed before the commit (a crash would do the same): the move is lost.
        self.storage.close()
        self.open()
        self.assertEqual(self.snapshot(), before)
        self.check_bookkeeping()

    def test_initialized_flag(self) -> None:
        self.assertTrue(self.replica.is_new)
        deferred = self.replica.mark_initialized()
        self.clock.advance(0)
        self.successResultOf(deferred)
        self.assertFalse(self.replica.is_new)
        self.create("g1")
        self.reopen()
        self.assertFalse(self.replica.is_new)
        self.check_bookkeeping()


class LoadCheckTests(ReplicaTestCase):
    """Start-up trusts the stored tree hashes only as far as the meta record vouches for them."""

    def setUp(self) -> None:
        super().setUp()
        self.active("g1", moves=("4",))
        self.active("g2", kind="reversi")
        self.committer.close()
        self.storage.close()

    def rewrite(self, key: str, change: Callable[[Any], Any]) -> None:
        """Change one stored record behind the replica's back, and commit it."""
        storage = Storage.open(self.directory)
        try:
            storage.stage(key, change(storage.get(key)))
            storage.commit()
        finally:
            storage.close()

    def assert_refused(self, *reasons: str) -> None:
        with self.assertRaises(ValueError) as caught:
            self.open()
        self.storage.close()  # what the server does: it exits
        for reason in reasons:
            self.assertIn(reason, str(caught.exception))

    def test_a_consistent_database_loads(self) -> None:
        self.open()
        self.check_bookkeeping()
        self.assertEqual(self.replica.meta["games"], 2)

    def test_meta_that_disagrees_with_the_entries_is_refused(self) -> None:
        self.rewrite("meta", lambda meta: {**meta, "clock": meta["clock"] + 1})
        self.assert_refused("does not match the index entries", "clock 6 recorded, 5 found")

    def test_an_entry_whose_leaf_changed_is_refused(self) -> None:
        self.rewrite("i/g1", lambda entry: (*entry[:-1], entry[-1] ^ 1))
        self.assert_refused("tree")

    def test_an_entry_whose_version_changed_is_refused(self) -> None:
        self.rewrite("i/g2", lambda entry: (*entry[:3], entry[3] + 1, *entry[4:]))
        self.assert_refused("clock")

    def test_a_lost_entry_is_refused(self) -> None:
        storage = Storage.open(self.directory)
        del storage._shelf["i/g2"]
        storage.commit()
        storage.close()
        self.assert_refused("games 2 recorded, 1 found")

    def test_entries_without_meta_are_refused(self) -> None:
        storage = Storage.open(self.directory)
        del storage._shelf["meta"]
        storage.commit()
        storage.close()
        self.assert_refused("2 index entries but no meta record")

    def test_an_entry_of_another_shape_is_refused(self) -> None:
        # Format 1's entries: a format number first, a summary last, no tree hashes.
        self.rewrite("i/g1", lambda entry: (1, *entry[:6], "summary"))
        self.assert_refused("the index entry of game 'g1' is not one")
        self.rewrite("i/g1", list)
        self.assert_refused("the index entry of game 'g1' is not one")

    def test_wrong_tree_hashes_vouched_for_by_meta_are_caught_on_read(self) -> None:
        # Damage the meta record agrees with loads, but the game's own check finds it.
        other = next(f"x{n}" for n in range(1000) if bucket_of(f"x{n}") != bucket_of("g1"))
        wrong_bucket = bucket_of(other)
        old_leaf: list[int] = []

        def damage(entry: Any) -> Any:
            old_leaf.append(entry[-1])
            return (*entry[:-2], wrong_bucket, entry[-1])

        self.rewrite("i/g1", damage)
        self.open()
        self.assertEqual(self.replica.index["g1"].bucket, wrong_bucket)
        self.assertRaises(DamagedGame, self.replica.game, "g1")
        self.assertTrue(self.replica.is_damaged("g1"))
        # Repair (what a reconcile does with the peers' copy) moves it to its bucket.
        self.durable(self.replica.adopt("g1", tuple(branch("g1", ["4"]).event_json)))
        self.assertNotIn("g1", self.replica.buckets[wrong_bucket])
        self.check_bookkeeping()
        self.reopen()
        self.check_bookkeeping()
        self.assertEqual(old_leaf, [self.replica.index["g1"].leaf])


class CreateTests(ReplicaTestCase):
    def test_repeat_answers_the_current_game(self) -> None:
        self.create("g1", "reversi", "alice", 1, T0)
        document = self.apply("g1", JOIN, T1, player="bob")
        commits, changes = self.storage.commits, len(self.changes)
        again = self.replica.create("g1", "reversi", "alice", 1, T0)
        self.assertEqual(self.successResultOf(again), document)
        self.assertEqual((self.storage.commits, len(self.changes)), (commits, changes))
        self.assertEqual(self.replica.clock, 2)

    def test_repeat_in_the_same_turn_waits_for_the_commit(self) -> None:
        first = self.replica.create("g1", "connect4", "alice", 0, T0)
        again = self.replica.create("g1", "connect4", "alice", 0, T0)
        self.assertNoResult(again)
        self.clock.advance(0)
        created = self.successResultOf(first)
        self.assertEqual(json.loads(created)["version"], 1)
        self.assertEqual(self.successResultOf(again), created)
        self.assertEqual(len(self.changes), 1)

    def test_different_creation(self) -> None:
        document = self.create("g1", "reversi", "alice", 1, T0)
        for kind, player, seat, token in (
            ("connect4", "alice", 1, T0),
            ("reversi", "alicia", 1, T0),
            ("reversi", "alice", 0, T0),
            ("reversi", "alice", 1, T1),
        ):
            self.assertRaises(wire.GameExists, self.replica.create, "g1", kind, player, seat, token)
        self.clock.advance(0)
        self.assertEqual(self.successResultOf(self.replica.document("g1")), document)
        self.assertEqual(len(self.changes), 1)

    def test_repeat_after_reopen(self) -> None:
        document = self.create("g1", "checkers", "alice", 0, T0)
        self.reopen()
        self.assertEqual(
            self.successResultOf(self.replica.create("g1", "checkers", "alice", 0, T0)), document
        )
        self.assertRaises(wire.GameExists, self.replica.create, "g1", "checkers", "bob", 0, T0)


def summary(document: str) -> dict[str, Any]:
    game = json.loads(document)
    return {key: game[key] for key in ("id", "kind", "status", "players", "version")}


class ListGamesTests(ReplicaTestCase):
    def populate(self) -> None:
        self.create("a-open", "connect4", "alice", 0)
        self.create("b-active", "reversi", "alice", 0)
        self.apply("b-active", JOIN, T1, player="bob")
        self.create("c-finished", "checkers", "carol", 0)
        self.apply("c-finished", JOIN, T1, player="alice")
        self.apply("c-finished", RESIGN, T0)
        self.create("d-open", "connect4", "bob", 1)
        self.create("e-active", "connect4", "dave", 0)
        self.apply("e-active", JOIN, T1, player="erin")

    def ids(self, status: str = "", kind: str = "", player: str = "") -> list[str]:
        page, cursor = self.replica.list_games(status, kind, player, 100, "")
        self.assertEqual(cursor, "")
        return [json.loads(line)["id"] for line in page]

    def test_summaries(self) -> None:
        self.populate()
        page, cursor = self.replica.list_games("", "", "", 50, "")
        self.assertEqual(cursor, "")
        self.assertEqual(len(page), 5)
        for line in page:
            loaded = json.loads(line)
            self.assertEqual(line, canonical_json(loaded))
            self.assertEqual(loaded, summary(self.documents[loaded["id"]]))
        self.assertEqual(
            json.loads(page[2]),
            {
                "id": "c-finished",
                "kind": "checkers",
                "status": "finished",
                "players": ["carol", "alice"],
                "version": 3,
            },
        )

    def test_filters(self) -> None:
        self.populate()
        self.assertEqual(self.ids(), ["a-open", "b-active", "c-finished", "d-open", "e-active"])
        self.assertEqual(self.ids(status="open"), ["a-open", "d-open"])
        self.assertEqual(self.ids(status="active"), ["b-active", "e-active"])
        self.assertEqual(self.ids(status="finished"), ["c-finished"])
        self.assertEqual(self.ids(kind="connect4"), ["a-open", "d-open", "e-active"])
        self.assertEqual(self.ids(kind="checkers"), ["c-finished"])
        self.assertEqual(self.ids(player="alice"), ["a-open", "b-active", "c-finished"])
        self.assertEqual(self.ids(player="bob"), ["b-active", "d-open"])
        self.assertEqual(self.ids(player="ali"), [])
        self.assertEqual(self.ids(player="Alice"), [])
        self.assertEqual(self.ids(status="open", player="bob"), ["d-open"])
        self.assertEqual(self.ids(status="active", kind="connect4", player="erin"), ["e-active"])
        self.assertEqual(self.ids(status="finished", kind="connect4"), [])
        # A summary follows its game.
        self.apply("a-open", JOIN, T1, player="bob")
        self.assertEqual(self.ids(status="open"), ["d-open"])
        self.assertEqual(self.ids(player="bob"), ["a-open", "b-active", "d-open"])

    def test_pages(self) -> None:
        ids = [f"g-{n:02}" for n in range(10)]
        for game_id in reversed(ids):
            self.replica.create(game_id, "connect4", "alice", 0, T0)
        self.clock.advance(0)
        seen: list[str] = []
        cursors: list[str] = []
        after = ""
        while True:
            page, after = self.replica.list_games("", "", "", 3, after)
            seen += [json.loads(line)["id"] for line in page]
            cursors.append(after)
            if not after:
                break
            self.assertEqual(after, seen[-1])
        self.assertEqual(seen, ids)
        self.assertEqual(cursors, ["g-02", "g-05", "g-08", ""])
        # A last page that is exactly full has no next.
        self.assertEqual(self.replica.list_games("", "", "", 5, "g-04")[1], "")
        self.assertEqual(len(self.replica.list_games("", "", "", 5, "g-04")[0]), 5)
        self.assertEqual(self.replica.list_games("", "", "", 10, "")[1], "")
        # The cursor need not be an id; past the end is empty.
        page, cursor = self.replica.list_games("", "", "", 2, "g-03x")
        self.assertEqual(([json.loads(line)["id"] for line in page], cursor), (ids[4:6], "g-05"))
        self.assertEqual(self.replica.list_games("", "", "", 2, "g-99"), ([], ""))

    def test_filtered_pages(self) -> None:
        for n in range(9):
            self.replica.create(f"g-{n}", "reversi" if n % 3 else "connect4", "alice", 0, T0)
        self.clock.advance(0)
        first, cursor = self.replica.list_games("", "connect4", "", 2, "")
        self.assertEqual([json.loads(line)["id"] for line in first], ["g-0", "g-3"])
        self.assertEqual(cursor, "g-3")
        # g-6 is the last match; the non-matching g-7 and g-8 after it make no next page.
        rest, cursor = self.replica.list_games("", "connect4", "", 2, cursor)
        self.assertEqual(([json.loads(line)["id"] for line in rest], cursor), (["g-6"], ""))

    def test_byte_budget(self) -> None:
        # Summaries of ~400 bytes: 32 four-byte code points per name, 64-character ids.
        ids = [f"{n:03}-" + "x" * 60 for n in range(200)]
        for n, game_id in enumerate(ids):
            self.replica.create(game_id, "checkers", chr(0x1F600 + n % 64) * 32, 0, T0)
            self.replica.apply(game_id, Command(JOIN, 1, T1, player="名" * 32))
        self.clock.advance(0)
        encoder = amp.ListOf(amp.Unicode())
        sizes = [len(line.encode()) for line in self.replica.list_games("", "", "", 1, "")[0]]
        self.assertGreater(sizes[0], 350)
        seen: list[str] = []
        after = ""
        pages = 0
        while True:
            page, after = self.replica.list_games("", "", "", 10_000, after)
            pages += 1
            encoded = encoder.toString(page)
            self.assertLessEqual(len(encoded), LIST_BUDGET)
            seen += [json.loads(line)["id"] for line in page]
            if not after:
                break
            self.assertEqual(after, seen[-1])
            # The page is as full as the budget allows: the next summary would not fit.
            upcoming, _ = self.replica.list_games("", "", "", 1, after)
            self.assertGreater(len(encoded) + 2 + len(upcoming[0].encode()), LIST_BUDGET)
        self.assertEqual(seen, ids)
        self.assertEqual(pages, 2)
        # At PROTOCOL.md's largest limit, 100 such summaries fit.
        page, after = self.replica.list_games("", "", "", 100, "")
        self.assertEqual((len(page), after), (100, ids[99]))
        self.assertLessEqual(len(encoder.toString(page)), LIST_BUDGET)


class EventRowTests(ReplicaTestCase):
    """A game is stored as one row per event (``g/<id>/<n>``), written once."""

    def rows(self, prefix: str) -> dict[str, object]:
        return dict(self.storage.scan(prefix))

    def test_one_row_per_event_written_once(self) -> None:
        self.active("g1", moves=("4",))
        game = self.replica.game("g1")
        assert game is not None
        rows = self.rows("g/g1/")
        self.assertEqual(list(rows), [f"g/g1/{n:08d}" for n in range(3)])
        self.assertEqual(list(rows.values()), game.event_json)
        staged: list[str] = []
        stage, stage_many = self.storage.stage, self.storage.stage_many
        self.patch(
            self.storage, "stage", lambda key, value: (staged.append(key), stage(key, value))
        )

        def many(changes: list[tuple[str, object]]) -> None:
            changes = list(changes)
            staged.extend(key for key, _ in changes)
            stage_many(changes)

        self.patch(self.storage, "stage_many", many)
        self.apply("g1", MOVE, T1, move="4")
        # The new event, the index entry and (once per commit) the meta record.
        self.assertEqual(staged, ["g/g1/00000003", "i/g1", "meta"])
        self.assertIsNone(self.storage.get("g/g1"))

    def test_meta_once_per_commit(self) -> None:
        for n in range(3):
            self.create(f"g{n}")
        staged: list[str] = []
        stage = self.storage.stage
        self.patch(
            self.storage, "stage", lambda key, value: (staged.append(key), stage(key, value))
        )
        deferreds = [
            self.replica.apply(f"g{n}", Command(JOIN, 1, T1, player="bob")) for n in range(3)
        ]
        self.clock.advance(0)
        for deferred in deferreds:
            self.successResultOf(deferred)
        self.assertEqual(staged.count("meta"), 1)
        self.assertEqual(self.storage.get_meta()["clock"], self.replica.clock)  # type: ignore[index]
        self.reopen()  # the bookkeeping matches the games

    def test_adopt_a_shorter_branch_deletes_the_rest(self) -> None:
        self.active("g1", moves=("4", "4", "4"))
        self.durable(self.replica.adopt("g1", tuple(branch("g1", ["3"]).event_json)))
        self.assertEqual(list(self.rows("g/g1/")), [f"g/g1/{n:08d}" for n in range(3)])
        self.reopen()
        game = self.replica.game("g1")
        assert game is not None
        self.assertEqual(game.event_json, branch("g1", ["3"]).event_json)

    def test_missing_row_is_damaged(self) -> None:
        self.active("g1", moves=("4", "4"))
        self.reopen()
        self.storage.delete("g/g1/00000002")
        self.storage.commit()
        self.assertTrue(self.replica.is_damaged("g1"))
