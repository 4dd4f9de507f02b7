"""The computer as a player (game/client/computer.py): it plays one seat by
the watch and a search it awaits as a Deferred, sends each move with the
version it searched, reads the game again when refused, and respects a
timed game's clock.  Fake clients on a ``Clock``, and three real servers in
one process (tests/server/grid.py)."""

from __future__ import annotations

import random
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from game import errors as wire
from game.client.bots import Abandoned, GameResult
from game.client.computer import (
    REMATCH_WAIT,
    ComputerPlayer,
    HouseGames,
    computer_name,
    join_and_play,
)
from game.client.enginejob import search_move
from game.client.tokens import new_token
from game.rules import new_game
from tests.client_gui.helpers import FakeClient, document, ok, refused, text, timed
from tests.server.grid import Grid

TOKEN = "t" * 16


class InlineSearch:
    """Searches at once, on the caller's thread (what a worker would answer)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, int, float | None]] = []

    def search(self, kind: str, position: str, level: int, budget: float | None) -> Deferred[str]:
        self.asked.append((kind, position, level, budget))
        return succeed(search_move(kind, position, level, budget))


class HeldSearch:
    """Answers only when the test says so: a search still running."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, str, Deferred[str]]] = []

    def search(self, kind: str, position: str, level: int, budget: float | None) -> Deferred[str]:
        answer: Deferred[str] = Deferred()
        self.pending.append((kind, position, answer))
        return answer

    def answer(self) -> None:
        kind, position, deferred = self.pending.pop(0)
        deferred.callback(search_move(kind, position, 1, None))


class FakeClientTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.client = FakeClient(self.clock)

    def computer(self, search: Any, seat: int = 0) -> tuple[ComputerPlayer, Deferred[Any]]:
        player = ComputerPlayer(
            self.client,  # type: ignore[arg-type]
            "g1",
            seat,
            TOKEN,
            1,
            search,
            self.clock,
            think=0,
        )
        return player, player.play()

    def push(self, doc: dict[str, Any]) -> None:
        watch = self.client.watches["g1"]
        for server_id in (1, 2, 3):
            watch.offer(server_id, text(doc))

    def start(self, search: Any, doc: dict[str, Any]) -> tuple[ComputerPlayer, Deferred[Any]]:
        player, done = self.computer(search)
        self.assertIn("g1", self.client.watches)
        _, read = self.client.pop("get_game")
        read.callback(ok(doc))
        return player, done

    def test_the_search_is_awaited_and_the_reactor_is_free(self) -> None:
        search = HeldSearch()
        _, done = self.start(search, document("connect4"))
        self.assertEqual(len(search.pending), 1)  # searching, nothing sent
        self.assertEqual(self.client.names(), [])
        self.clock.advance(30)  # time passes, the loop does not spin or send
        self.assertEqual(self.client.names(), [])
        search.answer()
        arguments, _ = self.client.pop("make_move")
        self.assertEqual((arguments["version"], arguments["token"]), (2, TOKEN))
        self.assertIn(arguments["move"], new_game("connect4").legal_moves())
        self.assertNoResult(done)

    def test_sends_the_version_it_searched_and_rereads_after_stale_version(self) -> None:
        search = HeldSearch()
        self.start(search, document("connect4"))
        # While the search runs, a newer document (a fork resolved) arrives.
        self.push(document("connect4", ["4", "4"]))
        search.answer()
        arguments, answer = self.client.pop("make_move")
        self.assertEqual(arguments["version"], 2)  # the version it searched
        answer.callback(refused(wire.StaleVersion.at(4)))
        _, read = self.client.pop("get_game")
        read.callback(ok(document("connect4", ["4", "4"])))
        # Its turn again, at the new version: a new search, a new move.
        self.assertEqual(search.pending[0][1], from_text_of(["4", "4"]))
        search.answer()
        arguments, _ = self.client.pop("make_move")
        self.assertEqual(arguments["version"], 4)

    def test_behind_with_differing_servers_syncs(self) -> None:
        search = InlineSearch()
        self.start(search, document("connect4"))
        _, answer = self.client.pop("make_move")
        answer.callback(refused(wire.Behind()))
        _, read = self.client.pop("get_game")
        read.callback(ok(document("connect4"), agreed=(1,), provisional=True))
        _, sync = self.client.pop("sync_game")
        sync.callback(ok(document("connect4")))
        self.client.pop("make_move")

    def test_waits_for_the_opponent_by_the_watch(self) -> None:
        search = InlineSearch()
        self.start(search, document("connect4", ["4"]))  # white to move: not the computer
        self.assertEqual(self.client.names(), [])
        self.push(document("connect4", ["4", "3"]))
        self.assertEqual(self.client.names(), ["make_move"])

    def test_falls_back_to_reading_when_no_news_comes(self) -> None:
        self.start(InlineSearch(), document("connect4", ["4"]))
        self.clock.advance(5)
        self.assertEqual(self.client.names(), ["get_game"])

    def test_ends_with_the_game(self) -> None:
        _, done = self.start(InlineSearch(), document("connect4", ["4"]))
        self.push(document("connect4", ["4"], result={"winner": 1, "reason": "resigned"}))
        result = self.successResultOf(done)
        self.assertIsInstance(result, GameResult)
        self.assertEqual(result.winner, 1)
        self.assertNotIn("g1", self.client.watches)

    def test_stop_drops_the_search_in_progress(self) -> None:
        search = HeldSearch()
        player, done = self.start(search, document("connect4"))
        player.stop()
        result = self.successResultOf(done)
        self.assertIsInstance(result, Abandoned)
        self.assertEqual(result.reason, "stopped")
        self.assertNotIn("g1", self.client.watches)
        self.assertEqual(self.client.names(), [])

    def test_a_timed_game_searches_within_the_clock(self) -> None:
        search = InlineSearch()
        self.clock.advance(10)  # the servers' time: 10_000 ms
        doc = timed(document("connect4"), "live:10+0", (4_000, 10_000), at=9_000)
        self.start(search, doc)
        # 3 s left at 10_000: 3/30 = 0.1 s, under level 1's own budget.
        [(_, _, _, budget)] = search.asked
        self.assertAlmostEqual(budget or 0, 0.1)

    def test_claims_when_the_opponents_time_runs_out(self) -> None:
        self.clock.advance(10)
        doc = timed(document("connect4", ["4"]), "live:10+0", (9_000, 2_000), at=9_000)
        self.start(InlineSearch(), doc)
        # Past white's deadline (11_000) and the claim margin, the game is read
        # again (not later than the claim falls due), then claimed.
        self.clock.advance(1.25)
        self.client.pop("get_game")[1].callback(ok(doc))
        arguments, _ = self.client.pop("claim_timeout")
        self.assertEqual((arguments["version"], arguments["token"]), (3, TOKEN))

    def test_weak_levels_wait_before_answering(self) -> None:
        player = ComputerPlayer(
            self.client,  # type: ignore[arg-type]
            "g1",
            0,
            TOKEN,
            1,
            InlineSearch(),
            self.clock,
        )
        player.play()
        self.client.pop("get_game")[1].callback(ok(document("connect4")))
        self.assertEqual(self.client.names(), [])
        self.clock.advance(0.69)  # level 1 appears to think for its whole 0.7 s budget
        self.assertEqual(self.client.names(), [])
        self.clock.advance(0.02)
        self.assertEqual(self.client.names(), ["make_move"])


