"""The controller against a fake client: requests sent, answers and watch
updates taken into the screens, without a reactor or pyglet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from game import errors as wire
from game.client.majority import ListedGame, Listing
from game.client.tokens import Seat, TokenStore
from game.client_gui import palette as colour
from game.client_gui.controller import ActionTable, Controller, UnknownAction
from game.client_gui.replicas import Shown
from game.client_gui.scene import Action, Scene
from game.client_gui.viewmodel import clicks_for_move
from tests.client_gui.helpers import (
    HEIGHT,
    REVERSI_BLACK_PASSES,
    WIDTH,
    FakeClient,
    document,
    ok,
    refused,
    text,
)
from tests.client_gui.offer_helpers import offer_documents


class ControllerTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.client = FakeClient(self.clock)
        self.store = TokenStore(Path(self.mktemp()) / "seats.json")
        self.controller = Controller(self.client, self.store, "alice", self.clock)  # type: ignore[arg-type]
        self.cluster = self.client.config.cluster_id

    def open(self, doc: dict[str, Any], seat: int | None = 0) -> None:
        held = (
            Seat(self.cluster, doc["id"], seat, "alice", "t" * 32, doc["kind"])
            if seat is not None
            else None
        )
        self.controller.open_game(doc["id"], held, Shown.of(text(doc), False, (1, 2, 3)))
        watch = self.client.watches[doc["id"]]
        for server_id in (1, 2, 3):
            watch.offer(server_id, text(doc))

    def offer(self, doc: dict[str, Any], servers: tuple[int, ...] = (1, 2, 3)) -> None:
        for server_id in servers:
            self.client.watches[doc["id"]].offer(server_id, text(doc))

    def click_move(self, move: str) -> None:
        game = self.controller.game
        assert game is not None and game.document is not None
        scene = self.controller.scene(WIDTH, HEIGHT)
        for x, y in clicks_for_move(scene, game.document.kind, move):
            self.controller.click(x, y, WIDTH, HEIGHT)

    @property
    def shown(self) -> dict[str, Any]:
        """The document shown, as the JSON object the servers sent."""
        assert self.controller.game is not None and self.controller.game.shown is not None
        parsed: dict[str, Any] = json.loads(self.controller.game.shown.text)
        return parsed


class LobbyFlowTests(ControllerTestCase):
    def test_create_keeps_the_token_per_cluster_and_opens_the_game(self) -> None:
        self.controller.start()
        self.controller.perform(Action("create", "reversi"))
        arguments, answer = self.client.pop("create_game")
        self.assertEqual(len(arguments["game_id"]), 32)
        int(arguments["game_id"], 16)
        self.assertEqual(
            (arguments["kind"], arguments["player"], arguments["seat"]), ("reversi", "alice", 0)
        )
        self.assertGreaterEqual(len(arguments["token"]), 16)
        answer.callback(
            ok(document("reversi", players=("alice", None), game_id=arguments["game_id"]))
        )
        [seat] = self.store.seats(self.cluster)
        self.assertEqual(
            (seat.game_id, seat.seat, seat.token, seat.kind),
            (arguments["game_id"], 0, arguments["token"], "reversi"),
        )
        game = self.controller.game
        assert game is not None
        self.assertEqual((game.game_id, game.seat), (arguments["game_id"], 0))
        self.assertIn(arguments["game_id"], self.client.watches)
        self.assertIn(
            "Waiting for an opponent to join", self.controller.scene(WIDTH, HEIGHT).texts()
        )

    def test_join_takes_the_free_seat(self) -> None:
        self.controller.perform(Action("join", "g1"))
        _, read = self.client.pop("get_game")
        read.callback(ok(document("connect4", players=("bob", None))))
        arguments, answer = self.client.pop("join_game")
        self.assertEqual((arguments["version"], arguments["player"]), (1, "alice"))
        answer.callback(ok(document("connect4", players=("bob", "alice"))))
        [seat] = self.store.seats(self.cluster)
        self.assertEqual((seat.game_id, seat.seat, seat.player), ("g1", 1, "alice"))
        self.assertEqual(self.controller.game.seat, 1)  # type: ignore[union-attr]

    def test_join_of_a_game_someone_else_took(self) -> None:
        self.controller.perform(Action("join", "g1"))
        _, read = self.client.pop("get_game")
        read.callback(ok(document("connect4", players=("bob", "carol"))))
        self.assertNotIn("join_game", self.client.names())
        self.assertIsNone(self.controller.game)
        self.assertIn("someone else joined first", self.controller.lobby.notice)

    def test_listing_marks_own_games(self) -> None:
        self.store.add(Seat(self.cluster, "mine", 0, "alice", "t" * 32, "checkers"))
        self.store.add(Seat(self.cluster, "bobs", 0, "bob", "u" * 32, "reversi"))
        self.controller.start()
        _, open_page = self.client.pop("list_games")
        open_page.callback(
            Listing(
                (
                    ListedGame(
                        {
                            "id": "mine",
                            "kind": "checkers",
                            "status": "open",
                            "players": ["alice", None],
                            "version": 1,
                        },
                        False,
                        (1, 2, 3),
                    ),
                    ListedGame(
                        {
                            "id": "bobs",
                            "kind": "reversi",
                            "status": "open",
                            "players": ["bob", None],
                            "version": 1,
                        },
                        False,
                        (1, 2, 3),
                    ),
                ),
                "",
            )
        )
        _, active_page = self.client.pop("list_games")
        active_page.callback(Listing((), ""))
        lobby = self.controller.lobby
        self.assertEqual(
            [(e.game_id, e.mine) for e in lobby.open_games], [("mine", 0), ("bobs", None)]
        )
        self.assertEqual([s.game_id for s in lobby.own], ["bobs", "mine"])
        scene = self.controller.scene(WIDTH, HEIGHT)
        self.assertEqual(scene.button("resume", "mine:0").text, "Resume")
        self.assertEqual(scene.button("join", "bobs").text, "Join")
        # The lobby lists again every two seconds.
        self.clock.advance(2)
        self.assertEqual(self.client.names(), ["list_games"])

    def test_resume_from_saved_seat(self) -> None:
        self.store.add(Seat(self.cluster, "g1", 1, "alice", "t" * 32, "connect4"))
        self.controller.perform(Action("resume", "g1:1"))
        game = self.controller.game
        assert game is not None
        self.assertEqual((game.seat, game.token), (1, "t" * 32))
        _, read = self.client.pop("get_game")
        read.callback(ok(document("connect4", ["4"], players=("bob", "alice"))))
        self.assertEqual(self.shown["moves"], ["4"])
        self.assertEqual(self.controller.scene(WIDTH, HEIGHT).title, "replgame \u2014 Your move")

    def test_rename(self) -> None:
        self.controller.perform(Action("edit-name"))
        for _ in range(5):
            self.controller.key("backspace")
        self.controller.text("carol")
        self.controller.key("enter")
        self.assertEqual(self.controller.player, "carol")
        self.controller.perform(Action("edit-name"))
        self.controller.text(" ")
        self.controller.key("enter")
        self.assertEqual(self.controller.player, "carol")
        self.assertTrue(self.controller.lobby.notice_error)


class GameFlowTests(ControllerTestCase):
    def test_opponent_moves_appear_by_the_watch(self) -> None:
        self.open(document("connect4", ["4"]), seat=0)
        self.offer(document("connect4", ["4", "3"]), servers=(1, 2))
        self.assertEqual(self.shown["moves"], ["4", "3"])
        scene = self.controller.scene(WIDTH, HEIGHT)
        self.assertEqual(scene.title, "replgame \u2014 Your move")
        self.assertEqual(scene.light(3).colour, colour.LIGHT_DIFFER)
        self.assertIn("agreement: 2 of 3", scene.texts())
        self.assertEqual(self.client.calls, [])

    def test_a_move_by_click(self) -> None:
        self.open(document("connect4", ["4"]), seat=1)
        self.click_move("6")
        arguments, answer = self.client.pop("make_move")
        self.assertEqual(
            (arguments["move"], arguments["version"], arguments["token"]), ("6", 3, "t" * 32)
        )
        self.assertEqual(self.controller.game.pending, "move 6")  # type: ignore[union-attr]
        self.click_move("6")  # while pending: nothing more is sent
        self.assertEqual(self.client.calls, [])
        answer.callback(ok(document("connect4", ["4", "6"])))
        self.assertEqual(self.shown["moves"], ["4", "6"])
        self.assertIsNone(self.controller.game.pending)  # type: ignore[union-attr]

    def test_a_refused_move_shows_the_reason_and_the_majority_board(self) -> None:
        board = document("connect4", ["4"])
        self.open(board, seat=1)
        self.click_move("2")
        _, answer = self.client.pop("make_move")
        answer.callback(refused(wire.NotYourTurn("it is black's turn")))
        notice = self.controller.game.notice  # type: ignore[union-attr]
        self.assertEqual(
            notice, "Move 2 refused by the servers: NOT_YOUR_TURN (it is black's turn)"
        )
        self.assertIn(notice, self.controller.scene(WIDTH, HEIGHT).texts())
        self.assertEqual(self.shown, board)
        _, read = self.client.pop("get_game")
        read.callback(ok(board))
        self.assertEqual(self.shown, board)

    def test_stale_version_resyncs(self) -> None:
        self.open(document("connect4", ["4"]), seat=1)
        self.click_move("2")
        _, answer = self.client.pop("make_move")
        answer.callback(refused(wire.StaleVersion("current version 4")))
        _, sync = self.client.pop("sync_game")
        newer = document("connect4", ["4", "1", "5"])
        sync.callback(ok(newer))
        self.assertEqual(self.shown["moves"], ["4", "1", "5"])

    def test_digit_keys_drop(self) -> None:
        self.open(document("connect4"), seat=0)
        self.controller.key("5")
        arguments, _ = self.client.pop("make_move")
        self.assertEqual(arguments["move"], "5")

    def test_checkers_multi_jump_sends_once(self) -> None:
        from tests.client_gui.helpers import CHECKERS_DOUBLE_JUMP_AND_CROWN

        self.open(document("checkers", CHECKERS_DOUBLE_JUMP_AND_CROWN[:8]), seat=0)
        scene = self.controller.scene(WIDTH, HEIGHT)
        points = clicks_for_move(scene, "checkers", "12x19x28")
        for index, (x, y) in enumerate(points):
            self.controller.click(x, y, WIDTH, HEIGHT)
            if index < 2:
                self.assertEqual(self.client.calls, [])
        arguments, _ = self.client.pop("make_move")
        self.assertEqual(arguments["move"], "12x19x28")

    def test_pass_is_played_for_the_player(self) -> None:
        self.open(document("reversi", REVERSI_BLACK_PASSES), seat=0)
        arguments, answer = self.client.pop("make_move")
        self.assertEqual(arguments["move"], "pass")
        answer.callback(ok(document("reversi", [*REVERSI_BLACK_PASSES, "pass"])))
        self.assertEqual(
            self.controller.game.notice,  # type: ignore[union-attr]
            "You have no legal move: pass was played for you.",
        )
        self.assertEqual(self.client.calls, [])

    def test_pass_not_played_for_the_opponent_or_a_watcher(self) -> None:
        self.open(document("reversi", REVERSI_BLACK_PASSES), seat=1)
        self.assertEqual(self.client.calls, [])
        self.controller.show_lobby()
        self.client.calls.clear()
        self.open(document("reversi", REVERSI_BLACK_PASSES), seat=None)
        self.assertEqual(self.client.calls, [])

    def test_resign_is_confirmed(self) -> None:
        self.open(document("checkers", ["11-15"]), seat=0)
        self.controller.perform(Action("resign"))
        self.assertEqual(self.client.calls, [])
        self.assertIn("Resign this game?", self.controller.scene(WIDTH, HEIGHT).texts())
        self.controller.perform(Action("cancel"))
        self.assertIsNone(self.controller.game.confirming)  # type: ignore[union-attr]
        self.controller.perform(Action("resign"))
        self.controller.key("escape")  # closes the dialog, stays in the game
        self.assertIsNotNone(self.controller.game)
        self.controller.perform(Action("resign"))
        scene = self.controller.scene(WIDTH, HEIGHT)
        x, y = scene.button("confirm-resign").rect.centre
        self.controller.click(x, y, WIDTH, HEIGHT)
        arguments, answer = self.client.pop("resign")
        self.assertEqual(arguments["version"], 3)
        answer.callback(
            ok(document("checkers", ["11-15"], result={"winner": 1, "reason": "resigned"}))
        )
        self.assertIn("bob (white) wins: resigned", self.controller.scene(WIDTH, HEIGHT).texts())

    def test_draw_offer_and_acceptance(self) -> None:
        self.open(document("connect4"), seat=0)
        self.controller.perform(Action("offer-draw"))
        arguments, answer = self.client.pop("offer_draw")
        self.assertEqual(arguments["version"], 2)
        answer.callback(ok(document("connect4", draw_offer=0)))
        self.assertIn("offered a draw", self.controller.game.notice)  # type: ignore[union-attr]
        self.controller.show_lobby()
        self.open(document("connect4", ["4"], draw_offer=0), seat=1)
        scene = self.controller.scene(WIDTH, HEIGHT)
        self.assertTrue(scene.button("accept-draw").enabled)
        x, y = scene.button("accept-draw").rect.centre
        self.controller.click(x, y, WIDTH, HEIGHT)
        arguments, _ = self.client.pop("accept_draw")
        self.assertEqual(arguments["version"], 3)

    def test_escape_returns_to_the_lobby(self) -> None:
        self.open(document("connect4"), seat=0)
        self.controller.key("escape")
        self.assertIsNone(self.controller.game)
        self.assertEqual(self.client.watches, {})
        self.assertIn("list_games", self.client.names())

    def test_watcher_clicks_do_nothing(self) -> None:
        self.open(document("connect4"), seat=None)
        self.click_move("4")
        self.assertEqual(self.client.calls, [])
        self.assertIn("watching", self.controller.game.notice)  # type: ignore[union-attr]

    def test_disc_drops_then_lands(self) -> None:
        self.open(document("connect4"), seat=1)
        self.offer(document("connect4", ["4"]))
        self.assertTrue(self.controller.scene(WIDTH, HEIGHT).animating)
        self.assertFalse(self.controller.idle)
        self.clock.advance(1)
        self.assertFalse(self.controller.scene(WIDTH, HEIGHT).animating)
        self.assertTrue(self.controller.idle)

    def test_lights_follow_the_links(self) -> None:
        self.open(document("connect4"), seat=0)
        self.client.links[2].ready = False
        self.client.links[2].status = None
        self.client.watches["g1"].forget(2)
        scene = self.controller.scene(WIDTH, HEIGHT)
        self.assertEqual(scene.light(2).colour, colour.LIGHT_DOWN)
        self.assertEqual(scene.light(1).colour, colour.LIGHT_AGREE)
        self.assertIn("agreement: 2 of 3", scene.texts())

    def test_no_majority_is_marked_provisional(self) -> None:
        self.open(document("connect4", ["4"]), seat=0)
        self.client.links[1].ready = False
        self.client.watches["g1"].forget(1)
        self.offer(document("connect4", ["4", "4"]), servers=(2,))
        scene = self.controller.scene(WIDTH, HEIGHT)
        self.assertIn("agreement: no majority: provisional, showing server 2", scene.texts())
        self.assertEqual(self.shown["moves"], ["4", "4"])


def actions_of(scene: Scene) -> set[str]:
    """The names of every action a click on ``scene`` can mean."""
    layers = [scene.base] + ([scene.overlay] if scene.overlay is not None else [])
    names = {button.action.name for layer in layers for button in layer.buttons}
    return names | {hotspot.action.name for hotspot in scene.hotspots}


class ActionTableTests(ControllerTestCase):
    def test_an_unknown_action_is_refused(self) -> None:
        with self.assertRaises(UnknownAction) as raised:
            self.controller.perform(Action("fly", "away"))
        self.assertIsInstance(raised.exception, ValueError)
        message = str(raised.exception)
        self.assertIn("unknown action 'fly'", message)
        self.assertIn("create", message)  # it lists the known ones
        self.assertEqual(self.client.calls, [])

    def test_every_action_a_screen_shows_is_known(self) -> None:
        self.controller.start()
        seen = actions_of(self.controller.scene(WIDTH, HEIGHT))
        self.controller.perform(Action("computer"))  # the "Play the computer" panel
        seen |= actions_of(self.controller.scene(WIDTH, HEIGHT))
        self.controller.perform(Action("computer-cancel"))
        for kind in ("connect4", "reversi", "checkers"):
            self.open(document(kind), seat=0)
            seen |= actions_of(self.controller.scene(WIDTH, HEIGHT))
            self.controller.perform(Action("resign"))
            seen |= actions_of(self.controller.scene(WIDTH, HEIGHT))
            self.controller.perform(Action("cancel"))
            self.controller.perform(Action("save-record"))
            seen |= actions_of(self.controller.scene(WIDTH, HEIGHT))
            self.controller.perform(Action("save-cancel"))
        for doc in offer_documents():  # each takeback and rematch state, for either seat
            for seat in (0, 1):
                self.open(doc, seat=seat)
                seen |= actions_of(self.controller.scene(WIDTH, HEIGHT))
        self.assertLessEqual(seen, set(self.controller.actions.handlers))
        self.assertEqual(set(self.controller.actions.handlers) - seen, {"join", "watch", "resume"})

    def test_a_name_handled_twice_is_refused(self) -> None:
        with self.assertRaises(ValueError) as raised:
            ActionTable.of({"lobby": print}, {"lobby": print, "other": print})
        self.assertIn("actions handled twice: lobby", str(raised.exception))
