"""Pushes written once for all watchers (game.server.fanout), and the counts
a server keeps instead of walking its connections."""

from __future__ import annotations

from twisted.internet.testing import StringTransport
from twisted.protocols import amp

from game import protocol as p
from game.server.connection import MAX_UNSENT
from game.server.fanout import GameChange, game_changed_box
from tests.server.helpers import (
    TOKEN_A,
    TOKEN_B,
    ConnectionTestCase,
    ServerHarness,
    authenticate,
    long_checkers_line,
    start_game,
)


def stock_push(document: str) -> bytes:
    """What stock AMP's ``callRemote(GameChanged, game=document)`` writes."""
    protocol = amp.AMP()
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.callRemote(p.GameChanged, game=document)
    written: bytes = transport.value()
    return written


class GameChangedBoxTests(ConnectionTestCase):
    def test_the_bytes_of_stock_call_remote(self) -> None:
        for document in ("{}", '{"players":["Zoë","李"],"x":"\\u0000"}', "x" * 65535):
            self.assertEqual(game_changed_box(document), stock_push(document))

    def test_a_document_over_one_amp_value_has_no_box(self) -> None:
        self.assertIsNone(game_changed_box("é" * 40000))
        self.assertRaises(amp.TooLong, stock_push, "é" * 40000)

    def test_a_change_keeps_its_document(self) -> None:
        change = GameChange.of('{"id":"g1"}')
        self.assertEqual((change.document, change.box), ('{"id":"g1"}', stock_push('{"id":"g1"}')))


class FanOutTests(ConnectionTestCase):
    def setUp(self) -> None:
        self.server = ServerHarness(self)
        self.player = self.server.connect()
        start_game(self, self.player)
        self.watchers = [self.server.connect() for _ in range(3)]
        for watcher in self.watchers:
            self.game(watcher.call(p.Watch, game_id="g1"))

    def move(self) -> None:
        """A move, committed and pushed, not yet delivered to the watchers."""
        self.player.send(p.MakeMove, game_id="g1", version=2, move="4", token=TOKEN_A)
        self.player.deliver()
        self.server.clock.advance(0)  # the commit, then the pushes

    def test_every_watcher_is_written_the_same_bytes_object(self) -> None:
        self.move()
        pushed = [watcher.server_io.stream[-1] for watcher in self.watchers]
        self.assertIs(pushed[0], pushed[1])
        self.assertIs(pushed[0], pushed[2])
        self.server.settle()
        document = self.watchers[0].client.changes[0]
        self.assertEqual(pushed[0], stock_push(document))
        for watcher in self.watchers:
            self.assertEqual(watcher.client.changes, [document])
            self.assertEqual(
                watcher.received_boxes()[-1],
                {b"_command": b"GameChanged", b"game": document.encode()},
            )

    def test_closed_and_closing_watchers_are_not_written(self) -> None:
        closing, lost = self.watchers[0], self.watchers[1]
        closing.protocol.pauseProducing()
        closing.protocol._close("a test")
        lost.protocol._live = False
        self.move()
        self.assertEqual(closing.server_io.stream, [])
        self.assertEqual(lost.server_io.stream, [])
        self.assertNotEqual(self.watchers[2].server_io.stream, [])

    def test_pushes_count_as_unsent_output(self) -> None:
        self.server.seed_game("long", "checkers", long_checkers_line(300))
        watcher = self.watchers[0]
        self.game(watcher.call(p.Watch, game_id="long"))
        document = self.successResultOf(watcher.call(p.GetGame, game_id="long"))["game"]
        size = len(stock_push(document))
        watcher.protocol.pauseProducing()
        pushes = MAX_UNSENT // size
        for _ in range(pushes):
            watcher.protocol.game_changed(GameChange.of(document))
        self.assertTrue(watcher.open)
        self.assertEqual(watcher.protocol._unsent_while_paused, pushes * size)
        watcher.protocol.game_changed(GameChange.of(document))
        self.assertFalse(watcher.open)

    def test_a_document_too_long_for_amp_fails_as_stock_amp_does(self) -> None:
        change = GameChange.of("é" * 40000)
        self.assertRaises(amp.TooLong, self.watchers[0].protocol.game_changed, change)


class ManyWatchersTests(ConnectionTestCase):
    def test_every_watcher_gets_every_push_in_order(self) -> None:
        server = ServerHarness(self)
        player = server.connect()
        start_game(self, player)
        watchers = [server.connect() for _ in range(200)]
        for watcher in watchers:
            self.game(watcher.call(p.Watch, game_id="g1"))
        answers = []
        for version, (move, token) in enumerate(
            [("4", TOKEN_A), ("4", TOKEN_B), ("3", TOKEN_A), ("5", TOKEN_B)], start=2
        ):
            result = player.call(p.MakeMove, game_id="g1", version=version, move=move, token=token)
            answers.append(self.successResultOf(result)["game"])
        for watcher in watchers:
            self.assertEqual(watcher.client.changes, answers)
        self.assertEqual(server.node.info()["watches"], 200)


class CountTests(ConnectionTestCase):
    def setUp(self) -> None:
        self.server = ServerHarness(self)

    def info(self) -> dict[str, object]:
        info: dict[str, object] = self.server.node.info()
        return info

    def test_client_connections_leave_out_authenticated_peers(self) -> None:
        factory = self.server.factory
        client, peer, other = (self.server.connect() for _ in range(3))
        self.assertEqual(factory.client_connections(), 3)
        self.successResultOf(authenticate(self, peer))
        self.assertEqual(factory.client_connections(), 2)
        self.successResultOf(authenticate(self, peer))  # proving again counts once
        self.assertEqual(factory.client_connections(), 2)
        peer.close()
        self.assertEqual(factory.client_connections(), 2)
        client.close()
        self.assertEqual(factory.client_connections(), 1)
        self.assertEqual(self.info()["connections"], 1)
        other.close()
        self.assertEqual(factory.client_connections(), 0)
        self.assertEqual(len(factory.connections), 0)

    def test_watches_are_counted_as_they_change(self) -> None:
        first, second = self.server.connect(), self.server.connect()
        start_game(self, first, "g1")
        start_game(self, first, "g2")
        for conn, game_id in [(first, "g1"), (first, "g2"), (second, "g1"), (first, "g1")]:
            self.game(conn.call(p.Watch, game_id=game_id))
        self.assertEqual(self.info()["watches"], 3)
        self.successResultOf(first.call(p.Unwatch, game_id="g2"))
        self.successResultOf(first.call(p.Unwatch, game_id="g2"))  # not watched: no change
        self.assertEqual(self.info()["watches"], 2)
        first.close()
        self.assertEqual(self.info()["watches"], 1)
        second.close()
        self.assertEqual((self.info()["watches"], self.server.node.watchers), (0, {}))
        result = self.server.connect().call(
            p.MakeMove, game_id="g1", version=2, move="4", token=TOKEN_A
        )
        self.game(result)
        self.assertEqual(self.info()["watches"], 0)
