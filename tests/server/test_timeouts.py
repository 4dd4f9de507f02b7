"""Timed games through a whole server: the wire, the index entries, and the
server's own timeout (one timer, driven by ``Clock``; restarts)."""

from __future__ import annotations

import json
import pickle
import shutil
import tempfile
from typing import Any

from twisted.internet.task import Clock

from game import errors as wire
from game import protocol as p
from game.server.commit import GroupCommitter
from game.server.gamelog import TIMEOUT, Event
from game.server.index import IndexEntry
from game.server.node import ServerNode
from game.server.replica import Replica
from game.server.storage import Storage
from tests.server.helpers import (
    TOKEN_A,
    TOKEN_B,
    TOKEN_C,
    ConnectionTestCase,
    ServerHarness,
    make_config,
)

#: The harness's wall clock at the start of each test (seconds).
START_S = 1_700_000_000.0
START = int(START_S * 1000)
TUNING: dict[str, Any] = {"clock_skew": 1.0, "flag_grace": 3.0, "heartbeat": 600.0}


class TimedServerCase(ConnectionTestCase):
    def setUp(self) -> None:
        self.server = ServerHarness(self, **TUNING)
        self.server.clock.rightNow = START_S
        self.conn = self.server.connect()

    def now(self) -> int:
        return self.server.node.now_ms()

    def advance(self, seconds: float) -> None:
        """Let clock time pass in small steps, then settle."""
        steps = max(1, round(seconds * 10))
        for _ in range(steps):
            self.server.clock.advance(seconds / steps)
            self.server.settle()

    def create(self, game_id: str = "t1", control: str = "live:10+0") -> dict[str, Any]:
        return self.game(
            self.conn.call(
                p.CreateGame,
                game_id=game_id,
                kind="connect4",
                player="alice",
                token=TOKEN_A,
                clock=control,
            )
        )

    def start(self, game_id: str = "t1", control: str = "live:10+0") -> dict[str, Any]:
        self.create(game_id, control)
        return self.game(
            self.conn.call(
                p.JoinGame,
                game_id=game_id,
                version=1,
                player="bobby",
                token=TOKEN_B,
                at=self.now(),
            )
        )

    def get(self, game_id: str = "t1") -> dict[str, Any]:
        return self.game(self.conn.call(p.GetGame, game_id=game_id))


class WireTests(TimedServerCase):
    def test_a_timed_game_on_the_wire(self) -> None:
        created = self.create()
        self.assertEqual(
            created["clock"],
            {"control": "live:10+0", "remaining": [10_000, 10_000], "at": None, "deadline": None},
        )
        joined = self.game(
            self.conn.call(
                p.JoinGame, game_id="t1", version=1, player="bobby", token=TOKEN_B, at=START
            )
        )
        self.assertEqual(
            (joined["clock"]["at"], joined["clock"]["deadline"]), (START, START + 10_000)
        )
        self.advance(2)
        moved = self.game(
            self.conn.call(
                p.MakeMove, game_id="t1", version=2, move="4", token=TOKEN_A, at=self.now()
            )
        )
        self.assertEqual(moved["clock"]["remaining"], [8_000, 10_000])
        listing = self.successResultOf(self.conn.call(p.ListGames))
        self.assertEqual(json.loads(listing["games"][0])["clock"], "live:10+0")

    def test_untimed_games_are_unchanged(self) -> None:
        document = self.game(
            self.conn.call(
                p.CreateGame, game_id="u1", kind="connect4", player="alice", token=TOKEN_A, at=START
            )
        )
        self.assertNotIn("clock", document)
        self.game(
            self.conn.call(p.JoinGame, game_id="u1", version=1, player="bobby", token=TOKEN_B, at=5)
        )
        events = [text for _, text in self.server.storage.scan("g/u1/")]
        self.assertFalse(any('"at"' in text for text in events))
        record = pickle.loads(pickle.dumps(self.server.replica.index["u1"].to_record()))
        self.assertEqual(len(record), 8)  # as written before time controls
        self.wire_error(
            self.conn.call(p.ClaimTimeout, game_id="u1", version=2, token=TOKEN_A, at=START),
            wire.BadRequest,
        )

    def test_missing_at_is_a_bad_request(self) -> None:
        self.create()
        self.wire_error(
            self.conn.call(p.JoinGame, game_id="t1", version=1, player="bobby", token=TOKEN_B),
            wire.BadRequest,
        )

    def test_clock_skew_against_the_servers_clock(self) -> None:
        self.start()
        self.wire_error(
            self.conn.call(
                p.MakeMove, game_id="t1", version=2, move="4", token=TOKEN_A, at=START - 10_000
            ),
            wire.ClockSkew,
        )
        self.server.node.clock_offset_ms = -1_500  # this server's clock is behind
        self.wire_error(
            self.conn.call(
                p.MakeMove, game_id="t1", version=2, move="4", token=TOKEN_A, at=START + 100
            ),
            wire.ClockSkew,
        )

    def test_claim_timeout(self) -> None:
        self.start()
        self.advance(5)
        self.wire_error(
            self.conn.call(p.ClaimTimeout, game_id="t1", version=2, token=TOKEN_B, at=self.now()),
            wire.TimeLeft,
        )
        self.advance(5.5)
        claimed = self.game(
            self.conn.call(p.ClaimTimeout, game_id="t1", version=2, token=TOKEN_B, at=self.now())
        )
        self.assertEqual(claimed["result"], {"winner": 1, "reason": "time"})
        self.assertEqual(claimed["version"], 3)
        error = self.wire_error(
            self.conn.call(
                p.MakeMove, game_id="t1", version=2, move="4", token=TOKEN_A, at=self.now()
            ),
            wire.StaleVersion,
        )
        self.assertEqual(error.description, "current version 3")
        self.wire_error(
            self.conn.call(p.ClaimTimeout, game_id="t1", version=2, token=TOKEN_C, at=self.now()),
            wire.StaleVersion,
        )

    def test_flagged_on_the_wire(self) -> None:
        self.start()
        self.advance(10.5)
        error = self.wire_error(
            self.conn.call(
                p.MakeMove, game_id="t1", version=2, move="4", token=TOKEN_A, at=self.now()
            ),
            wire.Flagged,
        )
        self.assertEqual(error.description, f"time ran out at {START + 10_000}")


