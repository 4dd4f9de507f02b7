"""A timed game's clocks after each move in its records: PDN's ``[%clock]``
after every move, GGF's ``B[f5//1.23]`` (:mod:`game.records.clocks`)."""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from game.records import RecordClock, RecordError, export, parse
from game.records.clocks import clocks_after_moves, clocks_from_times, move_times
from game.rules import new_game
from tests.records import pdn_reader


def timed_document(
    kind: str,
    moves: tuple[str, ...],
    remaining: tuple[int, int],
    control: str = "live:300+5",
    result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    position = new_game(kind)
    for move in moves:
        position = position.play(move)
    active = result is None
    at = 1_700_000_000_000 if active else None
    return {
        "id": "g1",
        "kind": kind,
        "version": 2 + len(moves) + (0 if active else 1),
        "status": "active" if active else "finished",
        "players": ["alice", "bob"],
        "to_move": position.to_move if active else None,
        "moves": list(moves),
        "position": position.to_text(),
        "legal": position.legal_moves() if active else [],
        "draw_offer": None,
        "result": result,
        "clock": {
            "control": control,
            "remaining": list(remaining),
            "at": at,
            "deadline": None if at is None else at + remaining[position.to_move],
        },
    }


def words(text: str) -> str:
    return " ".join(text.split())


CHECKERS_MOVES = ("11-15", "23-19", "8-11")
CHECKERS_CLOCKS = [303_000, 302_000, 301_500]


class PdnTests(SynchronousTestCase):
    def test_a_clock_comment_after_every_move(self) -> None:
        document = timed_document("checkers", CHECKERS_MOVES, (301_500, 302_000))
        text = export(document, "pdn", CHECKERS_CLOCKS)
        # Both clocks after each move, White's first; the one that runs next in capitals.
        self.assertIn(
            "1. 11-15 {[%clock W0:05:00 b0:05:03]} 23-19 {[%clock w0:05:02 B0:05:03]} "
            "2. 8-11 {[%clock W0:05:02 b0:05:01]} *",
            words(text),
        )
        self.assertEqual(text.count("%clock"), 3)  # the game stands as after the last move
        record = parse(text)
        expected = RecordClock("live:300+5", (301_000, 302_000), 1, (303_000, 302_000, 301_000))
        self.assertEqual(record.clock, expected)
        self.assertEqual(pdn_reader.replay(pdn_reader.read_pdn(text).moves), list(CHECKERS_MOVES))

    def test_clocks_that_moved_since_the_last_move(self) -> None:
        # White resigned 40 s after Black's last move: Black's clock ran meanwhile.
        document = timed_document(
            "checkers",
            CHECKERS_MOVES,
            (261_500, 302_000),
            result={"winner": 0, "reason": "resigned"},
        )
        text = export(document, "pdn", CHECKERS_CLOCKS)
        self.assertIn(
            "8-11 {[%clock w0:05:02 b0:05:01]} {[%clock w0:05:02 b0:04:21]} 1-0", words(text)
        )
        record = parse(text)
        assert record.clock is not None
        self.assertEqual(record.clock.remaining, (261_000, 302_000))
        self.assertEqual(record.clock.move_clocks, (303_000, 302_000, 301_000))

    def test_without_clocks_one_comment_after_the_last_move(self) -> None:
        document = timed_document("checkers", CHECKERS_MOVES, (301_500, 302_000))
        text = export(document, "pdn")
        self.assertEqual(text, export(document, "pdn", None))
        self.assertIn("2. 8-11 {[%clock W0:05:02 b0:05:01]} *", words(text))
        self.assertEqual(text.count("%clock"), 1)
        record = parse(text)
        assert record.clock is not None
        self.assertIsNone(record.clock.move_clocks)

    def test_a_move_without_a_clock_reads_as_no_clocks_per_move(self) -> None:
        text = (
            '[GameType "21"]\n[TimeControl "300+5"]\n'
            "1. 11-15 {[%clock W0:05:00 b0:05:03]} 23-19 2. 8-11 {[%clock W0:05:02 b0:05:01]} *\n"
        )
        record = parse(text)
        assert record.clock is not None
        self.assertIsNone(record.clock.move_clocks)
        self.assertEqual(record.clock.remaining, (301_000, 302_000))


class GgfTests(SynchronousTestCase):
    def test_the_time_each_move_took(self) -> None:
        document = timed_document("reversi", ("f5", "d6"), (303_770, 304_500))
        text = export(document, "ggf", [303_770, 304_500])
        # Black spent 300 + 5 - 303.77 s, White 300 + 5 - 304.5 s.
        self.assertIn("TI[05:00/00:05/]", text)
        self.assertIn("B[f5//1.23]W[d6//0.50];)", text)
        record = parse(text)
        self.assertEqual(record.clock, RecordClock("live:300+5", move_clocks=(303_770, 304_500)))
        self.assertEqual(export(document, "ggf"), text.replace("//1.23", "").replace("//0.50", ""))

    def test_ggs_times_with_evaluations_read_back(self) -> None:
        text = "(;GM[Othello]TI[05:00/00:05/]TY[8]B[f5//1.234]W[d6/-2.00/0.5]B[c3//12];)"
        record = parse(text)
        assert record.clock is not None
        self.assertEqual(record.clock.move_clocks, (303_766, 304_500, 303_766 - 12_000 + 5_000))
        text = "(;GM[Othello]TI[05:00/00:05/]TY[8]B[f5//1.23]W[d6/-2.00];)"
        self.assertEqual(parse(text).clock, RecordClock("live:300+5"))  # one move untimed

    def test_correspondence_has_no_ggs_clock(self) -> None:
        document = timed_document("reversi", ("f5",), (86_400_000, 86_400_000), "corr:1")
        text = export(document, "ggf", [86_400_000])
        self.assertEqual(text, export(document, "ggf"))
        self.assertNotIn("//", text)


class ClockArithmeticTests(SynchronousTestCase):
    def test_both_clocks_and_times(self) -> None:
        self.assertEqual(
            clocks_after_moves("live:300+5", 0, CHECKERS_CLOCKS),
            [(303_000, 300_000), (303_000, 302_000), (301_500, 302_000)],
        )
        # White moving first: its clock comes first.
        self.assertEqual(clocks_after_moves("live:10+0", 1, [9_000]), [(10_000, 9_000)])
        times = move_times("live:300+5", 0, CHECKERS_CLOCKS)
        self.assertEqual(times, [2_000, 3_000, 6_500])
        self.assertEqual(clocks_from_times("live:300+5", 0, times), tuple(CHECKERS_CLOCKS))

    def test_clocks_one_per_move(self) -> None:
        document = timed_document("checkers", CHECKERS_MOVES, (301_500, 302_000))
        with self.assertRaises(RecordError):
            export(document, "pdn", CHECKERS_CLOCKS[:2])
        # A game with no move has no clocks per move, whatever is given.
        empty = timed_document("checkers", (), (300_000, 300_000))
        self.assertEqual(export(empty, "pdn", []), export(empty, "pdn"))
        # json is the document as the servers answered it.
        self.assertEqual(export(document, "json", CHECKERS_CLOCKS), export(document, "json"))
