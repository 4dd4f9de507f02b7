"""Records round trip: 1,000 random games per kind (seeded random legal play,
ended every way a game can end) written in each format, read back, written
again; PDN read back by an independent reader too (:mod:`.pdn_reader`).
Timed games again with generated clocks after each move (``MoveClocks``)."""

from __future__ import annotations

import copy
import random
import re
from collections import Counter
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from game.records import Record, RecordError, export, export_record, parse
from game.records.clocks import clocks_after_moves, clocks_from_times, move_times
from game.rules import Outcome, new_game
from game.rules.reversi import PASS
from tests.records import pdn_reader
from tests.records.games import random_document, random_move_clocks

GAMES = 1000
FORMATS = {
    "checkers": ("pdn", "moves", "json"),
    "reversi": ("ggf", "moves", "json"),
    "connect4": ("moves", "json"),
}
#: The endings 1,000 random games of each kind reach (PROTOCOL.md's reasons).
REACHED = {
    "checkers": {"no legal move", "resigned", "draw agreed", "time", "cancelled"},
    "reversi": {"more discs", "equal discs", "resigned", "draw agreed", "time", "cancelled"},
    "connect4": {"four in a row", "resigned", "draw agreed", "time", "cancelled"},
}


def games(kind: str) -> list[dict[str, Any]]:
    rng = random.Random(f"records-{kind}")
    return [random_document(kind, rng, f"game-{kind}-{i}") for i in range(GAMES)]


def outcome(document: dict[str, Any]) -> Outcome | None:
    result = document["result"]
    return None if result is None else Outcome(result["winner"], result["reason"])