class ServerTimeoutTests(TimedServerCase):
    def test_the_server_ends_an_abandoned_game(self) -> None:
        watcher = self.server.connect()
        self.start()
        self.game(watcher.call(p.Watch, game_id="t1"))
        self.advance(12.9)  # deadline + 2.9 s: within the grace
        self.assertEqual(self.get()["status"], "active")
        self.advance(0.2)
        document = self.get()
        self.assertEqual(document["result"], {"winner": 1, "reason": "time"})
        self.assertEqual(
            watcher.client.changes[-1], json.dumps(document, sort_keys=True, separators=(",", ":"))
        )
        event = json.loads(self.server.replica.game("t1").event_json[-1])  # type: ignore[union-attr]
        self.assertEqual((event["type"], event["at"], event["seat"]), (TIMEOUT, START + 10_000, 0))
        self.assertEqual(self.server.node.timeouts.ended, 1)
        # A late claim by either player is a repeat of the server's event.
        claimed = self.game(
            self.conn.call(p.ClaimTimeout, game_id="t1", version=2, token=TOKEN_A, at=self.now())
        )
        self.assertEqual(claimed, document)

    def test_the_same_event_as_a_claim(self) -> None:
        self.start("a")
        self.start("b")
        self.advance(10.5)
        self.game(
            self.conn.call(p.ClaimTimeout, game_id="a", version=2, token=TOKEN_B, at=self.now())
        )
        self.advance(3)
        for game_id in ("a", "b"):
            game = self.server.replica.game(game_id)
            assert game is not None
            expected = Event(TIMEOUT, 0, game.tokens[0] or "", at=START + 10_000)
            self.assertEqual(game.event_json[-1], expected.to_json())

    def test_moves_push_the_timer(self) -> None:
        self.start()
        self.advance(9)
        self.game(
            self.conn.call(
                p.MakeMove, game_id="t1", version=2, move="4", token=TOKEN_A, at=self.now()
            )
        )
        self.advance(12)  # seat 0's old deadline is long past; seat 1's is START + 19 s
        self.assertEqual(self.get()["status"], "active")
        self.advance(1.1)
        self.assertEqual(self.get()["result"], {"winner": 0, "reason": "time"})

    def test_one_timer_for_many_games(self) -> None:
        self.start("first")
        before = len(self.server.clock.getDelayedCalls())
        for n in range(5):
            self.advance(0.1)
            self.start(f"g{n}")
        self.assertEqual(len(self.server.clock.getDelayedCalls()), before)
        self.advance(12.95)  # "first" and g0 are past deadline + grace, g4 (joined 0.5 s later) not
        statuses = [self.get(game_id)["status"] for game_id in ("first", "g0", "g4")]
        self.assertEqual(statuses, ["finished", "finished", "active"])
        self.advance(0.1)
        self.assertEqual(self.get("g4")["status"], "finished")
        self.assertEqual(self.server.node.timeouts.ended, 6)
        self.assertEqual(self.server.node.timeouts._timer, None)

    def test_stale_deadlines_do_not_pile_up(self) -> None:
        self.start("c", "corr:30")
        keeper = self.server.node.timeouts
        for version in range(2, 1200):
            keeper.deadline_changed("c", START + version)  # as many changes of its entry
        self.assertLessEqual(len(keeper._heap), 2 * len(self.server.replica.index) + 1025)
        self.assertIn((self.server.replica.index["c"].deadline, "c"), keeper._heap)

    def test_correspondence_and_finished_games_need_no_timer(self) -> None:
        self.start("c", "corr:1")
        self.game(self.conn.call(p.Resign, game_id="c", version=2, token=TOKEN_A, at=self.now()))
        self.assertIsNone(self.server.replica.index["c"].deadline)
        # The timer set for its old deadline finds nothing to do, and is not set again.
        self.server.clock.advance(86_400 + 4)
        self.server.settle()
        self.assertEqual(self.server.node.timeouts.ended, 0)
        self.assertIsNone(self.server.node.timeouts._timer)


