"""Screens: the replica bar, banners, titles, buttons, the lobby."""

from __future__ import annotations

import attrs
from twisted.trial.unittest import SynchronousTestCase

from game.client_gui import palette as colour
from game.client_gui.replicas import (
    ServerView,
    Shown,
    choose_shown,
    game_replicas,
    light_state,
    lobby_replicas,
)
from game.client_gui.scene import Action, Scene, changed_cells
from game.client_gui.viewmodel import (
    GameState,
    ListedEntry,
    LobbyState,
    OwnSeat,
    game_scene,
    lobby_scene,
    result_text,
)
from tests.client_gui.helpers import HEIGHT, WIDTH, document, text, typed

ALL_UP = {1: (True, True), 2: (True, True), 3: (True, True)}


def shown(doc, provisional=False, agreed=(1, 2, 3)) -> Shown:
    return Shown.of(text(doc), provisional, agreed)


def scene_of(doc, seat=0, links=ALL_UP, holdings=None, **state) -> Scene:
    view = shown(doc)
    if holdings is None:
        holdings = {server_id: view.text for server_id in links}
    game = GameState("g1", seat, "t" * 16 if seat is not None else None, "alice", view, **state)
    return game_scene(game, game_replicas(links, holdings, view), WIDTH, HEIGHT)


class ReplicaBarTests(SynchronousTestCase):
    def test_all_agree(self) -> None:
        view = shown(document("connect4"))
        replicas = game_replicas(ALL_UP, dict.fromkeys((1, 2, 3), view.text), view)
        self.assertEqual(replicas.agreement, "3 of 3")
        self.assertEqual([light_state(s) for s in replicas.servers], ["agree"] * 3)

    def test_one_down(self) -> None:
        view = shown(document("connect4"), agreed=(1, 2))
        links = {**ALL_UP, 3: (False, False)}
        replicas = game_replicas(links, {1: view.text, 2: view.text, 3: None}, view)
        self.assertEqual(replicas.agreement, "2 of 3")
        self.assertEqual([light_state(s) for s in replicas.servers], ["agree", "agree", "down"])

    def test_one_differs_or_catches_up(self) -> None:
        view = shown(document("connect4", ["4"]), agreed=(1, 2))
        old = text(document("connect4"))
        replicas = game_replicas(ALL_UP, {1: view.text, 2: view.text, 3: old}, view)
        self.assertEqual([light_state(s) for s in replicas.servers], ["agree", "agree", "differ"])
        self.assertEqual(replicas.agreement, "2 of 3")
        not_serving = {**ALL_UP, 2: (True, False)}
        replicas = game_replicas(not_serving, {1: view.text, 2: None, 3: view.text}, view)
        self.assertEqual([light_state(s) for s in replicas.servers], ["agree", "differ", "agree"])

    def test_no_majority(self) -> None:
        view = shown(document("connect4", ["4"]), provisional=True, agreed=(2,))
        links = {1: (False, False), 2: (True, True), 3: (True, True)}
        replicas = game_replicas(links, {2: view.text, 3: text(document("connect4"))}, view)
        self.assertEqual(replicas.agreement, "no majority: provisional, showing server 2")
        self.assertTrue(replicas.provisional)
        self.assertEqual([light_state(s) for s in replicas.servers], ["down", "agree", "differ"])

    def test_nothing_reachable(self) -> None:
        down = dict.fromkeys((1, 2, 3), (False, False))
        self.assertEqual(game_replicas(down, {}, None).agreement, "no server reachable")
        self.assertEqual(
            lobby_replicas(dict.fromkeys((1, 2, 3), (False, False, ""))).agreement,
            "no server reachable",
        )

    def test_lights_are_drawn_in_their_colours(self) -> None:
        doc = document("connect4")
        scene = scene_of(doc, links={**ALL_UP, 2: (False, False)})
        self.assertEqual(scene.light(1).colour, colour.LIGHT_AGREE)
        self.assertEqual(scene.light(2).colour, colour.LIGHT_DOWN)
        self.assertIn("agreement: 2 of 3", scene.texts())

    def test_lobby_by_digest(self) -> None:
        replicas = lobby_replicas(
            {1: (True, True, "a"), 2: (True, True, "a"), 3: (True, True, "b")}
        )
        self.assertEqual(replicas.agreement, "2 of 3")
        self.assertEqual([light_state(s) for s in replicas.servers], ["agree", "agree", "differ"])
        alone = lobby_replicas({1: (True, True, "a"), 2: (True, True, "b"), 3: (False, False, "")})
        self.assertEqual(alone.agreement, "no majority: provisional, showing server 1")

    def test_light_states(self) -> None:
        self.assertEqual(light_state(ServerView(1, False, False, False)), "down")
        self.assertEqual(light_state(ServerView(1, True, False, True)), "differ")
        self.assertEqual(light_state(ServerView(1, True, True, False)), "differ")
        self.assertEqual(light_state(ServerView(1, True, True, True)), "agree")


