"""What the computer player chooses: wins, blocks, captures, determinism, time."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from game.engine import HIGHEST, LOWEST, InvalidLevel, NoMove, choose_move
from game.engine.connect4 import from_position as connect4_state
from game.engine.connect4 import winning_cells
from game.rules import KINDS, GameOver, Position, from_text, new_game

ROOT = Path(__file__).resolve().parents[2]
LEVELS = range(LOWEST, HIGHEST + 1)
ABOVE_ONE = range(LOWEST + 1, HIGHEST + 1)
#: A budget that keeps the tests fast; every search here still finishes depth 1.
QUICK = 0.02


def random_positions(kind: str, count: int, seed: int) -> list[Position]:
    """Positions of random playouts with a choice of moves, spread over whole games."""
    rng = random.Random(f"{kind}-{seed}")
    found: list[Position] = []
    while len(found) < count:
        position = new_game(kind)
        while position.outcome() is None:
            if rng.random() < 0.1 and len(position.legal_moves()) > 1 and len(found) < count:
                found.append(position)
            position = position.play(rng.choice(position.legal_moves()))
    return found


def wins_at_once(position: Position, move: str) -> bool:
    outcome = position.play(move).outcome()
    return outcome is not None and outcome.winner == position.to_move


def win_in_one_positions(kind: str, count: int) -> list[Position]:
    """Positions with a move that wins at once and a move that does not."""
    rng = random.Random(f"win-{kind}")
    found: list[Position] = []
    while len(found) < count:
        position = new_game(kind)
        while position.outcome() is None:
            moves = position.legal_moves()
            winning = [m for m in moves if wins_at_once(position, m)]
            if winning and len(winning) < len(moves):
                found.append(position)
                break
            position = position.play(rng.choice(moves))
    return found


REVERSI_LAST_EMPTIES = (
    "OOOOOOOXOOOOX-XXOOOO-XXXOOOOOXXXOOOOOXXXOOXOXXXXOOOXOXXOOOOOOXXO O",
    "--XXOOOOXXXXXOOOXXOOXXOOXXXOOOOOXOXXOXOOXOOXOOOOXOOOOOOOXOOOOOOO O",
    "--OOOOOOO--OOOOOOXXXXXOOOOOOOOOOOOXOOOXOOOOXOOOOOOXXXXOOOOOOOOOO O",
)


class FakeClock:
    """A clock that reads ``start`` for its first ``reads`` reads, then ``later``."""

    def __init__(self, reads: int, start: float = 0.0, later: float = 100.0) -> None:
        self.reads = reads
        self.start = start
        self.later = later
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return self.start if self.calls <= self.reads else self.later


class WinInOneTests(SynchronousTestCase):
    def check(self, position: Position) -> None:
        for level in ABOVE_ONE:
            move = choose_move(position, level)
            self.assertTrue(wins_at_once(position, move), (level, position, move))

    def test_connect4_four_in_a_row(self) -> None:
        # Black holds 4, 5 and 6 on the bottom row: 3 or 7 wins.
        self.check(from_text("connect4", "445566"))

    def test_reversi_wiping_out(self) -> None:
        # X on a1 and a3, O on b1 and b2: c1 turns both (c3 only b2).
        board = ["-"] * 64
        board[0] = board[16] = "X"
        board[1] = board[9] = "O"
        position = from_text("reversi", "".join(board) + " X")
        self.assertEqual(position.legal_moves(), ["c1", "c3"])
        self.check(position)

    def test_checkers_capture_of_the_last_pieces(self) -> None:
        # 14x23x32 takes both white men; 15x22 only one.
        position = from_text("checkers", "B:W18,27:B14,15")
        self.assertEqual(position.legal_moves(), ["14x23x32", "15x22"])
        self.check(position)

    def test_reversi_at_the_last_empties(self) -> None:
        # Found by win_in_one_positions("reversi", 3), which takes seconds.
        for text in REVERSI_LAST_EMPTIES:
            self.check(from_text("reversi", text))

    def test_random_positions(self) -> None:
        for kind in ("connect4", "checkers"):
            for position in win_in_one_positions(kind, 6):
                self.check(position)


class MustBlockTests(SynchronousTestCase):
    def test_connect4_blocks_the_only_threat(self) -> None:
        # Black holds 1, 2 and 3 on the bottom row; white must play 4.
        position = from_text("connect4", "11223")
        for level in range(3, HIGHEST + 1):
            self.assertEqual(choose_move(position, level, budget=QUICK), "4", level)

    def test_connect4_blocks_in_random_positions(self) -> None:
        rng = random.Random(5)
        checked = 0
        while checked < 5:
            position = new_game("connect4")
            while position.outcome() is None:
                mine, mask = connect4_state(position)
                free = (mask + sum(1 << (7 * c) for c in range(7))) & ((1 << 49) - 1)
                urgent = winning_cells(mine ^ mask, mask) & free
                if not winning_cells(mine, mask) & free and urgent and not urgent & (urgent - 1):
                    block = str(urgent.bit_length() // 7 + 1)
                    for level in range(3, HIGHEST + 1):
                        move = choose_move(position, level, budget=QUICK)
                        self.assertEqual(move, block, position)
                    checked += 1
                    break
                position = position.play(rng.choice(position.legal_moves()))


class CheckersCaptureTests(SynchronousTestCase):
    def test_multi_jumps_are_whole_moves_in_the_rules_notation(self) -> None:
        # 14x23x32 lets 10 take 6 back; 6x15x22 wins two men clean.
        position = from_text("checkers", "B:W10,18,27:B6,14")
        self.assertEqual(position.legal_moves(), ["14x23x32", "6x15x22"])
        for level in LEVELS:
            self.assertIn(choose_move(position, level), position.legal_moves())
        self.assertEqual(choose_move(position, HIGHEST), "6x15x22")

    def test_a_capture_is_taken_when_one_exists(self) -> None:
        # Black's men on 1 and 2 could move, but 14 must take 18.
        position = from_text("checkers", "B:W18,31:B14,1,2")
        self.assertEqual(position.legal_moves(), ["14x23"])
        for level in LEVELS:
            self.assertEqual(choose_move(position, level), "14x23")


class LegalMoveTests(SynchronousTestCase):
    def test_every_level_plays_legal_moves_in_random_positions(self) -> None:
        for kind in KINDS:
            for position in random_positions(kind, 4, 1):
                for level in LEVELS:
                    move = choose_move(position, level, budget=QUICK)
                    self.assertIn(move, position.legal_moves(), (kind, level, position))

    def test_reversi_passes(self) -> None:
        # O has no placement but X has: O must pass.
        board = ["-"] * 64
        board[0], board[1] = "X", "O"
        position = from_text("reversi", "".join(board) + " O")
        self.assertEqual(position.legal_moves(), ["pass"])
        for level in LEVELS:
            self.assertEqual(choose_move(position, level), "pass")

    def test_a_finished_game_has_no_move(self) -> None:
        position = from_text("connect4", "1212121")
        with self.assertRaises(NoMove) as caught:
            choose_move(position, 3)
        self.assertIsInstance(caught.exception, GameOver)
        self.assertIn("game is over", str(caught.exception))

    def test_levels_are_one_to_five(self) -> None:
        for level in (0, 6, True, "3", 2.0):
            with self.assertRaises(InvalidLevel):
                choose_move(new_game("reversi"), level)  # type: ignore[arg-type]


class DeterminismTests(SynchronousTestCase):
    SAMPLES = [(kind, p.to_text()) for kind in KINDS for p in random_positions(kind, 3, 9)]

    def moves_here(self) -> list[str]:
        return [
            choose_move(from_text(kind, text), level)
            for kind, text in self.SAMPLES
            for level in (1, 2, 4)
        ]

    def test_the_same_position_and_level_give_the_same_move(self) -> None:
        self.assertEqual(self.moves_here(), self.moves_here())

    def test_across_fresh_processes(self) -> None:
        """String hashing is salted per process; no choice may depend on it."""
        script = (
            "import json, sys\n"
            "from game.engine import choose_move\n"
            "from game.rules import from_text\n"
            "samples = json.loads(sys.argv[1])\n"
            "print(json.dumps([choose_move(from_text(k, t), level)"
            " for k, t in samples for level in (1, 2, 4)]))\n"
        )
        expected = self.moves_here()
        for salt in ("1", "2"):
            env = dict(os.environ, PYTHONHASHSEED=salt)
            output = subprocess.run(
                [sys.executable, "-c", script, json.dumps(self.SAMPLES)],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
                env=env,
            ).stdout
            self.assertEqual(json.loads(output), expected)


class TimeLimitTests(SynchronousTestCase):
    def test_the_search_stops_when_the_clock_passes_the_budget(self) -> None:
        for kind in KINDS:
            position = new_game(kind)
            # The first read sets the deadline; the search reads the clock
            # before each iteration and every few hundred nodes.
            clock = FakeClock(reads=3)
            move = choose_move(position, HIGHEST, budget=1.0, clock=clock)
            self.assertIn(move, position.legal_moves())
            # One read past the deadline stops it: it never reads again.
            self.assertEqual(clock.calls, 4, kind)

    def test_a_spent_budget_still_gives_a_legal_move(self) -> None:
        for kind in KINDS:
            position = new_game(kind).play(new_game(kind).legal_moves()[0])
            # The first read sets the deadline; depth 1 finishes without
            # looking at the clock; the read before depth 2 stops the search.
            clock = FakeClock(reads=1)
            self.assertIn(choose_move(position, HIGHEST, clock=clock), position.legal_moves())
            self.assertEqual(clock.calls, 2)

    def test_without_a_clock_running_out_the_node_cap_ends_the_search(self) -> None:
        position = new_game("reversi")
        clock = FakeClock(reads=10**9)
        self.assertIn(choose_move(position, HIGHEST, clock=clock), position.legal_moves())
