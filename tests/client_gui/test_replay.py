"""The game screen's replay and "Save record", through the controller over a
fake client: steps by buttons and keys, a read-only earlier position, a
watched game going on, and the record's file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from game.client.client import NoAnswer
from game.client.replay import Replay
from game.client_gui import palette as colour
from game.client_gui.replay_view import move_list
from game.client_gui.saving import default_path, target
from game.client_gui.scene import Action, Scene
from game.records import export
from tests.client.test_replay import CONNECT4_WIN
from tests.client_gui.helpers import HEIGHT, WIDTH, document, text, timed, typed
from tests.client_gui.test_controller import ControllerTestCase


def refuse_to_write(path: Path, *args: object, **kwargs: object) -> int:
    raise PermissionError(13, "Permission denied", str(path))


def highlighted_rows(scene: Scene) -> list[str]:
    """The move list rows drawn over a highlight box."""
    boxes = [box.rect for box in scene.base.boxes if box.colour == colour.MOVE_HIGHLIGHT]
    return [
        label.text
        for label in scene.base.labels
        if any(rect.contains(label.x, label.y) for rect in boxes)
    ]


class ReplayStepTests(ControllerTestCase):
    def scene(self) -> Scene:
        return self.controller.scene(WIDTH, HEIGHT)

    def test_a_finished_game_by_buttons_and_keys(self) -> None:
        self.open(document("connect4", CONNECT4_WIN), seat=None)
        scene = self.scene()
        self.assertEqual(scene.cell("c1r1").piece, colour.SEAT_COLOURS[0])
        self.assertEqual(highlighted_rows(scene), ["4. 1"])
        self.assertIn("Move 7 of 7", scene.texts())
        self.assertFalse(scene.button("replay", "forward").enabled)
        self.controller.perform(scene.button("replay", "back").action)
        scene = self.scene()
        self.assertEqual(scene.cell("c1r1").piece, colour.C4_HOLE)
        self.assertEqual(scene.cell("c2r2").background, colour.C4_LAST)
        self.assertEqual(highlighted_rows(scene), ["3. 2  [2]"])
        self.assertIn("Viewing move 6 of 7  \u2014  End returns to the end", scene.texts())
        self.assertIn(colour.BANNER_REPLAY, [box.colour for box in scene.base.boxes])
        self.assertEqual(scene.button("replay", "last").text, ">|")
        self.assertIn("To the last move (End)", scene.texts())
        self.controller.key("home")
        scene = self.scene()
        self.assertEqual([c.key for c in scene.cells if c.piece != colour.C4_HOLE], [])
        self.assertEqual(highlighted_rows(scene), [])
        self.assertIn("Viewing the start (7 moves)  \u2014  End returns to the end", scene.texts())
        self.assertFalse(scene.button("replay", "back").enabled)
        self.controller.key("right")
        self.assertEqual(highlighted_rows(self.scene()), ["1. [4]  4"])
        self.controller.key("left")
        self.controller.key("left")  # nothing before the start
        self.controller.key("end")
        scene = self.scene()
        self.assertEqual(scene.cell("c1r1").piece, colour.SEAT_COLOURS[0])
        self.assertEqual(highlighted_rows(scene), ["4. 1"])
        self.assertEqual(self.client.calls, [])

    def test_a_watched_game_follows_live_and_stays_put_when_stepped_back(self) -> None:
        self.open(document("connect4", ("4", "4")), seat=None)
        self.assertIn("Live \u00b7 move 2", self.scene().texts())
        self.offer(document("connect4", ("4", "4", "3")))
        self.clock.advance(1)  # the disc has landed
        self.assertEqual(self.scene().cell("c3r1").piece, colour.SEAT_COLOURS[0])
        self.controller.key("left")
        self.controller.key("left")
        self.offer(document("connect4", ("4", "4", "3", "3")))
        scene = self.scene()
        self.assertIn("Viewing move 1 of 4  \u2014  End returns to the live game", scene.texts())
        self.assertEqual(scene.cell("c4r2").piece, colour.C4_HOLE)
        self.assertFalse(scene.animating)  # no disc falls on an earlier position
        self.assertEqual(highlighted_rows(scene), ["1. [4]  4"])
        self.controller.perform(scene.button("replay", "last").action)
        scene = self.scene()
        self.assertEqual(scene.cell("c3r2").piece, colour.SEAT_COLOURS[1])
        self.offer(document("connect4", ("4", "4", "3", "3", "5")))
        self.assertIn("Live \u00b7 move 5", self.scene().texts())

    def test_own_game_past_position_is_read_only(self) -> None:
        self.open(document("connect4", ("4", "4")), seat=0)
        self.controller.key("left")
        scene = self.scene()
        self.assertIn("Back to live (End)", scene.texts())
        self.assertEqual({c.mark for c in scene.cells}, {None})
        self.click_move("3")
        self.controller.key("5")
        self.assertEqual(self.client.calls, [])
        game = self.controller.game
        assert game is not None
        self.assertEqual(
            game.notice,
            "Viewing move 1 of 2: this board is read-only. Press End to return to the live game.",
        )
        self.assertEqual(self.scene().cell("c3r1").piece, colour.C4_HOLE)
        self.controller.perform(Action("replay", "last"))
        self.assertEqual(self.controller.game.notice, "")  # type: ignore[union-attr]
        self.click_move("3")
        arguments, _ = self.client.pop("make_move")
        self.assertEqual((arguments["move"], arguments["version"]), ("3", 4))

    def test_reversi_and_checkers_earlier_positions(self) -> None:
        self.open(document("reversi", ("d3", "c5", "f6")), seat=1)
        self.controller.perform(Action("replay", "first"))
        scene = self.scene()
        self.assertIn("Discs: black 2, white 2", scene.texts())
        self.assertIsNone(scene.cell("d3").piece)
        self.open(document("checkers", ("11-15", "23-19")), seat=0)
        self.controller.perform(Action("replay", "back"))
        scene = self.scene()
        self.assertEqual(scene.cell("15").piece, colour.SEAT_COLOURS[0])
        self.assertIsNone(scene.cell("19").piece)
        self.assertEqual(scene.cell("23").piece, colour.SEAT_COLOURS[1])

    def test_long_move_list_keeps_the_row_shown(self) -> None:
        moves = ("11-15", "23-19", "8-11", "22-17", "9-13", "17-14", "10x17", "21x14")
        doc = typed(document("checkers", moves))
        replay = Replay.of(doc).go(1)
        part = move_list(replay, 10, 80, 200, 0)  # room for 3 of the 4 rows
        texts = [label.text for label in part.labels]
        self.assertIn("1. [11-15]  23-19", texts)
        self.assertEqual(texts[-1], "\u2026")
        self.assertEqual(len(part.boxes), 1)
        live = [label.text for label in move_list(Replay.of(doc), 10, 80, 200, 0).labels]
        self.assertEqual(live[1], "\u2026")
        self.assertEqual(live[-1], "4. 10x17  21x14")


class SaveRecordTests(ControllerTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.doc = document("checkers", ("11-15", "23-19"), game_id="a" * 32)
        self.open(self.doc, seat=0)

    def ask(self) -> None:
        self.controller.perform(self.controller.scene(WIDTH, HEIGHT).button("save-record").action)

    def test_the_prompt_prefills_a_path_under_home(self) -> None:
        self.ask()
        game = self.controller.game
        assert game is not None
        self.assertEqual(game.saving, f"~/replgame-records/{'a' * 32}.pdn")
        scene = self.controller.scene(WIDTH, HEIGHT)
        assert scene.overlay is not None
        self.assertIn("Save (Enter)", scene.texts())
        self.assertIn("In PDN 3.0, to this file (the folder is created):", scene.texts())
        self.assertEqual(default_path(typed(document("reversi"))), "~/replgame-records/g1.ggf")
        self.assertEqual(default_path(typed(document("connect4"))), "~/replgame-records/g1.txt")
        self.assertEqual(target("records/x.pdn"), Path.home() / "records/x.pdn")

    def test_typed_path_and_enter_write_the_record(self) -> None:
        self.ask()
        folder = Path(self.mktemp()).absolute() / "new" / "folder"
        self.controller.key("backspace")  # the digits typed go to the path, not the board
        for _ in range(200):
            self.controller.key("backspace")
        self.controller.text(str(folder / "game.pd"))
        self.controller.key("4")
        self.controller.text("n\r")
        self.controller.key("left")
        self.assertEqual(self.controller.game.saving, str(folder / "game.pdn"))  # type: ignore[union-attr]
        self.controller.key("enter")
        written = folder / "game.pdn"
        self.assertEqual(written.read_text("utf-8"), export(text(self.doc)))
        game = self.controller.game
        assert game is not None
        self.assertIsNone(game.saving)
        self.assertEqual((game.notice, game.notice_error), (f"Record saved to {written}", False))
        self.assertIsNone(self.controller.scene(WIDTH, HEIGHT).overlay)
        self.assertEqual(self.client.calls, [])

    def test_escape_cancels(self) -> None:
        self.ask()
        self.controller.key("escape")
        game = self.controller.game
        assert game is not None
        self.assertIsNone(game.saving)
        self.controller.perform(Action("save-record"))
        self.controller.perform(Action("save-cancel"))
        self.assertIsNotNone(self.controller.game)  # Esc closed the prompt, not the game

    def test_a_folder_without_permission(self) -> None:
        locked = Path(self.mktemp()).absolute()
        locked.mkdir()
        locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
        self.addCleanup(locked.chmod, stat.S_IRWXU)
        if os.access(locked, os.W_OK):  # root writes anyway: refuse as the system would
            self.patch(Path, "write_text", refuse_to_write)
        self.ask()
        for _ in range(300):
            self.controller.key("backspace")
        self.controller.text(str(locked / "game.pdn"))
        self.controller.perform(Action("save-write"))
        game = self.controller.game
        assert game is not None
        self.assertEqual(game.saving, str(locked / "game.pdn"))
        self.assertTrue(game.notice_error)
        self.assertEqual(
            game.notice,
            f"Cannot write {locked / 'game.pdn'}: permission denied. Type a path in a folder "
            "you may write to (e.g. ~/replgame-records/...) and press Enter.",
        )
        self.assertIn(game.notice, self.controller.scene(WIDTH, HEIGHT).texts())

    def test_write_failures_keep_the_prompt_and_say_what_to_do(self) -> None:
        self.ask()
        blocker = Path(self.mktemp()).absolute()
        blocker.write_text("a file, not a folder")
        game = self.controller.game
        assert game is not None
        for typed_path, expected in [
            ("   ", "Type the file to save the record to, then press Enter."),
            (str(blocker.parent), "is a folder: add a file name and press Enter."),
            (str(blocker / "x.pdn"), "Type another path and press Enter."),
        ]:
            for _ in range(300):
                self.controller.key("backspace")
            self.controller.text(typed_path)
            self.controller.key("enter")
            game = self.controller.game
            assert game is not None
            self.assertEqual(game.saving, typed_path)
            self.assertTrue(game.notice_error)
            self.assertIn(expected, game.notice)


class SaveTimedRecordTests(ControllerTestCase):
    """A timed game's record carries its clocks after each move, asked of the
    servers when Enter is pressed; without them it is written as before."""

    def setUp(self) -> None:
        super().setUp()
        self.doc = timed(
            document("checkers", ("11-15", "23-19"), game_id="t" * 32),
            "live:300+5",
            (303_000, 302_000),
        )
        self.open(self.doc, seat=0)
        self.path = Path(self.mktemp()).absolute() / "timed.pdn"
        self.controller.perform(Action("save-record"))
        for _ in range(200):
            self.controller.key("backspace")
        self.controller.text(str(self.path))
        self.controller.key("enter")

    def test_written_with_the_clocks_after_each_move(self) -> None:
        arguments, answer = self.client.pop("move_clocks")
        self.assertEqual(arguments, {"game_id": "t" * 32})
        self.assertFalse(self.path.exists())  # written once the servers answered
        answer.callback((303_000, 302_000, 301_000))  # a third move came meanwhile
        self.assertEqual(
            self.path.read_text("utf-8"), export(text(self.doc), clocks=[303_000, 302_000])
        )
        game = self.controller.game
        assert game is not None
        self.assertEqual((game.notice, game.saving), (f"Record saved to {self.path}", None))

    def test_servers_that_do_not_give_them(self) -> None:
        _, answer = self.client.pop("move_clocks")
        answer.errback(NoAnswer("no server answered MoveClocks (server 1: UNHANDLED)"))
        self.assertEqual(self.path.read_text("utf-8"), export(text(self.doc)))
        game = self.controller.game
        assert game is not None
        self.assertEqual(
            game.notice,
            f"Record saved to {self.path} (clocks as the game stands: none per move from the "
            "servers)",
        )
        self.assertFalse(game.notice_error)

    def test_the_prompt_closed_meanwhile(self) -> None:
        self.controller.key("escape")
        _, answer = self.client.pop("move_clocks")
        answer.callback((303_000, 302_000))
        self.assertFalse(self.path.exists())
