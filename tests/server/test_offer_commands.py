"""The takeback and rematch commands through one server: AMP answers and
declared tags, and the replica's part (the new game created in the same
commit as the accept, GAME_EXISTS, repeats answering the new game)."""

from __future__ import annotations

import json
from typing import Any

from twisted.protocols import amp

from game import errors as wire
from game import protocol as p
from game.server.gamelog import (
    ACCEPT_REMATCH,
    OFFER_REMATCH,
    OFFER_TAKEBACK,
    RESIGN,
    Command,
    Event,
    InvalidEvent,
    token_hash,
)
from game.server.locators import ClientLocator
from tests.server.helpers import (
    TOKEN_A,
    TOKEN_B,
    TOKEN_C,
    ConnectionTestCase,
    ServerHarness,
    record_located_responders,
    start_game,
)

R_A = "alice-rematch-token-0123"
R_B = "bobby-rematch-token-0123"


class TakebackCommandTests(ConnectionTestCase):
    def setUp(self) -> None:
        self.server = ServerHarness(self)
        self.conn = self.server.connect()
        start_game(self, self.conn)

    def call(self, command: type[p.Command], version: int, token: str, **more: Any) -> Any:
        return self.conn.call(command, game_id="g1", version=version, token=token, **more)

    def test_offer_accept_over_the_wire(self) -> None:
        self.game(self.call(p.MakeMove, 2, TOKEN_A, move="4"))
        self.game(self.call(p.MakeMove, 3, TOKEN_B, move="5"))
        self.wire_error(self.call(p.OfferTakeback, 4, TOKEN_C), wire.BadToken)
        self.wire_error(self.call(p.AcceptTakeback, 4, TOKEN_B), wire.NoTakebackOffer)
        offered = self.game(self.call(p.OfferTakeback, 4, TOKEN_A))
        self.assertEqual(offered["takeback"], 0)
        self.assertEqual(self.game(self.call(p.OfferTakeback, 4, TOKEN_A)), offered)  # repeat
        self.wire_error(self.call(p.OfferTakeback, 5, TOKEN_B), wire.TakebackPending)
        self.wire_error(self.call(p.AcceptTakeback, 5, TOKEN_A), wire.NotYourTurn)
        self.wire_error(self.call(p.AcceptTakeback, 4, TOKEN_B), wire.StaleVersion)
        taken = self.game(self.call(p.AcceptTakeback, 5, TOKEN_B))
        self.assertEqual((taken["moves"], taken["version"], taken["to_move"]), ([], 6, 0))
        self.assertNotIn("takeback", taken)
        self.wire_error(self.call(p.DeclineTakeback, 6, TOKEN_A), wire.NoTakebackOffer)
        self.wire_error(self.call(p.OfferTakeback, 6, TOKEN_A), wire.NothingToTakeBack)

    def test_timed_games_refuse(self) -> None:
        self.game(
            self.conn.call(
                p.CreateGame,
                game_id="t1",
                kind="connect4",
                player="alice",
                token=TOKEN_A,
                clock="live:300+5",
            )
        )
        offer = self.conn.call(p.OfferTakeback, game_id="t1", version=1, token=TOKEN_A)
        self.wire_error(offer, wire.TimedGame)

    def test_answered_by_the_stock_responders(self) -> None:
        # Rare commands: no direct responder built for every connection.
        located = record_located_responders(self)
        self.wire_error(self.call(p.DeclineTakeback, 2, TOKEN_A), wire.NoTakebackOffer)
        self.assertEqual(located, [(b"DeclineTakeback", "twisted.protocols.amp")])

    def test_the_stock_responders_answer_the_same(self) -> None:
        self.patch(ClientLocator, "locateResponder", amp.CommandLocator.locateResponder)
        self.game(self.call(p.MakeMove, 2, TOKEN_A, move="4"))
        self.assertEqual(self.game(self.call(p.OfferTakeback, 3, TOKEN_A))["takeback"], 0)
        self.game(self.call(p.DeclineTakeback, 4, TOKEN_B))
        self.game(self.call(p.OfferTakeback, 5, TOKEN_A))
        self.assertEqual(self.game(self.call(p.AcceptTakeback, 6, TOKEN_B))["moves"], [])
        self.game(self.call(p.Resign, 7, TOKEN_B))
        self.game(self.call(p.OfferRematch, 8, TOKEN_A, rematch_id="g2", rematch_token=R_A))
        self.game(self.call(p.DeclineRematch, 9, TOKEN_B))
        self.game(self.call(p.OfferRematch, 10, TOKEN_B, rematch_id="g2", rematch_token=R_B))
        new = self.game(self.call(p.AcceptRematch, 11, TOKEN_A, rematch_token=R_A))
        self.assertEqual((new["id"], new["players"]), ("g2", ["bobby", "alice"]))

    def test_bad_arguments(self) -> None:
        self.wire_error(
            self.call(p.OfferRematch, 2, TOKEN_A, rematch_id="no/id", rematch_token=R_A),
            wire.BadRequest,
        )
        self.wire_error(
            self.call(p.OfferRematch, 2, TOKEN_A, rematch_id="g2", rematch_token="short"),
            wire.BadRequest,
        )
        self.assertTrue(self.conn.open)


