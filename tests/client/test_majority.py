"""Tests for :mod:`game.client.majority`: deciding from three servers' answers."""

from __future__ import annotations

import itertools
import json
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from game import errors as wire
from game.client.document import DocumentError
from game.client.majority import (
    ERROR,
    FAILED,
    OK,
    Decision,
    ServerAnswer,
    agreed,
    decide,
    merge_listings,
)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def document(version: int, moves: str = "", game_id: str = "g1") -> str:
    """A canonical game document; ``moves`` varies the bytes at equal versions."""
    return canonical(
        {
            "id": game_id,
            "kind": "connect4",
            "version": version,
            "status": "active",
            "players": ["alice", "bob"],
            "to_move": version % 2,
            "moves": list(moves),
            "position": moves,
            "legal": ["1", "2", "3", "4", "5", "6", "7"],
            "draw_offer": None,
            "result": None,
        }
    )


def ok(server_id: int, text: str) -> ServerAnswer:
    return ServerAnswer.from_outcome(server_id, {"game": text})


def error(server_id: int, exception: wire.WireError) -> ServerAnswer:
    return ServerAnswer.from_outcome(server_id, exception)


def timeout(server_id: int) -> ServerAnswer:
    return ServerAnswer.from_outcome(server_id, TimeoutError("no answer in 5 seconds"))


class AgreedTests(SynchronousTestCase):
    """The one rule "two of three agree"."""

    def test_two_equal_values_agree(self) -> None:
        self.assertEqual(agreed(["a", "b", "a"]), ("a", "a"))
        self.assertEqual(agreed(["a", "a", "a"]), ("a", "a", "a"))

    def test_no_two_equal(self) -> None:
        self.assertEqual(agreed(["a", "b", "c"]), ())
        self.assertEqual(agreed(["a"]), ())
        self.assertEqual(agreed([]), ())

    def test_by_key_keeps_the_items_in_order(self) -> None:
        held = [(1, "x"), (2, "y"), (3, "y")]
        self.assertEqual(agreed(held, key=lambda item: item[1]), ((2, "y"), (3, "y")))

    def test_none_is_not_a_vote(self) -> None:
        self.assertEqual(agreed([None, None, "a"]), ())
        held = [(1, None), (2, None), (3, "a"), (4, "a")]
        self.assertEqual(agreed(held, key=lambda item: item[1]), ((3, "a"), (4, "a")))

    def test_the_first_key_held_twice_wins(self) -> None:
        # Only possible with more than three voters: the earlier pair decides,
        # and a later holder of its key joins it.
        self.assertEqual(agreed(["a", "b", "b", "a", "b"]), ("b", "b", "b"))


class ServerAnswerTests(SynchronousTestCase):
    def test_kinds(self) -> None:
        self.assertEqual(ok(1, "x").kind, OK)
        self.assertEqual(error(2, wire.UnknownGame()).kind, ERROR)
        failed = timeout(3)
        self.assertEqual(failed.kind, FAILED)
        self.assertIn("TimeoutError", failed.value)

    def test_non_votes_have_no_key(self) -> None:
        self.assertIsNone(timeout(1).key)
        self.assertIsNone(error(1, wire.NotServing()).key)
        self.assertIsNone(error(1, wire.Internal()).key)
        self.assertIsNotNone(error(1, wire.BadRequest()).key)
        self.assertIsNotNone(ok(1, "x").key)


