"""Tests for game.server.paging: what a server sends its peers, page by page.

The functions are called directly on a replica (sqlite in a temporary
directory, games seeded without the wire); that the peer commands answer
exactly these values is tested in test_connection.PeerCommandTests.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.protocols import amp
from twisted.trial.unittest import SynchronousTestCase

from game import errors as wire
from game import protocol as p
from game.server import dumps, paging
from game.server.gamelog import EMPTY_HEAD, GameLog, canonical_json
from game.server.index import IndexEntry, bucket_of, format_children
from game.server.replica import event_key
from tests.server.helpers import TOKEN_A, ServerHarness, long_checkers_line


class PagingCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = ServerHarness(self)
        self.replica = self.server.replica

    def game(self, game_id: str) -> GameLog:
        game = self.replica.game(game_id)
        assert game is not None
        return game

    def events(self, game_id: str, since: int, head: bytes) -> dict[str, Any]:
        return paging.events_page(self.replica, game_id, since, head.hex())

    def histories(self, lines: list[str]) -> list[str]:
        return paging.histories_page(self.replica, paging.history_requests(lines))

    def damage(self, game_id: str, number: int) -> None:
        """Rewrite a stored event behind the replica's back."""
        self.replica._cache.clear()
        self.server.storage.stage(event_key(game_id, number), "not the move that was played")


class TreeTests(PagingCase):
    def test_children_of_each_prefix(self) -> None:
        for n in range(40):
            self.server.seed_game(f"t{n}", join=n % 2 == 0)
        bucket = bucket_of("t7")
        prefixes = ["", bucket[:1], bucket[:2], bucket[:3], "fff"]
        children = paging.tree_page(self.replica, prefixes)
        self.assertEqual(
            children, [format_children(self.replica.tree_children(prefix)) for prefix in prefixes]
        )
        self.assertNotEqual(children[3], ",".join([""] * 16))

    def test_bad_prefixes(self) -> None:
        for bad in (["abcd"], ["G"], [""] * 257):
            with self.assertRaises(wire.BadRequest) as raised:
                paging.tree_page(self.replica, bad)
            self.assertEqual(
                raised.exception.description, "at most 256 tree prefixes of 0-3 hex digits"
            )
        self.assertEqual(len(paging.tree_page(self.replica, [""] * 256)), 256)


class BucketTests(PagingCase):
    def test_the_games_of_a_bucket(self) -> None:
        for n in range(300):
            self.replica.create(f"b{n}", "connect4", "alice", 0, TOKEN_A)
        self.server.settle()
        bucket = bucket_of("b7")
        expected = [
            f"{game_id} {entry.version} {entry.head.hex()}"
            for game_id, entry in self.replica.bucket_heads(bucket)
        ]
        self.assertIn(f"b7 1 {self.replica.index['b7'].head.hex()}", expected)
        self.assertEqual(paging.bucket_page(self.replica, bucket, ""), paging.Page(expected))
        first = expected[0].split(" ")[0]
        self.assertEqual(paging.bucket_page(self.replica, bucket, first), paging.Page(expected[1:]))
        empty = next(b for b in (f"{n:04x}" for n in range(65536)) if b not in self.replica.buckets)
        self.assertEqual(paging.bucket_page(self.replica, empty, ""), paging.Page([]))

    def test_a_full_page_names_the_next(self) -> None:
        # Four ids in one bucket (of 65,536): found by trying names.
        buckets: dict[str, list[str]] = {}
        n = 0
        while not any(len(ids) == 4 for ids in buckets.values()):
            buckets.setdefault(bucket_of(f"x{n}"), []).append(f"x{n}")
            n += 1
        bucket, ids = next((b, ids) for b, ids in buckets.items() if len(ids) == 4)
        for game_id in ids:
            self.replica.create(game_id, "connect4", "alice", 0, TOKEN_A)
        self.server.settle()
        everything = [
            f"{game_id} {entry.version} {entry.head.hex()}"
            for game_id, entry in self.replica.bucket_heads(bucket)
        ]
        self.patch(p, "LIST_BUDGET", 2 * (len(everything[0]) + 2) + 10)  # two lines a page
        first = paging.bucket_page(self.replica, bucket, "")
        self.assertEqual(first, paging.Page(everything[:2], everything[1].split(" ")[0]))
        second = paging.bucket_page(self.replica, bucket, first.next)
        self.assertEqual(second, paging.Page(everything[2:]))

    def test_bad_buckets(self) -> None:
        for bad in ("abc", "abcde", "ABCD", ""):
            with self.assertRaises(wire.BadRequest):
                paging.bucket_page(self.replica, bad, "")


