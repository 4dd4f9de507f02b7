"""The replay model: positions after any number of moves, stepping, following a live game."""

from __future__ import annotations

import attrs
from twisted.trial.unittest import SynchronousTestCase

from game.client.document import GameDocument
from game.client.replay import (
    Positions,
    Replay,
    common_prefix,
    move_rows,
    resolve_at,
    row_of,
)
from game.rules import new_game
from tests.client_gui.helpers import CHECKERS_DOUBLE_JUMP_AND_CROWN, document, typed

#: Black wins with four in a row on the bottom row.
CONNECT4_WIN = ("4", "4", "3", "3", "2", "2", "1")


def played(kind: str, moves: tuple[str, ...]) -> str:
    position = new_game(kind)
    for move in moves:
        position = position.play(move)
    return position.to_text()


def doc(kind: str, moves: tuple[str, ...] = ()) -> GameDocument:
    return typed(document(kind, moves))


class PositionsTests(SynchronousTestCase):
    def test_every_prefix_matches_the_rules(self) -> None:
        for kind, moves in [
            ("connect4", CONNECT4_WIN),
            ("checkers", CHECKERS_DOUBLE_JUMP_AND_CROWN),
            ("reversi", ("d3", "c5", "f6", "f5")),
        ]:
            positions = Positions(kind, moves)
            self.assertEqual(len(positions), len(moves) + 1)
            for count in reversed(range(len(moves) + 1)):
                self.assertEqual(positions.at(count).to_text(), played(kind, moves[:count]))

    def test_computed_lazily_and_once(self) -> None:
        positions = Positions("connect4", CONNECT4_WIN)
        self.assertEqual(positions.computed, 0)
        third = positions.at(3)
        self.assertEqual(positions.computed, 4)
        self.assertIs(positions.at(3), third)
        positions.at(1)
        self.assertEqual(positions.computed, 4)

    def test_out_of_range(self) -> None:
        positions = Positions("connect4", ("4",))
        for count in (-1, 2):
            with self.assertRaises(IndexError):
                positions.at(count)

    def test_extended_keeps_the_shared_prefix(self) -> None:
        positions = Positions("connect4", ("4", "4", "3"))
        third = positions.at(3)
        longer = positions.extended(("4", "4", "3", "3"))
        self.assertEqual(longer.computed, 4)
        self.assertIs(longer.at(3), third)
        self.assertEqual(longer.at(4).to_text(), "4433")
        taken_back = positions.extended(("4", "4", "5"))
        self.assertEqual(taken_back.computed, 3)
        self.assertEqual(taken_back.at(3).to_text(), "445")
        self.assertEqual(common_prefix(("4", "4", "3"), ("4", "4", "5")), 2)


class StepTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.replay = Replay.of(doc("connect4", CONNECT4_WIN))

    def test_live_at_first(self) -> None:
        replay = self.replay
        self.assertEqual((replay.live, replay.total, replay.shown, replay.behind), (True, 7, 7, 0))
        self.assertEqual(replay.highlight, 7)
        self.assertIs(replay.document_at(), replay.document)
        self.assertEqual(
            [replay.can(s) for s in ("first", "back", "forward", "last")],
            [True, True, False, False],
        )

    def test_back_forward_first_last(self) -> None:
        back = self.replay.step("back")
        self.assertEqual((back.live, back.at, back.shown, back.behind), (False, 6, 6, 1))
        self.assertEqual(back.shown_move(), "2")
        self.assertEqual(back.step("forward"), self.replay)
        first = back.step("first")
        self.assertEqual((first.shown, first.highlight, first.shown_move()), (0, None, None))
        self.assertFalse(first.can("back"))
        self.assertEqual(first.step("back"), first)
        self.assertEqual(first.step("last"), self.replay)
        self.assertTrue(first.step("last").live)
        self.assertEqual(self.replay.step("forward"), self.replay)
        with self.assertRaises(ValueError):
            self.replay.step("sideways")  # type: ignore[arg-type]

    def test_go_clamps(self) -> None:
        self.assertEqual(self.replay.go(-5).shown, 0)
        self.assertTrue(self.replay.go(99).live)
        self.assertEqual(self.replay.go(3).at, 3)

    def test_the_document_as_it_stood(self) -> None:
        past = self.replay.go(3).document_at()
        self.assertEqual(past.moves, ("4", "4", "3"))
        self.assertEqual(past.position, "443")
        self.assertEqual((past.status, past.to_move, past.result), ("active", 1, None))
        self.assertEqual(
            past.legal,
            tuple(sorted(new_game("connect4").play("4").play("4").play("3").legal_moves())),
        )
        self.assertEqual(
            (past.game_id, past.players), (self.replay.document.game_id, ("alice", "bob"))
        )
        self.assertEqual(self.replay.go(0).document_at().position, "")

    def test_equality_ignores_the_cache(self) -> None:
        other = Replay.of(doc("connect4", CONNECT4_WIN))
        self.replay.go(2).position()
        self.assertEqual(self.replay, other)
        self.assertNotEqual(self.replay.go(2), other)