class DecideAgreementTests(SynchronousTestCase):
    def test_two_identical_documents_decide_with_third_pending(self) -> None:
        answers = [ok(1, document(3, "44")), ok(2, document(3, "44"))]
        decision = decide(answers, asked=3)
        self.assertIsNotNone(decision)
        assert decision is not None
        self.assertIs(decision.chosen, answers[0])
        self.assertFalse(decision.provisional)
        self.assertEqual(decision.agreed, (1, 2))
        self.assertEqual(decision.differed, ())
        self.assertEqual(decision.failed, ())
        self.assertEqual(decision.answers, tuple(answers))

    def test_one_answer_of_three_waits(self) -> None:
        self.assertIsNone(decide([ok(1, document(3))], asked=3))

    def test_documents_differing_by_one_byte_do_not_agree(self) -> None:
        first = document(3, "44")
        second = first.replace('"position":"44"', '"position":"45"')
        self.assertEqual(len(first), len(second))
        self.assertEqual(sum(a != b for a, b in zip(first, second, strict=True)), 1)
        self.assertIsNone(decide([ok(1, first), ok(2, second)], asked=3))
        decision = decide([ok(1, first), ok(2, second), ok(3, second)], asked=3)
        assert decision is not None
        self.assertEqual(decision.agreed, (2, 3))
        self.assertEqual(decision.differed, (1,))

    def test_majority_after_a_disagreement(self) -> None:
        answers = [ok(1, document(3, "44")), ok(2, document(3, "45")), ok(3, document(3, "45"))]
        decision = decide(answers, asked=3)
        assert decision is not None
        self.assertIs(decision.chosen, answers[1])
        self.assertFalse(decision.provisional)
        self.assertEqual(decision.agreed, (2, 3))
        self.assertEqual(decision.differed, (1,))
        self.assertEqual(decision.failed, ())

    def test_same_error_tag_with_different_descriptions_agrees(self) -> None:
        answers = [
            error(1, wire.StaleVersion.at(7)),
            ok(2, document(6)),
            error(3, wire.StaleVersion.at(8)),
        ]
        decision = decide(answers, asked=3)
        assert decision is not None
        self.assertIs(decision.chosen, answers[0])
        self.assertFalse(decision.provisional)
        self.assertEqual(decision.agreed, (1, 3))
        self.assertEqual(decision.differed, (2,))
        self.assertEqual(decision.failed, ())

    def test_two_error_tags_agree_before_the_third(self) -> None:
        answers = [error(2, wire.UnknownGame("a")), error(1, wire.UnknownGame("b"))]
        decision = decide(answers, asked=3)
        assert decision is not None
        self.assertEqual(decision.chosen, answers[0])
        self.assertEqual(decision.agreed, (2, 1))

    def test_responses_with_lists(self) -> None:
        page = {"games": ["a", "b"], "next": ""}
        same = ServerAnswer.from_outcome(2, {"next": "", "games": ["a", "b"]})
        decision = decide([ServerAnswer.from_outcome(1, page), same], asked=3)
        assert decision is not None
        self.assertEqual(decision.agreed, (1, 2))
        reordered = ServerAnswer.from_outcome(2, {"games": ["b", "a"], "next": ""})
        self.assertIsNone(decide([ServerAnswer.from_outcome(1, page), reordered], asked=3))

    def test_different_error_tags_do_not_agree(self) -> None:
        answers = [error(1, wire.NotYourTurn()), error(2, wire.IllegalMoveError())]
        self.assertIsNone(decide(answers, asked=3))

    def test_an_error_and_a_document_do_not_agree(self) -> None:
        self.assertIsNone(decide([error(1, wire.UnknownGame()), ok(2, document(1))], asked=3))


class DecideFallbackTests(SynchronousTestCase):
    def test_no_agreement_takes_the_earliest_answer_provisionally(self) -> None:
        answers = [ok(2, document(4, "4")), ok(3, document(5, "44")), ok(1, document(3))]
        self.assertIsNone(decide(answers[:2], asked=3))
        decision = decide(answers, asked=3)
        assert decision is not None
        self.assertIs(decision.chosen, answers[0])
        self.assertTrue(decision.provisional)
        self.assertEqual(decision.agreed, (2,))
        self.assertEqual(decision.differed, (3, 1))
        self.assertEqual(decision.failed, ())

    def test_earliest_answer_may_be_an_error(self) -> None:
        answers = [error(3, wire.UnknownGame()), ok(1, document(1)), ok(2, document(2))]
        decision = decide(answers, asked=3)
        assert decision is not None
        self.assertIs(decision.chosen, answers[0])
        self.assertTrue(decision.provisional)
        self.assertEqual(decision.agreed, (3,))
        self.assertEqual(decision.differed, (1, 2))

    def test_asked_two(self) -> None:
        """With one server down, the request went to two: two different
        answers are all there is."""
        answers = [ok(1, document(1)), ok(3, document(2))]
        decision = decide(answers, asked=2)
        assert decision is not None
        self.assertIs(decision.chosen, answers[0])
        self.assertTrue(decision.provisional)

    def test_single_server_asked(self) -> None:
        answers = [ok(2, document(1))]
        decision = decide(answers, asked=1)
        assert decision is not None
        self.assertIs(decision.chosen, answers[0])
        self.assertTrue(decision.provisional)
        self.assertEqual(decision.agreed, (2,))


