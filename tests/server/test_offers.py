"""Takebacks and rematches in the game log: every rule and tag in the check
order, the documents' canonical bytes, repeats, and the replay of the new
events (docs/protocol.md, "Takebacks and rematches")."""

from __future__ import annotations

import json
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from game import errors as wire
from game.rules import new_game
from game.server.events import (
    ACCEPT_DRAW,
    ACCEPT_REMATCH,
    ACCEPT_TAKEBACK,
    DECLINE_REMATCH,
    DECLINE_TAKEBACK,
    JOIN,
    MOVE,
    OFFER_DRAW,
    OFFER_REMATCH,
    OFFER_TAKEBACK,
    RESIGN,
    Event,
    InvalidEvent,
    canonical_json,
    token_hash,
)
from game.server.gamelog import REPEAT, Command, GameLog, create_event, decide
from game.server.offers import moves_kept

GAME = "game-1"
NEW = "game-2"
T0 = "seat-zero-token-0123456789"
T1 = "seat-one-token-0123456789"
STRANGER = "nobody-holds-this-token"
R0 = "rematch-token-of-seat-0-xyz"
R1 = "rematch-token-of-seat-1-xyz"
TOKENS = (T0, T1)
NOW = 1_700_000_000_000


def active(
    moves: tuple[str, ...] = (), kind: str = "connect4", clock: str = "", game_id: str = GAME
) -> GameLog:
    """Alice (seat 0, T0) against Bob (seat 1, T1), these moves played."""
    game = GameLog(game_id, create_event(kind, "alice", 0, T0, game_id, clock))
    at = NOW if clock else None
    do(game, JOIN, T1, player="bob", at=at)
    for move in moves:
        do(game, MOVE, TOKENS[game.position.to_move], move=move, at=at)
    return game


def finished(clock: str = "") -> GameLog:
    """A game Bob resigned after one move each."""
    game = active(("4", "3"), clock=clock)
    do(game, RESIGN, T1, at=NOW if clock else None)
    return game


def command(game: GameLog, event_type: str, token: str, **fields: Any) -> Command:
    version = fields.pop("version", game.version)
    return Command(event_type, version, token, **fields)


def do(game: GameLog, event_type: str, token: str, **fields: Any) -> Event:
    now = fields.pop("now", NOW)
    outcome = decide(game, command(game, event_type, token, **fields), now)
    assert isinstance(outcome, Event), outcome
    game.append(outcome)
    return outcome


def document(game: GameLog) -> dict[str, Any]:
    text = game.document()
    fields: dict[str, Any] = json.loads(text)
    return fields


class OfferTestCase(SynchronousTestCase):
    def refused(
        self, game: GameLog, event_type: str, token: str, error: type[wire.WireError], **fields: Any
    ) -> wire.WireError:
        before = game.document()
        now = fields.pop("now", NOW)
        with self.assertRaises(error) as raised:
            decide(game, command(game, event_type, token, **fields), now)
        self.assertEqual(game.document(), before)
        return raised.exception

    def check_replays(self, game: GameLog) -> None:
        """Every replica replaying the events derives the same bytes."""
        again = GameLog.from_events(game.game_id, list(game.event_json))
        self.assertEqual(again.document(), game.document())
        self.assertEqual(canonical_json(game.document_fields()), game.document())
        for text in game.event_json:
            self.assertEqual(Event.from_json(text).to_json(), text)
            self.assertEqual(canonical_json(json.loads(text)), text)