def from_text_of(moves: list[str]) -> str:
    position = new_game("connect4")
    for move in moves:
        position = position.play(move)
    return position.to_text()


class GridTests(SynchronousTestCase):
    """Three real servers in one process, a person and the computer on their own clients."""

    def setUp(self) -> None:
        self.grid = Grid(self)
        self.person = self.grid.start()
        self.robot = self.grid.add_client("computer")
        self.grid.run_until(self.grid.all_up, limit=10)

    def test_plays_legal_moves_to_the_end(self) -> None:
        token = new_token()
        game_id = "c" * 32
        self.grid.answer(self.person.create_game(game_id, "connect4", "person", token, 1))
        played: list[Any] = []
        done = Deferred.fromCoroutine(
            join_and_play(
                self.robot,
                game_id,
                2,
                InlineSearch(),
                self.grid.clock,
                think=0,
                started=played.append,
            )
        )
        rng = random.Random(4)
        finished: list[Any] = []
        done.addBoth(finished.append)
        for _ in range(100):
            self.grid.run(1)
            if finished:
                break
            document = self.grid.answer(self.person.get_game(game_id)).game_document()
            if document.my_turn(1):
                move = rng.choice(document.legal)
                self.grid.answer(self.person.make_move(game_id, document.version, move, token))
        self.grid.run(REMATCH_WAIT)  # no rematch offered: the computer leaves
        [result] = finished
        self.assertIsInstance(result, GameResult, result)
        final = self.grid.answer(self.person.get_game(game_id)).game_document()
        self.assertEqual(final.status, "finished")
        self.assertEqual(final.players, (computer_name(2), "person"))
        position = new_game("connect4")
        for move in final.moves:
            position = position.play(move)  # every move legal
        self.assertEqual(position.to_text(), final.position)
        self.assertEqual(len(played), 1)
        self.assertEqual(played[0].player.moves, (len(final.moves) + 1) // 2)

    def test_accepts_a_rematch_offered_in_time_and_plays_it(self) -> None:
        token = new_token()
        game_id = "r" * 32
        self.grid.answer(self.person.create_game(game_id, "connect4", "person", token, 1))
        seated: list[Any] = []
        finished: list[Any] = []
        Deferred.fromCoroutine(
            join_and_play(
                self.robot, game_id, 1, InlineSearch(), self.grid.clock,
                think=0, started=seated.append,
            )
        ).addBoth(finished.append)  # fmt: skip
        self.grid.run(2)
        self.assertEqual(len(seated), 1)
        old = self.grid.answer(self.person.get_game(game_id)).game_document()
        self.grid.answer(self.person.resign(game_id, old.version, token))
        self.grid.run(2)
        old = self.grid.answer(self.person.get_game(game_id)).game_document()
        new_id, new_token_ = "s" * 32, new_token()
        offered = self.person.offer_rematch(game_id, old.version, token, new_id, new_token_)
        self.assertIsNone(self.grid.answer(offered).error)
        self.grid.run(3)
        self.assertEqual(len(seated), 2)  # the computer of the rematch
        rematch = self.grid.answer(self.person.get_game(new_id)).game_document()
        self.assertEqual(rematch.players, ("person", computer_name(1)))
        self.assertEqual(rematch.status, "active")
        self.assertEqual(seated[1].game_id, new_id)
        self.assertEqual(seated[1].player.seat, 1)
        # The person moves first now; the computer answers.
        self.grid.answer(self.person.make_move(new_id, rematch.version, "4", new_token_))
        self.grid.run(2)
        rematch = self.grid.answer(self.person.get_game(new_id)).game_document()
        self.assertEqual(len(rematch.moves), 2)
        self.grid.answer(self.person.resign(new_id, rematch.version, new_token_))
        self.assertEqual(finished, [])  # waits for another offer...
        self.grid.run(REMATCH_WAIT + 2)
        [result] = finished  # ...until none came in time
        self.assertIsInstance(result, GameResult)
        self.assertEqual((result.game_id, result.winner), (new_id, 1))

    def test_accepts_a_takeback(self) -> None:
        token = new_token()
        game_id = "t" * 32
        self.grid.answer(self.person.create_game(game_id, "connect4", "person", token, 0))
        Deferred.fromCoroutine(
            join_and_play(self.robot, game_id, 1, InlineSearch(), self.grid.clock, think=0)
        )
        self.grid.run(2)
        document = self.grid.answer(self.person.get_game(game_id)).game_document()
        self.grid.answer(self.person.make_move(game_id, document.version, "1", token))
        self.grid.run(2)  # the computer answers
        document = self.grid.answer(self.person.get_game(game_id)).game_document()
        self.assertEqual(len(document.moves), 2)
        offer = self.person.offer_takeback(game_id, document.version, token)
        self.assertIsNone(self.grid.answer(offer).error)
        self.grid.run(2)
        document = self.grid.answer(self.person.get_game(game_id)).game_document()
        self.assertEqual(document.moves, ())  # the person's move and the answer to it
        self.assertIsNone(document.takeback)
        self.assertTrue(document.my_turn(0))

    def test_house_games_stay_open_and_are_cancelled_on_stop(self) -> None:
        lines: list[str] = []
        house = HouseGames(
            self.robot,
            1,
            2,
            "connect4",
            InlineSearch(),
            self.grid.clock,
            announce=lines.append,
            think=0,
        )
        house.start()
        self.grid.run(1)
        listing = self.grid.answer(self.person.list_games(status="open"))
        self.assertEqual(len(listing.games), 2)
        self.assertEqual(
            {game.game.players for game in listing.games}, {("computer (level 1)", None)}
        )
        # A person joins one: it starts, and another opens so that two stay open.
        game_id = listing.games[0].game.game_id
        read = self.grid.answer(self.person.get_game(game_id)).game_document()
        self.grid.answer(self.person.join_game(game_id, read.version, "person", new_token()))
        self.grid.run(2)
        self.assertEqual(len(self.grid.answer(self.person.list_games(status="open")).games), 2)
        started = [line for line in lines if "started against person" in line]
        self.assertEqual(
            started, [f"computer (level 1): connect4 game {game_id} started against person"]
        )
        # The computer moved first (black) in the game that started.
        self.assertEqual(
            len(self.grid.answer(self.person.get_game(game_id)).game_document().moves), 1
        )
        stopped = house.stop()
        self.grid.run(1)
        self.successResultOf(stopped)
        self.assertEqual(self.grid.answer(self.person.list_games(status="open")).games, ())
        active = self.grid.answer(self.person.list_games(status="active")).games
        self.assertEqual([game.game.game_id for game in active], [game_id])  # left as it is
