"""The 1,000th move of any game draws it (``move limit``) unless it wins."""

from __future__ import annotations

import json
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from game.rules import MOVE_LIMIT, GameOver, Outcome, from_text

# A king-and-men line found by search: man moves and captures keep the
# no-progress counter below 80, so only the move limit can end it at 1,000.
LONG_LINE = Path(__file__).parent / "fixtures" / "checkers_1000_plies.json"


class MoveLimitTests(SynchronousTestCase):
    def test_the_thousandth_move_draws(self) -> None:
        line = json.loads(LONG_LINE.read_text("utf-8"))
        self.assertEqual(len(line["moves"]), MOVE_LIMIT)
        position = from_text("checkers", line["start"])
        for move in line["moves"][:-1]:
            position = position.play(move)
            self.assertIsNone(position.outcome())
        self.assertEqual(position.ply, MOVE_LIMIT - 1)
        final = position.play(line["moves"][-1])
        self.assertEqual(final.outcome(), Outcome(None, "move limit"))
        self.assertEqual(final.legal_moves(), [])
        self.assertRaises(GameOver, final.play, position.legal_moves()[0])
        # The position itself is not over: read back from text, it plays on.
        self.assertIsNone(from_text("checkers", final.to_text()).outcome())
