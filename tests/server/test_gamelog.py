"""Tests for game.server.gamelog: events, the game log, and decide (PROTOCOL.md's rules)."""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from game import errors as wire
from game.rules import from_text
from game.server.gamelog import (
    ACCEPT_DRAW,
    CREATE,
    EMPTY_HEAD,
    JOIN,
    MOVE,
    OFFER_DRAW,
    REPEAT,
    RESIGN,
    Command,
    Event,
    GameLog,
    InvalidEvent,
    Repeat,
    canonical_json,
    chain,
    create_event,
    decide,
    token_hash,
)

GAME = "game-1"
T0 = "seat-zero-token-0123456789"
T1 = "seat-one-token-0123456789"
STRANGER = "nobody-holds-this-token"
HEX64 = "ab" * 32

CONNECT4_COLUMNS = ["1", "2", "3", "4", "5", "6", "7"]
CHECKERS_START = "B:W21,22,23,24,25,26,27,28,29,30,31,32:B1,2,3,4,5,6,7,8,9,10,11,12"
CHECKERS_FIRST = ["10-14", "10-15", "11-15", "11-16", "12-16", "9-13", "9-14"]
REVERSI_START = "---------------------------OX------XO--------------------------- X"
REVERSI_FIRST = ["c4", "d3", "e6", "f5"]

