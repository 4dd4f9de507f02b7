"""Boards of every kind: layout from each side, hints, and what clicks mean."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from game.client_gui import palette as colour
from game.client_gui.boards import (
    Intent,
    board,
    checkers_path,
    click_board,
    flipped,
    keyboard_column,
    reversi_flips,
)
from game.client_gui.replicas import Shown, game_replicas
from game.client_gui.scene import Action, Rect
from game.client_gui.viewmodel import GameState, clicks_for_move, game_scene
from tests.client_gui.helpers import (
    CHECKERS_DOUBLE_JUMP_AND_CROWN,
    HEIGHT,
    REVERSI_BLACK_PASSES,
    WIDTH,
    document,
    text,
    typed,
)

AREA = Rect(0, 0, 800, 600)


def cells(doc, seat, selection=()):
    return {cell.key: cell for cell in board(typed(doc), seat, AREA, selection).cells}


def hit(doc, seat, key_x, key_y, selection=()):
    drawn = board(typed(doc), seat, AREA, selection)
    for hotspot in drawn.hotspots:
        if hotspot.rect.contains(key_x, key_y):
            return hotspot.action
    return None


class Connect4Tests(SynchronousTestCase):
    def test_layout_is_the_same_from_both_sides(self) -> None:
        doc = document("connect4", ["4", "4", "3"])
        self.assertEqual(cells(doc, 0), cells(doc, 1))
        self.assertEqual(cells(doc, None), cells(doc, 0))
        self.assertFalse(flipped("connect4", 0) or flipped("connect4", 1))

    def test_columns_left_to_right_rows_bottom_up(self) -> None:
        drawn = cells(document("connect4"), 0)
        self.assertLess(drawn["c1r1"].rect.x, drawn["c7r1"].rect.x)
        self.assertLess(drawn["c1r1"].rect.y, drawn["c1r6"].rect.y)
        self.assertEqual(len(drawn), 42)

    def test_discs_and_last_move(self) -> None:
        drawn = cells(document("connect4", ["4", "4", "3"]), 0)
        self.assertEqual(drawn["c4r1"].piece, colour.SEAT_COLOURS[0])
        self.assertEqual(drawn["c4r2"].piece, colour.SEAT_COLOURS[1])
        self.assertEqual(drawn["c3r1"].piece, colour.SEAT_COLOURS[0])
        self.assertEqual(drawn["c3r1"].background, colour.C4_LAST)
        self.assertEqual(drawn["c4r2"].background, colour.C4_BOARD)
        self.assertEqual(drawn["c5r1"].piece, colour.C4_HOLE)
        self.assertEqual(drawn["c5r1"].centre_colour, colour.C4_HOLE)

    def test_a_click_anywhere_in_a_column_drops_there(self) -> None:
        doc = document("connect4", ["4"])
        drawn = cells(doc, 1)
        for key in ("c2r1", "c2r6"):
            x, y = drawn[key].rect.centre
            self.assertEqual(hit(doc, 1, x, y), Action("column", "2"))
            self.assertEqual(
                click_board(typed(doc), 1, (), Action("column", "2")), Intent(move="2")
            )

    def test_not_your_turn_full_column_watcher(self) -> None:
        doc = document("connect4", ["4"])
        self.assertIsNone(click_board(typed(doc), 0, (), Action("column", "2")).move)
        self.assertIn("not your move", click_board(typed(doc), 0, (), Action("column", "2")).notice)
        self.assertIn("watching", click_board(typed(doc), None, (), Action("column", "2")).notice)
        full = document("connect4", ["1"] * 6)
        self.assertEqual(
            click_board(typed(full), 0, (), Action("column", "1")),
            Intent(notice="Column 1 is full."),
        )

    def test_digit_keys(self) -> None:
        doc = document("connect4")
        self.assertEqual(keyboard_column(typed(doc), 0, 7), Intent(move="7"))
        self.assertEqual(keyboard_column(typed(doc), 0, 8), Intent())
        self.assertIsNone(keyboard_column(typed(document("reversi")), 0, 3).move)

    def test_falling_disc(self) -> None:
        doc = document("connect4", ["4"])
        falling = board(typed(doc), 0, AREA, drop=0.5)
        landed = board(typed(doc), 0, AREA, drop=None)
        cell = {c.key: c for c in falling.cells}["c4r1"]
        self.assertEqual(cell.piece, colour.C4_HOLE)
        self.assertEqual(len(falling.discs), 1)
        self.assertGreater(falling.discs[0].y, cell.rect.centre[1])
        self.assertEqual(landed.discs, ())


class ReversiTests(SynchronousTestCase):
    def test_black_sees_a1_top_left(self) -> None:
        drawn = cells(document("reversi"), 0)
        self.assertLess(drawn["a1"].rect.x, drawn["h1"].rect.x)
        self.assertGreater(drawn["a1"].rect.y, drawn["a8"].rect.y)

    def test_white_sees_the_board_turned(self) -> None:
        black, white = cells(document("reversi"), 0), cells(document("reversi"), 1)
        self.assertEqual(white["a1"].rect, black["h8"].rect)
        self.assertEqual(white["h8"].rect, black["a1"].rect)
        self.assertEqual(white["d4"].rect, black["e5"].rect)
        self.assertEqual(cells(document("reversi"), None)["a1"].rect, black["a1"].rect)

    def test_start_discs(self) -> None:
        drawn = cells(document("reversi"), 0)
        self.assertEqual(drawn["d4"].piece, colour.SEAT_COLOURS[1])
        self.assertEqual(drawn["e4"].piece, colour.SEAT_COLOURS[0])
        self.assertIsNone(drawn["a1"].piece)

    def test_legal_squares_hinted_for_the_player_to_move_only(self) -> None:
        doc = document("reversi")
        hinted = {key for key, cell in cells(doc, 0).items() if cell.mark == colour.RV_HINT}
        self.assertEqual(hinted, {"c4", "d3", "e6", "f5"})
        self.assertEqual(cells(doc, 0)["d3"].centre_colour, colour.RV_HINT)
        for seat in (1, None):
            self.assertFalse(any(cell.mark for cell in cells(doc, seat).values()))

    def test_last_move_and_flips_shown(self) -> None:
        doc = document("reversi", ["d3"])
        self.assertEqual(reversi_flips(typed(doc)), ("d3", ["d4"]))
        drawn = cells(doc, 1)
        self.assertEqual(drawn["d3"].background, colour.RV_LAST)
        self.assertEqual(drawn["d4"].background, colour.RV_FLIPPED)
        self.assertEqual(drawn["d4"].piece, colour.SEAT_COLOURS[0])
        self.assertEqual(drawn["e5"].background, colour.RV_BOARD)

    def test_clicks(self) -> None:
        doc = document("reversi")
        x, y = cells(doc, 1)["d3"].rect.centre
        self.assertEqual(hit(doc, 1, x, y), Action("square", "d3"))
        self.assertEqual(click_board(typed(doc), 0, (), Action("square", "d3")), Intent(move="d3"))
        refused = click_board(typed(doc), 0, (), Action("square", "a1"))
        self.assertIsNone(refused.move)
        self.assertIn("a1", refused.notice)

    def test_pass_is_the_move_when_it_is_the_only_one(self) -> None:
        doc = document("reversi", REVERSI_BLACK_PASSES)
        self.assertEqual(doc["legal"], ["pass"])
        self.assertEqual(
            click_board(typed(doc), 0, (), Action("square", "h8")), Intent(move="pass")
        )
        self.assertFalse(any(cell.mark for cell in cells(doc, 0).values()))


class CheckersTests(SynchronousTestCase):
    def test_each_player_sees_their_men_at_the_bottom(self) -> None:
        doc = document("checkers")
        for seat in (0, 1):
            drawn = cells(doc, seat)
            own = [c for c in drawn.values() if c.piece == colour.SEAT_COLOURS[seat]]
            other = [c for c in drawn.values() if c.piece == colour.SEAT_COLOURS[1 - seat]]
            self.assertEqual(len(own), 12)
            self.assertLess(max(c.rect.y for c in own), min(c.rect.y for c in other))
        self.assertTrue(flipped("checkers", 0))
        self.assertFalse(flipped("checkers", 1))

    def test_square_one_is_b8_as_written_for_white(self) -> None:
        white = cells(document("checkers"), 1)
        black = cells(document("checkers"), 0)
        top = max(c.rect.y for c in white.values())
        self.assertEqual(white["1"].rect.y, top)
        self.assertEqual(white["light-0-0"].rect.x, white["1"].rect.x - white["1"].rect.width)
        self.assertEqual(black["1"].rect, white["32"].rect)
        self.assertEqual(white["1"].label, "1")

    def test_dark_and_light_squares(self) -> None:
        drawn = cells(document("checkers"), 1)
        self.assertEqual(len(drawn), 64)
        self.assertEqual(drawn["light-0-0"].background, colour.CK_LIGHT)
        self.assertEqual(drawn["15"].background, colour.CK_DARK)
        self.assertIsNone(drawn["15"].piece)

    def test_step_by_two_clicks(self) -> None:
        doc = document("checkers")
        first = click_board(typed(doc), 0, (), Action("square", "11"))
        self.assertEqual(first, Intent(selection=(11,)))
        drawn = cells(doc, 0, first.selection)
        self.assertEqual(drawn["11"].background, colour.CK_SELECTED)
        self.assertEqual(drawn["15"].mark, colour.CK_HINT)
        self.assertEqual(drawn["16"].mark, colour.CK_HINT)
        self.assertIsNone(drawn["14"].mark)
        self.assertEqual(
            click_board(typed(doc), 0, (11,), Action("square", "15")), Intent(move="11-15")
        )

    def test_reselect_and_drop(self) -> None:
        doc = document("checkers")
        self.assertEqual(
            click_board(typed(doc), 0, (11,), Action("square", "10")), Intent(selection=(10,))
        )
        self.assertEqual(click_board(typed(doc), 0, (11,), Action("square", "11")), Intent())
        blocked = click_board(typed(doc), 0, (), Action("square", "1"))
        self.assertEqual(blocked.selection, ())
        self.assertIn("cannot move", blocked.notice)

    def test_multi_jump_by_three_clicks(self) -> None:
        doc = document("checkers", CHECKERS_DOUBLE_JUMP_AND_CROWN[:8])
        self.assertEqual(doc["legal"], ["12x19x28"])
        one = click_board(typed(doc), 0, (), Action("square", "12"))
        self.assertEqual(one, Intent(selection=(12,)))
        drawn = cells(doc, 0, one.selection)
        self.assertEqual(drawn["19"].mark, colour.CK_HINT)
        two = click_board(typed(doc), 0, one.selection, Action("square", "19"))
        self.assertEqual(two, Intent(selection=(12, 19)))
        drawn = cells(doc, 0, two.selection)
        self.assertEqual(drawn["19"].background, colour.CK_SELECTED)
        self.assertEqual(drawn["28"].mark, colour.CK_HINT)
        self.assertIsNone(drawn["19"].mark)
        three = click_board(typed(doc), 0, two.selection, Action("square", "28"))
        self.assertEqual(three, Intent(move="12x19x28"))

    def test_forced_capture_hinted_and_enforced(self) -> None:
        doc = document("checkers", CHECKERS_DOUBLE_JUMP_AND_CROWN[:2])
        self.assertEqual(doc["legal"], ["15x24"])
        drawn = cells(doc, 0)
        self.assertEqual(drawn["15"].background, colour.CK_CAPTURE)
        self.assertEqual(
            [key for key, cell in drawn.items() if cell.background == colour.CK_CAPTURE], ["15"]
        )
        refused = click_board(typed(doc), 0, (), Action("square", "9"))
        self.assertIsNone(refused.move)
        self.assertIn("capture is forced", refused.notice)
        # Not hinted to the other side, nor to a watcher.
        self.assertNotIn(colour.CK_CAPTURE, [c.background for c in cells(doc, 1).values()])

    def test_kings_marked(self) -> None:
        doc = document("checkers", CHECKERS_DOUBLE_JUMP_AND_CROWN)
        drawn = cells(doc, 0)
        self.assertEqual(drawn["32"].piece, colour.SEAT_COLOURS[0])
        self.assertEqual(drawn["32"].mark, colour.CK_KING)
        self.assertEqual(drawn["32"].centre_colour, colour.CK_KING)
        self.assertEqual(drawn["32"].background, colour.CK_LAST)
        self.assertEqual(drawn["28"].background, colour.CK_LAST)
        self.assertIsNone(drawn["28"].piece)

    def test_paths(self) -> None:
        self.assertEqual(checkers_path("11-15"), (11, 15))
        self.assertEqual(checkers_path("1x10x19"), (1, 10, 19))


class ClicksForMoveTests(SynchronousTestCase):
    """The points tests click at map back to the move, for every kind and side."""

    def test_round_trip(self) -> None:
        cases = [
            (document("connect4", ["4"]), 1, "6"),
            (document("reversi"), 0, "f5"),
            (document("checkers"), 0, "9-14"),
            (document("checkers", CHECKERS_DOUBLE_JUMP_AND_CROWN[:8]), 0, "12x19x28"),
        ]
        for doc, seat, move in cases:
            for who in (seat,):
                state = GameState("g1", who, "t" * 16, "p", Shown.of(text(doc), False, (1, 2, 3)))
                replicas = game_replicas({1: (True, True)}, {}, state.shown)
                scene = game_scene(state, replicas, WIDTH, HEIGHT)
                selection: tuple[int, ...] = ()
                intent = Intent()
                for x, y in clicks_for_move(scene, doc["kind"], move):
                    action = scene.hit(x, y)
                    assert action is not None
                    intent = click_board(typed(doc), who, selection, action)
                    selection = intent.selection
                self.assertEqual(intent.move, move)
