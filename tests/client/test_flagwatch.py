"""Tests for :mod:`game.client.flagwatch`: claiming on time, on a ``Clock``."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from game import errors as wire
from game.client.client import NoServers, Outcome
from game.client.document import GameDocument
from game.client.flagwatch import CLAIM_MARGIN_MS, TimeoutClaimer, claim_due
from tests.client.cli_fakes import game_answer, outcome_of, typed_doc

EPOCH = 1_700_000_000_000
TOKEN = "alice-token-0123456789"


class FakeClaimClient:
    """Servers whose clock is ``EPOCH`` plus the local one plus ``skew``."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.skew = 0
        self.claims: list[tuple[str, int, str]] = []
        self.answers: list[Deferred[Outcome]] = []

    def server_now(self) -> int:
        return EPOCH + round(self.clock.seconds() * 1000) + self.skew

    def claim_timeout(self, game_id: str, version: int, token: str) -> Deferred[Outcome]:
        self.claims.append((game_id, version, token))
        answer: Deferred[Outcome] = Deferred()
        self.answers.append(answer)
        return answer


def timed(version: int, to_move: int | None, deadline: int | None, **fields: Any) -> GameDocument:
    """An active live game (seat ``to_move`` to move) whose clock runs out at ``deadline``."""
    clock = {
        "control": "live:60+0",
        "remaining": [60_000, 60_000],
        "at": EPOCH,
        "deadline": deadline,
    }
    return typed_doc(version, to_move=to_move, clock=clock, **fields)


class ClaimDueTests(SynchronousTestCase):
    def test_after_the_opponents_deadline(self) -> None:
        self.assertEqual(claim_due(timed(3, 1, EPOCH + 5000), 0), EPOCH + 5000 + CLAIM_MARGIN_MS)
        self.assertEqual(claim_due(timed(3, 0, EPOCH + 5000), 1, margin_ms=0), EPOCH + 5000)

    def test_not_on_the_players_own_turn(self) -> None:
        self.assertIsNone(claim_due(timed(3, 0, EPOCH + 5000), 0))

    def test_not_in_untimed_open_or_finished_games(self) -> None:
        self.assertIsNone(claim_due(typed_doc(3, to_move=1), 0))
        self.assertIsNone(claim_due(timed(1, None, None, status="open"), 0))
        finished = timed(9, None, None, status="finished", result={"winner": 0, "reason": "time"})
        self.assertIsNone(claim_due(finished, 0))


class TimeoutClaimerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.client = FakeClaimClient(self.clock)
        self.heard: list[tuple[int, Any]] = []
        self.claimer = TimeoutClaimer(
            self.client,
            self.clock,
            on_claim=lambda document, answer: self.heard.append((document.version, answer)),
        )

    def test_claims_once_just_after_the_opponents_deadline(self) -> None:
        self.claimer.update(timed(3, 1, EPOCH + 10_000), 0, TOKEN)
        self.assertTrue(self.claimer.scheduled)
        self.clock.advance(10 + (CLAIM_MARGIN_MS - 1) / 1000)
        self.assertEqual(self.client.claims, [])
        self.clock.advance(0.001)
        self.assertEqual(self.client.claims, [("g1", 3, TOKEN)])
        self.assertFalse(self.claimer.scheduled)
        self.clock.advance(100)
        self.assertEqual(len(self.client.claims), 1)

    def test_on_the_servers_time_scale(self) -> None:
        self.client.skew = 4_000  # the servers' clocks are 4 s ahead of ours
        self.claimer.update(timed(3, 1, EPOCH + 10_000), 0, TOKEN)
        self.clock.advance(6 + CLAIM_MARGIN_MS / 1000)
        self.assertEqual(self.client.claims, [("g1", 3, TOKEN)])

    def test_a_deadline_already_passed_is_claimed_at_once(self) -> None:
        self.clock.advance(30)
        self.claimer.update(timed(3, 1, EPOCH + 10_000), 0, TOKEN)
        self.clock.advance(0)
        self.assertEqual(self.client.claims, [("g1", 3, TOKEN)])

    def test_nothing_on_the_players_own_turn(self) -> None:
        self.claimer.update(timed(3, 0, EPOCH + 10_000), 0, TOKEN)
        self.assertFalse(self.claimer.scheduled)
        self.clock.advance(100)
        self.assertEqual(self.client.claims, [])

    def test_a_move_reschedules(self) -> None:
        self.claimer.update(timed(3, 1, EPOCH + 10_000), 0, TOKEN)
        self.clock.advance(5)
        self.claimer.update(timed(4, 0, EPOCH + 20_000), 0, TOKEN)  # the opponent moved
        self.assertFalse(self.claimer.scheduled)
        self.clock.advance(3)
        self.claimer.update(timed(5, 1, EPOCH + 30_000), 0, TOKEN)  # and so did we
        self.clock.advance(21.9)
        self.assertEqual(self.client.claims, [])
        self.clock.advance(0.4)
        self.assertEqual(self.client.claims, [("g1", 5, TOKEN)])

    def test_an_older_document_is_ignored(self) -> None:
        self.claimer.update(timed(5, 1, EPOCH + 10_000), 0, TOKEN)
        self.claimer.update(timed(4, 0, EPOCH + 5_000), 0, TOKEN)
        self.clock.advance(10.25)
        self.assertEqual(self.client.claims, [("g1", 5, TOKEN)])

    def test_the_end_of_the_game_cancels(self) -> None:
        self.claimer.update(timed(3, 1, EPOCH + 10_000), 0, TOKEN)
        finished = timed(
            4, None, None, status="finished", result={"winner": 0, "reason": "resigned"}
        )
        self.claimer.update(finished, 0, TOKEN)
        self.assertFalse(self.claimer.scheduled)
        self.clock.advance(100)
        self.assertEqual(self.client.claims, [])

    def test_untimed_games_are_never_claimed(self) -> None:
        self.claimer.update(typed_doc(3, to_move=1), 0, TOKEN)
        self.assertFalse(self.claimer.scheduled)

    def test_never_twice_for_one_version(self) -> None:
        document = timed(3, 1, EPOCH + 10_000)
        self.claimer.update(document, 0, TOKEN)
        self.clock.advance(11)
        self.client.answers[0].callback(
            outcome_of("ClaimTimeout", (1, wire.TimeLeft()), (2, wire.TimeLeft()))
        )
        self.claimer.update(document, 0, TOKEN)
        self.assertFalse(self.claimer.scheduled)
        self.clock.advance(100)
        self.assertEqual(len(self.client.claims), 1)
        self.assertEqual(self.heard[0][0], 3)
        self.assertIsInstance(self.heard[0][1].error, wire.TimeLeft)

    def test_an_offset_that_moved_back_postpones_the_claim(self) -> None:
        self.claimer.update(timed(3, 1, EPOCH + 10_000), 0, TOKEN)
        self.clock.advance(5)
        self.client.skew = -2_000  # a heartbeat: the servers are 2 s behind us
        self.clock.advance(5.25)
        self.assertEqual(self.client.claims, [])
        self.assertTrue(self.claimer.scheduled)
        self.clock.advance(2)
        self.assertEqual(self.client.claims, [("g1", 3, TOKEN)])

    def test_the_answer_is_reported(self) -> None:
        self.claimer.update(timed(3, 1, EPOCH + 10_000), 0, TOKEN)
        self.clock.advance(10.25)
        ended = timed(4, None, None, status="finished", result={"winner": 0, "reason": "time"})
        outcome = outcome_of(
            "ClaimTimeout", *((sid, game_answer(ended.to_mapping())) for sid in (1, 2, 3))
        )
        self.client.answers[0].callback(outcome)
        self.assertEqual(self.heard, [(3, outcome)])

    def test_answered_fires_once_the_claim_in_flight_is_reported(self) -> None:
        self.successResultOf(self.claimer.answered())  # no claim in flight
        self.claimer.update(timed(3, 1, EPOCH + 10_000), 0, TOKEN)
        self.clock.advance(10.25)
        waiting = self.claimer.answered()
        self.assertNoResult(waiting)
        self.client.answers[0].errback(NoServers("none"))
        self.successResultOf(waiting)
        self.assertEqual(len(self.heard), 1)
        self.successResultOf(self.claimer.answered())

    def test_no_answer_is_reported_too(self) -> None:
        self.claimer.update(timed(3, 1, EPOCH + 10_000), 0, TOKEN)
        self.clock.advance(10.25)
        self.client.answers[0].errback(NoServers("none"))
        self.assertIsInstance(self.heard[0][1], NoServers)

    def test_stop_cancels(self) -> None:
        self.claimer.update(timed(3, 1, EPOCH + 10_000), 0, TOKEN)
        self.claimer.stop()
        self.clock.advance(100)
        self.assertEqual(self.client.claims, [])

    def test_another_game_replaces_the_followed_one(self) -> None:
        self.claimer.update(timed(9, 1, EPOCH + 10_000), 0, TOKEN)
        self.claimer.update(timed(2, 0, EPOCH + 5_000, id="g2"), 1, TOKEN)
        self.clock.advance(5.25)
        self.assertEqual(self.client.claims, [("g2", 2, TOKEN)])
