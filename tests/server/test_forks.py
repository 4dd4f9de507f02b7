"""Tests for game.server.forks: which history wins when three replicas disagree."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator, Sequence

from twisted.trial.unittest import SynchronousTestCase

from game.server.forks import AGREED, MAJORITY, TIE_BREAK, WAIT, Decision, resolve, tie_break_key
from game.server.gamelog import MOVE, Event, create_event

GAME = "fork-game"
T0 = "seat-zero-token-0123456789"


def event(move: str) -> str:
    """A canonical move event text (resolve treats events as opaque texts)."""
    return Event(MOVE, 0, "ab" * 32, move=move).to_json()


CREATE = create_event("connect4", "alice", 0, T0, GAME).to_json()
OTHER_CREATE = create_event("connect4", "mallory", 0, T0, GAME).to_json()
A1, A2, A3, A4 = (event(f"a{i}") for i in range(1, 5))
B1, B2, B3 = (event(f"b{i}") for i in range(1, 4))
C1, C2 = (event(f"c{i}") for i in range(1, 3))


def lowest(*events: str) -> str:
    """The event whose SHA-256 is lowest, computed here independently."""
    return min(events, key=lambda text: hashlib.sha256(text.encode("utf-8")).hexdigest())


History = Sequence[str] | None


def views(first: History, second: History, third: History) -> Iterator[tuple[str, Decision]]:
    """Resolve the same three histories from every replica's point of view.

    The first reachable history of each permutation plays ``own``; the two
    others are its peers (None: unreachable from there).
    """
    for order in itertools.permutations((first, second, third)):
        own, *peers = order
        if own is None:
            continue
        yield repr(order), resolve(own, peers)


class AgreedTests(SynchronousTestCase):
    def test_identical(self) -> None:
        history = [CREATE, A1, A2]
        for name, decision in views(history, list(history), list(history)):
            self.assertEqual(decision, Decision((CREATE, A1, A2), AGREED, None), name)
            self.assertIsInstance(decision.history, tuple)

    def test_one_extends_another(self) -> None:
        for name, decision in views([CREATE, A1], [CREATE, A1, A2, A3], [CREATE]):
            self.assertEqual(decision, Decision((CREATE, A1, A2, A3), AGREED, None), name)

    def test_unreachable_peer_without_fork(self) -> None:
        for name, decision in views([CREATE, A1], [CREATE, A1, A2], None):
            self.assertEqual(decision, Decision((CREATE, A1, A2), AGREED, None), name)
        own = [CREATE, A1]
        self.assertEqual(resolve(own, [None, None]), Decision((CREATE, A1), AGREED, None))

    def test_empty_own_history(self) -> None:
        self.assertEqual(
            resolve([], [[CREATE, A1], [CREATE, A1, A2]]), Decision((CREATE, A1, A2), AGREED)
        )
        self.assertEqual(resolve([], [None, [CREATE, A1]]), Decision((CREATE, A1), AGREED))
        self.assertEqual(resolve([], [[CREATE], None]), Decision((CREATE,), AGREED))
        self.assertEqual(resolve([], [None, None]), Decision((), AGREED))
        self.assertEqual(resolve([], [[], []]), Decision((), AGREED))


class MajorityTests(SynchronousTestCase):
    def test_two_against_a_longer_one(self) -> None:
        for name, decision in views([CREATE, A1, A2, A3, A4], [CREATE, B1], [CREATE, B1]):
            self.assertEqual(decision, Decision((CREATE, B1), MAJORITY, 1), name)

    def test_two_against_one_of_different_lengths(self) -> None:
        for name, decision in views([CREATE, A1, A2, A3], [CREATE, B1], [CREATE, B1, B2]):
            self.assertEqual(decision, Decision((CREATE, B1, B2), MAJORITY, 1), name)

    def test_own_on_the_losing_side(self) -> None:
        decision = resolve([CREATE, A1, A2], [[CREATE, B1], [CREATE, B1, B2]])
        self.assertEqual(decision, Decision((CREATE, B1, B2), MAJORITY, 1))
        self.assertNotIn(A1, decision.history or ())

    def test_fork_at_the_create(self) -> None:
        for name, decision in views([OTHER_CREATE, A1], [CREATE], [CREATE, B1]):
            self.assertEqual(decision, Decision((CREATE, B1), MAJORITY, 0), name)

    def test_agreeing_after_the_majority(self) -> None:
        # b1 wins by majority; the two winners then agree, the longer extends.
        for name, decision in views([CREATE, A1, A2], [CREATE, B1], [CREATE, B1, B2, B3]):
            self.assertEqual(decision, Decision((CREATE, B1, B2, B3), MAJORITY, 1), name)

    def test_majority_beats_tie_break_order(self) -> None:
        # Whichever of a1 and b1 hashes lower, the one two replicas hold wins.
        winner = lowest(A1, B1)
        loser = B1 if winner == A1 else A1
        for name, decision in views([CREATE, winner], [CREATE, loser], [CREATE, loser]):
            self.assertEqual(decision, Decision((CREATE, loser), MAJORITY, 1), name)


class WaitTests(SynchronousTestCase):
    def test_one_against_one_with_the_third_unreachable(self) -> None:
        for name, decision in views([CREATE, A1, A2], [CREATE, B1], None):
            self.assertEqual(decision, Decision(None, WAIT, 1), name)

    def test_later_fork_with_the_third_unreachable(self) -> None:
        for name, decision in views([CREATE, A1, A2, A3], [CREATE, A1, A2, B3], None):
            self.assertEqual(decision, Decision(None, WAIT, 3), name)

    def test_own_empty_and_peers_split_with_one_unreachable_is_no_fork(self) -> None:
        self.assertEqual(resolve([], [[CREATE, B1], None]), Decision((CREATE, B1), AGREED))


class TieBreakTests(SynchronousTestCase):
    def test_tie_break_key(self) -> None:
        self.assertEqual(tie_break_key(A1), hashlib.sha256(A1.encode("utf-8")).digest())

    def test_one_against_one_with_the_third_lagging(self) -> None:
        a_branch, b_branch = [CREATE, A1, A2, A3], [CREATE, B1]
        expected = tuple(a_branch) if lowest(A1, B1) == A1 else tuple(b_branch)
        for lagging in ([CREATE], []):
            for name, decision in views(a_branch, b_branch, lagging):
                self.assertEqual(decision, Decision(expected, TIE_BREAK, 1), name)

    def test_the_winner_is_the_lowest_hash_not_the_first_or_longest(self) -> None:
        # Try both ways round, so that neither argument order nor length decides.
        for first, second in ((A1, B1), (B1, A1)):
            longer, shorter = [CREATE, first, A2, A3], [CREATE, second]
            winner = tuple(longer) if lowest(first, second) == first else tuple(shorter)
            self.assertEqual(resolve(longer, [shorter, [CREATE]]).history, winner)
            self.assertEqual(resolve(shorter, [[CREATE], longer]).history, winner)

    def test_all_three_different(self) -> None:
        branches = {A1: [CREATE, A1, A2], B1: [CREATE, B1], C1: [CREATE, C1, C2]}
        expected = tuple(branches[lowest(A1, B1, C1)])
        for name, decision in views(*branches.values()):
            self.assertEqual(decision, Decision(expected, TIE_BREAK, 1), name)

    def test_later_fork_after_an_agreed_prefix(self) -> None:
        a_branch = [CREATE, C1, C2, A3, A4]
        b_branch = [CREATE, C1, C2, B3]
        expected = tuple(a_branch) if lowest(A3, B3) == A3 else tuple(b_branch)
        for name, decision in views(a_branch, b_branch, [CREATE, C1]):
            self.assertEqual(decision, Decision(expected, TIE_BREAK, 3), name)

    def test_fork_later_than_a_majority_fork(self) -> None:
        # b1 beats a1 by majority at index 1; the two b-branches then fork at
        # index 2: a tie-break, in which the a-branch no longer has a say,
        # though it holds the losing event at index 2 too.
        low, high = sorted((B2, C2), key=tie_break_key)
        b_then_low = [CREATE, B1, low, B3]
        b_then_high = [CREATE, B1, high]
        loser = [CREATE, A1, high, A3]
        for name, decision in views(loser, b_then_low, b_then_high):
            self.assertEqual(decision, Decision(tuple(b_then_low), TIE_BREAK, 1), name)