class BucketsTests(PagingCase):
    def lines(self, buckets: list[str]) -> list[str]:
        return [
            f"{game_id} {entry.version} {entry.head.hex()}"
            for bucket in buckets
            for game_id, entry in self.replica.bucket_heads(bucket)
        ]

    def test_whole_buckets_in_the_order_asked(self) -> None:
        for n in range(300):
            self.replica.create(f"b{n}", "connect4", "alice", 0, TOKEN_A)
        self.server.settle()
        buckets = sorted({bucket_of(f"b{n}") for n in range(0, 300, 7)}, reverse=True)
        empty = next(b for b in (f"{n:04x}" for n in range(65536)) if b not in self.replica.buckets)
        asked = [*buckets, empty]
        self.assertEqual(paging.buckets_page(self.replica, asked), (self.lines(asked), len(asked)))

    def test_as_many_whole_buckets_as_fit(self) -> None:
        for n in range(40):
            self.replica.create(f"b{n}", "connect4", "alice", 0, TOKEN_A)
        self.server.settle()
        buckets = sorted({bucket_of(f"b{n}") for n in range(40)})
        line = len(self.lines(buckets[:1])[0]) + 2
        self.patch(p, "LIST_BUDGET", 5 * line)  # five games a page
        lines, answered = paging.buckets_page(self.replica, buckets)
        self.assertEqual(lines, self.lines(buckets[:answered]))
        self.assertLessEqual(len(lines), 5)
        self.assertGreater(len(self.lines(buckets[: answered + 1])), 5)
        # A bucket bigger than a page alone: none answered (the caller pages it).
        self.patch(p, "LIST_BUDGET", line - 1)
        self.assertEqual(paging.buckets_page(self.replica, buckets), ([], 0))

    def test_bad_requests(self) -> None:
        for bad in (["abc"], ["ABCD"], ["0000"] * 257):
            with self.assertRaises(wire.BadRequest):
                paging.buckets_page(self.replica, bad)


class EventsTests(PagingCase):
    def test_from_a_matching_head(self) -> None:
        self.server.seed_game("g1", moves=list("4433"))
        game = self.game("g1")
        answer = self.events("g1", 3, game.heads[3])
        self.assertEqual(
            {key: answer[key] for key in ("kind", "version", "start", "events", "complete")},
            {
                "kind": "connect4",
                "version": 6,
                "start": 3,
                "events": game.event_json[3:],
                "complete": True,
            },
        )
        self.assertEqual(self.events("g1", 0, EMPTY_HEAD)["events"], game.event_json)
        at_end = self.events("g1", 6, game.heads[6])
        self.assertEqual((at_end["start"], at_end["events"], at_end["complete"]), (6, [], True))

    def test_from_a_different_head(self) -> None:
        self.server.seed_game("g1", moves=list("4433"))
        game = self.game("g1")
        for since, head in [(3, game.heads[2]), (6, bytes(32)), (1, game.heads[6])]:
            answer = self.events("g1", since, head)
            self.assertEqual(answer["start"], 0)
            self.assertEqual(answer["events"], game.event_json)
            self.assertTrue(answer["complete"])

    def test_since_beyond_the_version(self) -> None:
        self.server.seed_game("g1", moves=list("44"))
        answer = self.events("g1", 9, bytes(32))
        self.assertEqual((answer["version"], answer["start"]), (4, 4))
        self.assertEqual((answer["events"], answer["complete"]), ([], True))

    def test_the_answer_carries_the_head(self) -> None:
        # sync.Synchronizer._fetch_history reads answer["head"] when a peer
        # answers start == version < since (the peer is behind).
        self.server.seed_game("g1", moves=list("44"))
        answer = self.events("g1", 9, bytes(32))
        self.assertEqual(answer.get("head"), self.game("g1").head.hex())

    def test_pages(self) -> None:
        line = long_checkers_line(600)
        self.assertEqual(len(line), 600)
        self.server.seed_game("long", "checkers", line)
        game = self.game("long")
        self.assertGreater(sum(len(e.encode()) + 2 for e in game.event_json), p.LIST_BUDGET)
        events: list[str] = []
        pages = 0
        while True:
            answer = self.events("long", len(events), game.heads[len(events)])
            pages += 1
            self.assertEqual(answer["start"], len(events))
            self.assertEqual(answer["version"], 602)
            size = sum(len(e.encode()) + 2 for e in answer["events"])
            self.assertLessEqual(size, p.LIST_BUDGET)
            events.extend(answer["events"])
            if answer["complete"]:
                break
            # A page is as full as the budget allows.
            following = game.event_json[len(events)]
            self.assertGreater(size + len(following.encode()) + 2, p.LIST_BUDGET)
        self.assertEqual(events, game.event_json)
        self.assertEqual(pages, 2)

    def test_unknown_game(self) -> None:
        with self.assertRaises(wire.UnknownGame):
            self.events("nosuch", 0, EMPTY_HEAD)

    def test_a_damaged_game_is_not_sent(self) -> None:
        self.server.seed_game("g1", moves=["4"])
        self.damage("g1", 2)
        with self.assertRaises(wire.NotServing):
            self.events("g1", 0, EMPTY_HEAD)


