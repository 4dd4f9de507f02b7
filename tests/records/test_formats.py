"""Records read from published files, written with a set-up position, refused
when illegal (move number and reason) or malformed (line and column)."""

from __future__ import annotations

import json
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from game.records import (
    IllegalRecord,
    MalformedRecord,
    Record,
    RecordClock,
    RecordError,
    export,
    export_record,
    parse,
    sniff,
)
from game.rules import Outcome, from_text, new_game
from tests.records import pdn_reader

FIXTURES = Path(__file__).parent / "fixtures"
RULES_FIXTURES = Path(__file__).parent.parent / "rules" / "fixtures"

#: Two games of the GGS game archive (Othello.01e4 of 2000, and 2003), as
#: published: upper and lower case moves, evaluations and times, passes.
GGS_2003 = (
    "(;GM[Othello]PC[GGS/os]DT[2003.12.15_13:24:03.MST]PB[Saio1200]PW[Saio3000]"
    "RB[2197.01]RW[2199.72]TI[05:00//02:00]TY[8]RE[+0.000]"
    "BO[8 -------- -------- -------- ---O*--- ---*O--- -------- -------- -------- *]"
    "B[d3//0.01]W[c5//0.01]B[e6//0.01]W[d2//0.01]B[c6//0.01]W[d6//0.01]B[b5//0.01]"
    "W[f5//0.01]B[e7//0.01]W[f6//0.01]B[f4//0.01]W[f3//0.01]B[g4//0.01]W[d7//0.01]"
    "B[g3//0.01]W[g5//0.01]B[h6//0.01]W[h5//0.01]B[h4//0.01]W[e8//0.01]B[c7//0.01]"
    "W[h3//0.01]B[c3//0.01]W[h7//0.01]B[e3//0.01]W[b6//0.01]B[g6//5.42]W[f7//0.01]"
    "B[d8//0.01]W[c2//0.01]B[d1//0.01]W[c4//0.01]B[b4//0.01]W[a5//0.01]B[f8//0.01]"
    "W[f2//0.01]B[e2//0.01]W[a4//17.38]B[a3//19.10]W[b3//0.01]B[f1//4.90]W[g7//0.01]"
    "B[b7//0.01]W[c8//0.01]B[a6//0.01]W[a7//0.01]B[c1//0.01]W[b2//0.01]B[a8//0.01]"
    "W[b8//0.01]B[a2//0.01]W[e1//0.01]B[h8//0.01]W[g8//0.01]B[h2//0.01]W[g1//0.01]"
    "B[h1//3.80]W[g2//0.01]B[pass]W[a1//0.01]B[b1//0.01];)"
)
GGS_2000 = (
    "(;GM[Othello]PC[GGS/os]DT[2000-4-16 11:13 EST]PB[fangr]PW[patzer]RB[1457.12]"
    "RW[1631.74]TI[15:00//02:00]TY[8]RE[-40.00]"
    "BO[8 -------- -------- -------- ---O*--- ---*O--- -------- -------- -------- *]"
    "B[E6//4.09]W[F4/-48.50/0.93]B[C3//5.52]W[C4/-42.50/0.43]B[D3//1.70]W[D6/-39.50/0.28]"
    "B[F6//4.31]W[C6/-28.55/0.13]B[F5//2.17]W[G5/0.55/0.10]B[G6//2.21]W[E3/-30.57/0.02]"
    "B[F2//1.65]W[F7/-43.63/0.01]B[E7//4.71]W[F3/-43.63]B[H5//1.80]W[E2/-43.63]"
    "B[C5//5.10]W[B6/0.63]B[B4//6.88]W[B5/2.82]B[B3//8.30]W[A4/2.04]B[A3//3.06]"
    "W[H4/-2.55]B[H3//8.17]W[D8/-5.22/0.01]B[C7//9.61]W[D7/-2.40]B[C8//51.08]W[E8/0.90]"
    "B[C2//17.00]W[G4/4.05]B[F1//16.62]W[H6/6.88/0.01]B[G3//11.69]W[H2/12.51/0.01]"
    "B[A5//33.91]W[D2/15.19/0.01]B[E1//2.67]W[B2/13.64/0.01]B[B7//7.38]W[D1/15.94/0.01]"
    "B[G2//5.81]W[A6/15.89/0.01]B[A7//3.84]W[H1/27.21/0.01]B[F8//6.78]W[A8/29.49/0.01]"
    "B[B8//3.80]W[A2/29.39/0.01]B[A1//2.96]W[G1/30.62/0.01]B[C1//3.05]W[B1/30.46/0.01]"
    "B[H7//5.06]W[H8/40.00/0.01]B[pass//1.67]W[G7/40.00/0.01]B[pass//2.10]W[G8];)"
)


