"""Hand-built positions, kept as position texts in ``fixtures/<kind>.json``.

Each case is one of:

- ``{"name", "text", "legal", "outcome"}``: ``text`` reads back to itself, has
  exactly these legal moves, and this outcome (``null`` or
  ``{"winner": 0 | 1 | null, "reason": R}``); optional ``"plays"``: a list of
  ``[move, text_after]`` pairs, each played from ``text``, optional
  ``"outcome_after"`` parallel to it.
- ``{"name", "text", "invalid": true}``: ``from_text`` raises InvalidPosition.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from game.rules import KINDS, InvalidPosition, Outcome, from_text

FIXTURES = Path(__file__).parent / "fixtures"


def load_cases(kind: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((FIXTURES / f"{kind}.json").read_text("utf-8"))
    return cases


def as_outcome(value: dict[str, Any] | None) -> Outcome | None:
    return None if value is None else Outcome(value["winner"], value["reason"])


class FixtureTests(SynchronousTestCase):
    def check_kind(self, kind: str) -> None:
        cases = load_cases(kind)
        self.assertGreaterEqual(len([c for c in cases if not c.get("invalid")]), 15)
        names = [c["name"] for c in cases]
        self.assertEqual(len(names), len(set(names)), "fixture names are unique")
        for case in cases:
            with self.subTest(kind=kind, name=case["name"]):
                self.check_case(kind, case)

    def check_case(self, kind: str, case: dict[str, Any]) -> None:
        if case.get("invalid"):
            self.assertRaises(InvalidPosition, from_text, kind, case["text"])
            return
        position = from_text(kind, case["text"])
        self.assertEqual(position.to_text(), case["text"])
        self.assertEqual(position.legal_moves(), case["legal"])
        self.assertEqual(position.outcome(), as_outcome(case["outcome"]))
        outcomes_after = case.get("outcome_after", [None] * len(case.get("plays", [])))
        for (move, text_after), outcome_after in zip(
            case.get("plays", []), outcomes_after, strict=True
        ):
            after = position.play(move)
            self.assertEqual(after.to_text(), text_after, f"after {move}")
            self.assertEqual(after.outcome(), as_outcome(outcome_after), f"after {move}")

    def test_connect4(self) -> None:
        self.check_kind("connect4")

    def test_reversi(self) -> None:
        self.check_kind("reversi")

    def test_checkers(self) -> None:
        self.check_kind("checkers")

    def test_every_kind_has_fixtures(self) -> None:
        for kind in KINDS:
            self.assertTrue((FIXTURES / f"{kind}.json").is_file(), kind)
