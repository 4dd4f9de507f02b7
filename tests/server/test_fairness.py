"""FairInput: one slice of input per connection at a time, round robin."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from game.server.fairness import FairInput


def one_turn(clock: Clock) -> None:
    """Run the calls due now, as one reactor turn does: unlike
    ``Clock.advance(0)``, not the ``callLater(0)`` calls they make."""
    due = [call for call in clock.getDelayedCalls() if call.getTime() <= clock.seconds()]
    for call in due:
        clock.calls.remove(call)
        call.called = 1
        call.func(*call.args, **call.kw)


class FakeReader:
    """A connection with ``slices`` slices of input buffered."""

    def __init__(self, name: str, log: list[str], slices: int = 0) -> None:
        self.name = name
        self.log = log
        self.slices = slices
        self.paused = False
        self.budgets: list[tuple[int, int]] = []

    def __repr__(self) -> str:
        return self.name

    def receive(self, slices: int, scheduler: FairInput) -> None:
        self.slices += slices
        scheduler.input_arrived(self)

    def read_slice(self, max_bytes: int, max_boxes: int) -> bool:
        self.budgets.append((max_bytes, max_boxes))
        if self.slices:
            self.slices -= 1
            self.log.append(self.name)
        return self.slices > 0

    def pause_reading(self) -> None:
        assert not self.paused
        self.paused = True

    def resume_reading(self) -> None:
        assert self.paused
        self.paused = False


class FairInputTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.input = FairInput(self.clock, slice_bytes=100, slice_boxes=5, turn_slices=3)
        self.log: list[str] = []

    def reader(self, name: str) -> FakeReader:
        return FakeReader(name, self.log)

    def test_light_input_is_handled_at_once(self) -> None:
        light = self.reader("light")
        light.receive(1, self.input)
        self.assertEqual(self.log, ["light"])
        self.assertEqual(light.budgets, [(100, 5)])
        self.assertFalse(light.paused)
        self.assertEqual((self.input.waiting, self.clock.getDelayedCalls()), ([], []))

    def test_heavy_input_is_paused_and_served_a_few_slices_per_turn(self) -> None:
        heavy = self.reader("heavy")
        heavy.receive(8, self.input)
        self.assertEqual(self.log, ["heavy"])
        self.assertTrue(heavy.paused)
        self.assertEqual(self.input.waiting, [heavy])
        for done in (4, 7, 8):
            one_turn(self.clock)
            self.assertEqual(len(self.log), done)
        self.assertFalse(heavy.paused)
        self.assertEqual(self.input.waiting, [])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_round_robin(self) -> None:
        a, b, c = self.reader("a"), self.reader("b"), self.reader("c")
        a.receive(3, self.input)
        b.receive(2, self.input)
        c.receive(4, self.input)
        self.assertEqual(self.log, ["a", "b", "c"])
        del self.log[:]
        one_turn(self.clock)  # three slices per turn
        self.assertEqual(self.log, ["a", "b", "c"])
        self.assertFalse(b.paused)
        one_turn(self.clock)
        self.assertEqual(self.log, ["a", "b", "c", "a", "c", "c"])
        self.assertEqual(self.input.waiting, [])
        self.assertFalse(a.paused or b.paused or c.paused)

    def test_a_light_client_waits_behind_no_queue(self) -> None:
        heavy = [self.reader(f"heavy{n}") for n in range(40)]
        for reader in heavy:
            reader.receive(100, self.input)
        del self.log[:]
        light = self.reader("light")
        light.receive(1, self.input)
        self.assertEqual(self.log, ["light"])

    def test_input_while_waiting_keeps_its_place(self) -> None:
        a, b = self.reader("a"), self.reader("b")
        a.receive(2, self.input)
        b.receive(2, self.input)
        a.receive(2, self.input)  # e.g. more TLS records of the same read
        self.assertEqual(self.log, ["a", "b"])
        self.assertEqual(self.input.waiting, [a, b])
        one_turn(self.clock)
        self.assertEqual(self.log, ["a", "b", "a", "b", "a"])

    def test_forget(self) -> None:
        a, b = self.reader("a"), self.reader("b")
        a.receive(5, self.input)
        b.receive(5, self.input)
        self.input.forget(a)
        self.input.forget(a)  # twice is fine
        self.assertEqual(self.input.waiting, [b])
        one_turn(self.clock)
        self.assertEqual(self.log, ["a", "b", "b", "b", "b"])

    def test_forgotten_during_its_own_slice(self) -> None:
        closing = self.reader("closing")
        closing.receive(5, self.input)

        def read_slice(max_bytes: int, max_boxes: int) -> bool:
            self.input.forget(closing)  # e.g. a framing error closes it
            return False

        closing.read_slice = read_slice  # type: ignore[method-assign]
        one_turn(self.clock)
        self.assertEqual(self.input.waiting, [])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_a_broken_reader_does_not_strand_the_others(self) -> None:
        broken, other = self.reader("broken"), self.reader("other")
        broken.receive(5, self.input)
        other.receive(5, self.input)

        def read_slice(max_bytes: int, max_boxes: int) -> bool:
            raise RuntimeError("a bug")

        broken.read_slice = read_slice  # type: ignore[method-assign]
        self.assertRaises(RuntimeError, one_turn, self.clock)
        self.assertEqual(self.input.waiting, [other])
        one_turn(self.clock)
        self.assertEqual(self.log, ["broken", "other", "other", "other", "other"])
