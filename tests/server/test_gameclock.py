"""Timed games (protocol version 2): the clocks' arithmetic, the timed checks in
PROTOCOL.md's order, the timeout event, and the bytes of timed events and documents."""

from __future__ import annotations

import json
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from game import errors as wire
from game.server.gameclock import GameClock, check_stamp
from game.server.gamelog import (
    ACCEPT_DRAW,
    JOIN,
    MOVE,
    OFFER_DRAW,
    REPEAT,
    RESIGN,
    TIMEOUT,
    Command,
    Event,
    GameLog,
    InvalidEvent,
    canonical_json,
    create_event,
    decide,
    summary_json,
)
from game.timecontrol import DAY_MS, parse_time_control

GAME = "timed-1"
T0 = "seat-zero-token-0123456789"
T1 = "seat-one-token-0123456789"
STRANGER = "nobody-holds-this-token"
#: A wall clock time (ms) to start games at.
START = 1_700_000_000_000
SKEW = 2000


def timed(control: str = "live:60+2", kind: str = "connect4") -> GameLog:
    return GameLog(GAME, create_event(kind, "alice", 0, T0, GAME, control))


def act(
    game: GameLog,
    event_type: str,
    token: str,
    at: int,
    *,
    now: int | None = None,
    player: str | None = None,
    move: str | None = None,
) -> Event:
    """Decide a timed command stamped ``at`` (the server's clock ``now``, by
    default ``at``) and append its event."""
    command = Command(event_type, game.version, token, player=player, move=move, at=at)
    outcome = decide(game, command, at if now is None else now, SKEW)
    if not isinstance(outcome, Event):
        raise AssertionError(f"expected an event, got {outcome!r}")
    game.append(outcome)
    return outcome


def joined(control: str = "live:60+2", at: int = START) -> GameLog:
    game = timed(control)
    act(game, JOIN, T1, at, player="bob")
    return game


def clock(game: GameLog) -> dict[str, Any]:
    field: dict[str, Any] = json.loads(game.document())["clock"]
    return field


def replayed(game: GameLog) -> GameLog:
    return GameLog.from_events(GAME, list(game.event_json))


class GameClockTests(SynchronousTestCase):
    """The arithmetic alone."""

    def test_fischer(self) -> None:
        clock = GameClock.new(parse_time_control("live:10+1"))
        self.assertEqual((clock.remaining, clock.deadline(0)), ([10_000, 10_000], None))
        clock.start(100)
        self.assertEqual(clock.deadline(0), 10_100)
        clock.moved(0, 3_100)  # spent 3 s, gained 1 s
        self.assertEqual(clock.remaining, [8_000, 10_000])
        self.assertEqual(clock.deadline(1), 13_100)
        clock.spend(1, 4_100)  # a draw offer: spends, no increment
        self.assertEqual((clock.remaining, clock.deadline(1)), ([8_000, 9_000], 13_100))
        clock.flagged(1)
        self.assertEqual((clock.remaining, clock.at, clock.last_at), ([8_000, 0], None, 13_100))

    def test_correspondence(self) -> None:
        clock = GameClock.new(parse_time_control("corr:2"))
        clock.start(0)
        clock.moved(0, DAY_MS)
        self.assertEqual(clock.remaining, [2 * DAY_MS, 2 * DAY_MS])
        clock.spend(1, DAY_MS + 5)
        self.assertEqual(clock.remaining, [2 * DAY_MS, 2 * DAY_MS - 5])
        clock.moved(1, DAY_MS + 10)
        self.assertEqual(clock.remaining, [2 * DAY_MS, 2 * DAY_MS])

    def test_check_stamp(self) -> None:
        check_stamp(1000, None, 1000 + SKEW, SKEW)
        check_stamp(1000, None, 1000 - SKEW, SKEW)
        check_stamp(1000, 1000, None, SKEW)
        self.assertRaises(wire.ClockSkew, check_stamp, 1000, None, 1000 + SKEW + 1, SKEW)
        self.assertRaises(wire.ClockSkew, check_stamp, 1000, None, 1000 - SKEW - 1, SKEW)
        self.assertRaises(wire.ClockSkew, check_stamp, 999, 1000, None, SKEW)

    def test_json_matches_fields(self) -> None:
        clock = GameClock.new(parse_time_control("live:300+5"))
        for to_move in (None, 0, 1):
            self.assertEqual(clock.to_json(to_move), canonical_json(clock.fields(to_move)))
        clock.start(7)
        for to_move in (None, 0, 1):
            self.assertEqual(clock.to_json(to_move), canonical_json(clock.fields(to_move)))