class RematchCommandTests(ConnectionTestCase):
    def setUp(self) -> None:
        self.server = ServerHarness(self)
        self.conn = self.server.connect()
        self.watcher = self.server.connect()
        start_game(self, self.conn)
        self.game(self.watcher.call(p.Watch, game_id="g1"))
        self.game(self.call(p.Resign, 2, TOKEN_B))

    def call(self, command: type[p.Command], version: int, token: str, **more: Any) -> Any:
        return self.conn.call(command, game_id="g1", version=version, token=token, **more)

    def offer(self, rematch_id: str = "g2", version: int = 3) -> Any:
        return self.call(p.OfferRematch, version, TOKEN_A, rematch_id=rematch_id, rematch_token=R_A)

    def test_accept_creates_the_new_game_in_the_same_commit(self) -> None:
        offered = self.game(self.offer())
        self.assertEqual(offered["rematch"], {"by": 0, "game": "g2", "state": "offered"})
        batches = self.server.committer.batches
        new = self.game(self.call(p.AcceptRematch, 4, TOKEN_B, rematch_token=R_B))
        self.assertEqual(self.server.committer.batches, batches + 1)
        self.assertEqual(new["id"], "g2")
        self.assertEqual(
            (new["players"], new["status"], new["version"]), (["bobby", "alice"], "active", 2)
        )
        self.assertEqual(new["rematch_of"], "g1")
        old = self.game(self.conn.call(p.GetGame, game_id="g1"))
        self.assertEqual(
            (old["rematch"]["state"], old["version"], old["status"]), ("accepted", 5, "finished")
        )
        # Watchers of the old game hear of the offer and the accept.
        states = [
            json.loads(text).get("rematch", {}).get("state") for text in self.watcher.client.changes
        ]
        self.assertEqual(states[-2:], ["offered", "accepted"])
        # The seats: each player's rematch token, the other colour.
        self.game(self.conn.call(p.MakeMove, game_id="g2", version=2, move="4", token=R_B))
        self.wire_error(
            self.conn.call(p.MakeMove, game_id="g2", version=3, move="4", token=R_B),
            wire.NotYourTurn,
        )
        # A repeated accept answers the new game as it is now.
        again = self.game(self.call(p.AcceptRematch, 4, TOKEN_B, rematch_token=R_B))
        self.assertEqual((again["id"], again["version"]), ("g2", 3))
        games = self.successResultOf(self.conn.call(p.ListGames))["games"]
        self.assertEqual([json.loads(g)["id"] for g in games], ["g1", "g2"])
        text = self.server.replica.game("g2")
        assert text is not None
        self.assertNotIn(R_A, "".join(text.event_json))
        self.assertIn(token_hash("g2", 1, R_A), text.event_json[0])

    def test_game_exists_on_offer_and_on_accept(self) -> None:
        self.wire_error(self.offer("g1"), wire.GameExists)
        self.game(
            self.conn.call(p.CreateGame, game_id="g3", kind="reversi", player="x", token=TOKEN_C)
        )
        self.wire_error(self.offer("g3"), wire.GameExists)
        self.game(self.offer("g2"))
        self.game(
            self.conn.call(p.CreateGame, game_id="g2", kind="connect4", player="x", token=TOKEN_C)
        )
        self.wire_error(self.call(p.AcceptRematch, 4, TOKEN_B, rematch_token=R_B), wire.GameExists)
        self.assertEqual(self.game(self.conn.call(p.GetGame, game_id="g1"))["version"], 4)

    def test_other_tags(self) -> None:
        self.wire_error(self.call(p.DeclineRematch, 3, TOKEN_A), wire.NoRematchOffer)
        self.wire_error(
            self.call(p.AcceptRematch, 3, TOKEN_B, rematch_token=R_B), wire.NoRematchOffer
        )
        self.game(self.offer())
        self.wire_error(self.call(p.AcceptRematch, 4, TOKEN_A, rematch_token=R_A), wire.NotYourTurn)
        self.wire_error(self.offer("g5", version=4), wire.RematchPending)
        self.wire_error(self.call(p.DeclineRematch, 4, TOKEN_C), wire.BadToken)
        self.wire_error(self.offer("g5", version=9), wire.Behind)
        self.game(
            self.conn.call(p.CreateGame, game_id="o", kind="connect4", player="x", token=TOKEN_C)
        )
        open_offer = self.conn.call(
            p.OfferRematch,
            game_id="o",
            version=1,
            token=TOKEN_C,
            rematch_id="o2",
            rematch_token=R_A,
        )
        self.wire_error(open_offer, wire.GameNotOver)
        self.game(self.conn.call(p.Resign, game_id="o", version=1, token=TOKEN_C))
        cancelled = self.conn.call(
            p.OfferRematch,
            game_id="o",
            version=2,
            token=TOKEN_C,
            rematch_id="o2",
            rematch_token=R_A,
        )
        self.wire_error(cancelled, wire.NoOpponent)
        self.wire_error(self.call(p.MakeMove, 4, TOKEN_A, move="4"), wire.GameIsOver)