class RestartTests(ConnectionTestCase):
    """The deadlines live in the index entries; a restarted server ends what
    is overdue once it serves."""

    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="test_timeouts-")
        self.addCleanup(shutil.rmtree, self.directory, True)
        self.clock = Clock()
        self.clock.rightNow = START_S

    def open(self, serve: bool = True) -> ServerNode:
        storage = Storage.open(self.directory)
        self.addCleanup(storage.close)
        replica = Replica(storage, GroupCommitter(storage, self.clock))
        node = ServerNode(1, make_config(**TUNING), replica, {}, self.clock)
        if serve:
            replica.mark_initialized()
            self.clock.advance(0)
            node.start()
        return node

    def seed(self, node: ServerNode, game_id: str, join_at: int) -> None:
        replica = node.replica
        replica.create(game_id, "connect4", "alice", 0, TOKEN_A, "live:10+0")
        from game.server.gamelog import JOIN, Command

        replica.apply(game_id, Command(JOIN, 1, TOKEN_B, player="bobby", at=join_at), join_at)
        self.clock.advance(0)

    def close(self, node: ServerNode) -> None:
        node.stop()
        node.replica.committer.close()
        node.replica.storage.close()

    def test_overdue_games_end_once_the_server_serves(self) -> None:
        node = self.open()
        self.seed(node, "a", START)
        self.seed(node, "b", START + 20_000)
        self.close(node)
        self.clock.advance(15)  # the server is down past a's deadline + grace
        node = self.open(serve=False)
        self.assertEqual(node.replica.index["a"].deadline, START + 10_000)
        self.clock.advance(1)
        self.assertEqual(node.replica.index["a"].status, "active")  # not serving: nothing
        node.replica.mark_initialized()
        self.clock.advance(0)
        node.start()
        self.clock.advance(0.01)
        self.clock.advance(0)
        self.assertEqual(node.replica.index["a"].status, "finished")
        self.assertEqual(node.replica.index["b"].status, "active")
        self.clock.advance(17)  # b: START + 30 s + grace
        self.clock.advance(0)
        self.assertEqual(node.replica.index["b"].status, "finished")
        self.assertEqual(node.timeouts.ended, 2)

    def test_an_index_without_deadlines_loads(self) -> None:
        """A database written before time controls: 8-field entries."""
        node = self.open()
        node.replica.create("old", "connect4", "alice", 0, TOKEN_A)
        self.clock.advance(0)
        entry = node.replica.index["old"]
        self.close(node)
        storage = Storage.open(self.directory)
        self.assertEqual(len(storage.load("i/")[0][1]), 8)
        storage.close()
        node = self.open(serve=False)
        self.assertEqual(node.replica.index["old"], entry)
        self.assertEqual(entry, IndexEntry(*entry[:8]))


class FlagsFallingTogetherTests(TimedServerCase):
    """Games whose time runs out together are ended a batch per reactor turn."""

    def test_a_batch_per_turn_each_in_one_commit(self) -> None:
        for n in range(7):
            self.start(f"g{n}")
        keeper = self.server.node.timeouts
        keeper.batch = 3
        turns: list[str] = []
        replica = self.server.replica
        expire = replica.expire

        def ending(game_id: str) -> Any:
            turns.append("end")
            return expire(game_id)

        self.patch(replica, "expire", ending)
        self.server.committer.on_commit = lambda seconds, writes: turns.append("commit")
        self.server.clock.advance(13.1)  # every deadline + grace has passed
        self.server.settle()
        self.assertEqual(
            turns, ["end"] * 3 + ["commit"] + ["end"] * 3 + ["commit"] + ["end", "commit"]
        )
        self.assertEqual(keeper.ended, 7)
        statuses = {self.get(f"g{n}")["status"] for n in range(7)}
        self.assertEqual(statuses, {"finished"})
        self.assertIsNone(keeper._timer)
