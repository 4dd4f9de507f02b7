"""What the clocks read: game.client.clocks."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from game.client.clocks import describe_control, format_time, read_clocks
from game.client.document import Clock, GameDocument
from game.timecontrol import parse_time_control

LIVE = parse_time_control("live:300+5")
CORR = parse_time_control("corr:3")


def document(clock: Clock | None, status: str = "active", to_move: int | None = 0) -> GameDocument:
    return GameDocument(
        game_id="g",
        kind="connect4",
        version=3,
        status=status,  # type: ignore[arg-type]
        players=("alice", "bob"),
        to_move=to_move,
        moves=("4",),
        position="4",
        legal=("1", "2", "3", "4", "5", "6", "7"),
        draw_offer=None,
        result=None,
        clock=clock,
    )


class ReadClocksTests(SynchronousTestCase):
    def test_an_untimed_game_has_no_clocks(self) -> None:
        self.assertIsNone(read_clocks(document(None), 0))

    def test_only_the_side_to_move_runs(self) -> None:
        clock = Clock("live:300+5", (290_000, 305_000), at=1_000, deadline=291_000)
        reading = read_clocks(document(clock, to_move=0), now_ms=11_000)
        assert reading is not None
        self.assertEqual(reading.remaining, (280_000, 305_000))
        self.assertEqual(reading.running, 0)
        self.assertFalse(reading.flagged())

    def test_past_the_deadline_reads_zero_and_flagged(self) -> None:
        clock = Clock("live:10+0", (10_000, 4_000), at=1_000, deadline=5_000)
        reading = read_clocks(document(clock, to_move=1), now_ms=9_000)
        assert reading is not None
        self.assertEqual(reading.remaining, (10_000, 0))
        self.assertTrue(reading.flagged())
        self.assertTrue(reading.low(1))

    def test_before_the_start_and_after_the_end_nothing_runs(self) -> None:
        waiting = Clock("live:300+5", (300_000, 300_000), at=None, deadline=None)
        open_game = read_clocks(document(waiting, status="open", to_move=None), 5)
        assert open_game is not None
        self.assertEqual((open_game.remaining, open_game.running), ((300_000, 300_000), None))
        over = document(waiting, status="finished", to_move=None)
        reading = read_clocks(over, 10**12)
        assert reading is not None
        self.assertIsNone(reading.running)

    def test_low_time_is_for_live_clocks_only(self) -> None:
        clock = Clock("corr:3", (5_000, 5_000), at=0, deadline=5_000)
        reading = read_clocks(document(clock), 0)
        assert reading is not None
        self.assertFalse(reading.low(0))


class FormatTests(SynchronousTestCase):
    def test_live_faces(self) -> None:
        self.assertEqual(format_time(299_999, LIVE), "4:59")
        self.assertEqual(format_time(3_723_000, LIVE), "1:02:03")
        self.assertEqual(format_time(10_000, LIVE), "0:10")
        self.assertEqual(format_time(9_460, LIVE), "9.4")
        self.assertEqual(format_time(-5, LIVE), "0.0")

    def test_correspondence_faces(self) -> None:
        self.assertEqual(format_time(2 * 86_400_000 + 3 * 3_600_000, CORR), "2d 03h")
        self.assertEqual(format_time(5 * 3_600_000 + 7 * 60_000, CORR), "5:07:00")
        self.assertEqual(format_time(9_000, CORR), "0:09")

    def test_controls_as_players_name_them(self) -> None:
        self.assertEqual(describe_control(None), "untimed")
        self.assertEqual(describe_control(""), "untimed")
        self.assertEqual(describe_control("live:300+5"), "5+5")
        self.assertEqual(describe_control("live:60+0"), "1+0")
        self.assertEqual(describe_control("live:90+2"), "1.5+2")
        self.assertEqual(describe_control("live:10+0"), "10s+0")
        self.assertEqual(describe_control("corr:1"), "1 day per move")
        self.assertEqual(describe_control("corr:7"), "7 days per move")