class HistoriesTests(PagingCase):
    def entry(self, game_id: str) -> list[Any]:
        """What a complete history's record says of the sender's index entry."""
        entry = self.replica.index[game_id]
        return [entry.kind, entry.status, list(entry.players), entry.doc_sha.hex(), "", None]

    def test_answer_as_peer_events_does(self) -> None:
        self.server.seed_game("g1", moves=["4", "4"])
        self.server.seed_game("g2")
        g1 = self.game("g1")
        asked = [
            ("g1", 2, g1.heads[2]),  # we hold its first two events: the rest follows
            ("g2", 0, EMPTY_HEAD),
            ("g1", 1, b"\x07" * 32),  # another line: the whole history
            ("nosuch", 0, EMPTY_HEAD),
        ]
        lines = [f"{game_id} {since} {head.hex()}" for game_id, since, head in asked]
        expected = [
            {"id": game_id, **self.events(game_id, since, head), "entry": self.entry(game_id)}
            for game_id, since, head in asked[:3]
        ]
        self.assertEqual(
            [json.loads(line) for line in self.histories(lines)],
            [*expected, {"id": "nosuch", "unknown": True}],
        )

    def test_pages(self) -> None:
        line = long_checkers_line(300)
        for n in range(20):
            self.server.seed_game(f"c{n:02}", "checkers", line)
        asked = [f"c{n:02} 0 {EMPTY_HEAD.hex()}" for n in range(20)]
        answer = self.histories(asked)
        games = [json.loads(text) for text in answer]
        self.assertLessEqual(sum(len(text.encode()) + 2 for text in answer), p.LIST_BUDGET)
        self.assertLess(len(games), 20)  # the rest is left to be asked again
        self.assertTrue(all(game["complete"] for game in games))
        self.assertEqual([game["id"] for game in games], [f"c{n:02}" for n in range(len(games))])
        # One game bigger than the page: as much of it as fits, to be paged with PeerEvents.
        self.server.seed_game("huge", "checkers", long_checkers_line(2000, seed=3))
        answer = self.histories([f"huge 0 {EMPTY_HEAD.hex()}", asked[0]])
        self.assertEqual([json.loads(text)["complete"] for text in answer], [False])

    def test_checks_its_lines(self) -> None:
        head = EMPTY_HEAD.hex()
        for games in (
            ["g1 0"],
            [f"g1 -1 {head}"],
            [f"g 1 0 {head}"],
            ["g1 0 " + "A" * 64],
            [f"g{n} 0 {head}" for n in range(p.MAX_HISTORIES + 1)],
        ):
            with self.assertRaises(wire.BadRequest):
                paging.history_requests(games)
        self.assertEqual(
            paging.history_requests([f"g1 3 {head}"]), [paging.HistoryRequest("g1", 3, head)]
        )

    def test_too_many_games_is_refused_before_the_lines_are_read(self) -> None:
        with self.assertRaises(wire.BadRequest) as raised:
            paging.history_requests(["?"] * (p.MAX_HISTORIES + 1))
        self.assertEqual(raised.exception.description, "at most 100 games in one PeerHistories")

    def test_leaves_out_a_damaged_game(self) -> None:
        self.server.seed_game("g1", moves=["4"])
        self.damage("g1", 2)
        answer = self.histories([f"g1 0 {EMPTY_HEAD.hex()}"])
        self.assertEqual(answer, [canonical_json({"id": "g1", "unavailable": True})])


