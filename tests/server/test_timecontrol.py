"""Time controls on the wire: ``CreateGame``'s ``clock`` and the ``at`` stamps (version 2)."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from game import protocol as p
from game.timecontrol import (
    CORR,
    DAY_MS,
    LIVE,
    InvalidTimeControl,
    TimeControl,
    parse_time_control,
)

VALID = {
    "live:300+5": TimeControl(LIVE, 300_000, 5_000),
    "live:10+0": TimeControl(LIVE, 10_000, 0),
    "live:10800+180": TimeControl(LIVE, 10_800_000, 180_000),
    "corr:1": TimeControl(CORR, DAY_MS, days=1),
    "corr:30": TimeControl(CORR, 30 * DAY_MS, days=30),
}

INVALID = [
    "",
    "live:9+0",
    "live:10801+0",
    "live:300+181",
    "live:0300+5",
    "live:300+05",
    "live:300",
    "live:300+",
    "live:+5",
    "live:-10+0",
    "live:300+5 ",
    " live:300+5",
    "LIVE:300+5",
    "live:3e2+5",
    "live:300.0+5",
    "corr:0",
    "corr:31",
    "corr:03",
    "corr:",
    "corr:1d",
    "blitz",
    "live:\uff11\uff10+0",  # fullwidth digits are not ASCII digits
]


class ParseTests(SynchronousTestCase):
    def test_valid(self) -> None:
        for text, control in VALID.items():
            self.assertEqual(parse_time_control(text), control, text)
            self.assertEqual(control.text, text)
            self.assertEqual(str(control), text)

    def test_invalid(self) -> None:
        for text in INVALID:
            self.assertRaises(InvalidTimeControl, parse_time_control, text)

    def test_live(self) -> None:
        self.assertTrue(parse_time_control("live:60+1").live)
        self.assertFalse(parse_time_control("corr:3").live)


class ArgumentTests(SynchronousTestCase):
    def parse(self, command: type[p.Command], name: bytes, value: bytes) -> object:
        argument = dict(command.arguments)[name]
        return argument.fromString(value)  # type: ignore[no-untyped-call]

    def test_clock_argument(self) -> None:
        for text in VALID:
            self.assertEqual(self.parse(p.CreateGame, b"clock", text.encode()), text)
        self.assertEqual(self.parse(p.CreateGame, b"clock", b""), "")
        for text in INVALID[1:]:
            self.assertRaises(p.InvalidArgument, self.parse, p.CreateGame, b"clock", text.encode())

    def test_at_argument(self) -> None:
        for command in (
            p.CreateGame,
            p.JoinGame,
            p.MakeMove,
            p.Resign,
            p.OfferDraw,
            p.AcceptDraw,
            p.ClaimTimeout,
        ):
            self.assertEqual(self.parse(command, b"at", b"1700000000000"), 1_700_000_000_000)
            self.assertEqual(self.parse(command, b"at", b"0"), 0)
            self.assertEqual(self.parse(command, b"at", str(2**53).encode()), 2**53)
            for bad in (b"-1", str(2**53 + 1).encode(), b"1.5", b""):
                self.assertRaises(p.InvalidArgument, self.parse, command, b"at", bad)
            optional = command is not p.ClaimTimeout
            self.assertEqual(dict(command.arguments)[b"at"].optional, optional)

    def test_version_2(self) -> None:
        self.assertEqual(p.PROTOCOL_VERSION, 2)
        self.assertIn(p.ClaimTimeout, p.CLIENT_COMMANDS)
        self.assertIn(b"now", dict(p.Status.response))

    def test_error_lists(self) -> None:
        tags = {command: set(command.errors.values()) for command in p.CLIENT_COMMANDS}
        common = {b"BAD_REQUEST", b"NOT_SERVING", b"INTERNAL"}
        game = common | {b"UNKNOWN_GAME", b"STALE_VERSION", b"BEHIND", b"BAD_TOKEN", b"GAME_OVER"}
        timed = game | {b"CLOCK_SKEW"}
        self.assertEqual(tags[p.CreateGame], common | {b"GAME_EXISTS"})
        self.assertEqual(tags[p.JoinGame], timed | {b"FLAGGED", b"GAME_FULL"})
        self.assertEqual(tags[p.MakeMove], timed | {b"FLAGGED", b"NOT_YOUR_TURN", b"ILLEGAL_MOVE"})
        self.assertEqual(tags[p.Resign], timed | {b"FLAGGED"})
        self.assertEqual(tags[p.OfferDraw], timed | {b"FLAGGED", b"NOT_YOUR_TURN", b"DRAW_PENDING"})
        self.assertEqual(
            tags[p.AcceptDraw], timed | {b"FLAGGED", b"NOT_YOUR_TURN", b"NO_DRAW_OFFER"}
        )
        self.assertEqual(tags[p.ClaimTimeout], timed | {b"TIME_LEFT"})