class TakebackTests(OfferTestCase):
    def test_offer_stands_until_accepted_one_ply(self) -> None:
        game = active(("4", "3", "5"))
        do(game, OFFER_TAKEBACK, T0)
        self.assertEqual(document(game)["takeback"], 0)
        self.assertEqual(document(game)["version"], 6)
        do(game, ACCEPT_TAKEBACK, T1)
        held = document(game)
        self.assertEqual(held["moves"], ["4", "3"])
        self.assertEqual(held["position"], "43")
        self.assertEqual(held["to_move"], 0)
        self.assertEqual(held["version"], 7)  # every event counts
        self.assertNotIn("takeback", held)
        self.assertEqual(len(game.events), 7)  # nothing deleted
        self.check_replays(game)

    def test_accept_undoes_the_reply_too(self) -> None:
        game = active(("4", "3", "5", "2"))
        do(game, OFFER_TAKEBACK, T0)  # Alice's last move was "5"; Bob replied "2"
        do(game, ACCEPT_TAKEBACK, T1)
        self.assertEqual(document(game)["moves"], ["4", "3"])
        self.assertEqual(document(game)["to_move"], 0)
        # Play on from there: the rules see the position as replayed.
        do(game, MOVE, T0, move="7")
        self.assertEqual(document(game)["position"], "437")
        self.check_replays(game)

    def test_checkers_position_is_the_replayed_one(self) -> None:
        moves = ("11-15", "23-19", "8-11", "22-17")
        game = active(moves, kind="checkers")
        do(game, OFFER_TAKEBACK, T1)
        do(game, ACCEPT_TAKEBACK, T0)
        position = new_game("checkers")
        for move in moves[:3]:
            position = position.play(move)
        self.assertEqual(document(game)["position"], position.to_text())
        self.assertEqual(document(game)["legal"], position.legal_moves())
        self.check_replays(game)

    def test_moves_kept(self) -> None:
        self.assertEqual(moves_kept([0, 1, 0, 1], 0), 2)
        self.assertEqual(moves_kept([0, 1, 0, 1], 1), 3)
        self.assertEqual(moves_kept([0, 1, 1], 0), 0)  # a reversi pass in between
        self.assertRaises(ValueError, moves_kept, [0], 1)

    def test_a_move_declines_the_offer(self) -> None:
        game = active(("4",))
        do(game, OFFER_TAKEBACK, T0)
        do(game, MOVE, T1, move="4")
        self.assertNotIn("takeback", document(game))
        self.refused(game, ACCEPT_TAKEBACK, T1, wire.NoTakebackOffer)
        self.check_replays(game)

    def test_accepting_clears_a_draw_offer(self) -> None:
        game = active(("4", "3"))
        do(game, OFFER_DRAW, T0)
        do(game, OFFER_TAKEBACK, T1)
        self.assertEqual((document(game)["draw_offer"], document(game)["takeback"]), (0, 1))
        do(game, ACCEPT_TAKEBACK, T0)
        self.assertIsNone(document(game)["draw_offer"])
        self.assertEqual(document(game)["to_move"], 1)
        self.refused(game, ACCEPT_DRAW, T1, wire.NoDrawOffer)

    def test_decline_by_either_seat(self) -> None:
        for decliner in (T0, T1):
            game = active(("4",))
            do(game, OFFER_TAKEBACK, T0)
            do(game, DECLINE_TAKEBACK, decliner)
            self.assertNotIn("takeback", document(game))
            self.assertEqual(document(game)["moves"], ["4"])
            self.refused(game, DECLINE_TAKEBACK, T1, wire.NoTakebackOffer)
            do(game, OFFER_TAKEBACK, T0)  # a new offer may follow
            self.check_replays(game)

    def test_game_end_clears_the_offer(self) -> None:
        game = active(("4",))
        do(game, OFFER_TAKEBACK, T0)
        do(game, RESIGN, T0)
        self.assertNotIn("takeback", document(game))
        self.check_replays(game)

    def test_tags_in_check_order(self) -> None:
        game = active(("4",))
        self.refused(game, OFFER_TAKEBACK, STRANGER, wire.BadToken)
        self.refused(game, OFFER_TAKEBACK, T1, wire.NothingToTakeBack)
        self.refused(game, ACCEPT_TAKEBACK, T1, wire.NoTakebackOffer)
        self.refused(game, DECLINE_TAKEBACK, T0, wire.NoTakebackOffer)
        do(game, OFFER_TAKEBACK, T0)
        # TAKEBACK_PENDING comes before NOTHING_TO_TAKE_BACK.
        self.refused(game, OFFER_TAKEBACK, T1, wire.TakebackPending)
        self.refused(game, OFFER_TAKEBACK, T0, wire.TakebackPending)
        self.refused(game, ACCEPT_TAKEBACK, T0, wire.NotYourTurn)  # one's own offer
        self.refused(game, ACCEPT_TAKEBACK, T1, wire.StaleVersion, version=2)
        self.refused(game, ACCEPT_TAKEBACK, T1, wire.Behind, version=9)
        # An open game: NOT_YOUR_TURN, as the draw commands.
        opened = GameLog(GAME, create_event("connect4", "alice", 0, T0, GAME))
        self.refused(opened, OFFER_TAKEBACK, T0, wire.NotYourTurn)
        self.refused(opened, DECLINE_TAKEBACK, T0, wire.NotYourTurn)

    def test_timed_and_finished_games(self) -> None:
        timed = active(("4",), clock="live:300+5")
        # No `at` needed: the answer is TIMED_GAME, after GAME_OVER.
        self.refused(timed, OFFER_TAKEBACK, T0, wire.TimedGame)
        self.refused(timed, OFFER_TAKEBACK, T0, wire.TimedGame, at=NOW)
        self.refused(timed, ACCEPT_TAKEBACK, T1, wire.TimedGame)
        do(timed, RESIGN, T1, at=NOW)
        self.refused(timed, OFFER_TAKEBACK, T0, wire.GameIsOver)
        self.refused(finished(), DECLINE_TAKEBACK, T0, wire.GameIsOver)

    def test_repeats(self) -> None:
        game = active(("4",))
        do(game, OFFER_TAKEBACK, T0)
        do(game, ACCEPT_TAKEBACK, T1)
        self.assertIs(decide(game, Command(OFFER_TAKEBACK, 3, T0)), REPEAT)
        self.assertIs(decide(game, Command(ACCEPT_TAKEBACK, 4, T1)), REPEAT)
        self.refused(game, ACCEPT_TAKEBACK, T0, wire.StaleVersion, version=4)
        self.refused(game, DECLINE_TAKEBACK, T1, wire.StaleVersion, version=4)

    def test_replay_refuses_what_decide_would(self) -> None:
        game = active(("4",))
        events = list(game.event_json)
        offer = Event(OFFER_TAKEBACK, 0, game.tokens[0] or "").to_json()
        accept_own = Event(ACCEPT_TAKEBACK, 0, game.tokens[0] or "").to_json()
        nothing = Event(OFFER_TAKEBACK, 1, game.tokens[1] or "").to_json()
        GameLog.from_events(GAME, [*events, offer])
        for bad in ([nothing], [offer, accept_own], [offer, offer], [accept_own]):
            with self.assertRaises(InvalidEvent):
                GameLog.from_events(GAME, [*events, *bad])
        # Takeback events carry nothing else: a time is not their shape.
        with self.assertRaises(InvalidEvent):
            Event.from_json(offer.replace('{"seat"', '{"at":5,"seat"'))
        timed = active(("4",), clock="live:300+5")
        with self.assertRaises(InvalidEvent):
            hashes = timed.tokens[0] or ""
            GameLog.from_events(
                GAME, [*timed.event_json, Event(OFFER_TAKEBACK, 0, hashes).to_json()]
            )


