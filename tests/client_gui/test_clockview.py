"""Time on screen: the clock faces of a timed game, the result on time, the
lobby's time-control choice and each listed game's control (pure view-model)."""

from __future__ import annotations

import itertools
from typing import Any

import attrs
from twisted.trial.unittest import SynchronousTestCase

from game.client_gui import palette as colour
from game.client_gui.clockview import TIME_CONTROL_CHOICES, control_name, face_order
from game.client_gui.replicas import Shown, game_replicas, lobby_replicas
from game.client_gui.scene import Action, Scene
from game.client_gui.viewmodel import (
    GameState,
    ListedEntry,
    LobbyState,
    OwnSeat,
    game_layout,
    game_scene,
    lobby_layout,
    lobby_scene,
)
from tests.client_gui.helpers import HEIGHT, WIDTH, document, text, timed

ALL_UP = {1: (True, True), 2: (True, True), 3: (True, True)}
#: The servers' time of the documents' last event, in ms.
AT = 1_700_000_000_000


def scene_at(
    doc: dict[str, Any],
    now_ms: int | None,
    seat: int | None = 0,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Scene:
    view = Shown.of(text(doc), False, (1, 2, 3))
    game = GameState("g1", seat, "t" * 16 if seat is not None else None, "alice", view)
    replicas = game_replicas(ALL_UP, dict.fromkeys((1, 2, 3), view.text), view)
    return game_scene(game, replicas, width, height, now_ms=now_ms)


def live(moves: tuple[str, ...] = (), remaining: tuple[int, int] = (300_000, 300_000)) -> Any:
    return timed(document("connect4", moves), "live:300+3", remaining, AT)


class ClockFaceTests(SynchronousTestCase):
    def test_untimed_games_have_no_clocks(self) -> None:
        scene = scene_at(document("connect4"), now_ms=AT)
        self.assertEqual(scene.base.clocks, ())
        self.assertRaises(KeyError, scene.clock, 0)

    def test_the_side_to_move_runs_and_is_highlighted(self) -> None:
        scene = scene_at(live(), now_ms=AT + 1_500)
        mine, theirs = scene.clock(0), scene.clock(1)
        self.assertEqual(
            (mine.text, mine.running, mine.colour), ("4:58", True, colour.CLOCK_RUNNING)
        )
        self.assertEqual(mine.text_colour, colour.CLOCK_RUNNING_TEXT)
        self.assertEqual(
            (theirs.text, theirs.running, theirs.colour), ("5:00", False, colour.CLOCK_IDLE)
        )
        self.assertEqual((mine.name, theirs.name), ("alice (black)", "bob (white)"))
        self.assertIn("4:58", scene.texts())
        self.assertEqual(
            mine.probe(), (int(mine.rect.x + 4), int(mine.rect.y + 4), colour.CLOCK_RUNNING)
        )

    def test_the_running_clock_ticks_from_the_deadline(self) -> None:
        faces = [scene_at(live(), now_ms=AT + ms).clock(0).text for ms in (0, 1, 1_000, 61_000)]
        self.assertEqual(faces, ["5:00", "4:59", "4:59", "3:59"])
        # The other clock stands still; the scene differs only while the text does.
        self.assertEqual(scene_at(live(), AT + 10).clock(1), scene_at(live(), AT + 60_000).clock(1))
        self.assertEqual(scene_at(live(), AT + 10), scene_at(live(), AT + 20))
        self.assertNotEqual(scene_at(live(), AT + 10), scene_at(live(), AT + 1_010))

    def test_after_a_move_the_other_side_runs(self) -> None:
        scene = scene_at(live(("4",), remaining=(301_000, 300_000)), now_ms=AT + 2_000, seat=0)
        self.assertEqual((scene.clock(0).running, scene.clock(0).text), (False, "5:01"))
        self.assertEqual((scene.clock(1).running, scene.clock(1).text), (True, "4:58"))
        self.assertEqual(scene.clock(1).colour, colour.CLOCK_RUNNING)

    def test_under_ten_seconds_in_red(self) -> None:
        doc = live(remaining=(12_000, 8_000))
        scene = scene_at(doc, now_ms=AT + 2_550)
        running, stopped = scene.clock(0), scene.clock(1)
        self.assertEqual(running.text, "9.4")
        self.assertTrue(running.low and running.running)
        self.assertEqual((running.colour, running.text_colour), (colour.CLOCK_LOW, colour.TEXT))
        # The stopped clock under ten seconds keeps its face; its digits are red.
        self.assertEqual(stopped.text, "8.0")
        self.assertTrue(stopped.low and not stopped.running)
        self.assertEqual(
            (stopped.colour, stopped.text_colour), (colour.CLOCK_IDLE, colour.CLOCK_LOW_TEXT)
        )
        # Just above ten seconds it is not red yet.
        self.assertEqual(scene_at(doc, now_ms=AT + 2_000).clock(0).colour, colour.CLOCK_RUNNING)

    def test_a_clock_that_ran_out_reads_zero(self) -> None:
        scene = scene_at(live(), now_ms=AT + 400_000)
        self.assertEqual((scene.clock(0).text, scene.clock(0).colour), ("0.0", colour.CLOCK_LOW))

    def test_correspondence_is_never_red(self) -> None:
        doc = timed(document("reversi"), "corr:3", (3 * 86_400_000, 3 * 86_400_000), AT)
        scene = scene_at(doc, now_ms=AT + 3_600_000)
        self.assertEqual(scene.clock(0).text, "2d 23h")
        self.assertEqual(scene.clock(1).text, "3d 00h")
        late = scene_at(doc, now_ms=AT + 3 * 86_400_000 - 5_000).clock(0)
        self.assertEqual((late.text, late.low, late.colour), ("0:05", False, colour.CLOCK_RUNNING))

    def test_own_clock_below_the_opponents(self) -> None:
        self.assertEqual(face_order(0), (1, 0))
        self.assertEqual(face_order(1), (0, 1))
        self.assertEqual(face_order(None), (1, 0))
        for seat in (0, 1):
            scene = scene_at(live(), AT, seat=seat)
            self.assertLess(scene.clock(seat).rect.y, scene.clock(1 - seat).rect.y)
        watching = scene_at(live(), AT, seat=None)
        self.assertLess(watching.clock(0).rect.y, watching.clock(1).rect.y)

    def test_clocks_sit_on_the_side_panel_above_the_buttons(self) -> None:
        for width, height in ((WIDTH, HEIGHT), (600, 440), (1600, 1200)):
            scene = scene_at(live(), AT, width=width, height=height)
            board, panel, _, _ = game_layout(width, height)
            faces = [scene.clock(0), scene.clock(1)]
            for face in faces:
                self.assertTrue(panel.x <= face.rect.x and face.rect.right <= panel.right)
                self.assertTrue(panel.y <= face.rect.y and face.rect.top <= panel.top)
                self.assertGreaterEqual(face.rect.x, board.right)
            lowest = min(face.rect.y for face in faces)
            self.assertLessEqual(scene.button("lobby").rect.top, lowest)
            self.assertFalse(
                faces[0].rect.contains(*faces[1].rect.centre)
                or faces[1].rect.contains(*faces[0].rect.centre)
            )

    def test_without_a_moment_the_clocks_read_as_of_the_last_event(self) -> None:
        scene = scene_at(live(remaining=(250_000, 300_000)), now_ms=None)
        self.assertEqual((scene.clock(0).text, scene.clock(1).text), ("4:10", "5:00"))

    def test_an_open_timed_game_shows_the_base_time_stopped(self) -> None:
        doc = timed(
            document("connect4", players=("alice", None)), "live:60+0", (60_000, 60_000), None
        )
        scene = scene_at(doc, now_ms=AT)
        self.assertEqual([scene.clock(s).text for s in (0, 1)], ["1:00", "1:00"])
        self.assertFalse(scene.clock(0).running or scene.clock(1).running)
        self.assertEqual(scene.clock(1).name, "(open seat) (white)")

    def test_a_control_no_server_should_send_shows_no_clocks(self) -> None:
        doc = timed(document("connect4"), "live:9+0", (9_000, 9_000), AT)
        self.assertEqual(scene_at(doc, AT).base.clocks, ())
        self.assertEqual(control_name("live:9+0"), "live:9+0")


class ResultOnTimeTests(SynchronousTestCase):
    def finished(self) -> Any:
        doc = document("connect4", ["4"], result={"winner": 1, "reason": "time"})
        return timed(doc, "live:60+0", (0, 58_000), None)

    def test_the_banner_says_wins_on_time(self) -> None:
        loser = scene_at(self.finished(), AT, seat=0)
        self.assertIn("bob (white) wins on time", loser.texts())
        self.assertEqual(
            loser.title, "replgame \u2014 Connect Four \u2014 bob (white) wins on time"
        )
        winner = scene_at(self.finished(), AT, seat=1)
        self.assertIn("You win on time", winner.texts())
        self.assertIn("bob (white) wins on time", scene_at(self.finished(), AT, seat=None).texts())

    def test_the_clocks_stop(self) -> None:
        scene = scene_at(self.finished(), AT + 50_000, seat=1)
        self.assertEqual([scene.clock(s).text for s in (0, 1)], ["0.0", "0:58"])
        self.assertFalse(scene.clock(0).running or scene.clock(1).running)
        self.assertEqual(scene.clock(0).colour, colour.CLOCK_IDLE)
        self.assertEqual(scene.clock(0).text_colour, colour.CLOCK_LOW_TEXT)

    def test_other_reasons_read_as_before(self) -> None:
        doc = document("connect4", ["4"], result={"winner": 1, "reason": "resigned"})
        self.assertIn("bob (white) wins: resigned", scene_at(doc, AT).texts())


def lobby_with(**changes: Any) -> Scene:
    replicas = lobby_replicas(dict.fromkeys((1, 2, 3), (True, True, "x")))
    return lobby_scene(
        attrs.evolve(LobbyState("alice", loaded=True), **changes), replicas, WIDTH, HEIGHT
    )


def choices(scene: Scene) -> list[Any]:
    return [b for b in scene.base.buttons if b.action.name == "time-control"]


class TimeControlChoiceTests(SynchronousTestCase):
    def test_every_control_is_offered_untimed_first(self) -> None:
        scene = lobby_with()
        buttons = choices(scene)
        self.assertEqual(
            [b.text for b in buttons],
            ["untimed", "1+0", "3+2", "5+3", "10+5", "15+10", "1 day", "3 days", "7 days"],
        )
        self.assertEqual(
            [b.action.value for b in buttons],
            [
                *("", "live:60+0", "live:180+2", "live:300+3", "live:600+5", "live:900+10"),
                *("corr:1", "corr:3", "corr:7"),
            ],
        )
        self.assertEqual([c for c, _ in TIME_CONTROL_CHOICES], [b.action.value for b in buttons])
        self.assertIn("Clock:", scene.texts())

    def test_the_chosen_control_is_highlighted(self) -> None:
        for chosen in ("", "live:300+3", "corr:7"):
            buttons = choices(lobby_with(time_control=chosen))
            selected = [b.action.value for b in buttons if b.colour == colour.CHOICE_SELECTED]
            self.assertEqual(selected, [chosen])
            others = {b.colour for b in buttons if b.action.value != chosen}
            self.assertEqual(others, {colour.BUTTON})

    def test_a_click_chooses(self) -> None:
        scene = lobby_with()
        for button in choices(scene):
            x, y = button.rect.centre
            self.assertEqual(scene.hit(x, y), Action("time-control", button.action.value))

    def test_the_row_fits_between_the_new_buttons_and_the_lists(self) -> None:
        for width, height in ((WIDTH, HEIGHT), (600, 440), (1600, 1200)):
            replicas = lobby_replicas(dict.fromkeys((1, 2, 3), (True, True, "x")))
            scene = lobby_scene(LobbyState("alice"), replicas, width, height)
            buttons = choices(scene)
            _, areas = lobby_layout(width, height)
            create = scene.button("create", "connect4").rect
            for left, right in itertools.pairwise(buttons):
                self.assertLess(left.rect.right, right.rect.x)
            for button in buttons:
                self.assertLessEqual(button.rect.right, width)
                self.assertLess(button.rect.top, create.y)
                self.assertGreater(button.rect.y, areas[0].top)


class LobbyControlTests(SynchronousTestCase):
    def test_each_listed_game_shows_its_control(self) -> None:
        scene = lobby_with(
            open_games=(
                ListedEntry("a" * 32, "reversi", "open", ("bob", None), clock="live:300+3"),
                ListedEntry("b" * 32, "checkers", "open", ("carol", None)),
            ),
            active_games=(
                ListedEntry("c" * 32, "connect4", "active", ("bob", "carol"), clock="corr:3"),
            ),
            own=(
                OwnSeat("c" * 32, "connect4", 1, "al", "active", "corr:3"),
                OwnSeat("d" * 32, "connect4", 1, "alice"),
            ),
        )
        texts = scene.texts()
        self.assertEqual(texts.count("5+3"), 2)  # the game, and its time-control button
        self.assertEqual(texts.count("untimed"), 2)
        self.assertEqual(texts.count("3 days per move"), 2)  # listed, and the own seat
        # The titles and details read as before.
        for expected in (
            "Reversi \u00b7 aaaaaaaa",
            "by bob",
            "bob vs carol",
            "Connect Four \u00b7 cccccccc",
        ):
            self.assertIn(expected, texts)

    def test_control_names(self) -> None:
        self.assertEqual(control_name(None), "untimed")
        self.assertEqual(control_name(""), "untimed")
        self.assertEqual(control_name("live:900+10"), "15+10")
        self.assertEqual(control_name("corr:1"), "1 day per move")
        self.assertEqual(control_name("corr:7"), "7 days per move")