class PublishedRecordTests(SynchronousTestCase):
    def test_ggs_archive_games(self) -> None:
        record = parse(GGS_2003)
        self.assertEqual(record.players, ("Saio1200", "Saio3000"))
        self.assertEqual(len(record.moves), 61)
        self.assertEqual(record.moves[58:], ("pass", "a1", "b1"))
        self.assertEqual(record.result, Outcome(None, "equal discs"))
        # TI[05:00//02:00]: 5 minutes, no increment (GGS's 2-minute extension dropped).
        self.assertEqual(record.clock, RecordClock("live:300+0"))
        record = parse(GGS_2000, "ggf")
        self.assertEqual(record.players, ("fangr", "patzer"))
        self.assertEqual(record.moves[:3], ("e6", "f4", "c3"))
        self.assertEqual(record.result, Outcome(1, "more discs"))
        self.assertEqual(record.positions()[-1].counts(), (12, 52))  # type: ignore[attr-defined]
        # Written back as GGS writes it now: lower case, the score with three decimals.
        text = export_record(record)
        self.assertIn("RE[-40.000]", text)
        self.assertIn("B[e6]W[f4]B[c3]", text)
        self.assertIn("B[pass]W[g7]B[pass]W[g8];)", text)
        self.assertEqual(parse(text).moves, record.moves)

    def test_other_ggs_game_types_are_refused(self) -> None:
        for game_type in ("s8r19", "8k", "10"):
            error = self.assertRaises(
                RecordError, parse, GGS_2003.replace("TY[8]", f"TY[{game_type}]")
            )
            self.assertIn(f"TY[{game_type}]", str(error))
        error = self.assertRaises(RecordError, parse, GGS_2003.replace("Othello", "Amazons"))
        self.assertIn("GM[Amazons] is not an Othello game", str(error))

    def test_open_checkers_archive_games(self) -> None:
        games = (FIXTURES / "oca_2.0_first_games.pdn").read_text().split("\n\n")
        records = [parse(game) for game in games]
        self.assertEqual(
            [(r.players, len(r.moves), r.result) for r in records],
            [
                (("Moorhead, W.", "Wyllie, J."), 44, Outcome(1, "resigned")),
                (("Hay, W.", "Wyllie, J."), 52, Outcome(None, "draw agreed")),
                (("Anderson, A.", "Wyllie, J."), 41, Outcome(0, "resigned")),
            ],
        )
        # The archive writes every landing square; PDN 3.0 both ends only.
        self.assertEqual(records[0].moves[-1], "26x17x10x1")
        text = export_record(records[0])
        self.assertIn(" 26x1 0-1", text)
        game = pdn_reader.read_pdn(text)
        self.assertEqual(pdn_reader.replay(game.moves), list(records[0].moves))
        # The reader of the standard reads the archive too.
        self.assertEqual(
            pdn_reader.replay(pdn_reader.read_pdn(games[1]).moves), list(records[1].moves)
        )

    def test_a_game_from_a_set_up_position(self) -> None:
        line = json.loads((RULES_FIXTURES / "checkers_1000_plies.json").read_text())
        record = Record("checkers", ("a", "b"), tuple(line["moves"]), start=line["start"])
        record = Record(
            "checkers",
            ("a", "b"),
            record.moves,
            record.positions()[-1].outcome(),
            start=line["start"],
        )
        self.assertEqual(record.result, Outcome(None, "move limit"))
        text = export_record(record, "pdn")
        self.assertIn(f'[SetUp "1"]\n[FEN "{line["start"]}"]\n', text)
        self.assertEqual(parse(text), record)
        game = pdn_reader.read_pdn(text)
        start = from_text("checkers", game.tags["FEN"])
        self.assertEqual(pdn_reader.replay(game.moves, start), line["moves"])
        self.assertEqual(game.result, "1/2-1/2")
        # White to move first: "1..." before its first move.
        white_first = Record("checkers", (None, None), ("18-14",), start="W:W18:B1,2")
        self.assertIn("1... 18-14 *", export_record(white_first))
        self.assertEqual(parse(export_record(white_first)), white_first)

    def test_pdn_fen_ranges_and_clock_comments(self) -> None:
        text = (
            '[GameType "21"]\n[FEN "W:W18-20,K32:B1-3."]\n[TimeControl "60+1"]\n'
            "1... 18-14 {[%clock W0:00:59 b0:01:00]} 2. 3-7 {[%clk w0:00:58 B0:00:57]} *\n"
        )
        record = parse(text)
        self.assertEqual(record.start, "W:W18,19,20,K32:B1,2,3")
        self.assertEqual(record.moves, ("18-14", "3-7"))
        self.assertEqual(record.clock, RecordClock("live:60+1", (57_000, 58_000), 0))

    def test_board_full_in_connect_four(self) -> None:
        # Column pairs filled in an order that never makes four.
        columns = "121212" + "343434" + "565656" + "212121" + "434343" + "656565" + "777777"
        position = new_game("connect4")
        for column in columns:
            position = position.play(column)
        self.assertEqual(position.outcome(), Outcome(None, "board full"))
        record = parse(columns + "\n", "moves")
        self.assertEqual(record.result, Outcome(None, "board full"))
        self.assertEqual(export_record(record), columns + "\n")


