"""Status answered by game.server.heartbeat: the stock responder's bytes."""

from __future__ import annotations

from twisted.protocols import amp

from game import protocol as p
from game.server.heartbeat import StatusAnswer
from game.server.locators import ClientLocator
from tests.server.helpers import TOKEN_A, ConnectionTestCase, ServerHarness, start_game


class StatusBytesTests(ConnectionTestCase):
    """Each check sends ``Status`` on a new connection through the heartbeat
    responder and through stock AMP's, and compares what the client got."""

    def status_bytes(self, server: ServerHarness, stock: bool) -> bytes:
        conn = server.connect()
        if stock:
            self.patch(ClientLocator, "locateResponder", amp.CommandLocator.locateResponder)
        try:
            self.successResultOf(conn.call(p.Status))
        finally:
            self.patch(ClientLocator, "locateResponder", ClientLocator.locateResponder)
        conn.close()
        return bytes(conn.client.received)

    def assert_same_as_stock(self, server: ServerHarness) -> bytes:
        ours = self.status_bytes(server, stock=False)
        self.assertEqual(ours, self.status_bytes(server, stock=True))
        return ours

    def test_an_empty_server(self) -> None:
        self.assert_same_as_stock(ServerHarness(self))

    def test_not_serving(self) -> None:
        answer = self.assert_same_as_stock(ServerHarness(self, server_id=3, serving=False))
        self.assertIn(b"False", answer)

    def test_the_answer_follows_commits_and_the_clock(self) -> None:
        server = ServerHarness(self)
        conn = server.connect()
        answers = {self.assert_same_as_stock(server)}
        start_game(self, conn)
        answers.add(self.assert_same_as_stock(server))
        server.clock.advance(12.3456)
        answers.add(self.assert_same_as_stock(server))
        self.game(conn.call(p.MakeMove, game_id="g1", version=2, move="4", token=TOKEN_A))
        answers.add(self.assert_same_as_stock(server))
        self.assertEqual(len(answers), 4)

    def test_stopping_changes_serving(self) -> None:
        server = ServerHarness(self)
        serving = self.assert_same_as_stock(server)
        server.node.stop()
        stopped = self.assert_same_as_stock(server)
        self.assertNotEqual(serving, stopped)

    def test_a_clock_offset_and_large_values(self) -> None:
        server = ServerHarness(self, server_id=2)
        server.node.clock_offset_ms = 2**40
        server.replica.clock = 2**31 + 5
        server.replica.digest = 2**256 - 1
        self.assert_same_as_stock(server)

    def test_one_responder_for_every_connection(self) -> None:
        server = ServerHarness(self)
        for conn in (server.connect(), server.connect()):
            located = conn.protocol.locator.client.locateResponder(b"Status")  # type: ignore[attr-defined]
            self.assertIs(located, server.node.status_responder)


class StatusAnswerTests(ConnectionTestCase):
    def answer(self) -> StatusAnswer:
        server = ServerHarness(self)
        answer = server.node.status_responder(amp.AmpBox())
        assert isinstance(answer, StatusAnswer)
        return answer

    def test_serializes_as_an_amp_box(self) -> None:
        answer = self.answer()
        answer[b"_answer"] = b"1f"
        self.assertEqual(answer.serialize(), amp.AmpBox(answer).serialize())

    def test_other_keys_serialize_the_generic_way(self) -> None:
        answer = self.answer()
        answer[b"_answer"] = b"2"
        answer[b"extra"] = b"x"
        self.assertEqual(answer.serialize(), amp.AmpBox(answer).serialize())
        del answer[b"extra"], answer[b"_answer"]
        answer[b"_error"] = b"3"
        self.assertEqual(answer.serialize(), amp.AmpBox(answer).serialize())
