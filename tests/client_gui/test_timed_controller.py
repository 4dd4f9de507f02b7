"""Timed games through the controller and a fake client: the time control of a
new game, each listed game's control, clocks ticking from the client's
estimate of the servers' time, and the timeout claimed by the game screen."""

from __future__ import annotations

from typing import Any

from game import errors as wire
from game.client.majority import ListedGame, Listing
from game.client.tokens import Seat
from game.client_gui.game_controller import CLAIM_MARGIN, CLAIM_RETRY
from game.client_gui.replicas import Shown
from game.client_gui.scene import Action
from tests.client_gui.helpers import HEIGHT, WIDTH, document, ok, refused, text, timed
from tests.client_gui.test_controller import ControllerTestCase


def live(moves: tuple[str, ...] = (), remaining: tuple[int, int] = (60_000, 60_000)) -> Any:
    """A 1+0 Connect Four game whose last event was at the fake servers' time 0."""
    return timed(document("connect4", moves), "live:60+0", remaining, 0)


class NewTimedGameTests(ControllerTestCase):
    def test_the_chosen_control_goes_with_create(self) -> None:
        self.controller.start()
        self.controller.perform(Action("time-control", "live:300+3"))
        self.assertEqual(self.controller.lobby.time_control, "live:300+3")
        self.controller.perform(Action("create", "connect4"))
        self.assertEqual(self.controller.lobby.busy, "Creating a Connect Four game (5+3)\u2026")
        arguments, answer = self.client.pop("create_game")
        self.assertEqual((arguments["kind"], arguments["clock"]), ("connect4", "live:300+3"))
        doc = document("connect4", players=("alice", None), game_id=arguments["game_id"])
        answer.callback(ok(timed(doc, "live:300+3", (300_000, 300_000), None)))
        scene = self.controller.scene(WIDTH, HEIGHT)
        self.assertEqual((scene.clock(0).text, scene.clock(1).text), ("5:00", "5:00"))

    def test_untimed_is_the_default_and_sends_no_control(self) -> None:
        self.controller.start()
        self.controller.perform(Action("create", "reversi"))
        self.assertEqual(self.controller.lobby.busy, "Creating a Reversi game\u2026")
        arguments, _ = self.client.pop("create_game")
        self.assertIsNone(arguments["clock"])
        self.controller.perform(Action("time-control", "corr:3"))
        self.controller.perform(Action("time-control", ""))
        self.assertEqual(self.controller.lobby.time_control, "")

    def test_a_control_not_offered_is_ignored(self) -> None:
        self.controller.perform(Action("time-control", "live:1+0"))
        self.assertEqual(self.controller.lobby.time_control, "")

    def test_the_listing_carries_each_games_control(self) -> None:
        self.store.add(Seat(self.cluster, "mine", 0, "alice", "t" * 32, "checkers"))
        self.controller.start()
        _, open_page = self.client.pop("list_games")
        summary = {"kind": "checkers", "status": "open", "players": ["alice", None], "version": 1}
        open_page.callback(
            Listing(
                (
                    ListedGame({**summary, "id": "mine", "clock": "corr:7"}, False, (1, 2, 3)),
                    ListedGame({**summary, "id": "plain"}, False, (1, 2, 3)),
                ),
                "",
            )
        )
        _, active_page = self.client.pop("list_games")
        active_page.callback(Listing((), ""))
        lobby = self.controller.lobby
        self.assertEqual([e.clock for e in lobby.open_games], ["corr:7", None])
        self.assertEqual([s.clock for s in lobby.own], ["corr:7"])
        texts = self.controller.scene(WIDTH, HEIGHT).texts()
        self.assertEqual(texts.count("7 days per move"), 2)


class TickingTests(ControllerTestCase):
    def test_the_clock_ticks_with_the_servers_time(self) -> None:
        self.open(live(), seat=1)
        self.assertEqual(self.controller.scene(WIDTH, HEIGHT).clock(0).text, "1:00")
        self.clock.advance(1.5)
        self.assertEqual(self.controller.scene(WIDTH, HEIGHT).clock(0).text, "0:58")
        # The servers' scale, not the local one: the client's offset moves the clocks.
        self.client.offset_ms = 50_000
        scene = self.controller.scene(WIDTH, HEIGHT)
        self.assertEqual((scene.clock(0).text, scene.clock(0).low), ("8.5", True))
        self.assertEqual(scene.clock(1).text, "1:00")

    def test_untimed_games_never_ask_the_time(self) -> None:
        def no_time() -> int:
            raise AssertionError("asked the servers' time for an untimed game")

        self.client.server_now = no_time  # type: ignore[method-assign]
        self.open(document("connect4", ["4"]), seat=0)
        self.controller.scene(WIDTH, HEIGHT)
        self.assertIsNone(self.controller.game_screen.server_now())
        self.assertEqual(self.clock.getDelayedCalls(), [])