class RoundTripTests(SynchronousTestCase):
    def round_trip(self, kind: str) -> list[dict[str, Any]]:
        documents = games(kind)
        for document in documents:
            for fmt in FORMATS[kind]:
                text = export(document, fmt)
                record = parse(text, fmt, kind if fmt == "moves" else None)
                self.assertEqual(export_record(record, fmt), text, f"{fmt}: {text}")
                self.check_record(document, fmt, record)
                if fmt == "moves":
                    # The kind is told from the text, an empty one aside.
                    if document["moves"]:
                        self.assertEqual(parse(text).moves, record.moves)
                else:
                    self.assertEqual(parse(text), record, "sniffed")
        return documents

    def check_record(self, document: dict[str, Any], fmt: str, record: Record) -> None:
        moves = tuple(document["moves"])
        result = outcome(document)
        players = tuple(document["players"])
        clock = document.get("clock")
        if fmt == "moves":
            while moves and moves[-1] == PASS:
                moves = moves[:-1]  # a final pass is not written
            self.assertEqual(record.moves, moves)
            over = new_game(record.kind)
            for move in moves:
                over = over.play(move)
            self.assertEqual(record.result, over.outcome())
            return
        self.assertEqual(record.moves, moves)
        self.assertEqual(record.players, players)
        if fmt == "ggf" and result is not None and result.reason == "cancelled":
            result = None  # GGF has no word for it
        self.assertEqual(record.result, result)
        if fmt == "json":
            self.assertEqual(record, Record.from_document(document))
            return
        if clock is None or (fmt == "ggf" and clock["control"].startswith("corr")):
            self.assertIsNone(record.clock)
            return
        assert record.clock is not None
        self.assertEqual(record.clock.control, clock["control"])
        if fmt == "pdn":
            self.assertEqual(record.game_id, document["id"])
            remaining = tuple(ms // 1000 * 1000 for ms in clock["remaining"])
            self.assertEqual(record.clock.remaining, remaining)
            running = document["to_move"] if clock["at"] is not None else None
            self.assertEqual(record.clock.running, running)

    def check_reached(self, kind: str, documents: list[dict[str, Any]]) -> None:
        reasons = Counter((d["result"] or {}).get("reason") for d in documents)
        self.assertLessEqual(REACHED[kind], set(reasons), reasons)
        self.assertGreater(reasons[None], 0, "unfinished games")

    def test_checkers(self) -> None:
        documents = self.round_trip("checkers")
        self.check_reached("checkers", documents)
        moves = [m for d in documents for m in d["moves"]]
        self.assertTrue(any(m.count("x") >= 2 for m in moves), "multi-jumps")
        kings = [d for d in documents if "K" in d["position"]]
        self.assertGreater(len(kings), 100, "games with kings")

    def test_reversi(self) -> None:
        documents = self.round_trip("reversi")
        self.check_reached("reversi", documents)
        passes = sum(d["moves"].count(PASS) for d in documents)
        self.assertGreater(passes, 50)

    def test_connect4(self) -> None:
        self.check_reached("connect4", self.round_trip("connect4"))


class IndependentReaderTests(SynchronousTestCase):
    """Every PDN export, read by a reader written from the standard's grammar."""

    def test_pdn_exports_read_back(self) -> None:
        for document in games("checkers"):
            text = export(document, "pdn")
            game = pdn_reader.read_pdn(text)
            self.assertEqual(
                game.tag_order[:8],
                ["Event", "Site", "Date", "Round", "White", "Black", "Result", "GameType"],
            )
            self.assertEqual(game.tags["GameType"], "21")
            self.assertNotIn("FEN", game.tags)
            self.assertEqual(game.tags["Black"], document["players"][0] or "?")
            self.assertEqual(game.tags["White"], document["players"][1] or "?")
            self.assertEqual(pdn_reader.replay(game.moves), document["moves"])
            self.assertEqual(game.result, game.tags["Result"])
            result = document["result"]
            expected = (
                "*"
                if result is None or result["reason"] == "cancelled"
                else {0: "1-0", 1: "0-1", None: "1/2-1/2"}[result["winner"]]
            )
            self.assertEqual(game.result, expected)
            # Move numbers: one before each of Black's moves, counting from 1.
            self.assertEqual(game.numbers, [f"{n}." for n in range(1, (len(game.moves) + 3) // 2)])


def timed_games(kind: str) -> list[tuple[dict[str, Any], list[int]]]:
    """The timed games of :func:`games` with clocks after each move; in half
    of them the document's clocks are those after the last move, as a server
    answers them when nothing happened since."""
    rng = random.Random(f"record-clocks-{kind}")
    timed = []
    for document in games(kind):
        if "clock" not in document:
            continue
        clocks = random_move_clocks(document, rng)
        if clocks and rng.random() < 0.5:
            document = copy.deepcopy(document)
            clock = document["clock"]
            clock["remaining"] = list(clocks_after_moves(clock["control"], 0, clocks)[-1])
            if clock["at"] is not None:
                clock["deadline"] = clock["at"] + clock["remaining"][document["to_move"]]
        timed.append((document, clocks))
    return timed


class TimedRoundTripTests(SynchronousTestCase):
    """Timed games with their clocks after each move: every move carries them
    (PDN's ``[%clock]``, GGF's time), they read back, and the text round trips."""

    def round_trip(self, kind: str, fmt: str) -> int:
        written = 0
        for document, clocks in timed_games(kind):
            text = export(document, fmt, clocks)
            record = parse(text, fmt)
            self.assertEqual(export_record(record, fmt), text, text)
            self.assertEqual(record.moves, tuple(document["moves"]))
            self.assertEqual(parse(text), record, "sniffed")
            if not clocks:  # no move: nothing to carry
                self.assertEqual(export(document, fmt), text)
            control = document["clock"]["control"]
            got = None if record.clock is None else record.clock.move_clocks
            if fmt == "pdn":
                expected = _pdn_clocks(control, clocks)
                self.assertEqual(got, expected)
                game = pdn_reader.read_pdn(text)
                self.assertEqual(pdn_reader.replay(game.moves), document["moves"])
                if expected is not None:
                    self.assertGreaterEqual(len(game.comments), len(clocks))
            elif control.startswith("live") and clocks:
                times = [(t + 5) // 10 * 10 for t in move_times(control, 0, clocks)]
                self.assertEqual(got, clocks_from_times(control, 0, times))
                self.assertEqual(
                    len(re.findall(r"[BW]\[[a-z0-9]+//[0-9]+\.[0-9]{2}\]", text)), len(clocks)
                )
            else:
                self.assertIsNone(got)
            written += got is not None
        return written

    def test_checkers_pdn(self) -> None:
        self.assertGreater(self.round_trip("checkers", "pdn"), 200)

    def test_reversi_ggf(self) -> None:
        self.assertGreater(self.round_trip("reversi", "ggf"), 100)

    def test_without_clocks_the_export_is_as_before(self) -> None:
        for kind, fmt in (("checkers", "pdn"), ("reversi", "ggf")):
            for document in games(kind)[:200]:
                if "clock" not in document:
                    self.assertEqual(export(document, fmt, []), export(document, fmt))
                    self.assertEqual(export(document, fmt, [1, 2]), export(document, fmt))
                elif document["moves"]:
                    with self.assertRaises(RecordError):
                        export(document, fmt, [1_000] * (len(document["moves"]) + 1))


def _pdn_clocks(control: str, clocks: list[int]) -> tuple[int, ...] | None:
    """What PDN keeps of the clocks: whole seconds, and none past 99 hours."""
    if not clocks:
        return None
    both = clocks_after_moves(control, 0, clocks)
    if max(max(pair) for pair in both) >= 100 * 3_600_000:
        return None
    return tuple(ms // 1000 * 1000 for ms in clocks)