# A line from the standard checkers start, found by a beam search for this
# test: no game end before its 1,000th move, which draws by the move limit.
CHECKERS_LINE = (
    "11-16 23-18 10-14 26-23 7-11 30-26 3-7 23-19 14x23x30 27-23 30-26 22-17 9-14 17x10x3 "
    "26-30 31-27 30-26 3-7 26-31 7-3 31-26 3-7 26-31 7-3 31-26 3-7 26-31 7-3 "
    "31-26 3-7 26-31 7-3 31-26 3-7 26-31 7-3 31-26 3-7 26-31 7-3 31-26 3-7 "
    "26-30 7-3 30-26 3-7 26-30 7-3 30-26 3-7 26-31 7-3 31-26 3-7 26-31 7-3 "
    "31-26 3-7 26-30 7-3 30-26 3-7 26-31 7-3 31-26 3-7 26-30 7-3 30-26 3-7 "
    "26-31 7-3 31-26 3-7 26-30 7-3 6-9 3-7 30-26 7-10 26-30 10-7 30-26 7-3 "
    "26-31 3-7 31-26 7-10 26-31 10-7 31-26 7-10 26-31 10-7 31-26 7-3 26-31 3-7 "
    "31-26 7-3 26-30 3-7 30-26 7-10 26-31 10-7 31-26 7-3 26-31 3-7 31-26 7-3 "
    "26-31 3-7 31-26 7-3 26-30 3-7 30-26 7-3 26-30 3-7 30-26 7-3 26-31 3-7 "
    "31-26 7-3 26-30 3-7 30-26 7-3 26-30 3-7 30-26 7-10 9-13 10-7 26-30 7-3 "
    "30-26 3-7 26-30 7-3 30-26 3-7 26-31 7-3 31-26 3-7 26-30 7-3 30-26 3-7 "
    "26-30 7-10 30-26 10-14 26-30 14-18 30-26 18-14 26-31 14-10 31-26 10-14 26-31 14-10 "
    "31-26 10-14 26-31 14-10 31-26 10-14 26-31 14-10 31-26 10-14 26-31 14-18 31-26 18-14 "
    "26-31 14-18 31-26 18-14 26-30 14-18 30-26 18-14 26-31 14-10 31-26 10-14 26-31 14-18 "
    "31-26 24-20 26-22 18-14 22-17 14-18 17-22 18-14 22-17 14-18 17-22 18-14 22-26 14-18 "
    "26-30 18-14 30-26 14-18 26-30 18-14 30-26 14-18 26-30 18-14 30-26 14-18 26-22 18-14 "
    "22-26 14-18 26-22 18-14 22-26 14-18 26-30 18-14 30-26 14-10 26-30 10-7 30-26 7-10 "
    "26-30 10-7 30-26 7-10 26-30 10-7 30-26 7-3 26-30 3-7 30-26 7-10 26-30 10-7 "
    "30-26 7-10 26-30 10-7 30-26 28-24 26-30 7-10 30-26 10-7 26-31 7-3 31-26 3-7 "
    "26-31 7-3 31-26 3-7 26-31 7-10 31-26 10-14 26-31 14-10 31-26 10-14 26-30 14-18 "
    "30-26 18-14 26-30 14-10 30-26 10-14 26-30 14-10 30-26 10-14 26-30 14-18 30-26 18-14 "
    "26-31 14-18 31-26 18-14 26-30 14-10 30-26 10-14 26-30 14-10 30-26 10-14 26-30 14-10 "
    "30-26 10-14 26-31 14-18 31-26 18-14 26-30 14-18 30-26 32-28 26-22 18-14 22-26 14-18 "
    "26-30 18-14 30-26 14-10 26-31 10-7 31-26 7-10 26-30 10-7 30-26 7-3 26-31 3-7 "
    "31-26 7-10 26-31 10-14 31-26 14-18 26-31 18-14 31-26 14-18 26-22 18-14 22-26 14-18 "
    "26-22 18-14 22-17 14-18 17-22 18-14 22-26 14-10 26-31 10-7 31-26 7-10 26-30 10-7 "
    "30-26 7-3 26-30 3-7 30-26 7-3 26-31 3-7 31-26 7-10 26-30 10-7 30-26 7-3 "
    "2-6 3-7 26-31 7-3 31-26 3-7 26-30 7-3 30-26 3-7 26-30 7-3 30-26 3-7 "
    "26-30 7-3 30-26 3-7 26-30 7-3 30-26 3-7 26-30 7-3 30-26 3-7 26-31 7-3 "
    "31-26 3-7 26-31 7-3 31-26 3-7 26-31 7-3 31-26 3-7 26-31 7-3 31-26 3-7 "
    "26-31 7-3 31-26 3-7 26-30 7-3 30-26 3-7 26-31 7-3 31-26 3-7 26-30 7-3 "
    "30-26 3-7 26-31 7-3 6-9 3-7 31-26 7-10 26-31 10-7 31-26 7-10 26-30 10-7 "
    "30-26 7-3 26-31 3-7 31-26 7-10 26-30 10-7 30-26 7-10 26-30 10-7 30-26 7-2 "
    "26-31 2-7 31-26 7-2 26-30 2-7 30-26 7-3 26-31 3-7 31-26 7-10 26-31 10-7 "
    "31-26 7-3 26-30 3-7 30-26 7-3 26-30 3-7 30-26 7-2 26-31 2-7 31-26 7-10 "
    "26-30 10-7 30-26 7-2 26-30 2-7 30-26 7-2 9-14 2-7 26-31 7-2 31-26 2-7 "
    "26-31 7-2 31-26 2-7 26-30 7-2 30-26 2-7 26-31 7-2 31-26 2-7 26-31 7-2 "
    "31-26 2-7 26-30 7-2 30-26 2-7 26-30 7-3 30-26 3-7 26-30 7-3 30-26 3-7 "
    "26-31 7-2 31-26 2-7 26-30 7-3 30-26 3-7 26-30 7-3 30-26 3-7 26-30 7-3 "
    "30-26 3-7 26-31 7-2 31-26 2-7 26-31 7-2 31-26 2-7 26-30 7-3 13-17 3-7 "
    "30-26 7-3 26-30 3-7 30-26 7-3 26-31 3-7 31-26 7-10 26-31 10-7 31-26 7-2 "
    "26-30 2-7 30-26 7-10 26-30 10-7 30-26 7-10 26-31 10-7 31-26 7-10 26-30 10-7 "
    "30-26 7-2 26-31 2-7 31-26 7-10 26-30 10-7 30-26 7-10 26-31 10-7 31-26 7-2 "
    "26-31 2-7 31-26 7-2 26-30 2-7 30-26 7-10 26-30 10-7 30-26 7-10 26-30 10-7 "
    "30-26 7-10 5-9 10-7 26-31 7-10 31-26 10-7 26-30 7-2 30-26 2-7 26-31 7-3 "
    "31-26 3-7 26-31 7-2 31-26 2-7 26-30 7-3 30-26 3-7 26-30 7-10 30-26 10-7 "
    "26-31 7-2 31-26 2-7 26-30 7-3 30-26 3-7 26-31 7-3 31-26 3-7 26-31 7-2 "
    "31-26 2-7 26-30 7-10 30-26 10-7 26-30 7-10 30-26 10-7 26-31 7-10 31-26 10-7 "
    "26-30 7-10 30-26 10-7 26-30 7-2 9-13 2-7 30-26 7-2 26-30 2-7 30-26 7-3 "
    "26-31 3-7 31-26 7-3 26-31 3-7 31-26 7-3 26-31 3-7 31-26 7-2 26-31 2-7 "
    "31-26 7-2 26-31 2-7 31-26 7-3 26-31 3-7 31-26 7-3 26-30 3-7 30-26 7-2 "
    "26-31 2-7 31-26 7-3 26-31 3-7 31-26 7-3 26-31 3-7 31-26 7-2 26-30 2-7 "
    "30-26 7-3 26-31 3-7 31-26 7-10 26-30 10-7 1-5 7-3 30-26 3-7 26-31 7-2 "
    "31-26 2-7 26-31 7-2 31-26 2-7 26-31 7-10 31-26 10-7 26-30 7-2 30-26 2-7 "
    "26-31 7-10 31-26 10-6 26-31 6-10 31-26 10-6 26-30 6-1 30-26 1-6 26-31 6-2 "
    "31-26 2-7 26-30 7-2 30-26 2-6 26-30 6-10 30-26 10-6 26-30 6-1 30-26 1-6 "
    "26-30 6-10 30-26 10-6 26-30 6-1 30-26 1-6 26-31 6-2 5-9 2-6 31-26 6-10 "
    "26-31 10-6 31-26 6-1 26-30 1-6 30-26 6-10 26-31 10-7 31-26 7-3 26-30 3-7 "
    "30-26 7-2 26-30 2-6 30-26 6-2 26-31 2-7 31-26 7-10 26-30 10-6 30-26 6-10 "
    "26-30 10-7 30-26 7-2 26-31 2-6 31-26 6-2 26-31 2-6 31-26 6-2 26-30 2-6 "
    "30-26 6-1 26-31 1-6 31-26 6-10 26-30 10-7 30-26 7-2 26-30 2-7 30-26 25-22 "
    "26-31 22-18 31-26 7-10 26-31 10-7 31-26 7-3 26-31 3-7 31-26 7-3 26-30 3-7 "
    "30-26 7-2 26-30 2-7 30-26 7-3 26-30 3-7 30-26 7-10 26-31 10-6 31-26 6-2 "
    "26-31 2-6 31-26 6-1 26-31 1-6 31-26 6-2 26-30 2-7 30-26 7-3 26-30 3-7 "
    "30-26 7-2 26-31 2-7 31-26 7-2 26-31 2-6 31-26 6-2 26-31 2-7 31-26 7-2 "
    "17-22 2-7 26-31 7-2 31-26 2-7 26-31 7-3 31-26 3-7 26-30 7-2 30-25 2-6 "
    "25-30 6-1 30-26 1-6 26-31 6-2 31-26 2-7 26-31 7-2 31-26 2-6 26-31 6-2 "
    "31-26 2-6 26-30 6-2 30-26 2-7 26-31 7-2 31-26 2-6 26-30 6-2 30-26 2-7 "
    "26-30 7-3 30-25 3-7 25-30 7-2 30-25 2-6 25-30 6-2 30-26 2-6 26-30 6-2 "
    "30-25 2-7 25-30 7-3 30-25 19-15 25-30 3-7 30-25 7-3 25-30 3-7 30-25 7-3 "
    "25-30 3-7 30-25 7-2 25-30 2-6 30-25 6-2 25-30 2-7 30-25 7-2 25-30 2-6 "
    "30-25 6-2 25-30 2-6 30-26 6-2"
)
CHECKERS_1000_PLIES = CHECKERS_LINE.split()


def new_log(
    kind: str = "connect4", seat: int = 0, player: str = "alice", token: str = T0
) -> GameLog:
    """A game created by ``player`` in ``seat``, as a replica creates it."""
    return GameLog(GAME, create_event(kind, player, seat, token, GAME))


def run(
    game: GameLog,
    event_type: str,
    token: str,
    *,
    player: str | None = None,
    move: str | None = None,
) -> Event:
    """Decide a command at the game's current version and append its event."""
    outcome = decide(game, Command(event_type, game.version, token, player=player, move=move))
    if not isinstance(outcome, Event):
        raise AssertionError(f"expected an event, got {outcome!r}")
    game.append(outcome)
    return outcome


def active_log(kind: str = "connect4") -> GameLog:
    """Alice (seat 0, token T0) created it, Bob (seat 1, token T1) joined."""
    game = new_log(kind)
    run(game, JOIN, T1, player="bob")
    return game


def play(game: GameLog, moves: list[str], tokens: tuple[str, str] = (T0, T1)) -> None:
    """Play ``moves``, each by whichever of ``tokens`` holds the seat to move."""
    for move in moves:
        token = next(t for t in tokens if game.seat_of(t) == game.position.to_move)
        run(game, MOVE, token, move=move)