class DumpTests(PagingCase):
    def test_pages(self) -> None:
        ids = [f"d{n:03}" for n in range(400)]
        for game_id in ids:
            self.replica.create(game_id, "connect4", "alice", 0, TOKEN_A)
        self.server.settle()
        self.server.seed_game("long", "checkers", long_checkers_line(300))
        lines: list[str] = []
        after = ""
        pages = 0
        while True:
            page = paging.dump_page(self.replica, after)
            pages += 1
            size = sum(len(line.encode()) + 2 for line in page.lines)
            self.assertLessEqual(size, p.LIST_BUDGET)
            lines.extend(page.lines)
            if not page.next:
                break
            self.assertEqual(page.next, dumped_id(page.lines[-1]))
            after = page.next
        self.assertGreater(pages, 1)
        expected = [self.dumped(i) for i in ids]
        self.assertEqual(lines, [*expected, canonical_json({"id": "long", "more": True})])
        page = paging.dump_page(self.replica, "d397")
        ids_after = [dumped_id(line) for line in page.lines]
        self.assertEqual(ids_after, ["d398", "d399", "long"])

    def test_leaves_out_a_damaged_game(self) -> None:
        for game_id in ("a", "b", "c"):
            self.server.seed_game(game_id, moves=["4"])
        self.damage("b", 2)
        page = paging.dump_page(self.replica, "")
        self.assertEqual([dumped_id(line) for line in page.lines], ["a", "c"])
        self.assertEqual(page.next, "")

    def dumped(self, game_id: str) -> str:
        game = self.game(game_id)
        return dumps.dump_line(game_id, game.event_json, IndexEntry.of(game))

    def test_a_line_is_its_entry_and_its_events_as_stored(self) -> None:
        self.server.seed_game("g1", "checkers", long_checkers_line(40))
        self.replica._cache.clear()  # read from the database, not the cache
        (line,) = paging.dump_page(self.replica, "").lines
        self.assertEqual(line, self.dumped("g1"))
        copied = dumps.copied_game(line)
        entry = self.replica.index["g1"]
        self.assertEqual(copied.events, tuple(self.game("g1").event_json))
        self.assertEqual(
            (copied.kind, copied.status, copied.players, copied.doc_sha, copied.head),
            (entry.kind, entry.status, entry.players, entry.doc_sha, entry.head),
        )

    def test_a_page_of_the_largest_games_fits_one_amp_value(self) -> None:
        """Games just under the quarter-page limit for a line, with long
        player names: no page is over 64 KiB once AMP encodes it."""
        plies = 60
        while True:  # the longest line that still travels whole
            probe = f"probe{plies + 20}"
            self.server.seed_game(probe, "checkers", long_checkers_line(plies + 20))
            if len(self.dumped(probe).encode()) > p.LIST_BUDGET // 4:
                break
            plies += 20
        for n in range(12):
            self.server.seed_game(f"big{n:02}", "checkers", long_checkers_line(plies, seed=n))
        after, pages = "", 0
        while True:
            page = paging.dump_page(self.replica, after)
            value = amp.ListOf(amp.Unicode()).toString(page.lines)
            self.assertLessEqual(len(value), 65_535)
            self.assertTrue(all(not dumps.is_more(line) for line in page.lines if "big" in line))
            pages += 1
            if not page.next:
                break
            after = page.next
        self.assertGreater(pages, 2)


def dumped_id(line: str) -> str:
    """The game id of a PeerDump line."""
    header = json.loads(line.split("\n", 1)[0])
    return str(header["id"] if isinstance(header, dict) else header[0])