class RematchTests(OfferTestCase):
    def offer(self, game: GameLog, token: str = T0, rematch_token: str = R0) -> Event:
        return do(game, OFFER_REMATCH, token, rematch_id=NEW, rematch_token=rematch_token)

    def test_offer_and_accept(self) -> None:
        game = finished()
        offer = self.offer(game)
        self.assertEqual(offer.rematch, NEW)
        self.assertEqual(offer.rematch_token, token_hash(NEW, 1, R0))  # the other colour
        self.assertNotIn(R0, offer.to_json())
        held = document(game)
        self.assertEqual(held["rematch"], {"by": 0, "game": NEW, "state": "offered"})
        self.assertEqual((held["status"], held["version"]), ("finished", 6))
        accept = do(game, ACCEPT_REMATCH, T1, rematch_token=R1)
        self.assertEqual(accept.rematch, NEW)
        self.assertEqual(accept.rematch_token, token_hash(NEW, 0, R1))
        self.assertEqual(document(game)["rematch"]["state"], "accepted")
        self.assertEqual(document(game)["result"], {"reason": "resigned", "winner": 0})
        self.check_replays(game)
        create, join = game.rematch_events(accept)
        new = GameLog(NEW, create)
        new.append_checked(join)
        fields = document(new)
        self.assertEqual(fields["players"], ["bob", "alice"])
        self.assertEqual((fields["status"], fields["version"]), ("active", 2))
        self.assertEqual(fields["rematch_of"], GAME)
        self.assertEqual(new.seat_of(R0), 1)
        self.assertEqual(new.seat_of(R1), 0)
        self.check_replays(new)
        self.assertEqual(
            new.document(),
            '{"draw_offer":null,"id":"game-2","kind":"connect4","legal":["1","2","3","4","5",'
            '"6","7"],"moves":[],"players":["bob","alice"],"position":"","rematch_of":"game-1",'
            '"result":null,"status":"active","to_move":0,"version":2}',
        )

    def test_old_games_keep_their_bytes(self) -> None:
        game = finished()
        self.assertEqual(
            game.document(),
            '{"draw_offer":null,"id":"game-1","kind":"connect4","legal":[],"moves":["4","3"],'
            '"players":["alice","bob"],"position":"43","result":{"reason":"resigned",'
            '"winner":0},"status":"finished","to_move":null,"version":5}',
        )
        self.offer(game)
        self.assertEqual(
            game.document(),
            '{"draw_offer":null,"id":"game-1","kind":"connect4","legal":[],"moves":["4","3"],'
            '"players":["alice","bob"],"position":"43","rematch":{"by":0,"game":"game-2",'
            '"state":"offered"},"result":{"reason":"resigned","winner":0},"status":"finished",'
            '"to_move":null,"version":6}',
        )

    def test_decline_then_offer_again(self) -> None:
        for decliner in (T0, T1):
            game = finished()
            self.offer(game)
            do(game, DECLINE_REMATCH, decliner)
            self.assertEqual(document(game)["rematch"]["state"], "declined")
            self.refused(game, ACCEPT_REMATCH, T1, wire.NoRematchOffer, rematch_token=R1)
            self.refused(game, DECLINE_REMATCH, T1, wire.NoRematchOffer)
            do(game, OFFER_REMATCH, T1, rematch_id="game-3", rematch_token=R1)
            self.assertEqual(
                document(game)["rematch"], {"by": 1, "game": "game-3", "state": "offered"}
            )
            self.check_replays(game)

    def test_tags_in_check_order(self) -> None:
        game = active(("4",))
        self.refused(game, OFFER_REMATCH, STRANGER, wire.BadToken, rematch_id=NEW, rematch_token=R0)
        self.refused(game, OFFER_REMATCH, T0, wire.GameNotOver, rematch_id=NEW, rematch_token=R0)
        self.refused(game, DECLINE_REMATCH, T0, wire.GameNotOver)
        cancelled = GameLog(GAME, create_event("connect4", "alice", 0, T0, GAME))
        self.refused(
            cancelled, OFFER_REMATCH, T0, wire.GameNotOver, rematch_id=NEW, rematch_token=R0
        )
        do(cancelled, RESIGN, T0)
        self.refused(
            cancelled, OFFER_REMATCH, T0, wire.NoOpponent, rematch_id=NEW, rematch_token=R0
        )
        game = finished()
        self.refused(game, ACCEPT_REMATCH, T1, wire.NoRematchOffer, rematch_token=R1)
        self.refused(game, DECLINE_REMATCH, T0, wire.NoRematchOffer)
        self.offer(game)
        self.refused(game, ACCEPT_REMATCH, T0, wire.NotYourTurn, rematch_token=R0)
        self.refused(game, OFFER_REMATCH, T1, wire.RematchPending, rematch_id="x", rematch_token=R1)
        self.refused(game, ACCEPT_REMATCH, T1, wire.StaleVersion, version=5, rematch_token=R1)
        do(game, ACCEPT_REMATCH, T1, rematch_token=R1)
        self.refused(game, OFFER_REMATCH, T0, wire.RematchPending, rematch_id="x", rematch_token=R0)
        self.refused(game, ACCEPT_REMATCH, T1, wire.NoRematchOffer, rematch_token=R1)
        self.refused(game, DECLINE_REMATCH, T1, wire.NoRematchOffer)

    def test_timed_accept_carries_its_time(self) -> None:
        game = finished(clock="live:300+5")
        before = document(game)["clock"]
        self.offer(game)  # no time: the clock stopped
        self.assertEqual(document(game)["clock"], before)
        self.refused(game, ACCEPT_REMATCH, T1, wire.BadRequest, rematch_token=R1)
        self.refused(game, ACCEPT_REMATCH, T1, wire.ClockSkew, rematch_token=R1, at=NOW + 60_000)
        accept = do(game, ACCEPT_REMATCH, T1, rematch_token=R1, at=NOW + 500, now=NOW + 500)
        self.assertEqual(accept.at, NOW + 500)
        self.assertEqual(document(game)["clock"], before)
        self.check_replays(game)
        create, join = game.rematch_events(accept)
        self.assertEqual((create.clock, create.at, join.at), ("live:300+5", None, NOW + 500))
        new = GameLog(NEW, create)
        new.append_checked(join)
        self.assertEqual(document(new)["clock"]["at"], NOW + 500)
        self.assertEqual(document(new)["clock"]["deadline"], NOW + 500 + 300_000)

    def test_repeats(self) -> None:
        game = finished()
        self.offer(game)
        do(game, ACCEPT_REMATCH, T1, rematch_token=R1)
        repeat_offer = Command(OFFER_REMATCH, 5, T0, rematch_id=NEW, rematch_token=R0)
        self.assertIs(decide(game, repeat_offer), REPEAT)
        self.assertIs(decide(game, Command(ACCEPT_REMATCH, 6, T1, rematch_token=R1)), REPEAT)
        # Another new game or token is another command.
        for other in (
            Command(OFFER_REMATCH, 5, T0, rematch_id="game-3", rematch_token=R0),
            Command(OFFER_REMATCH, 5, T0, rematch_id=NEW, rematch_token=R1),
            Command(ACCEPT_REMATCH, 6, T1, rematch_token=R0),
            Command(DECLINE_REMATCH, 6, T1),
        ):
            with self.assertRaises(wire.StaleVersion):
                decide(game, other)

    def test_replay_refuses_what_decide_would(self) -> None:
        game = finished()
        events = list(game.event_json)
        hashes = [game.tokens[0] or "", game.tokens[1] or ""]
        offer = Event(OFFER_REMATCH, 0, hashes[0], rematch=NEW, rematch_token="a" * 64)
        accept = Event(ACCEPT_REMATCH, 1, hashes[1], rematch=NEW, rematch_token="b" * 64)
        GameLog.from_events(GAME, [*events, offer.to_json(), accept.to_json()])
        wrong_game = Event(ACCEPT_REMATCH, 1, hashes[1], rematch="other", rematch_token="b" * 64)
        own = Event(ACCEPT_REMATCH, 0, hashes[0], rematch=NEW, rematch_token="b" * 64)
        timed_accept = Event(
            ACCEPT_REMATCH, 1, hashes[1], rematch=NEW, rematch_token="b" * 64, at=NOW
        )
        for bad in (
            [accept],
            [offer, wrong_game],
            [offer, own],
            [offer, timed_accept],  # an untimed game's events have no time
            [offer, accept, offer],
        ):
            with self.assertRaises(InvalidEvent):
                GameLog.from_events(GAME, [*events, *(event.to_json() for event in bad)])
        with self.assertRaises(InvalidEvent):  # the new seat's hash is required
            GameLog.from_events(
                GAME, [*events, Event(OFFER_REMATCH, 0, hashes[0], rematch=NEW).to_json()]
            )
        timed = finished(clock="live:300+5")
        untimed_accept = Event(ACCEPT_REMATCH, 1, timed.tokens[1] or "", rematch=NEW,
                               rematch_token="b" * 64)  # fmt: skip
        timed_offer = Event(OFFER_REMATCH, 0, timed.tokens[0] or "", rematch=NEW,
                            rematch_token="a" * 64)  # fmt: skip
        with self.assertRaises(InvalidEvent):  # a timed accept carries its time
            GameLog.from_events(
                GAME, [*timed.event_json, timed_offer.to_json(), untimed_accept.to_json()]
            )

    def test_event_shapes(self) -> None:
        offer = Event(OFFER_REMATCH, 0, "c" * 64, rematch=NEW, rematch_token="a" * 64)
        text = offer.to_json()
        self.assertEqual(Event.from_json(text), offer)
        self.assertEqual(canonical_json(json.loads(text)), text)
        create = Event("create", 1, "c" * 64, kind="connect4", player="al", of=GAME)
        self.assertEqual(Event.from_json(create.to_json()), create)
        for bad in (
            text.replace('"rematch_token":"' + "a" * 64, '"rematch_token":"' + "A" * 64),
            text.replace('"game-2"', '"not an id"'),
            text.replace('{"rematch"', '{"of":"x","rematch"'),
            Event(DECLINE_REMATCH, 0, "c" * 64, rematch=NEW).to_json(),
            Event(MOVE, 0, "c" * 64, move="4", of=GAME).to_json(),
        ):
            with self.assertRaises(InvalidEvent, msg=bad):
                Event.from_json(bad)