def doc(game: GameLog) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(game.document())
    return loaded


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class DecideTestCase(SynchronousTestCase):
    def refused(
        self,
        error: type[wire.WireError],
        game: GameLog,
        event_type: str,
        token: str,
        *,
        version: int | None = None,
        player: str | None = None,
        move: str | None = None,
    ) -> wire.WireError:
        """Assert that the command answers ``error`` and leaves the game as it was."""
        before = (game.document(), list(game.event_json), game.draw_offer)
        command = Command(
            event_type,
            game.version if version is None else version,
            token,
            player=player,
            move=move,
        )
        raised = self.assertRaises(wire.WireError, decide, game, command)
        self.assertIs(type(raised), error, f"answered {raised.tag!r}: {raised}")
        self.assertEqual((game.document(), list(game.event_json), game.draw_offer), before)
        return raised


class CanonicalJsonTests(SynchronousTestCase):
    def test_canonical_json(self) -> None:
        self.assertEqual(
            canonical_json({"b": [1, None, True], "a": "Zoë 😀", "c": {"y": 1, "x": 2}}),
            '{"a":"Zoë 😀","b":[1,null,true],"c":{"x":2,"y":1}}',
        )

    def test_document_is_canonical_with_non_ascii_names(self) -> None:
        name = "Zoë 😀 名前"
        game = new_log(player=name)
        run(game, JOIN, T1, player="Ñandú")
        text = game.document()
        self.assertIn(name, text)
        self.assertIn("Ñandú", text)
        self.assertNotIn("\\u", text)
        loaded = json.loads(text)
        self.assertEqual(loaded["players"], [name, "Ñandú"])
        self.assertEqual(
            text,
            json.dumps(loaded, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
        )
        # Byte-identical on every replica: the same events make the same text.
        again = GameLog.from_events(GAME, game.event_json)
        self.assertEqual(again.document().encode("utf-8"), text.encode("utf-8"))


class TokenTests(SynchronousTestCase):
    def test_token_hash_formula(self) -> None:
        expected = hashlib.sha256(b"game-1\x000\x00" + T0.encode("ascii")).hexdigest()
        self.assertEqual(token_hash(GAME, 0, T0), expected)
        self.assertEqual(
            token_hash(GAME, 1, T0),
            hashlib.sha256(b"game-1\x001\x00" + T0.encode("ascii")).hexdigest(),
        )
        self.assertNotEqual(token_hash(GAME, 0, T0), token_hash(GAME, 1, T0))
        self.assertNotEqual(token_hash(GAME, 0, T0), token_hash("game-2", 0, T0))

    def test_creator_and_joiner_hashes(self) -> None:
        game = new_log(seat=1)
        self.assertEqual(game.events[0].token, sha256_hex(f"{GAME}\x001\x00{T0}"))
        join = run(game, JOIN, T1, player="bob")
        self.assertEqual(join.seat, 0)
        self.assertEqual(join.token, sha256_hex(f"{GAME}\x000\x00{T1}"))
        self.assertEqual(game.tokens, [join.token, game.events[0].token])

    def test_acting_events_carry_the_seat_hash(self) -> None:
        game = active_log()
        offer = run(game, OFFER_DRAW, T0)
        move = run(game, MOVE, T0, move="4")
        resign = run(game, RESIGN, T1)
        self.assertEqual((offer.seat, offer.token), (0, token_hash(GAME, 0, T0)))
        self.assertEqual((move.seat, move.token), (0, token_hash(GAME, 0, T0)))
        self.assertEqual((resign.seat, resign.token), (1, token_hash(GAME, 1, T1)))

    def test_tokens_never_in_the_document(self) -> None:
        secrets = [T0, T1]
        secrets += [token_hash(GAME, seat, token) for seat in (0, 1) for token in (T0, T1)]
        documents = []
        game = new_log()
        documents.append(game.document())
        run(game, JOIN, T1, player="bob")
        documents.append(game.document())
        run(game, OFFER_DRAW, T0)
        documents.append(game.document())
        play(game, ["4", "4"])
        documents.append(game.document())
        run(game, RESIGN, T0)
        documents.append(game.document())
        for text in documents:
            for secret in secrets:
                self.assertNotIn(secret, text)
            self.assertEqual(
                set(json.loads(text)),
                {
                    "id",
                    "kind",
                    "version",
                    "status",
                    "players",
                    "to_move",
                    "moves",
                    "position",
                    "legal",
                    "draw_offer",
                    "result",
                },
            )


class CreateTests(SynchronousTestCase):
    def test_create_seat_0(self) -> None:
        game = new_log()
        self.assertEqual(
            doc(game),
            {
                "id": GAME,
                "kind": "connect4",
                "version": 1,
                "status": "open",
                "players": ["alice", None],
                "to_move": None,
                "moves": [],
                "position": "",
                "legal": [],
                "draw_offer": None,
                "result": None,
            },
        )

    def test_create_seat_1(self) -> None:
        game = new_log(seat=1)
        self.assertEqual(
            doc(game),
            {
                "id": GAME,
                "kind": "connect4",
                "version": 1,
                "status": "open",
                "players": [None, "alice"],
                "to_move": None,
                "moves": [],
                "position": "",
                "legal": [],
                "draw_offer": None,
                "result": None,
            },
        )
        self.assertEqual(game.events[0].seat, 1)

    def test_create_positions_of_every_kind(self) -> None:
        self.assertEqual(doc(new_log("reversi"))["position"], REVERSI_START)
        self.assertEqual(doc(new_log("checkers"))["position"], CHECKERS_START)
        self.assertEqual(doc(new_log("checkers"))["kind"], "checkers")

    def test_create_event_text(self) -> None:
        game = new_log(player="Zoë")
        self.assertEqual(
            game.event_json[0],
            '{"kind":"connect4","player":"Zoë","seat":0,"token":"'
            + token_hash(GAME, 0, T0)
            + '","type":"create"}',
        )


class JoinTests(DecideTestCase):
    def test_join_makes_the_game_active(self) -> None:
        game = new_log()
        event = run(game, JOIN, T1, player="bob")
        self.assertEqual(event, Event(JOIN, 1, token_hash(GAME, 1, T1), player="bob"))
        self.assertEqual(
            doc(game),
            {
                "id": GAME,
                "kind": "connect4",
                "version": 2,
                "status": "active",
                "players": ["alice", "bob"],
                "to_move": 0,
                "moves": [],
                "position": "",
                "legal": CONNECT4_COLUMNS,
                "draw_offer": None,
                "result": None,
            },
        )

    def test_join_takes_seat_0_and_moves_first(self) -> None:
        game = new_log(seat=1)
        run(game, JOIN, T1, player="bob")
        document = doc(game)
        self.assertEqual(document["players"], ["bob", "alice"])
        self.assertEqual((document["status"], document["to_move"]), ("active", 0))
        self.refused(wire.NotYourTurn, game, MOVE, T0, move="4")
        run(game, MOVE, T1, move="4")
        self.assertEqual(doc(game)["to_move"], 1)

    def test_first_legal_moves(self) -> None:
        self.assertEqual(doc(active_log("checkers"))["legal"], CHECKERS_FIRST)
        self.assertEqual(doc(active_log("reversi"))["legal"], REVERSI_FIRST)
        self.assertEqual(doc(active_log("checkers"))["position"], CHECKERS_START)

    def test_seated_token_cannot_join(self) -> None:
        self.refused(wire.BadToken, new_log(), JOIN, T0, player="alice")
        self.refused(wire.BadToken, new_log(seat=1), JOIN, T0, player="bob")

    def test_join_an_active_game(self) -> None:
        self.refused(wire.GameFull, active_log(), JOIN, STRANGER, player="carol")

    def test_join_a_finished_game(self) -> None:
        cancelled = new_log()
        run(cancelled, RESIGN, T0)
        self.refused(wire.GameIsOver, cancelled, JOIN, T1, player="bob")
        resigned = active_log()
        run(resigned, RESIGN, T1)
        self.refused(wire.GameIsOver, resigned, JOIN, STRANGER, player="carol")


class MoveTests(DecideTestCase):
    def test_legal_move(self) -> None:
        game = active_log()
        event = run(game, MOVE, T0, move="4")
        self.assertEqual(event, Event(MOVE, 0, token_hash(GAME, 0, T0), move="4"))
        self.assertEqual(
            doc(game),
            {
                "id": GAME,
                "kind": "connect4",
                "version": 3,
                "status": "active",
                "players": ["alice", "bob"],
                "to_move": 1,
                "moves": ["4"],
                "position": "4",
                "legal": CONNECT4_COLUMNS,
                "draw_offer": None,
                "result": None,
            },
        )

    def test_full_column_is_illegal(self) -> None:
        game = active_log()
        play(game, ["1"] * 6)
        self.assertEqual(doc(game)["legal"], CONNECT4_COLUMNS[1:])
        self.refused(wire.IllegalMoveError, game, MOVE, T0, move="1")

    def test_illegal_moves_in_notation(self) -> None:
        checkers = active_log("checkers")
        self.refused(wire.IllegalMoveError, checkers, MOVE, T0, move="1-5")
        self.refused(wire.IllegalMoveError, checkers, MOVE, T0, move="21-17")
        reversi = active_log("reversi")
        self.refused(wire.IllegalMoveError, reversi, MOVE, T0, move="a1")
        self.refused(wire.IllegalMoveError, reversi, MOVE, T0, move="pass")

    def test_garbage_moves(self) -> None:
        for kind in ("connect4", "reversi", "checkers"):
            game = active_log(kind)
            for move in ("x" * 64, "4" * 64, "", "8", "11-16-20", " 4"):
                self.refused(wire.IllegalMoveError, game, MOVE, T0, move=move)

    def test_wrong_seat(self) -> None:
        game = active_log()
        self.refused(wire.NotYourTurn, game, MOVE, T1, move="4")
        run(game, MOVE, T0, move="4")
        self.refused(wire.NotYourTurn, game, MOVE, T0, move="4")

    def test_stranger(self) -> None:
        self.refused(wire.BadToken, active_log(), MOVE, STRANGER, move="4")

    def test_open_game(self) -> None:
        for seat in (0, 1):
            game = new_log(seat=seat)
            self.refused(wire.NotYourTurn, game, MOVE, T0, move="4")
            self.refused(wire.NotYourTurn, game, OFFER_DRAW, T0)
            self.refused(wire.NotYourTurn, game, ACCEPT_DRAW, T0)

    def test_after_the_end(self) -> None:
        game = active_log()
        play(game, ["1", "2", "1", "2", "1", "2", "1"])
        self.refused(wire.GameIsOver, game, MOVE, T1, move="3")
        self.refused(wire.GameIsOver, game, MOVE, T0, move="3")
        self.refused(wire.GameIsOver, game, RESIGN, T1)
        self.refused(wire.GameIsOver, game, OFFER_DRAW, T1)
        self.refused(wire.GameIsOver, game, ACCEPT_DRAW, T1)


class ResignTests(DecideTestCase):
    def test_resign_open_game_cancels(self) -> None:
        for seat in (0, 1):
            game = new_log(seat=seat)
            event = run(game, RESIGN, T0)
            self.assertEqual(event, Event(RESIGN, seat, token_hash(GAME, seat, T0)))
            players: list[str | None] = [None, None]
            players[seat] = "alice"
            self.assertEqual(
                doc(game),
                {
                    "id": GAME,
                    "kind": "connect4",
                    "version": 2,
                    "status": "finished",
                    "players": players,
                    "to_move": None,
                    "moves": [],
                    "position": "",
                    "legal": [],
                    "draw_offer": None,
                    "result": {"winner": None, "reason": "cancelled"},
                },
            )

    def test_stranger_cannot_cancel(self) -> None:
        self.refused(wire.BadToken, new_log(), RESIGN, T1)

    def test_resign_on_your_turn(self) -> None:
        game = active_log()
        run(game, RESIGN, T0)
        document = doc(game)
        self.assertEqual(document["result"], {"winner": 1, "reason": "resigned"})
        self.assertEqual(
            (document["status"], document["to_move"], document["legal"], document["version"]),
            ("finished", None, [], 3),
        )

    def test_resign_not_on_your_turn(self) -> None:
        game = active_log()
        run(game, MOVE, T0, move="4")
        run(game, RESIGN, T0)
        self.assertEqual(doc(game)["result"], {"winner": 1, "reason": "resigned"})
        game = active_log()
        run(game, RESIGN, T1)
        self.assertEqual(doc(game)["result"], {"winner": 0, "reason": "resigned"})
        self.assertEqual(doc(game)["moves"], [])

    def test_resign_clears_a_draw_offer(self) -> None:
        game = active_log()
        run(game, OFFER_DRAW, T0)
        run(game, RESIGN, T1)
        self.assertEqual(doc(game)["draw_offer"], None)
        self.assertEqual(doc(game)["result"], {"winner": 0, "reason": "resigned"})

    def test_resign_twice(self) -> None:
        game = active_log()
        run(game, RESIGN, T1)
        self.refused(wire.GameIsOver, game, RESIGN, T0)


class DrawTests(DecideTestCase):
    def test_offer(self) -> None:
        game = active_log()
        event = run(game, OFFER_DRAW, T0)
        self.assertEqual(event, Event(OFFER_DRAW, 0, token_hash(GAME, 0, T0)))
        document = doc(game)
        self.assertEqual(
            (document["draw_offer"], document["to_move"], document["version"]), (0, 0, 3)
        )
        self.assertEqual((document["moves"], document["status"]), ([], "active"))

    def test_offer_only_on_your_turn(self) -> None:
        self.refused(wire.NotYourTurn, active_log(), OFFER_DRAW, T1)

    def test_offer_twice(self) -> None:
        game = active_log()
        run(game, OFFER_DRAW, T0)
        self.refused(wire.DrawPending, game, OFFER_DRAW, T0)

    def test_offerer_moving_keeps_the_offer(self) -> None:
        game = active_log()
        run(game, OFFER_DRAW, T0)
        run(game, MOVE, T0, move="4")
        self.assertEqual(doc(game)["draw_offer"], 0)
        # Bob may not counter-offer while Alice's offer stands.
        self.refused(wire.DrawPending, game, OFFER_DRAW, T1)
        event = run(game, ACCEPT_DRAW, T1)
        self.assertEqual(event, Event(ACCEPT_DRAW, 1, token_hash(GAME, 1, T1)))
        document = doc(game)
        self.assertEqual(document["result"], {"winner": None, "reason": "draw agreed"})
        self.assertEqual(
            (document["status"], document["to_move"], document["legal"], document["draw_offer"]),
            ("finished", None, [], None),
        )
        self.assertEqual((document["version"], document["moves"]), (5, ["4"]))

    def test_accept_before_your_turn(self) -> None:
        game = active_log()
        run(game, OFFER_DRAW, T0)
        self.refused(wire.NotYourTurn, game, ACCEPT_DRAW, T1)

    def test_cannot_accept_own_offer(self) -> None:
        game = active_log()
        run(game, OFFER_DRAW, T0)
        self.refused(wire.NoDrawOffer, game, ACCEPT_DRAW, T0)

    def test_accept_without_offer(self) -> None:
        self.refused(wire.NoDrawOffer, active_log(), ACCEPT_DRAW, T0)

    def test_opponent_move_declines(self) -> None:
        game = active_log()
        run(game, OFFER_DRAW, T0)
        run(game, MOVE, T0, move="4")
        run(game, MOVE, T1, move="4")
        self.assertIsNone(doc(game)["draw_offer"])
        self.refused(wire.NoDrawOffer, game, ACCEPT_DRAW, T0)
        run(game, OFFER_DRAW, T0)
        self.assertEqual(doc(game)["draw_offer"], 0)

    def test_seat_1_offers(self) -> None:
        game = active_log()
        run(game, MOVE, T0, move="4")
        run(game, OFFER_DRAW, T1)
        self.assertEqual(doc(game)["draw_offer"], 1)
        self.refused(wire.NotYourTurn, game, ACCEPT_DRAW, T0)
        run(game, MOVE, T1, move="3")
        run(game, ACCEPT_DRAW, T0)
        self.assertEqual(doc(game)["result"], {"winner": None, "reason": "draw agreed"})

    def test_winning_move_clears_an_offer(self) -> None:
        game = active_log()
        play(game, ["1", "2", "1", "2", "1", "2"])
        run(game, OFFER_DRAW, T0)
        run(game, MOVE, T0, move="1")
        document = doc(game)
        self.assertEqual(document["result"], {"winner": 0, "reason": "four in a row"})
        self.assertIsNone(document["draw_offer"])


class GameEndTests(DecideTestCase):
    def test_connect4_four_in_a_row(self) -> None:
        game = active_log()
        play(game, ["1", "2", "1", "2", "1", "2", "1"])
        self.assertEqual(
            doc(game),
            {
                "id": GAME,
                "kind": "connect4",
                "version": 9,
                "status": "finished",
                "players": ["alice", "bob"],
                "to_move": None,
                "moves": ["1", "2", "1", "2", "1", "2", "1"],
                "position": "1212121",
                "legal": [],
                "draw_offer": None,
                "result": {"winner": 0, "reason": "four in a row"},
            },
        )
        # The text names Bob (seat 1) as the side that would move next.
        self.assertEqual(from_text("connect4", "1212121").to_move, 1)

    def test_connect4_seat_1_wins(self) -> None:
        game = active_log()
        play(game, ["1", "2", "1", "2", "3", "2", "5", "2"])
        document = doc(game)
        self.assertEqual(document["result"], {"winner": 1, "reason": "four in a row"})
        self.assertEqual((document["status"], document["to_move"]), ("finished", None))
        self.assertEqual(from_text("connect4", document["position"]).to_move, 0)

    def test_reversi_played_to_the_end(self) -> None:
        for seed in range(3):
            rng = random.Random(seed)
            game = active_log("reversi")
            while doc(game)["status"] == "active":
                document = doc(game)
                self.assertEqual(document["legal"], sorted(document["legal"]))
                run(
                    game,
                    MOVE,
                    (T0, T1)[document["to_move"]],
                    move=rng.choice(document["legal"]),
                )
            document = doc(game)
            last_mover = game.events[-1].seat
            self.assertEqual(game.events[-1].type, MOVE)
            self.assertEqual(document["position"][-2:], " " + "XO"[1 - last_mover])
            board = document["position"][:64]
            black, white = board.count("X"), board.count("O")
            if black == white:
                self.assertEqual(document["result"], {"winner": None, "reason": "equal discs"})
            else:
                winner = 0 if black > white else 1
                self.assertEqual(document["result"], {"winner": winner, "reason": "more discs"})
            self.assertEqual((document["legal"], document["to_move"]), ([], None))
            self.assertEqual(document["version"], 2 + len(document["moves"]))

    def test_checkers_move_limit(self) -> None:
        self.assertEqual(len(CHECKERS_1000_PLIES), 1000)
        game = active_log("checkers")
        play(game, CHECKERS_1000_PLIES[:-1])
        document = doc(game)
        self.assertEqual((document["status"], document["result"]), ("active", None))
        self.assertEqual((document["to_move"], document["version"]), (1, 1001))
        run(game, MOVE, T1, move=CHECKERS_1000_PLIES[-1])
        document = doc(game)
        self.assertEqual(document["result"], {"winner": None, "reason": "move limit"})
        self.assertEqual(
            (document["status"], document["to_move"], document["legal"], document["version"]),
            ("finished", None, [], 1002),
        )
        self.assertEqual(document["moves"], CHECKERS_1000_PLIES)
        # Bob (white) moved last: the text names black as the side to move.
        self.assertTrue(document["position"].startswith("B:"), document["position"])
        self.refused(wire.GameIsOver, game, MOVE, T0, move="1-5")
        self.assertEqual(GameLog.from_events(GAME, game.event_json).document(), game.document())


class CheckOrderTests(DecideTestCase):
    """PROTOCOL.md: repeat, STALE_VERSION, BEHIND, BAD_TOKEN, GAME_OVER, GAME_FULL,
    NOT_YOUR_TURN, DRAW_PENDING, NO_DRAW_OFFER, ILLEGAL_MOVE; the first that fails answers."""

    def finished(self) -> GameLog:
        game = active_log()
        play(game, ["1", "2", "1", "2", "1", "2", "1"])
        return game

    def test_repeat_before_everything(self) -> None:
        game = self.finished()
        # The winning move again, at the version it was made: over, stale, but a repeat.
        self.assertIs(decide(game, Command(MOVE, 8, T0, move="1")), REPEAT)
        self.assertIs(decide(game, Command(JOIN, 1, T1, player="bob")), REPEAT)
        self.assertIs(decide(game, Command(MOVE, 2, T0, move="1")), REPEAT)

    def test_stale_before_behind_and_later_checks(self) -> None:
        game = self.finished()
        error = self.refused(wire.StaleVersion, game, MOVE, STRANGER, version=3, move="x" * 64)
        self.assertEqual(error.description, "current version 9")
        self.refused(wire.StaleVersion, game, JOIN, STRANGER, version=1, player="carol")
        self.refused(wire.StaleVersion, game, ACCEPT_DRAW, T1, version=8)

    def test_behind_before_token(self) -> None:
        game = self.finished()
        self.refused(wire.Behind, game, MOVE, STRANGER, version=10, move="x")
        self.refused(wire.Behind, game, JOIN, T0, version=11, player="alice")
        self.refused(wire.Behind, active_log(), OFFER_DRAW, T1, version=3)

    def test_bad_token_before_game_over(self) -> None:
        game = self.finished()
        self.refused(wire.BadToken, game, MOVE, STRANGER, move="x")
        self.refused(wire.BadToken, game, RESIGN, STRANGER)
        self.refused(wire.BadToken, game, JOIN, T1, player="bob")

    def test_game_over_before_full_and_turn(self) -> None:
        game = self.finished()
        self.refused(wire.GameIsOver, game, JOIN, STRANGER, player="carol")
        self.refused(wire.GameIsOver, game, MOVE, T0, move="x" * 64)
        self.refused(wire.GameIsOver, game, ACCEPT_DRAW, T0)

    def test_bad_token_before_game_full(self) -> None:
        self.refused(wire.BadToken, active_log(), JOIN, T1, player="bob")

    def test_bad_token_before_not_your_turn(self) -> None:
        self.refused(wire.BadToken, new_log(), MOVE, STRANGER, move="x")
        self.refused(wire.BadToken, active_log(), OFFER_DRAW, STRANGER)

    def test_not_your_turn_before_the_rest(self) -> None:
        game = active_log()
        self.refused(wire.NotYourTurn, game, MOVE, T1, move="x" * 64)
        self.refused(wire.NotYourTurn, game, ACCEPT_DRAW, T1)
        run(game, OFFER_DRAW, T0)
        self.refused(wire.NotYourTurn, game, OFFER_DRAW, T1)
        self.refused(wire.NotYourTurn, new_log(), MOVE, T0, move="x" * 64)
        self.refused(wire.NotYourTurn, new_log(), ACCEPT_DRAW, T0)


class RepeatTests(DecideTestCase):
    def history(self) -> GameLog:
        """create 1, join 2, offer 3, move 4, accept 5 (finished)."""
        game = active_log()
        run(game, OFFER_DRAW, T0)
        run(game, MOVE, T0, move="4")
        run(game, ACCEPT_DRAW, T1)
        return game

    def test_every_event_repeats(self) -> None:
        game = self.history()
        document = game.document()
        for command in (
            Command(JOIN, 1, T1, player="bob"),
            Command(OFFER_DRAW, 2, T0),
            Command(MOVE, 3, T0, move="4"),
            Command(ACCEPT_DRAW, 4, T1),
        ):
            self.assertIsInstance(decide(game, command), Repeat)
        self.assertEqual(game.document(), document)
        resigned = active_log()
        run(resigned, RESIGN, T1)
        self.assertIs(decide(resigned, Command(RESIGN, 2, T1)), REPEAT)

    def test_repeat_of_events_from_a_peer(self) -> None:
        game = GameLog.from_events(GAME, self.history().event_json)
        self.assertIs(decide(game, Command(MOVE, 3, T0, move="4")), REPEAT)
        self.assertIs(decide(game, Command(JOIN, 1, T1, player="bob")), REPEAT)

    def test_not_a_repeat(self) -> None:
        game = self.history()
        for version, event_type, token, player, move in (
            (3, MOVE, T1, None, "4"),  # another seat's token
            (3, MOVE, T0, None, "3"),  # another move
            (3, MOVE, STRANGER, None, "4"),
            (3, RESIGN, T0, None, None),  # another command
            (1, JOIN, T1, "carol", None),  # another name
            (1, JOIN, STRANGER, "bob", None),
            (2, OFFER_DRAW, T1, None, None),
            (4, ACCEPT_DRAW, T0, None, None),
        ):
            error = self.refused(
                wire.StaleVersion,
                game,
                event_type,
                token,
                version=version,
                player=player,
                move=move,
            )
            self.assertEqual(error.description, "current version 5")

    def test_current_version_is_applied(self) -> None:
        game = active_log()
        run(game, MOVE, T0, move="4")
        # The same move by the other seat at the current version is a new move.
        event = decide(game, Command(MOVE, 3, T1, move="4"))
        self.assertEqual(event, Event(MOVE, 1, token_hash(GAME, 1, T1), move="4"))

    def test_version_ahead(self) -> None:
        game = active_log()
        error = self.refused(wire.Behind, game, MOVE, T0, version=3, move="4")
        self.assertEqual(error.tag, b"BEHIND")
        self.refused(wire.Behind, game, MOVE, T0, version=2**31 - 1, move="4")


def event_text(**fields: object) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class EventTests(SynchronousTestCase):
    def test_round_trip(self) -> None:
        game = active_log()
        run(game, OFFER_DRAW, T0)
        play(game, ["4", "4"])
        run(game, OFFER_DRAW, T0)
        run(game, MOVE, T0, move="3")
        run(game, ACCEPT_DRAW, T1)
        other = new_log(kind="reversi", seat=1, player="Zoë 😀")
        run(other, RESIGN, T0)
        events = game.events + other.events
        self.assertEqual(
            {event.type for event in events},
            {CREATE, JOIN, MOVE, RESIGN, OFFER_DRAW, ACCEPT_DRAW},
        )
        for event in events:
            text = event.to_json()
            self.assertEqual(Event.from_json(text), event)
            self.assertEqual(Event.from_json(text).to_json(), text)

    def test_text_has_only_the_fields_of_its_type(self) -> None:
        self.assertEqual(
            Event(RESIGN, 1, HEX64).to_json(), f'{{"seat":1,"token":"{HEX64}","type":"resign"}}'
        )
        self.assertEqual(
            Event(MOVE, 0, HEX64, move="4").to_json(),
            f'{{"move":"4","seat":0,"token":"{HEX64}","type":"move"}}',
        )
        self.assertEqual(
            Event(JOIN, 1, HEX64, player="Ñ").to_json(),
            f'{{"player":"Ñ","seat":1,"token":"{HEX64}","type":"join"}}',
        )

    def test_rejects_malformed(self) -> None:
        create = {"type": "create", "seat": 0, "token": HEX64, "kind": "connect4", "player": "a"}
        bad = [
            "",
            "not json",
            "[]",
            '"create"',
            "null",
            "[" * 100_000,
            event_text(type="resign", seat=0),  # no token
            event_text(type="resign", token=HEX64),  # no seat
            event_text(seat=0, token=HEX64),  # no type
            event_text(type="resign", seat=0, token=HEX64, move="4"),  # extra field
            event_text(type="resign", seat=0, token=HEX64, extra=1),
            event_text(type="move", seat=0, token=HEX64),  # no move
            event_text(type="join", seat=0, token=HEX64),  # no player
            event_text(type="join", seat=0, token=HEX64, player="a", kind="connect4"),
            event_text(**{**create, "kind": None}),
            event_text(**{**create, "kind": "chess"}),
            event_text(**{**create, "player": ""}),
            event_text(**{**create, "player": " a"}),
            event_text(**{**create, "player": "a\n"}),
            event_text(**{**create, "player": "x" * 33}),
            event_text(**{**create, "player": 7}),
            event_text(type="move", seat=0, token=HEX64, move="x" * 65),
            event_text(type="move", seat=0, token=HEX64, move=4),
            event_text(type="surrender", seat=0, token=HEX64),
            event_text(type=None, seat=0, token=HEX64),
            event_text(type="resign", seat=2, token=HEX64),
            event_text(type="resign", seat=-1, token=HEX64),
            event_text(type="resign", seat=True, token=HEX64),
            event_text(type="resign", seat=False, token=HEX64),
            event_text(type="resign", seat=0.0, token=HEX64),
            event_text(type="resign", seat="0", token=HEX64),
            event_text(type="resign", seat=None, token=HEX64),
            event_text(type="resign", seat=0, token=HEX64[:-1]),
            event_text(type="resign", seat=0, token=HEX64 + "a"),
            event_text(type="resign", seat=0, token=None),
            event_text(type="resign", seat=0, token=list(range(64))),
        ]
        for text in bad:
            self.assertRaises(InvalidEvent, Event.from_json, text)

    def test_rejects_unhashable_type(self) -> None:
        # A peer's (or a damaged record's) event whose type is not a string
        # must be InvalidEvent, which the sync layer catches, not TypeError.
        event_type: object
        for event_type in ([], ["resign"], {}):
            text = event_text(type=event_type, seat=0, token=HEX64)
            self.assertRaises(InvalidEvent, Event.from_json, text)

    def test_rejects_non_canonical(self) -> None:
        canonical = Event(CREATE, 0, HEX64, kind="connect4", player="Zoë").to_json()
        self.assertEqual(Event.from_json(canonical).player, "Zoë")
        fields = json.loads(canonical)
        for text in (
            json.dumps(fields, sort_keys=True, separators=(",", ":")),  # ensure_ascii
            json.dumps(fields, sort_keys=True, ensure_ascii=False),  # spaces
            json.dumps(dict(reversed(fields.items())), separators=(",", ":"), ensure_ascii=False),
            canonical + "\n",
            " " + canonical,
            canonical.replace('"seat":0', '"seat":0,"seat":0'),  # duplicate key
            canonical.replace('"seat":0', '"seat":0e0'),
        ):
            self.assertNotEqual(text, canonical)
            self.assertRaises(InvalidEvent, Event.from_json, text)


class FromEventsTests(SynchronousTestCase):
    def full_game(self) -> GameLog:
        game = active_log("checkers")
        play(game, ["11-15", "23-19"])
        run(game, OFFER_DRAW, T0)
        play(game, ["8-11", "22-17"])
        run(game, RESIGN, T0)
        return game

    def test_rebuild(self) -> None:
        game = self.full_game()
        again = GameLog.from_events(GAME, list(game.event_json))
        self.assertEqual(again.document(), game.document())
        self.assertEqual(again.heads, game.heads)
        self.assertEqual(again.events, game.events)
        self.assertEqual(again.tokens, game.tokens)
        self.assertEqual(again.event_json, game.event_json)

    def assert_rejected(self, events: list[str], game_id: str = GAME) -> None:
        self.assertRaises(InvalidEvent, GameLog.from_events, game_id, events)

    def test_rejects_an_illegal_history(self) -> None:
        game = active_log()
        play(game, ["4"])
        create, join, move = game.event_json
        h0, h1, hx = token_hash(GAME, 0, T0), token_hash(GAME, 1, T1), token_hash(GAME, 0, STRANGER)
        self.assert_rejected([])
        self.assertRaises(ValueError, GameLog.from_events, "not a game id!", [create, join])
        self.assert_rejected([join])
        self.assert_rejected([move])
        self.assert_rejected([create, create])
        self.assert_rejected([create, join, create])
        self.assert_rejected([create, "not json"])
        # Moves: illegal, by the wrong seat, with a token that holds no seat or
        # another seat's, on an open game.
        self.assert_rejected([create, join, Event(MOVE, 0, h0, move="8").to_json()])
        self.assert_rejected([create, join, Event(MOVE, 0, h0, move="1-5").to_json()])
        self.assert_rejected([create, join, Event(MOVE, 1, h1, move="4").to_json()])
        self.assert_rejected([create, join, Event(MOVE, 0, hx, move="4").to_json()])
        self.assert_rejected([create, join, Event(MOVE, 0, h1, move="4").to_json()])
        self.assert_rejected([create, join, move, move])
        self.assert_rejected([create, Event(MOVE, 0, h0, move="4").to_json()])
        # Joins: with a seated token's hash, into the taken seat, into a full game.
        self.assert_rejected([create, Event(JOIN, 1, h0, player="bob").to_json()])
        self.assert_rejected([create, Event(JOIN, 0, h1, player="bob").to_json()])
        self.assert_rejected([create, join, join])
        self.assert_rejected([create, join, Event(JOIN, 1, hx, player="carol").to_json()])
        # Draws and resignations.
        self.assert_rejected([create, join, Event(ACCEPT_DRAW, 0, h0).to_json()])
        self.assert_rejected([create, join, Event(OFFER_DRAW, 1, h1).to_json()])
        offer = Event(OFFER_DRAW, 0, h0).to_json()
        self.assert_rejected([create, join, offer, offer])
        self.assert_rejected([create, join, offer, Event(ACCEPT_DRAW, 0, h0).to_json()])
        resign = Event(RESIGN, 1, h1).to_json()
        self.assert_rejected([create, join, resign, Event(RESIGN, 0, h0).to_json()])
        self.assert_rejected([create, join, resign, move])
        self.assert_rejected([create, Event(RESIGN, 1, h1).to_json()])
        # Checked events must be exactly what decide would make.
        game = GameLog.from_events(GAME, [create, join])
        for wrong in (
            Event(MOVE, 0, h0, player="alice", move="4"),
            Event(MOVE, 0, h0, kind="connect4", move="4"),
            Event(RESIGN, 0, h0, move="4"),
            Event(JOIN, 1, hx, player="carol", move="4"),
        ):
            self.assertRaises(InvalidEvent, game.append_checked, wrong)
        self.assertEqual(game.event_json, [create, join])
        # The accepted prefixes are fine.
        GameLog.from_events(GAME, [create, join, offer, move])
        GameLog.from_events(GAME, [create, join, resign])


class HeadsTests(SynchronousTestCase):
    def test_chain(self) -> None:
        game = active_log()
        play(game, ["4", "3"])
        self.assertEqual(game.heads[0], EMPTY_HEAD)
        self.assertEqual(EMPTY_HEAD, bytes(32))
        self.assertEqual(len(game.heads), game.version + 1)
        for index, text in enumerate(game.event_json):
            expected = hashlib.sha256(game.heads[index] + text.encode("utf-8")).digest()
            self.assertEqual(game.heads[index + 1], expected)
            self.assertEqual(chain(game.heads[index], text), expected)
        self.assertEqual(game.head, game.heads[-1])

    def test_equal_histories_equal_heads(self) -> None:
        one, two = active_log(), active_log()
        play(one, ["4", "3", "4"])
        play(two, ["4", "3", "4"])
        self.assertEqual(one.heads, two.heads)

    def test_any_change_changes_the_head(self) -> None:
        def history(
            kind: str = "connect4",
            player: str = "alice",
            seat: int = 0,
            token: str = T0,
            joiner: str = "bob",
            moves: tuple[str, ...] = ("4", "3", "4"),
        ) -> GameLog:
            game = new_log(kind, seat, player, token)
            run(game, JOIN, T1, player=joiner)
            play(game, list(moves), (token, T1))
            return game

        base = history()
        variants = {
            "kind": (history(kind="reversi", moves=()), 0),
            "player": (history(player="alicia"), 0),
            "seat": (history(seat=1), 0),
            "token": (history(token=T0 + "x"), 0),
            "joiner": (history(joiner="bobby"), 1),
            "last move": (history(moves=("4", "3", "5")), 4),
            "first move": (history(moves=("5", "3", "4")), 2),
        }
        for name, (variant, first_difference) in variants.items():
            self.assertEqual(
                variant.heads[: first_difference + 1],
                base.heads[: first_difference + 1],
                name,
            )
            for index in range(first_difference + 1, len(variant.heads)):
                self.assertNotIn(variant.heads[index], base.heads, name)
        longer = history(moves=("4", "3", "4", "3"))
        self.assertEqual(longer.heads[:-1], base.heads)
        self.assertNotEqual(longer.head, base.head)


class DirectJsonTests(SynchronousTestCase):
    """The document, summary and events are written field by field: the same
    text as canonical_json of their fields, in every state a game passes."""

    def check(self, game: GameLog) -> None:
        from game.server.gamelog import canonical_json, summary_json

        self.assertEqual(game.document(), canonical_json(game.document_fields()))
        # Encoded once per version: never the bytes of an earlier version.
        self.assertEqual(game.encoded_document(), game.document().encode("utf-8"))
        summary = summary_json(game.game_id, game.kind, game.status, game.players, game.version)
        self.assertEqual(summary, canonical_json(game.summary()))
        for event, text in zip(game.events, game.event_json, strict=True):
            fields: dict[str, Any] = {"type": event.type, "seat": event.seat, "token": event.token}
            for name in ("kind", "player", "move"):
                if getattr(event, name) is not None:
                    fields[name] = getattr(event, name)
            self.assertEqual(text, canonical_json(fields))
        self.assertEqual(json.loads(game.document())["moves"], game.moves)

    def test_random_games(self) -> None:
        from game.server.gamelog import Command, create_event, decide

        rng = random.Random(7)
        names = ["alice", "Zoë 😀", 'quo"te\\back', "naïve café", "ünï"]
        for n in range(60):
            kind = ("connect4", "reversi", "checkers")[n % 3]
            tokens = (f"token-zero-{n:06d}-xx", f"token-one-{n:06d}-xxx")
            seat = rng.randrange(2)
            game_id = f"game-{n}"
            game = GameLog(
                game_id, create_event(kind, rng.choice(names), seat, tokens[seat], game_id)
            )
            self.check(game)
            if rng.random() < 0.1:
                outcome = decide(game, Command(RESIGN, game.version, tokens[seat]))
                game.append(outcome)  # type: ignore[arg-type]
                self.check(game)
                continue
            join = Command(JOIN, game.version, tokens[1 - seat], player=rng.choice(names))
            game.append(decide(game, join))  # type: ignore[arg-type]
            self.check(game)
            while game.status == "active" and game.version < 80:
                to_move = game.position.to_move
                roll = rng.random()
                if roll < 0.05 and game.draw_offer is None:
                    command = Command(OFFER_DRAW, game.version, tokens[to_move])
                elif roll < 0.1 and game.draw_offer == 1 - to_move:
                    command = Command(ACCEPT_DRAW, game.version, tokens[to_move])
                elif roll < 0.12:
                    command = Command(RESIGN, game.version, tokens[rng.randrange(2)])
                else:
                    move = rng.choice(game.position.legal_moves())
                    command = Command(MOVE, game.version, tokens[to_move], move=move)
                game.append(decide(game, command))  # type: ignore[arg-type]
                self.check(game)
            # A game rebuilt from its events writes the same texts.
            again = GameLog.from_events(game_id, list(game.event_json))
            self.assertEqual(again.document(), game.document())