class DecideFailureTests(SynchronousTestCase):
    def test_timeouts_never_agree(self) -> None:
        self.assertIsNone(decide([timeout(1), timeout(2)], asked=3))

    def test_identical_failure_texts_never_agree(self) -> None:
        first = ServerAnswer(1, FAILED, "TimeoutError: same")
        second = ServerAnswer(2, FAILED, "TimeoutError: same")
        self.assertIsNone(decide([first, second], asked=3))

    def test_timeouts_never_vote(self) -> None:
        answers = [timeout(1), timeout(2), ok(3, document(3))]
        decision = decide(answers, asked=3)
        assert decision is not None
        self.assertIs(decision.chosen, answers[2])
        self.assertTrue(decision.provisional)
        self.assertEqual(decision.agreed, (3,))
        self.assertEqual(decision.differed, ())
        self.assertEqual(decision.failed, (1, 2))

    def test_a_timeout_is_not_counted_with_the_earliest_answer(self) -> None:
        answers = [ok(1, document(3)), timeout(2), ok(3, document(4))]
        decision = decide(answers, asked=3)
        assert decision is not None
        self.assertIs(decision.chosen, answers[0])
        self.assertTrue(decision.provisional)
        self.assertEqual(decision.agreed, (1,))
        self.assertEqual(decision.differed, (3,))
        self.assertEqual(decision.failed, (2,))

    def test_failed_server_after_majority(self) -> None:
        answers = [ok(1, document(3)), timeout(2), ok(3, document(3))]
        decision = decide(answers, asked=3)
        assert decision is not None
        self.assertFalse(decision.provisional)
        self.assertEqual(decision.agreed, (1, 3))
        self.assertEqual(decision.differed, ())
        self.assertEqual(decision.failed, (2,))

    def test_not_serving_is_not_a_vote(self) -> None:
        answers = [error(1, wire.NotServing()), error(2, wire.NotServing())]
        self.assertIsNone(decide(answers, asked=3))
        answers.append(ok(3, document(2)))
        decision = decide(answers, asked=3)
        assert decision is not None
        self.assertIs(decision.chosen, answers[2])
        self.assertTrue(decision.provisional)
        self.assertEqual(decision.failed, (1, 2))
        self.assertEqual(decision.agreed, (3,))

    def test_internal_is_not_a_vote(self) -> None:
        answers = [error(1, wire.Internal()), error(2, wire.Internal()), ok(3, document(2))]
        self.assertIsNone(decide(answers[:2], asked=3))
        decision = decide(answers, asked=3)
        assert decision is not None
        self.assertIs(decision.chosen, answers[2])
        self.assertEqual(decision.failed, (1, 2))

    def test_not_serving_does_not_block_a_majority(self) -> None:
        answers = [ok(1, document(2)), error(2, wire.NotServing()), ok(3, document(2))]
        decision = decide(answers, asked=3)
        assert decision is not None
        self.assertFalse(decision.provisional)
        self.assertEqual(decision.agreed, (1, 3))
        self.assertEqual(decision.failed, (2,))
        self.assertEqual(decision.differed, ())

    def test_all_failed_chooses_nothing(self) -> None:
        answers = [timeout(3), timeout(1), timeout(2)]
        decision = decide(answers, asked=3)
        self.assertEqual(
            decision,
            Decision(
                chosen=None,
                provisional=True,
                agreed=(),
                differed=(),
                failed=(3, 1, 2),
                answers=tuple(answers),
            ),
        )

    def test_only_non_votes_reports_the_earliest_error(self) -> None:
        answers = [timeout(1), error(2, wire.NotServing()), error(3, wire.Internal())]
        decision = decide(answers, asked=3)
        assert decision is not None
        self.assertIs(decision.chosen, answers[1])
        self.assertTrue(decision.provisional)
        self.assertEqual(decision.agreed, (2,))
        self.assertEqual(decision.failed, (1, 3))
        self.assertEqual(decision.differed, ())

    def test_every_server_is_in_exactly_one_set(self) -> None:
        answers = [ok(1, document(3)), error(2, wire.UnknownGame()), timeout(3)]
        decision = decide(answers, asked=3)
        assert decision is not None
        together = decision.agreed + decision.differed + decision.failed
        self.assertEqual(sorted(together), [1, 2, 3])


def reference_decision(answers: list[ServerAnswer], asked: int) -> tuple[Any, ...] | None:
    """The module docstring's rule, written with :func:`agreed` and sets, as
    ``(chosen server, provisional, agreed, differed, failed)``."""
    majority = agreed(answers, key=lambda answer: answer.key)
    votes = [answer for answer in answers if answer.key is not None]
    if majority:
        chosen: ServerAnswer | None = majority[0]
    elif len(answers) < asked:
        return None
    elif votes:
        chosen = votes[0]
    else:
        chosen = next((answer for answer in answers if answer.kind == ERROR), None)
    key = None if chosen is None else chosen.key
    agreeing = tuple(a.server_id for a in answers if key is not None and a.key == key)
    if chosen is not None and not agreeing:
        agreeing = (chosen.server_id,)
    failed = tuple(a.server_id for a in answers if a.key is None and a is not chosen)
    differed = tuple(
        a.server_id for a in answers if a.server_id not in agreeing and a.server_id not in failed
    )
    held = None if chosen is None else chosen.server_id
    return (held, not majority, agreeing, differed, failed)