class TimeoutClaimTests(ControllerTestCase):
    def test_claimed_when_the_opponents_deadline_passes(self) -> None:
        self.open(live(("4",), remaining=(59_000, 5_000)), seat=0)  # white to move, 5 s left
        self.clock.advance(5)
        self.assertEqual(self.client.calls, [])
        self.clock.advance(CLAIM_MARGIN + 0.001)
        arguments, answer = self.client.pop("claim_timeout")
        self.assertEqual(arguments, {"game_id": "g1", "version": 3, "token": "t" * 32})
        self.assertEqual(self.controller.game.pending, "timeout claim")  # type: ignore[union-attr]
        over = document("connect4", ["4"], result={"winner": 0, "reason": "time"})
        answer.callback(ok(timed(over, "live:60+0", (59_000, 0), None)))
        scene = self.controller.scene(WIDTH, HEIGHT)
        self.assertIn("You win on time", scene.texts())
        self.assertEqual(scene.title, "replgame \u2014 Connect Four \u2014 You win on time")
        self.clock.advance(60)
        self.assertEqual(self.client.calls, [])

    def test_the_opponent_moving_in_time_moves_the_deadline(self) -> None:
        self.open(live(("4",), remaining=(59_000, 5_000)), seat=0)
        self.clock.advance(3)
        self.offer(timed(document("connect4", ["4", "3"]), "live:60+0", (59_000, 2_000), 3_000))
        self.clock.advance(10)
        self.assertEqual(self.client.calls, [])  # now it is the player's own clock that runs
        self.assertEqual(self.controller.scene(WIDTH, HEIGHT).clock(0).text, "0:49")

    def test_the_players_own_flag_is_not_claimed(self) -> None:
        self.open(live(remaining=(5_000, 60_000)), seat=0)
        self.clock.advance(30)
        self.assertEqual(self.client.calls, [])
        self.assertEqual(self.controller.scene(WIDTH, HEIGHT).clock(0).text, "0.0")

    def test_a_watcher_claims_nothing(self) -> None:
        self.open(live(("4",), remaining=(59_000, 5_000)), seat=None)
        self.clock.advance(30)
        self.assertEqual(self.client.calls, [])

    def test_time_left_claims_again_a_second_later(self) -> None:
        self.open(live(("4",), remaining=(59_000, 5_000)), seat=0)
        self.clock.advance(5 + CLAIM_MARGIN + 0.001)
        _, answer = self.client.pop("claim_timeout")
        answer.callback(refused(wire.TimeLeft("white has 120 ms")))
        notice = self.controller.game.notice  # type: ignore[union-attr]
        self.assertTrue(notice.startswith("Claiming the timeout refused by the servers: TIME_LEFT"))
        _, read = self.client.pop("get_game")
        read.callback(ok(live(("4",), remaining=(59_000, 5_000))))
        self.clock.advance(CLAIM_RETRY)
        arguments, _ = self.client.pop("claim_timeout")
        self.assertEqual(arguments["version"], 3)

    def test_claimed_once_per_version(self) -> None:
        self.open(live(("4",), remaining=(59_000, 5_000)), seat=0)
        self.clock.advance(6)
        _, answer = self.client.pop("claim_timeout")
        answer.callback(refused(wire.StaleVersion("current version 4")))
        self.clock.advance(30)
        self.assertEqual(self.client.names(), ["sync_game"])

    def test_a_claim_waits_for_a_request_on_its_way(self) -> None:
        self.open(live(("4",), remaining=(59_000, 5_000)), seat=0)
        self.controller.perform(Action("resign"))
        self.controller.perform(Action("confirm-resign"))
        self.client.pop("resign")
        self.clock.advance(6)
        self.assertEqual(self.client.names(), [])
        self.clock.advance(CLAIM_RETRY)
        self.assertEqual(self.client.names(), [])  # still pending: not sent over it

    def test_a_provisional_document_is_not_claimed_on(self) -> None:
        doc = live(("4",), remaining=(59_000, 5_000))
        held = Seat(self.cluster, "g1", 0, "alice", "t" * 32, "connect4")
        self.controller.open_game("g1", held, Shown.of(text(doc), True, (2,)))
        self.clock.advance(30)
        self.assertEqual(self.client.calls, [])

    def test_leaving_the_game_cancels_the_watch_on_the_clock(self) -> None:
        self.open(live(("4",), remaining=(59_000, 5_000)), seat=0)
        self.controller.key("escape")
        self.client.calls.clear()
        self.clock.advance(30)
        self.assertNotIn("claim_timeout", self.client.names())