class ChooseShownTests(SynchronousTestCase):
    def test_majority_replaces_older_and_provisional(self) -> None:
        v3 = shown(document("connect4", ["4"]))
        v4 = shown(document("connect4", ["4", "4"]), agreed=(1, 2))
        self.assertIs(choose_shown(None, v3), v3)
        self.assertIs(choose_shown(v3, v4), v4)
        self.assertIs(choose_shown(attrs.evolve(v4, provisional=True), v3), v3)

    def test_a_lagging_majority_does_not_undo_an_acknowledged_answer(self) -> None:
        v3 = shown(document("connect4", ["4"]), agreed=(2, 3))
        v4 = shown(document("connect4", ["4", "4"]), agreed=(1, 2))
        self.assertIs(choose_shown(v4, v3), v4)

    def test_provisional_only_when_newer(self) -> None:
        v3 = shown(document("connect4", ["4"]))
        p3 = attrs.evolve(v3, provisional=True, agreed=(1,))
        p4 = shown(document("connect4", ["4", "4"]), provisional=True, agreed=(1,))
        self.assertIs(choose_shown(v3, p3), v3)
        self.assertIs(choose_shown(v3, p4), p4)
        self.assertIs(choose_shown(p4, p3), p3)


class GameScreenTests(SynchronousTestCase):
    def test_you_and_your_move(self) -> None:
        scene = scene_of(document("connect4"), seat=0)
        self.assertEqual(scene.title, "replgame \u2014 Your move")
        self.assertIn("Connect Four  \u00b7  You: black", scene.texts())
        self.assertIn("Your move", scene.texts())
        other = scene_of(document("connect4"), seat=1)
        self.assertEqual(other.title, "replgame \u2014 Connect Four \u2014 alice (black) to move")
        self.assertIn("Connect Four  \u00b7  You: white", other.texts())
        watcher = scene_of(document("reversi"), seat=None)
        self.assertIn("Reversi  \u00b7  Watching", watcher.texts())
        self.assertNotIn("resign", [b.action.name for b in watcher.base.buttons])

    def test_a_takeback_offer_in_the_banner(self) -> None:
        doc = {**document("connect4", ("4", "4")), "takeback": 1}
        self.assertIn("bob (white) asks to take back their last move", scene_of(doc).texts())
        self.assertNotIn("asks to take back", " ".join(scene_of(doc, seat=1).texts()))

    def test_move_list(self) -> None:
        scene = scene_of(document("connect4", ["4", "4", "3"]))
        self.assertIn("1. 4  4", scene.texts())
        self.assertIn("2. 3", scene.texts())
        self.assertIn("Moves (3)", scene.texts())

    def test_result_banners(self) -> None:
        won = document("connect4", ["1", "2", "1", "2", "1", "2", "1"])
        self.assertEqual(won["result"], {"winner": 0, "reason": "four in a row"})
        for seat, words, banner in [
            (0, "You win: four in a row", colour.BANNER_WIN),
            (1, "alice (black) wins: four in a row", colour.BANNER_LOSS),
            (None, "alice (black) wins: four in a row", colour.BANNER_NEUTRAL),
        ]:
            scene = scene_of(won, seat=seat)
            self.assertIn(words, scene.texts())
            self.assertIn(banner, [box.colour for box in scene.base.boxes])
            self.assertIn(words, scene.title)
        drawn = document("connect4", result={"winner": None, "reason": "draw agreed"})
        self.assertIn("Draw: draw agreed", scene_of(drawn).texts())
        resigned = document("reversi", result={"winner": 1, "reason": "resigned"})
        self.assertEqual(result_text(typed(resigned), 1), "You win: resigned")
        cancelled = document("checkers", result={"winner": None, "reason": "cancelled"})
        self.assertEqual(result_text(typed(cancelled), 0), "Game cancelled")

    def test_buttons_follow_the_game(self) -> None:
        def enabled(scene: Scene) -> set[str]:
            return {b.action.name for b in scene.base.buttons if b.enabled}

        # "Save record..." is there in every state of a game.
        self.assertEqual(
            enabled(scene_of(document("connect4"), seat=0)),
            {"lobby", "resign", "offer-draw", "save-record"},
        )
        self.assertEqual(
            enabled(scene_of(document("connect4"), seat=1)), {"lobby", "resign", "save-record"}
        )
        offered = document("connect4", ["4"], draw_offer=0)
        # With a move played, the replay's |< and < step back to it.
        self.assertEqual(
            enabled(scene_of(offered, seat=1)),
            {"lobby", "resign", "accept-draw", "save-record", "replay"},
        )
        self.assertIn("Your move \u2014 alice (black) offers a draw", scene_of(offered, 1).texts())
        waiting = document("connect4", players=("alice", None))
        scene = scene_of(waiting, seat=0)
        self.assertEqual(scene.button("resign").text, "Cancel game")
        self.assertIn("Waiting for an opponent to join", scene.texts())
        pending = scene_of(document("connect4"), seat=0, pending="move 4")
        self.assertEqual(enabled(pending), {"lobby", "save-record"})

    def test_confirm_resign_is_modal(self) -> None:
        scene = scene_of(document("connect4", ["4"]), seat=1, confirming="resign")
        self.assertIn("Resign this game?", scene.texts())
        x, y = scene.button("confirm-resign").rect.centre
        self.assertEqual(scene.hit(x, y), Action("confirm-resign"))
        x, y = scene.cell("c1r1").rect.centre
        self.assertIsNone(scene.hit(x, y))

    def test_notice_shown(self) -> None:
        scene = scene_of(
            document("connect4"), notice="Move 4 refused by the servers: X (y)", notice_error=True
        )
        self.assertIn("Move 4 refused by the servers: X (y)", scene.texts())

    def test_changed_cells_of_a_move(self) -> None:
        before = scene_of(document("connect4", ["4"]), seat=1)
        after = scene_of(document("connect4", ["4", "3"]), seat=1)
        self.assertEqual(sorted(changed_cells(before, after)), ["c3r1", "c4r1"])

    def test_board_scales_with_the_window(self) -> None:
        view = shown(document("reversi"))
        game = GameState("g1", 0, "t" * 16, "alice", view)
        replicas = game_replicas(ALL_UP, {}, view)
        small = game_scene(game, replicas, 640, 480).cell("a1").rect
        large = game_scene(game, replicas, 1600, 1200).cell("a1").rect
        self.assertGreater(large.width, 2 * small.width)
        for width, height in ((640, 480), (1600, 1200), (700, 1400)):
            scene = game_scene(game, replicas, width, height)
            for cell in scene.cells:
                self.assertTrue(cell.rect.x >= 0 and cell.rect.right <= width)
                self.assertTrue(cell.rect.y >= 34 and cell.rect.top <= height - 72)