class FischerGameTests(SynchronousTestCase):
    def test_a_whole_game(self) -> None:
        game = joined("live:60+2")
        # connect4: seat 0 wins with 1,1,1,1 against 2,2,2.
        spent = [(0, 1_500), (1, 4_000), (0, 10_000), (1, 250), (0, 30_000), (1, 0), (0, 100)]
        expected = [60_000, 60_000]
        at = START
        moves = ["1", "2", "1", "2", "1", "2", "1"]
        for (seat, elapsed), move in zip(spent, moves, strict=True):
            at += elapsed
            act(game, MOVE, (T0, T1)[seat], at, move=move)
            expected[seat] += 2_000 - elapsed
            self.assertEqual(game.clock.remaining if game.clock else None, expected)
            if game.status == "active":
                self.assertEqual(
                    clock(game),
                    {
                        "control": "live:60+2",
                        "remaining": expected,
                        "at": at,
                        "deadline": at + expected[1 - seat],
                    },
                )
        self.assertEqual(game.result and game.result.reason, "four in a row")
        self.assertEqual(
            clock(game),
            {"control": "live:60+2", "remaining": expected, "at": None, "deadline": None},
        )
        self.assertEqual(replayed(game).document(), game.document())

    def test_the_clock_starts_at_join(self) -> None:
        game = timed("live:60+0")
        self.assertEqual(
            clock(game),
            {"control": "live:60+0", "remaining": [60_000, 60_000], "at": None, "deadline": None},
        )
        act(game, JOIN, T1, START + 3_600_000, player="bob")  # an hour after its creation
        self.assertEqual(clock(game)["at"], START + 3_600_000)
        self.assertEqual(clock(game)["deadline"], START + 3_600_000 + 60_000)

    def test_seat_one_creates_and_moves_second(self) -> None:
        game = GameLog(GAME, create_event("connect4", "alice", 1, T0, GAME, "live:10+0"))
        act(game, JOIN, T1, START, player="bob")  # bob takes seat 0 and moves first
        self.assertEqual(clock(game)["deadline"], START + 10_000)
        act(game, MOVE, T1, START + 4_000, move="4")
        self.assertEqual(clock(game)["remaining"], [6_000, 10_000])

    def test_draw_offers_do_not_stop_the_clock(self) -> None:
        game = joined("live:60+5")
        act(game, OFFER_DRAW, T0, START + 10_000)
        self.assertEqual(clock(game)["remaining"], [50_000, 60_000])
        self.assertEqual(clock(game)["deadline"], START + 60_000)
        act(game, MOVE, T0, START + 20_000, move="4")  # the offerer moves: spends 10 s more
        self.assertEqual(clock(game)["remaining"], [45_000, 60_000])
        act(game, MOVE, T1, START + 30_000, move="4")  # declines the offer
        self.assertEqual(clock(game)["remaining"], [45_000, 55_000])
        act(game, OFFER_DRAW, T0, START + 31_000)
        act(game, MOVE, T0, START + 31_500, move="3")  # the offer stands
        act(game, ACCEPT_DRAW, T1, START + 32_000)
        self.assertEqual(clock(game)["remaining"], [48_500, 54_500])
        self.assertEqual(game.result and game.result.reason, "draw agreed")

    def test_resignation_spends_the_side_to_moves_time(self) -> None:
        game = joined("live:60+0")
        act(game, RESIGN, T1, START + 7_000)  # seat 1 resigns on seat 0's turn
        self.assertEqual(
            clock(game),
            {"control": "live:60+0", "remaining": [53_000, 60_000], "at": None, "deadline": None},
        )

    def test_time_can_go_below_the_increment(self) -> None:
        game = joined("live:10+0")
        act(game, MOVE, T0, START + 10_000, move="4")  # at the deadline exactly: in time
        self.assertEqual(clock(game)["remaining"], [0, 10_000])


class CorrespondenceTests(SynchronousTestCase):
    def test_each_move_resets_the_movers_days(self) -> None:
        game = joined("corr:3")
        self.assertEqual(clock(game)["deadline"], START + 3 * DAY_MS)
        act(game, MOVE, T0, START + 2 * DAY_MS, move="4")
        self.assertEqual(clock(game)["remaining"], [3 * DAY_MS, 3 * DAY_MS])
        self.assertEqual(clock(game)["deadline"], START + 5 * DAY_MS)
        act(game, OFFER_DRAW, T1, START + 3 * DAY_MS)
        self.assertEqual(clock(game)["remaining"], [3 * DAY_MS, 2 * DAY_MS])
        self.assertEqual(clock(game)["deadline"], START + 5 * DAY_MS)
        act(game, MOVE, T1, START + 4 * DAY_MS, move="4")
        self.assertEqual(clock(game)["remaining"], [3 * DAY_MS, 3 * DAY_MS])
        self.assertEqual(clock(game)["deadline"], START + 7 * DAY_MS)


