"""Where takeback and rematch offers stand for a seat, and the seat taken in
a rematch (game.client.offers, shared by the CLI and the GUI)."""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from game.client.document import GameDocument
from game.client.offers import (
    ACCEPT,
    OFFER,
    RematchSeat,
    has_moved,
    moves_taken_back,
    rematch_by,
    rematch_seat,
    rematch_stance,
    takeback_by,
    takeback_stance,
    takes_rematches,
    takes_takebacks,
)
from game.client.tokens import Seat
from game.rules import new_game
from tests.client_gui.helpers import REVERSI_BLACK_PASSES, document, timed


def typed(doc: dict[str, Any], **fields: Any) -> GameDocument:
    return GameDocument.from_mapping({**doc, **fields})


def movers(kind: str, moves: tuple[str, ...]) -> list[int]:
    """The seat that made each move, as the rules replay them."""
    position = new_game(kind)
    seats = []
    for move in moves:
        seats.append(position.to_move)
        position = position.play(move)
    return seats


class StanceTests(SynchronousTestCase):
    def test_takeback(self) -> None:
        doc = document("connect4", ("4",))
        self.assertEqual(takeback_stance(typed(doc), 0), "none")
        self.assertIsNone(takeback_by(typed(doc)))
        offered = typed(doc, takeback=0)
        self.assertEqual(takeback_by(offered), 0)
        self.assertEqual(
            [takeback_stance(offered, seat) for seat in (0, 1, None)], ["mine", "theirs", "theirs"]
        )

    def test_rematch(self) -> None:
        doc = document("connect4", ("4",), result={"winner": 0, "reason": "resigned"})
        self.assertEqual(rematch_stance(typed(doc), 1), "none")

        def rematch(state: str) -> GameDocument:
            return typed(doc, rematch={"by": 1, "game": "n" * 32, "state": state})

        self.assertEqual(
            [rematch_stance(rematch("offered"), s) for s in (0, 1)], ["theirs", "mine"]
        )
        self.assertEqual(rematch_by(rematch("offered")), 1)
        # After a decline either seat may offer again; an accepted one is over.
        self.assertEqual([rematch_stance(rematch("declined"), s) for s in (0, 1)], ["none"] * 2)
        self.assertIsNone(rematch_by(rematch("declined")))
        self.assertEqual([rematch_stance(rematch("accepted"), s) for s in (0, 1)], ["accepted"] * 2)
        self.assertIsNone(rematch_by(rematch("accepted")))

    def test_which_games_take_which_offers(self) -> None:
        active = document("connect4", ("4",))
        self.assertTrue(takes_takebacks(typed(active)))
        self.assertFalse(takes_takebacks(typed(timed(active))))
        self.assertFalse(takes_takebacks(typed(document("connect4", players=("alice", None)))))
        self.assertFalse(takes_rematches(typed(active)))
        finished = document("connect4", ("4",), result={"winner": 1, "reason": "resigned"})
        self.assertFalse(takes_takebacks(typed(finished)))
        self.assertTrue(takes_rematches(typed(finished)))
        self.assertTrue(takes_rematches(typed(timed(finished))))
        cancelled = document(
            "connect4", players=("alice", None), result={"winner": None, "reason": "cancelled"}
        )
        self.assertFalse(takes_rematches(typed(cancelled)))


class HasMovedTests(SynchronousTestCase):
    def test_agrees_with_the_rules_replay(self) -> None:
        """Every prefix of games in each kind, a Reversi pass among them."""
        games = [
            ("connect4", ("4", "4", "3")),
            ("checkers", ("11-15", "23-19", "8-11")),
            ("reversi", (*REVERSI_BLACK_PASSES, "pass", "c1")),
        ]
        for kind, moves in games:
            for count in range(len(moves) + 1):
                played = moves[:count]
                doc = typed(document(kind, played))
                for seat in (0, 1):
                    self.assertEqual(
                        has_moved(doc, seat), seat in movers(kind, played), (kind, played, seat)
                    )

    def test_moves_taken_back(self) -> None:
        before = typed(document("connect4", ("4", "4", "3")))
        self.assertEqual(moves_taken_back(before, typed(document("connect4", ("4",)))), 2)
        self.assertEqual(moves_taken_back(before, typed(document("connect4", ("4", "4")))), 1)
        self.assertEqual(moves_taken_back(before, before), 0)
        grown = typed(document("connect4", ("4", "4", "3", "3")))
        self.assertEqual(moves_taken_back(before, grown), 0)
        other = typed(document("connect4", ("5",)))  # not a prefix: no takeback
        self.assertEqual(moves_taken_back(before, other), 0)


class RematchSeatTests(SynchronousTestCase):
    def test_an_offer_chooses_the_game_and_the_other_colour(self) -> None:
        doc = typed(document("connect4", ("4",), result={"winner": 0, "reason": "resigned"}))
        first = rematch_seat(doc, 0, OFFER)
        self.assertEqual(first.seat, 1)
        self.assertRegex(first.game_id, "^[0-9a-f]{32}$")
        self.assertGreaterEqual(len(first.token), 16)
        second = rematch_seat(doc, 0, OFFER)
        self.assertNotEqual((first.game_id, first.token), (second.game_id, second.token))
        self.assertEqual(rematch_seat(doc, 0, OFFER, first), first)  # a retry repeats it

    def test_an_accept_takes_the_offer_s_game(self) -> None:
        doc = typed(
            document("connect4", ("4",), result={"winner": 0, "reason": "resigned"}),
            rematch={"by": 0, "game": "n" * 32, "state": "offered"},
        )
        accept = rematch_seat(doc, 1, ACCEPT)
        self.assertEqual((accept.game_id, accept.seat), ("n" * 32, 0))
        self.assertEqual(rematch_seat(doc, 1, ACCEPT, accept), accept)
        # A seat kept for another game (an offer of one's own) lends no token.
        elsewhere = RematchSeat("m" * 32, 0, accept.token)
        self.assertNotEqual(rematch_seat(doc, 1, ACCEPT, elsewhere).token, accept.token)

    def test_stored(self) -> None:
        self.assertEqual(
            RematchSeat("n" * 32, 1, "t" * 32).stored("c1", "alice", "reversi"),
            Seat("c1", "n" * 32, 1, "alice", "t" * 32, "reversi"),
        )