class FollowTests(SynchronousTestCase):
    """A watched game goes on while the screen shows it."""

    def test_live_follows_new_moves(self) -> None:
        replay = Replay.of(doc("connect4", ("4",)))
        later = replay.follow(doc("connect4", ("4", "3")))
        self.assertTrue(later.live)
        self.assertEqual((later.shown, later.highlight), (2, 2))

    def test_stepped_back_stays_put(self) -> None:
        replay = Replay.of(doc("connect4", ("4", "4", "3"))).step("back").step("back")
        self.assertEqual(replay.shown, 1)
        replay.position()
        later = replay.follow(doc("connect4", ("4", "4", "3", "3")))
        self.assertEqual((later.live, later.shown, later.total, later.behind), (False, 1, 4, 3))
        # The cache carries over: the shared positions are not computed again.
        self.assertEqual(later.positions.computed, 2)
        self.assertEqual(later.document_at().position, "4")
        self.assertEqual(later.positions.computed, 2)
        self.assertTrue(later.step("last").live)
        self.assertTrue(later.step("forward").step("forward").step("forward").live)

    def test_one_before_the_end_then_a_move_arrives(self) -> None:
        replay = Replay.of(doc("connect4", ("4", "4"))).step("back")
        later = replay.follow(doc("connect4", ("4", "4", "3")))
        self.assertEqual((later.live, later.shown), (False, 1))

    def test_a_takeback_below_the_move_shown(self) -> None:
        replay = Replay.of(doc("connect4", ("4", "4", "3", "3"))).go(3)
        taken_back = replay.follow(doc("connect4", ("4", "4")))
        self.assertTrue(taken_back.live)
        self.assertEqual(taken_back.shown, 2)
        other = Replay.of(doc("connect4", ("4", "4", "3", "3"))).go(1)
        kept = other.follow(doc("connect4", ("4", "4", "3")))
        self.assertEqual((kept.live, kept.shown), (False, 1))

    def test_a_new_game_document(self) -> None:
        replay = Replay.of(doc("connect4", ("4",))).go(0)
        other = replay.follow(doc("reversi", ("d3",)))
        self.assertEqual(replay.go(0).follow(attrs.evolve(replay.document, game_id="g2")).at, None)
        self.assertEqual((other.live, other.shown), (True, 1))
        self.assertEqual(other.position().to_text(), played("reversi", ("d3",)))

    def test_the_game_ends_while_stepped_back(self) -> None:
        replay = Replay.of(doc("connect4", CONNECT4_WIN[:-1])).go(2)
        over = replay.follow(doc("connect4", CONNECT4_WIN))
        self.assertEqual(over.document.status, "finished")
        self.assertEqual((over.live, over.shown), (False, 2))
        self.assertEqual(over.step("last").document_at().status, "finished")

    def test_same_document_is_the_same_replay(self) -> None:
        replay = Replay.of(doc("connect4", ("4",))).go(0)
        self.assertEqual(replay.follow(attrs.evolve(replay.document, version=9)).at, 0)


class MoveRowTests(SynchronousTestCase):
    def test_rows_and_mark(self) -> None:
        moves = ("4", "4", "3")
        self.assertEqual(move_rows(moves), ["1. 4  4", "2. 3"])
        self.assertEqual(move_rows(moves, 2), ["1. 4  [4]", "2. 3"])
        self.assertEqual(move_rows(moves, 3), ["1. 4  4", "2. [3]"])
        self.assertEqual(move_rows(()), [])
        self.assertEqual([row_of(n) for n in (1, 2, 3, 4, 5)], [0, 0, 1, 1, 2])


class ResolveAtTests(SynchronousTestCase):
    def test_from_the_start_and_from_the_end(self) -> None:
        self.assertEqual([resolve_at(at, 7) for at in (0, 3, 7, -1, -7)], [0, 3, 7, 6, 0])
        self.assertEqual(resolve_at(0, 0), 0)

    def test_out_of_range_names_the_moves(self) -> None:
        for at in (8, -8):
            with self.assertRaises(ValueError) as raised:
                resolve_at(at, 7)
            self.assertIn("the game has 7 moves", str(raised.exception))
            self.assertIn(str(at), str(raised.exception))
        with self.assertRaises(ValueError) as raised:
            resolve_at(1, 1 - 1)
        self.assertIn("no moves yet", str(raised.exception))
        with self.assertRaises(ValueError) as raised:
            resolve_at(2, 1)
        self.assertIn("the game has 1 move:", str(raised.exception))