class TimedRefusalTests(SynchronousTestCase):
    def refused(
        self,
        error: type[wire.WireError],
        game: GameLog,
        event_type: str,
        token: str,
        at: int | None,
        *,
        now: int | None = None,
        version: int | None = None,
        player: str | None = None,
        move: str | None = None,
    ) -> wire.WireError:
        before = (game.document(), list(game.event_json))
        command = Command(
            event_type,
            game.version if version is None else version,
            token,
            player=player,
            move=move,
            at=at,
        )
        now = (at or START) if now is None else now
        raised = self.assertRaises(wire.WireError, decide, game, command, now, SKEW)
        self.assertIs(type(raised), error, f"answered {raised.tag!r}: {raised}")
        self.assertEqual((game.document(), list(game.event_json)), before)
        return raised

    def test_at_is_required_in_a_timed_game(self) -> None:
        game = timed()
        self.refused(wire.BadRequest, game, JOIN, T1, None, player="bob")
        act(game, JOIN, T1, START, player="bob")
        for event_type, move in ((MOVE, "4"), (RESIGN, None), (OFFER_DRAW, None), (TIMEOUT, None)):
            self.refused(wire.BadRequest, game, event_type, T0, None, move=move)

    def test_claim_timeout_on_an_untimed_game(self) -> None:
        game = GameLog(GAME, create_event("connect4", "alice", 0, T0, GAME))
        self.refused(wire.BadRequest, game, TIMEOUT, T0, START)

    def test_clock_skew_both_ways(self) -> None:
        game = joined()
        self.refused(wire.ClockSkew, game, MOVE, T0, START + 10_000, now=START + 12_001, move="4")
        self.refused(wire.ClockSkew, game, MOVE, T0, START + 10_000, now=START + 7_999, move="4")
        act(game, MOVE, T0, START + 10_000, now=START + 12_000, move="4")
        act(game, MOVE, T1, START + 20_000, now=START + 18_000, move="4")

    def test_clock_skew_on_join(self) -> None:
        self.refused(wire.ClockSkew, timed(), JOIN, T1, START, now=START + 2_001, player="bob")

    def test_time_going_backwards(self) -> None:
        game = joined()
        act(game, MOVE, T0, START + 5_000, move="4")
        # Within clock_skew of the server's clock, but before the last event.
        self.refused(wire.ClockSkew, game, MOVE, T1, START + 4_999, now=START + 5_500, move="4")
        act(game, MOVE, T1, START + 5_000, now=START + 5_500, move="4")  # the same ms is fine

    def test_flagged(self) -> None:
        game = joined("live:10+0")
        error = self.refused(wire.Flagged, game, MOVE, T0, START + 10_001, move="4")
        self.assertEqual(error.description, f"time ran out at {START + 10_000}")
        for event_type in (RESIGN, OFFER_DRAW):
            self.refused(wire.Flagged, game, event_type, T0, START + 10_001)
        # The side not to move cannot resign once the other's time ran out either.
        self.refused(wire.Flagged, game, RESIGN, T1, START + 10_001)
        self.refused(wire.Flagged, game, JOIN, STRANGER, START + 10_001, player="carol")

    def test_time_left(self) -> None:
        game = joined("live:10+0")
        self.refused(wire.TimeLeft, game, TIMEOUT, T1, START + 10_000)
        self.refused(wire.TimeLeft, timed("live:10+0"), TIMEOUT, T0, START)  # not started

    def test_claim_timeout(self) -> None:
        game = joined("live:10+0")
        act(game, MOVE, T0, START + 1_000, move="4")  # seat 1's deadline: START + 11,000
        event = act(game, TIMEOUT, T0, START + 11_500)
        self.assertEqual(event, Event(TIMEOUT, 1, game.tokens[1] or "", at=START + 11_000))
        self.assertEqual(
            json.loads(event.to_json()),
            {"type": "timeout", "seat": 1, "token": game.tokens[1], "at": START + 11_000},
        )
        document = json.loads(game.document())
        self.assertEqual(document["result"], {"winner": 0, "reason": "time"})
        self.assertEqual((document["status"], document["to_move"]), ("finished", None))
        self.assertEqual(
            document["clock"],
            {"control": "live:10+0", "remaining": [9_000, 0], "at": None, "deadline": None},
        )

    def test_either_seat_claims_the_same_event(self) -> None:
        events = []
        for claimer, at in ((T0, START + 10_001), (T1, START + 11_999)):
            game = joined("live:10+0")
            events.append(act(game, TIMEOUT, claimer, at).to_json())
        self.assertEqual(events[0], events[1])
        self.assertEqual(joined("live:10+0").timeout_event(), Event.from_json(events[0]))

    def test_claim_needs_a_seat(self) -> None:
        self.refused(wire.BadToken, joined("live:10+0"), TIMEOUT, STRANGER, START + 10_001)


