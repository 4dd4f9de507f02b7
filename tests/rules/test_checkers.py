"""English draughts: perft, notation, position text, and a slow reference."""

from __future__ import annotations

import random

from twisted.trial.unittest import SynchronousTestCase

from game.rules import (
    GameOver,
    IllegalMove,
    InvalidMove,
    InvalidPosition,
    Outcome,
    from_text,
    new_game,
    perft,
)
from game.rules.checkers import Checkers, square_cell

START = "B:W21,22,23,24,25,26,27,28,29,30,31,32:B1,2,3,4,5,6,7,8,9,10,11,12"


# -- an independent, slow reference of the rules ------------------------------
# Board: dict square -> (seat, king).  Coordinates come from the numbering
# written out again here, not from the engine's tables.


def _cell(square: int) -> tuple[int, int]:
    row = (square - 1) // 4
    column = 2 * ((square - 1) % 4) + (1 if row % 2 == 0 else 0)
    return row, column


_SQUARE_OF_CELL = {_cell(s): s for s in range(1, 33)}


def _reference_moves(board: dict[int, tuple[int, bool]], seat: int) -> set[str]:
    forward = 1 if seat == 0 else -1
    captures: set[str] = set()
    steps: set[str] = set()
    for start, (owner, king) in board.items():
        if owner != seat:
            continue
        directions = [(d, c) for d in (1, -1) for c in (1, -1) if king or d == forward]
        row, column = _cell(start)
        for d_row, d_column in directions:
            near = _SQUARE_OF_CELL.get((row + d_row, column + d_column))
            if near is not None and near not in board:
                steps.add(f"{start}-{near}")
        _reference_jumps(board, seat, king, directions, [start], frozenset(), captures)
    return captures or steps


def _reference_jumps(
    board: dict[int, tuple[int, bool]],
    seat: int,
    king: bool,
    directions: list[tuple[int, int]],
    path: list[int],
    taken: frozenset[int],
    captures: set[str],
) -> None:
    row, column = _cell(path[-1])
    went_on = False
    for d_row, d_column in directions:
        over = _SQUARE_OF_CELL.get((row + d_row, column + d_column))
        land = _SQUARE_OF_CELL.get((row + 2 * d_row, column + 2 * d_column))
        if over is None or land is None or over in taken:
            continue
        if board.get(over, (seat, False))[0] == seat:
            continue  # empty or our own
        if land in board and land != path[0]:
            continue  # taken pieces stay until the move ends; our start is empty
        went_on = True
        if not king and _cell(land)[0] == (7 if seat == 0 else 0):
            captures.add("x".join(map(str, [*path, land])))  # crowned: the move ends
        else:
            _reference_jumps(board, seat, king, directions, [*path, land], taken | {over}, captures)
    if not went_on and len(path) > 1:
        captures.add("x".join(map(str, path)))


def _board_of(position: Checkers) -> dict[int, tuple[int, bool]]:
    return {s: piece for s in range(1, 33) if (piece := position.piece_at(s)) is not None}


class PerftTests(SynchronousTestCase):
    def test_perft_from_start(self) -> None:
        start = new_game("checkers")
        counts = [perft(start, depth) for depth in range(1, 7)]
        self.assertEqual(counts, [7, 49, 302, 1469, 7361, 36768])


class StartTests(SynchronousTestCase):
    def test_start_text(self) -> None:
        self.assertEqual(new_game("checkers").to_text(), START)
        self.assertEqual(from_text("checkers", START), new_game("checkers"))

    def test_first_moves(self) -> None:
        self.assertEqual(
            new_game("checkers").legal_moves(),
            ["10-14", "10-15", "11-15", "11-16", "12-16", "9-13", "9-14"],
        )

    def test_start_pieces(self) -> None:
        start = Checkers.start()
        self.assertEqual(start.piece_at(1), (0, False))
        self.assertEqual(start.piece_at(12), (0, False))
        self.assertIsNone(start.piece_at(13))
        self.assertIsNone(start.piece_at(20))
        self.assertEqual(start.piece_at(21), (1, False))
        self.assertEqual(start.no_progress_plies, 0)
        self.assertRaises(ValueError, start.piece_at, 0)
        self.assertRaises(ValueError, start.piece_at, 33)

    def test_square_cells(self) -> None:
        # Square 1 is b8: column 1 of the top row; 5 is a7; 32 is g1.
        self.assertEqual(square_cell(1), (1, 0))
        self.assertEqual(square_cell(4), (7, 0))
        self.assertEqual(square_cell(5), (0, 1))
        self.assertEqual(square_cell(32), (6, 7))
        self.assertRaises(ValueError, square_cell, 33)


