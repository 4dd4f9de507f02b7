"""Tests for game.server.sync: catch-up of many games with two in-memory peers,
and a rebuild from a fake peer (a cut-short rebuild resumes)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import attrs
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionLost
from twisted.internet.task import Clock
from twisted.protocols import amp
from twisted.trial.unittest import SynchronousTestCase

from game import protocol as p
from game.server import dumps, rebuild
from game.server.commit import GroupCommitter
from game.server.gamelog import MOVE, Command, GameLog
from game.server.index import IndexEntry, bucket_of
from game.server.replica import DamagedGame, Replica
from game.server.storage import Storage
from game.server.sync import Synchronizer
from tests.server.helpers import (
    TOKEN_A,
    TOKEN_B,
    Connection,
    ConnectionTestCase,
    ServerHarness,
    authenticate,
    long_checkers_line,
)
from tests.server.test_replica import branch


class FakeLink:
    """What the Synchronizer uses of a PeerLink, over an authenticated connection."""

    def __init__(self, connection: Connection, peer_id: int, *, old: bool = False) -> None:
        self.connection = connection
        self.peer_id = peer_id
        self.ready = True
        self.bytes_received = 0
        #: Without PeerHistories, like a server of the previous release.
        self.old = old
        self.calls: list[str] = []

    def call(self, command: type[amp.Command], timeout: float, **kwargs: Any) -> Deferred[Any]:
        self.calls.append(command.__name__)
        if self.old and command is p.PeerHistories:
            return fail(amp.RemoteAmpError(amp.UNHANDLED_ERROR_CODE, "Unhandled Command"))
        return self.connection.send(command, **kwargs)


class CatchUpTests(ConnectionTestCase):
    """Server 1 catches up from servers 2 and 3, which hold the same games, further on."""

    def setUp(self) -> None:
        self.servers = {i: ServerHarness(self, server_id=i) for i in (1, 2, 3)}
        self.local = self.servers[1]
        self.links: dict[int, FakeLink] = {}
        for i in (2, 3):
            connection = self.servers[i].connect()
            self.successResultOf(authenticate(self, connection, peer_id=1))
            self.links[i] = FakeLink(connection, i)
        self.sync = Synchronizer(self.local.replica, self.links, self.local.clock, 5.0)  # type: ignore[arg-type]

    def seed_everywhere(self, game_id: str, moves: list[str] | tuple[str, ...] = ()) -> None:
        for server in self.servers.values():
            server.seed_game(game_id, moves=moves)

    def play(self, servers: tuple[int, ...], game_id: str, *moves: str) -> None:
        for i in servers:
            replica = self.servers[i].replica
            for move in moves:
                game = replica.game(game_id)
                assert game is not None
                token = (TOKEN_A, TOKEN_B)[game.position.to_move]
                replica.apply(game_id, Command(MOVE, game.version, token, move=move))
            self.servers[i].clock.advance(0)

    def wait(self, deferred: Deferred[Any]) -> Any:
        for _ in range(10_000):
            if deferred.called:
                return self.successResultOf(deferred)
            for server in self.servers.values():
                server.settle()
        raise AssertionError("the catch-up did not finish")

    def documents(self, server: int) -> dict[str, str]:
        replica = self.servers[server].replica
        return {
            game_id: self.successResultOf(replica.document(game_id)) for game_id in replica.index
        }

    def assert_converged(self) -> None:
        self.assertEqual(self.documents(1), self.documents(2))
        self.assertEqual(self.documents(1), self.documents(3))
        self.assertEqual(
            self.local.node.peer_status()["tree"], self.servers[2].node.peer_status()["tree"]
        )

    def test_many_games_in_a_few_round_trips(self) -> None:
        for n in range(250):
            self.seed_everywhere(f"g{n:03}", moves=["4"])
        for n in range(0, 250, 2):
            self.play((2, 3), f"g{n:03}", "3")  # we missed a move
        for n in range(250, 260):
            self.seed_everywhere(f"g{n:03}")
        for n in range(250, 260):
            self.local.replica.apply(f"g{n:03}", Command(MOVE, 2, TOKEN_A, move="1"))
            self.local.clock.advance(0)
            self.play((2, 3), f"g{n:03}", "7")  # a fork: the peers' branch wins
        self.servers[2].seed_game("new")  # a game we lack
        self.servers[3].seed_game("new")
        differing = self.wait(self.sync.differing_games(self.links[2]))
        self.assertEqual(len(differing), 125 + 10 + 1)
        stats = self.wait(self.sync.reconcile_all(differing))
        self.assertEqual((stats.games, stats.forks, stats.waiting), (136, 10, 0))
        self.assert_converged()
        for link in self.links.values():
            # Two batches of at most 100 games: one PeerHistories each, no PeerEvents.
            self.assertEqual(link.calls.count("PeerHistories"), 2)
            self.assertNotIn("PeerEvents", link.calls)

    def test_before_serving_the_winners_are_stored_without_a_replay(self) -> None:
        """A start-up catch-up (no client served yet, so no watcher) stores
        the peers' histories as their index entries describe them; the games
        read back afterwards replay to exactly those entries."""
        self.sync.serving = lambda: False
        for n in range(120):
            self.seed_everywhere(f"g{n:03}", moves=["4"])
        for n in range(0, 120, 2):
            self.play((2, 3), f"g{n:03}", "3")
        for n in range(110, 120, 2):  # forks: the peers' branch wins
            self.local.replica.apply(f"g{n:03}", Command(MOVE, 3, TOKEN_B, move="1"))
            self.local.clock.advance(0)
        self.servers[2].seed_game("new")
        self.servers[3].seed_game("new")
        replays: list[str] = []
        from_events = GameLog.from_events.__func__  # type: ignore[attr-defined]
        self.patch(
            GameLog,
            "from_events",
            classmethod(lambda cls, game_id, events: (replays.append(game_id),
                                                      from_events(cls, game_id, events))[1]),
        )  # fmt: skip
        self.local.replica._cache.clear()
        stats = self.wait(self.sync.catch_up_with(self.links[2]))
        self.assertEqual(replays, [])
        self.assertEqual((stats.games, stats.forks), (60 + 1, 5))  # 5 of the 60 fork
        self.assert_converged()
        self.assertGreater(len(replays), 100)  # read back: replayed and checked then

    def test_differing_leaves_many_a_round_trip(self) -> None:
        for n in range(600):
            self.seed_everywhere(f"g{n:03}")
        for n in range(0, 600, 2):
            self.play((2, 3), f"g{n:03}", "3")
        differing = self.wait(self.sync.differing_games(self.links[2]))
        self.assertEqual(differing, {f"g{n:03}" for n in range(0, 600, 2)})
        # About 300 differing leaves: two PeerBuckets (256 leaves each), no PeerBucket.
        self.assertEqual(self.links[2].calls.count("PeerBuckets"), 2)
        self.assertNotIn("PeerBucket", self.links[2].calls)

    def test_a_leaf_bigger_than_a_page_is_paged(self) -> None:
        seen: dict[str, str] = {}
        n = 0
        while bucket_of(f"x{n}") not in seen:  # two ids in one leaf: found by trying names
            seen[bucket_of(f"x{n}")] = f"x{n}"
            n += 1
        pair = [seen[bucket_of(f"x{n}")], f"x{n}"]
        for game_id in pair:
            self.seed_everywhere(game_id)
        self.play((2, 3), pair[1], "3")
        self.patch(p, "LIST_BUDGET", len(f"{pair[1]} 3 {'0' * 64}") + 2)  # one game a page
        differing = self.wait(self.sync.differing_games(self.links[2]))
        self.assertEqual(differing, {pair[1]})
        self.assertEqual(self.links[2].calls.count("PeerBuckets"), 1)  # answered none
        self.assertEqual(self.links[2].calls.count("PeerBucket"), 2)  # two pages of one

    def test_long_histories_take_several_pages(self) -> None:
        line = long_checkers_line(300)
        for n in range(30):
            for server in self.servers.values():
                server.seed_game(f"c{n:02}", kind="checkers")
        for n in range(30):
            for i in (2, 3):
                replica = self.servers[i].replica
                for move in line:
                    game = replica.game(f"c{n:02}")
                    assert game is not None
                    token = (TOKEN_A, TOKEN_B)[game.position.to_move]
                    replica.apply(f"c{n:02}", Command(MOVE, game.version, token, move=move))
                self.servers[i].clock.advance(0)
        stats = self.wait(self.sync.reconcile_all([f"c{n:02}" for n in range(30)]))
        self.assertEqual(stats.games, 30)
        self.assert_converged()
        # 30 games of about 300 events do not fit one answer: asked again for the rest.
        self.assertGreater(self.links[2].calls.count("PeerHistories"), 1)

    def test_a_peer_without_peer_histories_is_asked_game_by_game(self) -> None:
        for n in range(5):
            self.seed_everywhere(f"g{n}")
            self.play((2, 3), f"g{n}", "4")
        self.links[3].old = True
        stats = self.wait(self.sync.reconcile_all([f"g{n}" for n in range(5)]))
        self.assertEqual(stats.games, 5)
        self.assert_converged()
        self.assertEqual(self.links[3].calls.count("PeerEvents"), 5)
        self.assertEqual(self.links[2].calls.count("PeerEvents"), 0)

    def test_one_peer_down(self) -> None:
        for n in range(5):
            self.seed_everywhere(f"g{n}")
            self.play((2, 3), f"g{n}", "4")
        self.links[3].ready = False
        stats = self.wait(self.sync.reconcile_all([f"g{n}" for n in range(5)]))
        self.assertEqual((stats.games, stats.waiting), (5, 0))
        self.assert_converged()
        self.assertEqual(self.links[3].calls, [])

    def test_a_concurrent_reconcile_shares_the_work(self) -> None:
        self.seed_everywhere("g1")
        self.play((2, 3), "g1", "4")
        single = self.sync.reconcile("g1")
        batch = self.sync.reconcile_all(["g1", "g2-unknown"])
        self.wait(batch)
        self.assertEqual(self.successResultOf(single).games, 1)
        self.assert_converged()
        # g1 was asked for once per peer (PeerEvents), never again in the batch.
        self.assertEqual(self.links[2].calls.count("PeerEvents"), 1)

    def test_catch_up_with_a_peer(self) -> None:
        for n in range(40):
            self.seed_everywhere(f"g{n:02}", moves=["4"])
            if n % 3 == 0:
                self.play((2, 3), f"g{n:02}", "5")
        stats = self.wait(self.sync.catch_up_with(self.links[2]))
        self.assertEqual(stats.games, 14)
        self.assert_converged()


IDS = [f"game-{n}" for n in range(6)]


def dump_lines(games: list[GameLog]) -> list[str]:
    """The PeerDump lines a server holding ``games`` sends."""
    return [dumps.dump_line(g.game_id, g.event_json, IndexEntry.of(g)) for g in games]


@attrs.define
class DumpingPeer:
    """A peer link that answers PeerDump two games a page, and counts pages.

    :ivar hold: answer only when the test fires ``answers`` (pipelining).
    :ivar fail_after: fail every request after this many (a peer gone).
    :ivar spoil_after: the page after this cursor names a kind of game
        that does not exist.
    """

    logs: dict[str, GameLog]
    peer_id: int = 2
    bytes_received: int = 0
    hold: bool = False
    fail_after: int | None = None
    spoil_after: str | None = None
    asked_after: list[str] = attrs.Factory(list)
    answers: list[Deferred[Any]] = attrs.Factory(list)

    @property
    def games(self) -> dict[str, list[str]]:
        return {game_id: game.event_json for game_id, game in self.logs.items()}

    def call(self, command: type, timeout: float | None = None, **kwargs: Any) -> Deferred[Any]:
        assert command is p.PeerDump
        after = kwargs["after"]
        self.asked_after.append(after)
        if self.fail_after is not None and len(self.asked_after) > self.fail_after:
            return fail(ConnectionLost("peer gone"))
        rest = [game_id for game_id in sorted(self.logs) if game_id > after]
        page, more = rest[:2], rest[2:]
        lines = dump_lines([self.logs[i] for i in page])
        if after == self.spoil_after:
            lines = [line.replace("connect4", "chess", 1) for line in lines]
        answer = {
            "games": lines,
            "next": page[-1] if more else "",
        }
        if not self.hold:
            return succeed(answer)
        held: Deferred[Any] = Deferred()
        held.addCallback(lambda _: answer)
        self.answers.append(held)
        return held


class RebuildTests(SynchronousTestCase):
    def setUp(self) -> None:
        directory = Path(tempfile.mkdtemp(prefix="test_sync-"))
        self.addCleanup(shutil.rmtree, directory, True)
        self.clock = Clock()
        self.storage = Storage.open(directory)
        self.addCleanup(self.storage.close)
        self.replica = Replica(self.storage, GroupCommitter(self.storage, self.clock))
        self.peer = DumpingPeer({i: branch(i, ["4", "4"]) for i in IDS})
        self.sync = Synchronizer(self.replica, {2: self.peer}, self.clock, 5.0)  # type: ignore[dict-item]

    def rebuild(self) -> None:
        done = self.sync.rebuild_from(self.peer)  # type: ignore[arg-type]
        self.clock.advance(0)  # the group commits
        self.successResultOf(done)

    def test_an_empty_database_copies_every_page(self) -> None:
        self.rebuild()
        self.assertEqual(self.peer.asked_after, ["", "game-1", "game-3"])
        self.assertEqual(self.replica.sorted_ids, IDS)

    def test_a_rebuild_cut_short_resumes_after_the_last_game_copied(self) -> None:
        for game_id in IDS[:3]:  # what a killed rebuild left behind
            self.replica.adopt(game_id, tuple(self.peer.games[game_id]))
        self.clock.advance(0)
        self.rebuild()
        self.assertEqual(self.peer.asked_after, ["game-2", "game-4"])
        self.assertEqual(self.replica.sorted_ids, IDS)
        for game_id in IDS:
            self.assertEqual(self.replica.game(game_id).event_json, self.peer.games[game_id])

    def test_the_next_page_is_asked_for_while_this_one_is_stored(self) -> None:
        self.peer.hold = True
        done = self.sync.rebuild_from(self.peer)  # type: ignore[arg-type]
        self.assertEqual(self.peer.asked_after, [""])
        self.peer.answers[0].callback(None)
        # Page 2 is asked for at once; page 1 waits in memory for its batch.
        self.assertEqual(self.peer.asked_after, ["", "game-1"])
        self.peer.answers[1].callback(None)
        self.assertEqual(self.peer.asked_after, ["", "game-1", "game-3"])
        self.assertNoResult(done)
        self.peer.answers[2].callback(None)
        self.assertNoResult(done)  # answered only once durable
        self.clock.advance(0)
        stats = self.successResultOf(done)
        self.assertEqual((stats.games, stats.events), (6, 24))
        self.assertEqual(self.replica.sorted_ids, IDS)

    def test_pages_share_a_commit(self) -> None:
        commits = self.storage.commits
        self.rebuild()
        self.assertEqual(self.storage.commits, commits + 1)  # 3 pages, one batch
        self.patch(rebuild, "COPY_PAGES_PER_COMMIT", 1)
        self.replica.sorted_ids.clear()  # copy them again, a page a commit
        self.replica.index.clear()
        commits = self.storage.commits
        done = self.sync.rebuild_from(self.peer)  # type: ignore[arg-type]
        for _ in range(3):
            self.clock.advance(0)
        self.successResultOf(done)
        self.assertEqual(self.storage.commits, commits + 3)

    def test_a_rebuild_cut_off_keeps_whole_batches_in_id_order(self) -> None:
        """A peer lost after two pages: what is on disk is the first pages'
        games, in order, and a new rebuild from a reopened database resumes."""
        self.patch(rebuild, "COPY_PAGES_PER_COMMIT", 1)
        self.peer.fail_after = 2
        done = self.sync.rebuild_from(self.peer)  # type: ignore[arg-type]
        self.clock.advance(0)
        self.clock.advance(0)
        self.failureResultOf(done, ConnectionLost)
        directory = self.storage.directory
        self.storage.close()
        self.storage = Storage.open(directory)
        self.addCleanup(self.storage.close)
        self.replica = Replica(self.storage, GroupCommitter(self.storage, self.clock))
        self.assertEqual(self.replica.sorted_ids, IDS[:4])
        self.peer.fail_after = None
        self.sync = Synchronizer(self.replica, {2: self.peer}, self.clock, 5.0)  # type: ignore[dict-item]
        self.rebuild()
        self.assertEqual(self.peer.asked_after[-1], "game-3")
        self.assertEqual(self.replica.sorted_ids, IDS)

    def test_copied_games_read_back_replayed(self) -> None:
        self.rebuild()
        for game_id in IDS:
            game = self.replica.game(game_id)
            assert game is not None
            self.assertEqual(game.document(), self.peer.logs[game_id].document())
        self.assertEqual(self.replica.index, self.source_replica_index())

    def source_replica_index(self) -> dict[str, IndexEntry]:
        return {game_id: IndexEntry.of(game) for game_id, game in self.peer.logs.items()}

    def test_a_copied_game_that_does_not_replay_to_its_entry_is_damaged(self) -> None:
        """A peer's entry that its events do not replay to: stored as sent
        (the sums are the peer's), found damaged on first read."""
        other_move = branch("game-2", ["4", "3"]).event_json[-1]
        self.peer.logs["game-2"].event_json[-1] = other_move
        self.rebuild()
        self.assertEqual(self.replica.sorted_ids, IDS)
        self.replica._cache.clear()
        with self.assertRaises(DamagedGame):
            self.replica.game("game-2")

    def test_a_malformed_line_is_refused_and_the_rest_copied(self) -> None:
        good = dump_lines([self.peer.logs["game-0"]])[0]
        header, events = good.split("\n", 1)
        for bad in (
            header.replace('"connect4"', '"chess"') + "\n" + events,
            header.replace('"active"', '"won"') + "\n" + events,
            header,  # no events
            "[1]\n" + events,
            "not json\n" + events,
        ):
            with self.assertRaises(dumps.BadDumpLine):
                dumps.copied_game(bad)
        self.peer.spoil_after = "game-1"
        self.rebuild()
        self.assertEqual(self.replica.sorted_ids, ["game-0", "game-1", "game-4", "game-5"])