class DecideEveryCaseTests(SynchronousTestCase):
    def test_every_combination_of_up_to_three_answers(self) -> None:
        """decide() finds its majority in one pass; every combination of up
        to three answers of these kinds is decided as the rule says."""
        outcomes: list[object] = [
            {"game": document(3)},
            {"game": document(4)},
            wire.NotServing(),
            wire.Internal(),
            wire.StaleVersion(),
            wire.UnknownGame(),
            TimeoutError("no answer"),
        ]
        cases = 0
        for count in (1, 2, 3):
            for combination in itertools.product(outcomes, repeat=count):
                answers = [
                    ServerAnswer.from_outcome(server_id, outcome)
                    for server_id, outcome in enumerate(combination, start=1)
                ]
                for asked in range(count, 4):
                    decision = decide(answers, asked)
                    found = None
                    if decision is not None:
                        chosen = decision.chosen
                        found = (
                            None if chosen is None else chosen.server_id,
                            decision.provisional,
                            decision.agreed,
                            decision.differed,
                            decision.failed,
                        )
                    self.assertEqual(found, reference_decision(answers, asked), combination)
                    cases += 1
        self.assertEqual(cases, 7 * 3 + 49 * 2 + 343)


def summary(game_id: str, version: int, status: str = "open", players: Any = None) -> str:
    return canonical(
        {
            "id": game_id,
            "kind": "connect4",
            "status": status,
            "players": players or ["alice", None],
            "version": version,
        }
    )


class MergeListingsTests(SynchronousTestCase):
    def test_identical_summaries_from_two_servers(self) -> None:
        listing = merge_listings(
            {
                1: ([summary("a", 2, "active")], ""),
                2: ([summary("a", 2, "active")], ""),
                3: ([summary("a", 3, "finished")], ""),
            }
        )
        self.assertEqual(listing.next, "")
        self.assertEqual(len(listing.games), 1)
        game = listing.games[0]
        self.assertFalse(game.provisional)
        self.assertEqual(game.summary, json.loads(summary("a", 2, "active")))
        self.assertEqual(game.servers, (1, 2))
        self.assertEqual(
            (game.game.game_id, game.game.status, game.game.players, game.game.version),
            ("a", "active", ("alice", None), 2),
        )

    def test_all_differ_takes_the_highest_version_provisionally(self) -> None:
        listing = merge_listings(
            {
                1: ([summary("a", 2)], ""),
                2: ([summary("a", 4, "active")], ""),
                3: ([summary("a", 3, "active")], ""),
            }
        )
        (game,) = listing.games
        self.assertTrue(game.provisional)
        self.assertEqual(game.game.version, 4)
        self.assertEqual(game.servers, (2,))

    def test_a_game_on_one_server_only_is_provisional(self) -> None:
        listing = merge_listings(
            {1: ([summary("a", 1), summary("b", 1)], ""), 2: ([summary("a", 1)], "")}
        )
        self.assertEqual([g.game.game_id for g in listing.games], ["a", "b"])
        self.assertEqual([g.provisional for g in listing.games], [False, True])
        self.assertEqual(listing.games[1].servers, (1,))

    def test_a_full_page_bounds_the_merged_page(self) -> None:
        everything = [summary(f"g{n}", 1) for n in range(1, 6)]
        listing = merge_listings(
            {
                1: (everything[:3], "g3"),
                2: (everything, ""),
                3: (everything, ""),
            }
        )
        self.assertEqual([g.game.game_id for g in listing.games], ["g1", "g2", "g3"])
        self.assertEqual(listing.next, "g3")
        self.assertTrue(all(not g.provisional for g in listing.games))

    def test_the_smallest_cursor_wins(self) -> None:
        everything = [summary(f"g{n}", 1) for n in range(1, 6)]
        listing = merge_listings(
            {
                1: (everything[:4], "g4"),
                2: (everything[1:3], "g3"),
                3: (everything, ""),
            }
        )
        self.assertEqual([g.game.game_id for g in listing.games], ["g1", "g2", "g3"])
        self.assertEqual(listing.next, "g3")

    def test_ids_in_sorted_order(self) -> None:
        listing = merge_listings(
            {
                1: ([summary("b", 1), summary("d", 1)], ""),
                2: ([summary("a", 1), summary("c", 1)], ""),
                3: ([summary("a", 1), summary("b", 1), summary("c", 1), summary("d", 1)], ""),
            }
        )
        self.assertEqual([g.game.game_id for g in listing.games], ["a", "b", "c", "d"])
        self.assertEqual([g.servers for g in listing.games], [(2, 3), (1, 3), (2, 3), (1, 3)])

    def test_nothing_listed(self) -> None:
        listing = merge_listings({1: ([], ""), 3: ([], "")})
        self.assertEqual(listing.games, ())
        self.assertEqual(listing.next, "")

    def test_a_malformed_summary_is_refused(self) -> None:
        bad = canonical({"id": "a", "kind": "connect4", "status": "open", "players": []})
        with self.assertRaises(DocumentError) as raised:
            merge_listings({1: ([bad], "")})
        self.assertIn("'players'", str(raised.exception))
