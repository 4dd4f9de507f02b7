"""The engine's own move generation is the rules' move generation.

Over thousands of positions from seeded random playouts, each game's fast
state gives exactly the rules' legal moves, in the rules' notation, and
playing any of them gives the state of the rules' next position.
"""

from __future__ import annotations

import random

from twisted.trial.unittest import SynchronousTestCase

from game.engine import checkers, connect4, reversi
from game.engine.search import WIN
from game.rules import Position, new_game

POSITIONS = 3000


def playout_positions(kind: str, count: int, seed: int) -> list[Position]:
    """``count`` positions reached by random play (whole games, ends included)."""
    rng = random.Random(f"{kind}-{seed}")
    found: list[Position] = []
    while len(found) < count:
        position = new_game(kind)
        found.append(position)
        while position.outcome() is None and len(found) < count:
            position = position.play(rng.choice(position.legal_moves()))
            found.append(position)
    return found


class Connect4MovesTests(SynchronousTestCase):
    def test_moves_and_successors_match_the_rules(self) -> None:
        tree = connect4.Connect4Tree()
        rng = random.Random(3)
        for position in playout_positions("connect4", POSITIONS, 1):
            state = connect4.from_position(position)
            decided, _ = tree.expand(state)
            outcome = position.outcome()
            if outcome is not None:
                self.assertEqual(decided, -WIN if outcome.winner is not None else 0)
                continue
            columns = connect4.legal_columns(state)
            texts = sorted(connect4.move_text(c) for c in columns)
            self.assertEqual(texts, position.legal_moves(), position)
            column = rng.choice(columns)
            after = position.play(connect4.move_text(column))
            self.assertEqual(connect4.play(state, column), connect4.from_position(after))


class ReversiMovesTests(SynchronousTestCase):
    def test_moves_and_successors_match_the_rules(self) -> None:
        rng = random.Random(3)
        for position in playout_positions("reversi", POSITIONS, 1):
            state = reversi.from_position(position)
            squares = reversi.legal_squares(state)
            texts = sorted(reversi.move_text(s) for s in squares)
            self.assertEqual(texts, position.legal_moves(), position)
            if squares:
                square = rng.choice(squares)
                after = position.play(reversi.move_text(square))
                self.assertEqual(reversi.play(state, square), reversi.from_position(after))

    def test_the_end_scores_the_discs(self) -> None:
        tree = reversi.ReversiTree()
        ends = [p for p in playout_positions("reversi", POSITIONS, 2) if p.outcome()]
        self.assertTrue(ends)
        for position in ends:
            decided, moves = tree.expand(reversi.from_position(position))
            outcome = position.outcome()
            assert outcome is not None and decided is not None
            self.assertEqual(moves, [])
            if outcome.winner is None:
                self.assertEqual(decided, 0)
            else:
                self.assertEqual(decided > 0, outcome.winner == position.to_move)


class CheckersMovesTests(SynchronousTestCase):
    def test_moves_and_successors_match_the_rules(self) -> None:
        kings_seen = jumps_seen = 0
        for position in playout_positions("checkers", POSITIONS, 1):
            state = checkers.from_position(position)
            moves = checkers.generate(state)
            if position.outcome() is not None and moves:
                self.assertGreaterEqual(state[4], 80)  # drawn by no progress
                continue
            texts = sorted(checkers.move_text(m) for m in moves)
            self.assertEqual(texts, position.legal_moves(), position)
            self.assertEqual(len(set(texts)), len(texts))
            kings_seen += bool(state[2])
            for move in moves:
                jumps_seen += move[0].count("x") > 1
                after = position.play(checkers.move_text(move))
                self.assertEqual(checkers.play(state, move), checkers.from_position(after))
        # The sample holds kings and multi-jumps, so they were compared too.
        self.assertGreater(kings_seen, 100)
        self.assertGreater(jumps_seen, 10)