class RefusalTests(SynchronousTestCase):
    def test_a_step_where_a_capture_is_required(self) -> None:
        error = self.assertRaises(
            IllegalRecord, parse, '[Event "x"]\n\n1. 11-15 22-18\n2. 9-14 *\n'
        )
        self.assertEqual((error.number, error.seat, error.move, error.ply), (2, 0, "9-14", 2))
        self.assertEqual(
            str(error),
            "move 2 (black): 9-14 is not legal here: a capture is required (line 4, column 4)",
        )

    def test_a_multi_jump_cut_short(self) -> None:
        game = (FIXTURES / "oca_2.0_first_games.pdn").read_text().split("\n\n")[1]
        error = self.assertRaises(IllegalRecord, parse, game.replace("31x22x15", "31x22"))
        self.assertEqual(
            str(error).split(" (line")[0],
            "move 22 (white): 31x22 is not legal here: the capture does not go on to its end",
        )

    def test_other_checkers_reasons(self) -> None:
        for movetext, reason in [
            ("1. 13-17", "there is no black piece on 13"),
            ("1. 21-17", "there is no black piece on 21"),
            ("1. 11-18", "11 and 18 are not neighbours on a diagonal"),
            ("1. 9x18", "there is no capture here"),
            ("1. 11-15 22-18 2. 10x19", "the piece on 10 has no capture"),
            ("1. 11-15 24-20 2. 15-19 23-18 3. 12-16 18-15", "a capture is required"),
        ]:
            error = self.assertRaises(IllegalRecord, parse, movetext + " *")
            self.assertEqual(error.reason, reason, movetext)

    def test_reversi_and_connect_four_reasons(self) -> None:
        error = self.assertRaises(IllegalRecord, parse, "f5d6c3d3a1", "moves")
        self.assertEqual(
            str(error), "move 5 (black): a1 is not legal here: a1 flips no disc (line 1, column 9)"
        )
        error = self.assertRaises(IllegalRecord, parse, "f5f5")
        self.assertEqual(error.reason, "f5 is occupied")
        error = self.assertRaises(IllegalRecord, parse, GGS_2003.replace("B[pass]", "B[c8]"))
        self.assertEqual(error.reason, "black has no disc to place and must pass")
        self.assertEqual(error.number, 59)
        error = self.assertRaises(IllegalRecord, parse, GGS_2003.replace("B[d3//0.01]", "B[pass]"))
        self.assertEqual(error.reason, "black has a disc to place, so may not pass")
        error = self.assertRaises(IllegalRecord, parse, GGS_2003.replace("W[c5//0.01]", "B[c5]"))
        self.assertEqual(error.reason, "it is white's turn")
        error = self.assertRaises(IllegalRecord, parse, "4444444", "moves", "connect4")
        self.assertEqual(
            str(error), "move 7 (black): 4 is not legal here: column 4 is full (line 1, column 7)"
        )
        error = self.assertRaises(IllegalRecord, parse, "1212121" + "3")
        self.assertEqual(error.reason, "the game is already over")

    def test_results_that_contradict_the_moves(self) -> None:
        game = (FIXTURES / "oca_2.0_first_games.pdn").read_text().split("\n\n")[0]
        error = self.assertRaises(
            RecordError, parse, game.replace('[Result "0-1"]', '[Result "1/2-1/2"]')
        )
        self.assertIn("the Result tag says 1/2-1/2 but the game ends 0-1", str(error))
        self.assertRaises(RecordError, parse, GGS_2000.replace("RE[-40.00]", "RE[+40.00]"))

    def test_malformed_records(self) -> None:
        for text, fmt, where in [
            ("1. 11-15 qq *", "pdn", (1, 10)),
            ('[Event "x"]\n1. 11-15 (23-19 *', "pdn", (2, 18)),
            ("(;GM[Othello]TY[8]\n  B[f5]W;)", "ggf", (2, 8)),
            ("(;GM[Othello]BO[8 ---- *];)", "ggf", (1, 17)),
            ("no game", "ggf", (1, 1)),
            ("44\n4z", "moves", (2, 2)),
            ('{"kind": ', "json", (1, 10)),
        ]:
            error = self.assertRaises(
                MalformedRecord, parse, text, fmt, "connect4" if fmt == "moves" else None
            )
            self.assertEqual((error.line, error.column), where, text)
            self.assertTrue(str(error).startswith(f"line {where[0]}, column {where[1]}: "))

    def test_records_of_other_games(self) -> None:
        self.assertRaises(RecordError, parse, '[GameType "20"]\n1. 32-28 *')
        self.assertRaises(RecordError, export, {"kind": "reversi"}, "pdn")
        document = {
            "id": "g",
            "kind": "reversi",
            "players": ["a", None],
            "moves": [],
            "result": None,
        }
        error = self.assertRaises(RecordError, export, document, "pdn")
        self.assertEqual(str(error), "pdn records checkers games, not reversi")
        self.assertRaises(RecordError, parse, "f5d6", "moves", "connect4")
        self.assertRaises(RecordError, parse, "", "moves")


class SniffTests(SynchronousTestCase):
    def test_formats_told_from_the_text(self) -> None:
        self.assertEqual(sniff(GGS_2003), ("ggf", "reversi"))
        self.assertEqual(sniff('[Event "x"]'), ("pdn", "checkers"))
        self.assertEqual(sniff("1. 11-15 *"), ("pdn", "checkers"))
        self.assertEqual(sniff('{"id": "g"}'), ("json", None))
        self.assertEqual(sniff("4453\n"), ("moves", "connect4"))
        self.assertEqual(sniff("f5d6 C3 pass"), ("moves", "reversi"))
        self.assertEqual(sniff("11-15 23-19 8x11"), ("moves", "checkers"))
        self.assertRaises(RecordError, sniff, "hello")
