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
from game.rules.base import EQUAL_DISCS, MORE_DISCS
from game.rules.reversi import SQUARES, Reversi

START = "---------------------------OX------XO--------------------------- X"
DIRECTIONS = [(df, dr) for df in (-1, 0, 1) for dr in (-1, 0, 1) if (df, dr) != (0, 0)]


def reference_flips(board: str, letter: str, square: int) -> list[int]:
    """Square by square, straight from the rules: the discs a move on
    ``square`` turns over (``board`` is the 64-character part of the text)."""
    if board[square] != "-":
        return []
    other = "O" if letter == "X" else "X"
    flips: list[int] = []
    for df, dr in DIRECTIONS:
        file, rank = square % 8 + df, square // 8 + dr
        line: list[int] = []
        while 0 <= file < 8 and 0 <= rank < 8 and board[rank * 8 + file] == other:
            line.append(rank * 8 + file)
            file, rank = file + df, rank + dr
        if line and 0 <= file < 8 and 0 <= rank < 8 and board[rank * 8 + file] == letter:
            flips.extend(line)
    return sorted(flips)


def reference_placements(board: str, letter: str) -> list[str]:
    return sorted(SQUARES[i] for i in range(64) if reference_flips(board, letter, i))


def reversi(text: str) -> Reversi:
    position = from_text("reversi", text)
    assert isinstance(position, Reversi)
    return position


class PerftTests(SynchronousTestCase):
    def test_perft_from_start(self) -> None:
        start = new_game("reversi")
        self.assertEqual(
            [perft(start, depth) for depth in range(1, 8)],
            [4, 12, 56, 244, 1396, 8200, 55092],
        )

    def test_perft_depth_8(self) -> None:
        self.assertEqual(perft(new_game("reversi"), 8), 390216)


class NotationTests(SynchronousTestCase):
    def test_start(self) -> None:
        start = new_game("reversi")
        self.assertEqual(start.to_text(), START)
        self.assertEqual(start.to_move, 0)
        self.assertEqual(start.legal_moves(), ["c4", "d3", "e6", "f5"])
        self.assertEqual(reversi(START), start)

    def test_errors(self) -> None:
        start = new_game("reversi")
        for illegal in ("pass", "a1", "d4", "e4", "c3", "h8"):
            self.assertRaises(IllegalMove, start.play, illegal)
        for invalid in (
            "",
            "a0",
            "a9",
            "i1",
            "A1",
            "C4",
            "c4 ",
            " c4",
            "4c",
            "c",
            "PASS",
            "Pass",
            "c44",
            "a10",
            "\uff43\uff14",
        ):
            self.assertRaises(InvalidMove, start.play, invalid)
        over = reversi("XX-O----" + "-" * 56 + " O")
        for move in ("c1", "pass", "zz"):
            self.assertRaises(GameOver, over.play, move)

    def test_from_text_rejects_non_strings(self) -> None:
        for value in (None, 7, b"-" * 64 + b" X", ["X"] * 66):
            self.assertRaises(InvalidPosition, Reversi.from_text, value)  # type: ignore[arg-type]

    def test_every_square_name_is_notation(self) -> None:
        self.assertEqual(len(set(SQUARES)), 64)
        start = new_game("reversi")
        for name in SQUARES:
            if name not in ("c4", "d3", "e6", "f5"):
                self.assertRaises(IllegalMove, start.play, name)


class RulesTests(SynchronousTestCase):
    def test_matches_square_by_square_reference_on_playouts(self) -> None:
        rng = random.Random(20260)
        for _ in range(40):
            position = new_game("reversi")
            while True:
                assert isinstance(position, Reversi)
                text = position.to_text()
                board, letter = text[:64], text[65]
                own = reference_placements(board, letter)
                theirs = reference_placements(board, "O" if letter == "X" else "X")
                if own:
                    self.assertEqual(position.legal_moves(), own)
                elif theirs:
                    self.assertEqual(position.legal_moves(), ["pass"])
                else:
                    black, white = board.count("X"), board.count("O")
                    winner = None if black == white else (0 if black > white else 1)
                    reason = EQUAL_DISCS if winner is None else MORE_DISCS
                    self.assertEqual(position.outcome(), Outcome(winner, reason))
                    self.assertEqual(position.legal_moves(), [])
                    break
                self.assertIsNone(position.outcome())
                move = rng.choice(position.legal_moves())
                after = position.play(move)
                self.assertEqual(after.to_move, 1 - position.to_move)
                if move == "pass":
                    self.assertEqual(after.to_text()[:64], board)
                    self.assertEqual(position.flips(move), [])
                    position = after
                    continue
                square = SQUARES.index(move)
                turned = reference_flips(board, letter, square)
                self.assertEqual(position.flips(move), [SQUARES[i] for i in turned])
                expected = list(board)
                for index in [*turned, square]:
                    expected[index] = letter
                self.assertEqual(after.to_text()[:64], "".join(expected))
                position = after

    def test_game_over_names_the_opponent_of_the_last_mover(self) -> None:
        # O plays c1, taking X's only disc: X would move next.
        before = reversi("OX" + "-" * 62 + " O")
        after = before.play("c1")
        self.assertEqual(after.outcome(), Outcome(1, MORE_DISCS))
        self.assertEqual(after.to_move, 0)
        self.assertTrue(after.to_text().endswith(" X"))

    def test_pass_keeps_the_board_and_hands_over(self) -> None:
        position = reversi("OX" + "-" * 62 + " X")
        self.assertEqual(position.legal_moves(), ["pass"])
        self.assertRaises(IllegalMove, position.play, "c1")
        after = position.play("pass")
        self.assertEqual(after.to_text(), "OX" + "-" * 62 + " O")
        self.assertEqual(after.legal_moves(), ["c1"])
        self.assertRaises(IllegalMove, after.play, "pass")

    def test_equality_ignores_ply_but_not_side(self) -> None:
        played = new_game("reversi").play("d3").play("c5")
        read = reversi(played.to_text())
        self.assertEqual((played.ply, read.ply), (2, 0))
        self.assertEqual(read, played)
        self.assertEqual(hash(read), hash(played))
        other_side = reversi(played.to_text()[:-1] + "O")
        self.assertNotEqual(other_side, played)


class HelperTests(SynchronousTestCase):
    def test_disc_at_and_counts(self) -> None:
        start = reversi(START)
        self.assertEqual(
            [start.disc_at(n) for n in ("d4", "e4", "d5", "e5", "a1")], [1, 0, 0, 1, None]
        )
        self.assertEqual([start.disc_at(i) for i in (27, 28, 35, 36, 63)], [1, 0, 0, 1, None])
        self.assertEqual(start.counts(), (2, 2))
        for bad in ("i9", "", "pass", -1, 64):
            self.assertRaises(ValueError, start.disc_at, bad)
        after = start.play("d3")
        assert isinstance(after, Reversi)
        self.assertEqual(after.counts(), (4, 1))
        self.assertEqual(after.disc_at("d4"), 0)

    def test_flips(self) -> None:
        start = reversi(START)
        self.assertEqual(start.flips("d3"), ["d4"])
        self.assertEqual(start.flips("f5"), ["e5"])
        self.assertRaises(IllegalMove, start.flips, "a1")
        self.assertRaises(InvalidMove, start.flips, "z1")
        # Three lines at once, from the corner.
        corner = reversi("-OX-----" + "OO------" + "X-O-----" + "---X----" + "-" * 32 + " X")
        self.assertEqual(corner.flips("a1"), ["b1", "a2", "b2", "c3"])
