"""How long the computer may think (game/client/movetime.py): pure arithmetic."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from game.client.document import GameDocument
from game.client.movetime import (
    SAFETY_MARGIN,
    budget_for,
    level_budget,
    move_budget,
    think_delay,
)
from tests.client_gui.helpers import document, timed


class MoveBudgetTests(SynchronousTestCase):
    def test_untimed_takes_the_levels_own_budget(self) -> None:
        self.assertEqual(move_budget(0.7, None), 0.7)

    def test_plenty_of_time_is_capped_by_the_level(self) -> None:
        self.assertEqual(move_budget(0.7, 300_000, 3_000), 0.7)

    def test_a_thirtieth_of_the_time_left_plus_most_of_the_increment(self) -> None:
        # 6 s left, 1 s increment: 6/30 + 0.8 = 1.0, under a 2 s level budget.
        self.assertAlmostEqual(move_budget(2.0, 6_000, 1_000), 1.0)
        self.assertAlmostEqual(move_budget(2.0, 9_000), 0.3)

    def test_never_beyond_the_time_left_less_the_margin(self) -> None:
        # 1 s left, 10 s increment: the share says 8.03 s; the clock says 0.5 s.
        self.assertAlmostEqual(move_budget(20.0, 1_000, 10_000), 1.0 - SAFETY_MARGIN)

    def test_no_time_left_gives_a_zero_budget(self) -> None:
        self.assertEqual(move_budget(0.7, 300), 0.0)
        self.assertEqual(move_budget(0.7, 0, 5_000), 0.0)

    def test_budget_for_reads_the_seats_clock_now(self) -> None:
        doc = timed(document("connect4", ["4"]), "live:60+0", (60_000, 9_000), at=1_000)
        parsed = GameDocument.from_mapping(doc)
        # White (seat 1) to move: its deadline is at 10_000; at 4_000 it has 6 s.
        self.assertAlmostEqual(budget_for(parsed, 1, 5, 4_000), 0.2)
        # Black's clock is not running: its budget follows its own 60 s.
        self.assertAlmostEqual(budget_for(parsed, 0, 5, 4_000), min(2.0, 0.7))

    def test_untimed_and_correspondence_take_the_levels_budget(self) -> None:
        untimed = GameDocument.from_mapping(document("reversi", ["f5"]))
        self.assertEqual(budget_for(untimed, 1, 3, 0), level_budget("reversi", 3))
        corr = GameDocument.from_mapping(
            timed(document("reversi", ["f5"]), "corr:1", (86_400_000, 1_000), at=0)
        )
        self.assertEqual(budget_for(corr, 1, 3, 0), level_budget("reversi", 3))


class ThinkDelayTests(SynchronousTestCase):
    def test_weak_levels_appear_to_think(self) -> None:
        self.assertAlmostEqual(think_delay(1, 2.0, 0.1), 0.6)
        self.assertAlmostEqual(think_delay(2, 0.7, 0.1), 0.4)

    def test_strong_levels_answer_at_once(self) -> None:
        self.assertEqual(think_delay(3, 0.7, 0.0), 0.0)

    def test_a_slow_search_waits_no_more(self) -> None:
        self.assertEqual(think_delay(1, 0.7, 2.0), 0.0)

    def test_a_short_clock_is_not_spent_on_show(self) -> None:
        self.assertAlmostEqual(think_delay(1, 0.2, 0.0), 0.2)
        self.assertEqual(think_delay(1, 0.0, 0.0), 0.0)