class RepeatTests(SynchronousTestCase):
    def test_a_repeat_whatever_its_at(self) -> None:
        game = joined()
        act(game, MOVE, T0, START + 1_000, move="4")
        for at in (START + 1_000, START, START + 999_999, 0):
            command = Command(MOVE, 2, T0, move="4", at=at)
            self.assertIs(decide(game, command, START + 1_000, SKEW), REPEAT)

    def test_a_claim_repeats_the_timeout_whoever_appended_it(self) -> None:
        game = joined("live:10+0")
        timeout = game.timeout_event()
        assert timeout is not None
        game.append(timeout)  # a server's own timeout
        for token in (T0, T1):
            command = Command(TIMEOUT, 2, token, at=START + 10_001)
            self.assertIs(decide(game, command, START + 99_000, SKEW), REPEAT)
        stale = Command(TIMEOUT, 2, STRANGER, at=START + 10_001)
        self.assertRaises(wire.StaleVersion, decide, game, stale, START, SKEW)


class CheckOrderTests(TimedRefusalTests):
    """The timed checks' places: ... BAD_TOKEN, GAME_OVER, CLOCK_SKEW, FLAGGED
    (TIME_LEFT), GAME_FULL, NOT_YOUR_TURN, DRAW_PENDING, NO_DRAW_OFFER, ILLEGAL_MOVE."""

    FAR = START + 60_000  # far from the server's clock and past a 10 s deadline

    def test_bad_request_before_everything(self) -> None:
        game = joined("live:10+0")
        self.refused(wire.BadRequest, game, MOVE, STRANGER, None, version=99, move="x")

    def test_repeat_and_versions_before_clock_skew(self) -> None:
        game = joined("live:10+0")
        self.assertIs(
            decide(game, Command(JOIN, 1, T1, player="bob", at=self.FAR), START, SKEW), REPEAT
        )
        self.refused(wire.StaleVersion, game, MOVE, T0, self.FAR, now=START, version=1, move="4")
        self.refused(wire.Behind, game, MOVE, T0, self.FAR, now=START, version=3, move="4")

    def test_bad_token_and_game_over_before_clock_skew(self) -> None:
        game = joined("live:10+0")
        self.refused(wire.BadToken, game, MOVE, STRANGER, self.FAR, now=START, move="4")
        act(game, RESIGN, T1, START + 1_000)
        self.refused(wire.GameIsOver, game, MOVE, T0, self.FAR, now=START, move="4")
        self.refused(wire.GameIsOver, game, TIMEOUT, T0, self.FAR, now=START)
        self.refused(wire.GameIsOver, game, JOIN, STRANGER, self.FAR, now=START, player="c")

    def test_clock_skew_before_flagged_and_time_left(self) -> None:
        game = joined("live:10+0")
        self.refused(wire.ClockSkew, game, MOVE, T0, self.FAR, now=START, move="4")
        self.refused(wire.ClockSkew, game, TIMEOUT, T1, START + 1_000, now=START + 9_000)

    def test_flagged_before_full_turn_pending_offer_and_illegal(self) -> None:
        game = joined("live:10+0")
        self.refused(wire.Flagged, game, JOIN, STRANGER, self.FAR, player="carol")
        self.refused(wire.Flagged, game, MOVE, T1, self.FAR, move="x" * 64)
        self.refused(wire.Flagged, game, MOVE, T0, self.FAR, move="9")
        self.refused(wire.Flagged, game, ACCEPT_DRAW, T0, self.FAR)
        act(game, OFFER_DRAW, T0, START + 1_000)
        self.refused(wire.Flagged, game, OFFER_DRAW, T0, self.FAR)

    def test_untimed_checks_follow(self) -> None:
        game = joined("live:10+0")
        self.refused(wire.GameFull, game, JOIN, STRANGER, START, player="carol")
        self.refused(wire.NotYourTurn, game, MOVE, T1, START, move="4")
        act(game, OFFER_DRAW, T0, START)
        self.refused(wire.DrawPending, game, OFFER_DRAW, T0, START)
        self.refused(wire.NoDrawOffer, joined(), ACCEPT_DRAW, T0, START)
        self.refused(wire.IllegalMoveError, game, MOVE, T0, START, move="9")


