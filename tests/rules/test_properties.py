"""Laws every game keeps, checked on random playouts (hypothesis)."""

from __future__ import annotations

import contextlib
import random

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from game.rules import (
    KINDS,
    REASONS,
    GameOver,
    IllegalMove,
    InvalidMove,
    InvalidPosition,
    Position,
    UnknownKind,
    from_text,
    new_game,
)

kinds = st.sampled_from(KINDS)
# Strings near each game's notation, so that the grammar's edges get explored.
notation_text = st.text(alphabet="0123456789abcdefghpassx-:WBKN, XO\u00e9", max_size=70)
any_text = st.one_of(st.text(max_size=80), notation_text)


def playout(kind: str, rng: random.Random) -> list[Position]:
    positions = [new_game(kind)]
    while positions[-1].outcome() is None:
        positions.append(positions[-1].play(rng.choice(positions[-1].legal_moves())))
    return positions


class PlayoutTests(SynchronousTestCase):
    @settings(max_examples=30, deadline=None)
    @given(kind=kinds, seed=st.integers(0, 2**32))
    def test_playouts_end_with_an_outcome(self, kind: str, seed: int) -> None:
        final = playout(kind, random.Random(seed))[-1]
        outcome = final.outcome()
        assert outcome is not None
        self.assertIn(outcome.reason, REASONS)
        self.assertIn(outcome.winner, (0, 1, None))
        self.assertEqual(final.legal_moves(), [])
        self.assertRaises(GameOver, final.play, "pass")

    @settings(max_examples=30, deadline=None)
    @given(kind=kinds, seed=st.integers(0, 2**32))
    def test_text_round_trips_for_every_reached_position(self, kind: str, seed: int) -> None:
        for position in playout(kind, random.Random(seed)):
            again = from_text(kind, position.to_text())
            self.assertEqual(again, position)
            self.assertEqual(hash(again), hash(position))
            self.assertEqual(again.to_text(), position.to_text())
            self.assertEqual(again.to_move, position.to_move)
            self.assertEqual(again.legal_moves(), position.legal_moves())

    @settings(max_examples=30, deadline=None)
    @given(kind=kinds, seed=st.integers(0, 2**32))
    def test_play_never_mutates_its_input(self, kind: str, seed: int) -> None:
        rng = random.Random(seed)
        position = new_game(kind)
        while position.outcome() is None:
            before = (position.to_text(), position.to_move, position.ply, position.legal_moves())
            successor = position.play(rng.choice(before[3]))
            after = (position.to_text(), position.to_move, position.ply, position.legal_moves())
            self.assertEqual(before, after)
            self.assertEqual(successor.ply, position.ply + 1)
            position = successor

    def test_legal_moves_are_sorted_and_playable(self) -> None:
        rng = random.Random(7)
        for kind in KINDS:
            for position in playout(kind, rng)[:-1]:
                moves = position.legal_moves()
                self.assertEqual(moves, sorted(moves))
                self.assertEqual(len(moves), len(set(moves)))
                self.assertTrue(moves)


class HostileInputTests(SynchronousTestCase):
    @settings(max_examples=300, deadline=None)
    @given(kind=kinds, text=any_text, seed=st.integers(0, 2**16))
    def test_play_raises_only_documented_errors(self, kind: str, text: str, seed: int) -> None:
        positions = playout(kind, random.Random(seed))
        for position in (positions[0], positions[len(positions) // 2], positions[-1]):
            with contextlib.suppress(InvalidMove, IllegalMove, GameOver):
                position.play(text)

    @settings(max_examples=500, deadline=None)
    @given(kind=kinds, text=any_text)
    def test_from_text_raises_only_invalid_position(self, kind: str, text: str) -> None:
        try:
            position = from_text(kind, text)
        except InvalidPosition:
            return
        # Whatever it accepts reads back to an equal position.
        self.assertEqual(from_text(kind, position.to_text()), position)

    def test_non_strings(self) -> None:
        for kind in KINDS:
            self.assertRaises(InvalidMove, new_game(kind).play, 4)  # type: ignore[arg-type]
            self.assertRaises(InvalidMove, new_game(kind).play, None)  # type: ignore[arg-type]
            self.assertRaises(InvalidPosition, from_text, kind, None)  # type: ignore[arg-type]

    def test_unknown_kind(self) -> None:
        for kind in ("chess", "", "Connect4", None):
            self.assertRaises(UnknownKind, new_game, kind)
            self.assertRaises(ValueError, from_text, kind, "")

    def test_errors_are_value_errors(self) -> None:
        for error in (InvalidMove, IllegalMove, GameOver, InvalidPosition, UnknownKind):
            self.assertTrue(issubclass(error, ValueError))
