"""``ReplicatedClient.move_clocks`` (``MoveClocks``' answer read) and
:mod:`game.client.recordclocks` (what a record carries, or why not)."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from game import errors as wire
from game.client.client import NoAnswer, Outcome, ReplicatedClient
from game.client.document import DocumentError
from game.client.recordclocks import RecordClocks, record_clocks
from game.config import default_config
from tests.client.cli_fakes import outcome_of, typed_doc


def answered(*texts: str) -> Outcome:
    return outcome_of("MoveClocks", *((i, {"clocks": t}) for i, t in enumerate(texts, 1)))


class ClientMethodTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.client = ReplicatedClient(default_config(), MemoryReactorClock())
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.answer: Outcome = answered("[1,2]", "[1,2]")

        def request(command: Any, **arguments: Any) -> Deferred[Outcome]:
            self.sent.append((command.commandName.decode(), arguments))
            return succeed(self.answer)

        self.patch(self.client, "request", request)

    def test_the_majority_answer_as_integers(self) -> None:
        self.assertEqual(self.successResultOf(self.client.move_clocks("g1")), (1, 2))
        self.assertEqual(self.sent, [("MoveClocks", {"game_id": "g1"})])
        self.answer = answered("[]", "[]")
        self.assertEqual(self.successResultOf(self.client.move_clocks("g1")), ())

    def test_errors(self) -> None:
        self.answer = outcome_of("MoveClocks", (1, wire.UnknownGame()), (2, wire.UnknownGame()))
        self.failureResultOf(self.client.move_clocks("g1"), wire.UnknownGame)
        # Older servers answer UNHANDLED: a failure, not a vote.
        unhandled = RuntimeError("UNHANDLED")
        self.answer = outcome_of("MoveClocks", (1, unhandled), (2, unhandled), (3, unhandled))
        self.failureResultOf(self.client.move_clocks("g1"), NoAnswer)
        for text in ("[1,2.5]", "{}", "not json", '["1"]', "[true]"):
            self.answer = answered(text, text)
            self.failureResultOf(self.client.move_clocks("g1"), DocumentError)


class FakeClient:
    def __init__(self, answer: Deferred[tuple[int, ...]]) -> None:
        self.answer = answer
        self.asked: list[str] = []

    def move_clocks(self, game_id: str) -> Deferred[tuple[int, ...]]:
        self.asked.append(game_id)
        return self.answer


def timed_doc(moves: int, kind: str = "checkers") -> Any:
    clock = {"control": "live:60+1", "remaining": [60_000, 60_000], "at": 5, "deadline": 60_005}
    return typed_doc(2 + moves, clock=clock, kind=kind)


class RecordClocksTests(SynchronousTestCase):
    def ask(self, document: Any, answer: Deferred[tuple[int, ...]]) -> tuple[RecordClocks, Any]:
        client = FakeClient(answer)
        result = self.successResultOf(record_clocks(client, document))  # type: ignore[arg-type]
        return result, client.asked

    def test_untimed_or_moveless_games_ask_nothing(self) -> None:
        self.assertEqual(self.ask(typed_doc(4), Deferred()), (RecordClocks(None), []))
        self.assertEqual(self.ask(timed_doc(0), Deferred()), (RecordClocks(None), []))
        # A Connect Four record (a column string) carries no clock.
        connect4 = timed_doc(2, "connect4")
        self.assertEqual(self.ask(connect4, Deferred()), (RecordClocks(None), []))
        client = FakeClient(succeed((1, 2)))
        asked = record_clocks(client, connect4, "pdn")  # type: ignore[arg-type]
        self.assertEqual(self.successResultOf(asked), RecordClocks((1, 2)))
        self.assertEqual(client.asked, ["g1"])
        json_format = record_clocks(client, timed_doc(2), "json")  # type: ignore[arg-type]
        self.assertEqual(self.successResultOf(json_format), RecordClocks(None))

    def test_one_clock_per_move_of_the_document_read(self) -> None:
        self.assertEqual(self.ask(timed_doc(2), succeed((5, 6))), (RecordClocks((5, 6)), ["g1"]))
        # A move made since the document was read is left out.
        self.assertEqual(self.ask(timed_doc(2), succeed((5, 6, 7)))[0], RecordClocks((5, 6)))
        short, _ = self.ask(timed_doc(2), succeed((5,)))
        self.assertIsNone(short.clocks)
        self.assertIn("clocks for 1 of 2 moves", short.note)
        self.assertEqual(RecordClocks((5, 6)).note, "")

    def test_why_there_are_none(self) -> None:
        cases = [
            (wire.UnknownGame(), "answered MoveClocks UNKNOWN_GAME"),
            (NoAnswer("no server answered MoveClocks"), "an older server does not know"),
            (DocumentError("not a list"), "MoveClocks failed: not a list"),
        ]
        for error, said in cases:
            clocks, _ = self.ask(timed_doc(2), fail(error))
            self.assertIsNone(clocks.clocks)
            self.assertIn(said, clocks.note)
            self.assertTrue(clocks.note.startswith("the record carries the clocks as the game"))