class TimedEventTests(SynchronousTestCase):
    def test_events_carry_at(self) -> None:
        game = joined("live:60+2")
        act(game, MOVE, T0, START + 1_234, move="4")
        texts = game.event_json
        self.assertEqual(
            json.loads(texts[0]),
            {"type": "create", "seat": 0, "token": game.tokens[0], "kind": "connect4",
             "player": "alice", "clock": "live:60+2"},
        )  # fmt: skip
        self.assertEqual(json.loads(texts[1])["at"], START)
        self.assertEqual(json.loads(texts[2])["at"], START + 1_234)
        for text in texts:
            self.assertEqual(text, canonical_json(json.loads(text)))
            self.assertEqual(Event.from_json(text).to_json(), text)

    def test_untimed_games_ignore_at(self) -> None:
        game = GameLog(GAME, create_event("connect4", "alice", 0, T0, GAME))
        for event_type, token, extra in ((JOIN, T1, {"player": "bob"}), (MOVE, T0, {"move": "4"})):
            command = Command(event_type, game.version, token, at=START, **extra)
            event = decide(game, command, START + 10**9, SKEW)
            assert isinstance(event, Event)
            self.assertIsNone(event.at)
            game.append(event)
        self.assertNotIn('"at"', "".join(game.event_json))
        self.assertNotIn('"clock"', game.document())
        self.assertNotIn("clock", game.summary())

    def test_document_and_summary(self) -> None:
        game = joined("corr:3")
        fields = game.document_fields()
        self.assertEqual(game.document(), canonical_json(fields))
        self.assertEqual(next(iter(json.loads(game.document()))), "clock")
        summary = game.summary()
        self.assertEqual(summary["clock"], "corr:3")
        self.assertEqual(
            summary_json(GAME, "connect4", "active", ["alice", "bob"], 2, "corr:3"),
            canonical_json(summary),
        )

    def test_replay_checks_times(self) -> None:
        game = joined("live:10+0")
        act(game, MOVE, T0, START + 1_000, move="4")
        good = list(game.event_json)
        self.assertEqual(GameLog.from_events(GAME, good).document(), game.document())

        def with_at(index: int, at: int | None) -> list[str]:
            fields = json.loads(good[index])
            if at is None:
                del fields["at"]
            else:
                fields["at"] = at
            return [*good[:index], canonical_json(fields), *good[index + 1 :]]

        for bad in (
            with_at(2, None),  # a timed event without its time
            with_at(2, START - 1),  # before the join
            with_at(2, START + 10_001),  # past the deadline
            with_at(1, -1),
            [good[0], good[1].replace("}", ',"at":true}')],
        ):
            self.assertRaises(InvalidEvent, GameLog.from_events, GAME, bad)

    def test_replay_of_a_timeout(self) -> None:
        game = joined("live:10+0")
        act(game, TIMEOUT, T1, START + 10_500)
        self.assertEqual(replayed(game).document(), game.document())
        early = json.loads(game.event_json[-1])
        early["at"] = START + 9_999
        wrong_seat = json.loads(game.event_json[-1])
        wrong_seat["seat"], wrong_seat["token"] = 1, game.tokens[1]
        for fields in (early, wrong_seat):
            events = [*game.event_json[:-1], canonical_json(fields)]
            self.assertRaises(InvalidEvent, GameLog.from_events, GAME, events)

    def test_untimed_events_refuse_times(self) -> None:
        game = GameLog(GAME, create_event("connect4", "alice", 0, T0, GAME))
        join = Event(JOIN, 1, "ab" * 32, player="bob", at=START)
        self.assertRaises(
            InvalidEvent, GameLog.from_events, GAME, [game.event_json[0], join.to_json()]
        )
        create = json.loads(game.event_json[0])
        create["at"] = START
        self.assertRaises(InvalidEvent, GameLog.from_events, GAME, [canonical_json(create)])
        create = json.loads(game.event_json[0])
        create["clock"] = "live:9+0"
        self.assertRaises(InvalidEvent, GameLog.from_events, GAME, [canonical_json(create)])
