from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from game.rules import GameOver, IllegalMove, InvalidMove, from_text, new_game, perft


class Connect4Tests(SynchronousTestCase):
    def test_perft_from_start(self) -> None:
        start = new_game("connect4")
        self.assertEqual([perft(start, d) for d in range(1, 6)], [7, 49, 343, 2401, 16807])

    def test_perft_depth_7(self) -> None:
        # No four is possible before ply 7, but a column holds only six discs:
        # the seven sequences that play one column seven times do not exist.
        self.assertEqual(perft(new_game("connect4"), 7), 7**7 - 7)

    def test_start(self) -> None:
        start = new_game("connect4")
        self.assertEqual(start.to_text(), "")
        self.assertEqual(start.to_move, 0)
        self.assertEqual(start.legal_moves(), ["1", "2", "3", "4", "5", "6", "7"])

    def test_errors(self) -> None:
        full = from_text("connect4", "111111")
        self.assertRaises(IllegalMove, full.play, "1")
        for bad in ("0", "8", "", "11", " 1", "a", "x"):
            self.assertRaises(InvalidMove, full.play, bad)
        won = from_text("connect4", "1212121")
        self.assertRaises(GameOver, won.play, "3")

    def test_to_move_and_ply(self) -> None:
        position = new_game("connect4").play("4").play("4").play("3")
        self.assertEqual(position.to_move, 1)
        self.assertEqual(position.ply, 3)
        self.assertEqual(position.to_text(), "443")