class LobbyTests(SynchronousTestCase):
    def lobby(self) -> LobbyState:
        return LobbyState(
            "alice",
            open_games=(
                ListedEntry("a" * 32, "reversi", "open", ("bob", None)),
                ListedEntry("b" * 32, "checkers", "open", ("alice", None), mine=0),
            ),
            active_games=(ListedEntry("c" * 32, "connect4", "active", ("bob", "carol")),),
            own=(OwnSeat("d" * 32, "connect4", 1, "alice", "active"),),
            loaded=True,
        )

    def test_rows_and_actions(self) -> None:
        replicas = lobby_replicas(dict.fromkeys((1, 2, 3), (True, True, "x")))
        scene = lobby_scene(self.lobby(), replicas, WIDTH, HEIGHT)
        texts = scene.texts()
        self.assertIn("Reversi \u00b7 aaaaaaaa", texts)
        self.assertIn("by bob", texts)
        self.assertIn("Connect Four \u00b7 cccccccc", texts)
        self.assertIn("bob vs carol", texts)
        self.assertIn("alice (white), active", texts)
        self.assertIn("alice", texts)
        self.assertIn("Open games (2)", texts)
        self.assertEqual(scene.button("join").action, Action("join", "a" * 32))
        self.assertEqual(scene.button("watch").action, Action("watch", "c" * 32))
        self.assertEqual(scene.button("resume", "b" * 32 + ":0").text, "Resume")
        self.assertEqual(scene.button("resume", "d" * 32 + ":1").text, "Resume")
        for kind in ("connect4", "reversi", "checkers"):
            x, y = scene.button("create", kind).rect.centre
            self.assertEqual(scene.hit(x, y), Action("create", kind))
        self.assertEqual(scene.title, "replgame \u2014 Lobby (alice)")
        self.assertIn("agreement: 3 of 3", texts)

    def test_busy_disables_creation(self) -> None:
        replicas = lobby_replicas(dict.fromkeys((1, 2, 3), (True, True, "x")))
        busy = attrs.evolve(self.lobby(), busy="Creating a Reversi game\u2026")
        scene = lobby_scene(busy, replicas, WIDTH, HEIGHT)
        self.assertFalse(scene.button("create", "reversi").enabled)
        self.assertIn("Creating a Reversi game\u2026", scene.texts())

    def test_scrolling_a_long_list(self) -> None:
        many = tuple(
            ListedEntry(f"{index:032d}", "connect4", "open", ("bob", None)) for index in range(40)
        )
        replicas = lobby_replicas(dict.fromkeys((1, 2, 3), (True, True, "x")))
        state = LobbyState("alice", open_games=many, loaded=True)
        first = lobby_scene(state, replicas, WIDTH, HEIGHT)
        joins = [b.action.value for b in first.base.buttons if b.action.name == "join"]
        self.assertEqual(joins[0], f"{0:032d}")
        self.assertLess(len(joins), 40)
        scrolled = lobby_scene(attrs.evolve(state, scroll=(5, 0, 0)), replicas, WIDTH, HEIGHT)
        joins = [b.action.value for b in scrolled.base.buttons if b.action.name == "join"]
        self.assertEqual(joins[0], f"{5:032d}")

    def test_name_field(self) -> None:
        replicas = lobby_replicas(dict.fromkeys((1, 2, 3), (True, True, "x")))
        editing = attrs.evolve(self.lobby(), editing="ali")
        scene = lobby_scene(editing, replicas, WIDTH, HEIGHT)
        self.assertIn("ali|", scene.texts())