class NotationTests(SynchronousTestCase):
    def test_not_notation(self) -> None:
        start = new_game("checkers")
        for move in [
            "",
            "11",
            "11_15",
            "11 - 15",
            "0-4",
            "33-29",
            "011-15",
            "11-15-19",
            "11-15x19",
            "11x",
            "x11",
            "11xx18",
            "K11-15",
            "11\u201315",  # an en dash
            "\u0661\u0661-\u0661\u0665",  # Arabic-Indic digits
            "pass",
        ]:
            with self.subTest(move=move):
                self.assertRaises(InvalidMove, start.play, move)

    def test_illegal(self) -> None:
        start = new_game("checkers")
        for move in ["1-5", "11-14", "21-17", "9x18", "5-9", "32x1"]:
            with self.subTest(move=move):
                self.assertRaises(IllegalMove, start.play, move)

    def test_multi_jump_must_be_completed(self) -> None:
        position = from_text("checkers", "B:W6,14,15:B1")
        self.assertRaises(IllegalMove, position.play, "1x10")
        self.assertRaises(IllegalMove, position.play, "1-6")

    def test_game_over(self) -> None:
        over = from_text("checkers", "W:W:BK5,9")
        self.assertEqual(over.outcome(), Outcome(0, "no legal move"))
        self.assertRaises(GameOver, over.play, "5-1")
        self.assertRaises(GameOver, over.play, "nonsense")
        drawn = from_text("checkers", "B:WK30:BK5:N80")
        self.assertRaises(GameOver, drawn.play, "5-1")


class TextTests(SynchronousTestCase):
    def test_lenient_reading_normalises(self) -> None:
        for text, canonical in [
            ("B:B12,1,K5:W32,21", "B:W21,32:B1,K5,12"),
            ("W:BK9:W22,K14", "W:WK14,22:BK9"),
            ("B:W21:B1:N0", "B:W21:B1"),
            ("B:W21:B1:N07", "B:W21:B1:N7"),
            ("B:B:W", "B:W:B"),
        ]:
            with self.subTest(text=text):
                self.assertEqual(from_text("checkers", text).to_text(), canonical)

    def test_counter_is_part_of_the_position(self) -> None:
        self.assertNotEqual(
            from_text("checkers", "B:WK30:BK5:N3"), from_text("checkers", "B:WK30:BK5")
        )
        self.assertEqual(Checkers.from_text("B:WK30:BK5:N3").no_progress_plies, 3)

    def test_garbage_raises_only_invalid_position(self) -> None:
        rng = random.Random(7)
        alphabet = "BWKNx:,-0123456789 bwk\n\x00\u0661\u00e9"
        samples = [
            "",
            ":",
            "::",
            "B::",
            "B:W:B:N",
            "B:W:B:N:",
            "B:W:B:N1:N2",
            "B:W:B:N100",
            "B:W" + "9" * 5000 + ":B1",
            "B:W21:B1:N" + "9" * 5000,
            "B:W21:B1:N\u0661",
            "B:W21:B1:N+1",
            "B:W21:B1:N 1",
            "B:W21:B1,K",
            "B:WKK21:B1",
            "B:W21-24:B1",
            '[FEN "' + START + '"]',
        ]
        for _ in range(3000):
            base = list(START if rng.random() < 0.5 else "W:WK22:BK5,9:N3")
            for _ in range(rng.randint(1, 4)):
                where = rng.randrange(len(base) + 1)
                choice = rng.random()
                if choice < 0.4 and base:
                    del base[min(where, len(base) - 1)]
                elif choice < 0.8:
                    base.insert(where, rng.choice(alphabet))
                elif base:
                    base[min(where, len(base) - 1)] = rng.choice(alphabet)
            samples.append("".join(base))
        for text in samples:
            try:
                position = from_text("checkers", text)
            except InvalidPosition:
                continue
            # Whatever is accepted reads back to itself in canonical form.
            canonical = position.to_text()
            self.assertEqual(from_text("checkers", canonical), position)
            self.assertEqual(from_text("checkers", canonical).to_text(), canonical)


class PlayoutTests(SynchronousTestCase):
    def test_random_playouts_match_reference(self) -> None:
        """Legal moves equal the slow reference's; text round-trips; play
        leaves its input alone; the counter follows the rule."""
        rng = random.Random(2024)
        reasons: set[str] = set()
        for _ in range(60):
            position = new_game("checkers")
            while position.outcome() is None:
                text = position.to_text()
                again = from_text("checkers", text)
                self.assertEqual(again, position)
                self.assertEqual(hash(again), hash(position))
                assert isinstance(position, Checkers)
                board = _board_of(position)
                legal = position.legal_moves()
                self.assertEqual(set(legal), _reference_moves(board, position.to_move), text)
                move = rng.choice(legal)
                after = position.play(move)
                self.assertEqual(position.to_text(), text)
                self.assertEqual(after.ply, position.ply + 1)
                assert isinstance(after, Checkers)
                start = int(move.replace("x", "-").split("-")[0])
                reset = "x" in move or not board[start][1]
                expected = 0 if reset else position.no_progress_plies + 1
                self.assertEqual(after.no_progress_plies, expected)
                position = after
            outcome = position.outcome()
            assert outcome is not None
            reasons.add(outcome.reason)
            self.assertEqual(position.legal_moves(), [])
        self.assertIn("no legal move", reasons)
