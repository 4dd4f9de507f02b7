"""Tests for the ``replgame`` seat and draw decisions
(:mod:`game.client.cli.choices`)."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from game.client.cli import choices
from tests.client.cli_fakes import seat, typed_doc


class SeatChoiceTests(SynchronousTestCase):
    def test_the_one_seat_held(self) -> None:
        self.assertEqual(choices.choose_seat([seat(1)], typed_doc(to_move=0), "move"), seat(1))
        self.assertEqual(choices.choose_seat([seat(0)], typed_doc(), "resign"), seat(0))

    def test_both_seats_move_and_draw_for_the_side_to_move(self) -> None:
        both = [seat(0), seat(1)]
        self.assertEqual(choices.choose_seat(both, typed_doc(to_move=1), "move").seat, 1)
        self.assertEqual(choices.choose_seat(both, typed_doc(to_move=0), "draw").seat, 0)

    def test_both_seats_resign_needs_a_choice(self) -> None:
        both = [seat(0), seat(1)]
        with self.assertRaises(choices.CliError) as raised:
            choices.choose_seat(both, typed_doc(), "resign")
        self.assertIn("--seat 0 (black) or --seat 1 (white)", raised.exception.message)
        self.assertEqual(choices.choose_seat(both, typed_doc(), "resign", requested=1).seat, 1)

    def test_a_seat_not_held(self) -> None:
        with self.assertRaises(choices.CliError) as raised:
            choices.choose_seat([seat(0)], typed_doc(), "move", requested=1)
        self.assertEqual(
            raised.exception.message, "you hold no seat 1 in game g1 (you hold seat 0)"
        )
        with self.assertRaises(choices.CliError) as raised:
            choices.choose_seat([], typed_doc(status="open", players=["alice", None]), "move")
        self.assertIn("replgame join g1 --as NAME", raised.exception.message)
        with self.assertRaises(choices.CliError) as raised:
            choices.choose_seat([], typed_doc(), "move")
        self.assertIn("alice (black) and bob (white)", raised.exception.message)

    def test_both_seats_of_a_finished_game(self) -> None:
        with self.assertRaises(choices.CliError) as raised:
            choices.choose_seat(
                [seat(0), seat(1)], typed_doc(status="finished", to_move=None), "move"
            )
        self.assertIn("finished; nobody is to move", raised.exception.message)

    def test_draw_offer_or_accept(self) -> None:
        self.assertEqual(choices.draw_action(typed_doc(), 0), "offer")
        self.assertEqual(choices.draw_action(typed_doc(draw_offer=1, to_move=0), 0), "accept")
        with self.assertRaises(choices.CliError) as raised:
            choices.draw_action(typed_doc(draw_offer=0, to_move=0), 0)
        self.assertIn("play your move, then bob (white) may accept it", raised.exception.message)
        with self.assertRaises(choices.CliError) as raised:
            choices.draw_action(typed_doc(draw_offer=0, to_move=1), 0)
        self.assertIn("it is up to bob (white) to accept it", raised.exception.message)

    def test_game_id_prefixes(self) -> None:
        seats = [seat(0, "abcdef"), seat(0, "abc999"), seat(0, "xyz123")]
        self.assertEqual(choices.resolve_game("xy", seats), "xyz123")
        self.assertEqual(choices.resolve_game("abc", seats), "abc")  # ambiguous: as given
        self.assertEqual(choices.resolve_game("abcdef", seats), "abcdef")
        self.assertEqual(choices.resolve_game("other", seats), "other")

    def test_join_takes_the_free_seat_of_an_open_game(self) -> None:
        self.assertEqual(choices.free_seat(typed_doc(status="open", players=["alice", None])), 1)
        self.assertEqual(choices.free_seat(typed_doc(status="open", players=[None, "bob"])), 0)
        with self.assertRaises(choices.CliError) as raised:
            choices.free_seat(typed_doc())
        self.assertEqual(
            raised.exception.message,
            "game g1 is active, not open (its players are alice (black) and bob (white))",
        )

    def test_the_tag_of_a_refusal(self) -> None:
        refused = choices.CliError("refused", {"error": {"tag": "BEHIND", "description": "x"}})
        self.assertEqual(refused.tag, "BEHIND")
        self.assertIsNone(choices.CliError("no server reachable").tag)
