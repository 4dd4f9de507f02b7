"""Tests for :mod:`game.client.document`: the game document, typed."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from game.client.document import (
    STATUSES,
    Clock,
    DocumentError,
    GameDocument,
    GameSummary,
    Result,
    canonical_json,
)
from game.rules import KINDS, new_game


def fields(**changes: Any) -> dict[str, Any]:
    """A reversi game after one move, as a server writes it."""
    document = {
        "id": "g1",
        "kind": "reversi",
        "version": 3,
        "status": "active",
        "players": ["alice", "bob"],
        "to_move": 1,
        "moves": ["d3"],
        "position": "---------------------------OX------XO--------------------------- X",
        "legal": ["c3", "c5", "e3"],
        "draw_offer": 0,
        "result": None,
    }
    document.update(changes)
    return document


def played(kind: str, moves: list[str], players: tuple[str | None, str | None]) -> str:
    """The canonical document of a game of ``kind`` after ``moves``, built
    field by field as PROTOCOL.md says (the server's own code is not used)."""
    position = new_game(kind)
    for move in moves:
        position = position.play(move)
    outcome = position.outcome()
    status = "open" if None in players else "finished" if outcome else "active"
    active = status == "active"
    return canonical_json(
        {
            "id": f"{kind}-game",
            "kind": kind,
            "version": 1 + (None not in players) + len(moves),
            "status": status,
            "players": list(players),
            "to_move": position.to_move if active else None,
            "moves": moves,
            "position": position.to_text(),
            "legal": sorted(position.legal_moves()) if active else [],
            "draw_offer": None,
            "result": None
            if outcome is None
            else {"winner": outcome.winner, "reason": outcome.reason},
        }
    )


class ParseTests(SynchronousTestCase):
    def test_every_field(self) -> None:
        document = GameDocument.from_json(canonical_json(fields()))
        self.assertEqual(
            document,
            GameDocument(
                game_id="g1",
                kind="reversi",
                version=3,
                status="active",
                players=("alice", "bob"),
                to_move=1,
                moves=("d3",),
                position="---------------------------OX------XO--------------------------- X",
                legal=("c3", "c5", "e3"),
                draw_offer=0,
                result=None,
                clock=None,
            ),
        )

    def test_a_finished_game(self) -> None:
        result = {"winner": None, "reason": "draw agreed"}
        document = GameDocument.from_mapping(
            fields(status="finished", to_move=None, legal=[], draw_offer=None, result=result)
        )
        self.assertEqual(document.result, Result(None, "draw agreed"))
        self.assertFalse(document.result.cancelled)  # type: ignore[union-attr]
        cancelled = Result(None, "cancelled")
        self.assertTrue(cancelled.cancelled)
        self.assertEqual((document.to_move, document.legal), (None, ()))

    def test_an_open_game_and_an_empty_position(self) -> None:
        document = GameDocument.from_json(played("connect4", [], ("alice", None)))
        self.assertEqual((document.status, document.position, document.free_seat), ("open", "", 1))
        self.assertEqual(document.players, ("alice", None))
        self.assertIsNone(document.player(1))
        self.assertIsNone(document.last_move)
        self.assertFalse(document.my_turn(0))

    def test_whose_turn(self) -> None:
        document = GameDocument.from_mapping(fields())
        self.assertEqual([document.my_turn(seat) for seat in (0, 1, None)], [False, True, False])
        self.assertEqual((document.free_seat, document.last_move), (None, "d3"))
        self.assertEqual(document.player(0), "alice")

    def test_bytes_are_read_as_utf8(self) -> None:
        text = canonical_json(fields(players=["Zoë", "鈴木"]))
        document = GameDocument.from_json(text.encode())
        self.assertEqual(document.players, ("Zoë", "鈴木"))

    def test_version_2_clock(self) -> None:
        clock = {
            "control": "live:300+5",
            "remaining": [300000, 297500],
            "at": 1700,
            "deadline": None,
        }
        document = GameDocument.from_mapping(fields(clock=clock))
        self.assertEqual(document.clock, Clock("live:300+5", (300000, 297500), 1700, None))
        self.assertEqual(document.to_mapping()["clock"], clock)
        self.assertNotIn("clock", GameDocument.from_mapping(fields()).to_mapping())

    def test_unknown_fields_are_ignored(self) -> None:
        later = fields(
            rating={"alice": 1500},
            result={"winner": 1, "reason": "time", "flagged_at": 5},
            status="finished",
            clock={"control": "corr:3", "remaining": [1, 2], "at": None, "deadline": None, "x": 1},
        )
        document = GameDocument.from_mapping(later)
        self.assertEqual(document, GameDocument.from_mapping({**later, "rating": None}))
        self.assertEqual(document.result, Result(1, "time"))
        self.assertNotIn("rating", document.to_mapping())

    def test_summary(self) -> None:
        text = canonical_json(
            {
                "id": "g1",
                "kind": "checkers",
                "status": "open",
                "players": ["al", None],
                "version": 1,
            }
        )
        self.assertEqual(
            GameSummary.from_json(text), GameSummary("g1", "checkers", "open", ("al", None), 1)
        )
        timed = {**json.loads(text), "clock": "live:60+0", "new": [1]}
        self.assertEqual(GameSummary.from_mapping(timed).clock, "live:60+0")


class MalformedTests(SynchronousTestCase):
    """A malformed document is refused, and the error names what is wrong."""

    def refused(self, text: str | dict[str, Any], *words: str) -> None:
        if isinstance(text, dict):
            text = json.dumps(text)
        with self.assertRaises(DocumentError) as raised:
            GameDocument.from_json(text)
        self.assertIsInstance(raised.exception, ValueError)
        for word in words:
            self.assertIn(word, str(raised.exception))

    def test_not_json_or_not_an_object(self) -> None:
        self.refused("{", "game document is not JSON")
        self.refused(b"\xff\xfe", "not JSON")
        self.refused("[1, 2]", "not a JSON object")

    def test_a_missing_field(self) -> None:
        for name in ("id", "kind", "version", "status", "players", "to_move", "moves"):
            document = fields()
            del document[name]
            self.refused(document, f"game document has no {name!r} field")
        for name in ("position", "legal", "draw_offer", "result"):
            document = fields()
            del document[name]
            self.refused(document, repr(name))

    def test_wrong_types(self) -> None:
        cases: list[tuple[str, Any, str]] = [
            ("id", "", "a non-empty string"),
            ("id", 7, "a non-empty string"),
            ("version", "3", "an integer of at least 1"),
            ("version", 0, "an integer of at least 1"),
            ("version", True, "an integer"),
            ("version", 3.0, "an integer"),
            ("status", "paused", "'open' or 'active' or 'finished'"),
            ("players", ["alice"], "two names or nulls"),
            ("players", ["alice", 3], "two names or nulls"),
            ("players", ["alice", ""], "two names or nulls"),
            ("to_move", 2, "0, 1 or null"),
            ("to_move", True, "0, 1 or null"),
            ("draw_offer", "0", "0, 1 or null"),
            ("moves", "d3", "a list of strings"),
            ("legal", [1], "a list of strings"),
            ("position", None, "a string"),
            ("result", "resigned", "an object or null"),
            ("clock", [1], "an object or null"),
        ]
        for name, value, expected in cases:
            self.refused(fields(**{name: value}), f"field {name!r} must be {expected}")

    def test_a_malformed_result_or_clock(self) -> None:
        self.refused(fields(result={"winner": 0}), "game result has no 'reason' field")
        self.refused(fields(result={"winner": 2, "reason": "x"}), "game result field 'winner'")
        clock = {"control": "live:1+0", "remaining": [1], "at": None, "deadline": None}
        self.refused(fields(clock=clock), "game clock field 'remaining' must be two integers")
        self.refused(fields(clock={**clock, "remaining": [1, 2], "at": "1"}), "field 'at'")

    def test_a_malformed_summary(self) -> None:
        with self.assertRaises(DocumentError) as raised:
            GameSummary.from_mapping({"id": "g1", "kind": "connect4", "status": "open"})
        self.assertIn("game summary has no 'players' field", str(raised.exception))


# -- serialization -------------------------------------------------------------------

seats = st.sampled_from([None, 0, 1])
names = st.one_of(st.none(), st.text(min_size=1, max_size=8))
words = st.text(min_size=1, max_size=8)
counts = st.integers(min_value=-(2**40), max_value=2**40)
documents = st.builds(
    GameDocument,
    game_id=words,
    kind=st.sampled_from(KINDS),
    version=st.integers(min_value=1, max_value=2**31 - 1),
    status=st.sampled_from(STATUSES),
    players=st.tuples(names, names),
    to_move=seats,
    moves=st.lists(words, max_size=5).map(tuple),
    position=st.text(max_size=70),
    legal=st.lists(words, max_size=5).map(tuple),
    draw_offer=seats,
    result=st.one_of(st.none(), st.builds(Result, seats, words)),
    clock=st.one_of(
        st.none(),
        st.builds(Clock, words, st.tuples(counts, counts), st.none() | counts, st.none() | counts),
    ),
)


class SerializationTests(SynchronousTestCase):
    @given(documents)
    def test_parse_of_serialize_is_identity(self, document: GameDocument) -> None:
        text = document.to_json()
        self.assertEqual(GameDocument.from_json(text), document)
        self.assertEqual(GameDocument.from_json(text).to_json(), text)

    @settings(max_examples=25, deadline=None)
    @given(st.sampled_from(KINDS), st.randoms(use_true_random=False), st.integers(0, 40))
    def test_a_played_game_reads_back_to_the_same_bytes(
        self, kind: str, rng: Any, length: int
    ) -> None:
        position = new_game(kind)
        moves: list[str] = []
        while len(moves) < length and position.outcome() is None:
            move = rng.choice(sorted(position.legal_moves()))
            position = position.play(move)
            moves.append(move)
        for players in (("alice", "bob"), ("alice", None)):
            text = played(kind, moves if None not in players else [], players)
            self.assertEqual(GameDocument.from_json(text).to_json(), text)