class ReplicaRematchTests(ConnectionTestCase):
    """A replica that holds the accept but not the new game (adopted from a
    peer) creates it when the accept is repeated; one that holds the new
    game already (anti-entropy) takes the accept."""

    def test_repeat_creates_the_missing_new_game(self) -> None:
        first = ServerHarness(self)
        second = ServerHarness(self, server_id=2)
        for server in (first, second):
            server.seed_game("g1")
            server.replica.apply("g1", Command(RESIGN, 2, TOKEN_B))
            server.replica.apply(
                "g1", Command(OFFER_REMATCH, 3, TOKEN_A, rematch_id="g2", rematch_token=R_A)
            )
            server.clock.advance(0)
        accept = Command(ACCEPT_REMATCH, 4, TOKEN_B, rematch_token=R_B)
        new = first.replica.apply("g1", accept)
        first.clock.advance(0)
        created = self.successResultOf(new)
        game = first.replica.game("g1")
        assert game is not None
        adopted = second.replica.adopt("g1", tuple(game.event_json))
        second.clock.advance(0)
        self.successResultOf(adopted)
        self.assertIsNone(second.replica.game("g2"))
        repeated = second.replica.apply("g1", accept)
        second.clock.advance(0)
        self.assertEqual(self.successResultOf(repeated), created)
        self.assertEqual(second.replica.digest_hex(), first.replica.digest_hex())

    def test_accept_where_the_new_game_arrived_first(self) -> None:
        first = ServerHarness(self)
        second = ServerHarness(self, server_id=2)
        for server in (first, second):
            server.seed_game("g1")
            server.replica.apply("g1", Command(RESIGN, 2, TOKEN_B))
            server.replica.apply(
                "g1", Command(OFFER_REMATCH, 3, TOKEN_A, rematch_id="g2", rematch_token=R_A)
            )
            server.clock.advance(0)
        accept = Command(ACCEPT_REMATCH, 4, TOKEN_B, rematch_token=R_B)
        first.replica.apply("g1", accept)
        first.clock.advance(0)
        new = first.replica.game("g2")
        assert new is not None
        second.replica.adopt("g2", tuple(new.event_json))
        second.clock.advance(0)
        answered = second.replica.apply("g1", accept)
        second.clock.advance(0)
        self.assertEqual(json.loads(self.successResultOf(answered))["id"], "g2")
        self.assertEqual(second.replica.digest_hex(), first.replica.digest_hex())

    def test_a_peer_history_with_an_invalid_offer_event_is_refused(self) -> None:
        server = ServerHarness(self)
        server.seed_game("g1", moves=("4",))
        game = server.replica.game("g1")
        assert game is not None
        before = (server.replica.digest_hex(), tuple(game.event_json))
        hashes = [game.tokens[0] or "", game.tokens[1] or ""]
        # Bob made no move: his takeback offer is not one the rules make.
        bad = Event(OFFER_TAKEBACK, 1, hashes[1]).to_json()
        with self.assertRaises(InvalidEvent):
            server.replica.adopt("g1", (*game.event_json, bad))
        server.clock.advance(0)
        again = server.replica.game("g1")
        assert again is not None
        self.assertEqual((server.replica.digest_hex(), tuple(again.event_json)), before)
        good = Event(OFFER_TAKEBACK, 0, hashes[0]).to_json()
        adopted = server.replica.adopt("g1", (*game.event_json, good))
        server.clock.advance(0)
        self.assertEqual(json.loads(self.successResultOf(adopted))["takeback"], 0)
