"""The bulk AMP box parser: same boxes as stock AMP, however the bytes are split."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.protocols import amp
from twisted.trial.unittest import SynchronousTestCase

from game import protocol as p
from game.ampframe import AMP_KEYS, BoxParser, BoxTooLarge, KeyTooLong, keys_of

Pairs = list[tuple[bytes, bytes]]


def encode(pairs: Pairs) -> bytes:
    """One box, framed without checks (any key length)."""
    out = bytearray()
    for key, value in pairs:
        out += struct.pack("!H", len(key)) + key + struct.pack("!H", len(value)) + value
    return bytes(out + b"\x00\x00")


class Collector:
    """A parser and the boxes it handed on."""

    def __init__(self, keys: frozenset[bytes] | None = None, limit: int = 1 << 20) -> None:
        self.boxes: list[dict[bytes, bytes]] = []
        self.parser = BoxParser(self.boxes.append, keys, limit)

    def feed(self, *chunks: bytes) -> list[dict[bytes, bytes]]:
        """Feed each chunk and parse all it can; every box so far."""
        for chunk in chunks:
            self.parser.feed(chunk)
            self.parser.parse()
        return self.boxes


STREAM_BOXES: list[Pairs] = [
    [(b"_command", b"MakeMove"), (b"_ask", b"1"), (b"game_id", b"g1"), (b"version", b"2"),
     (b"move", b"4"), (b"token", b"t" * 20)],
    [(b"_command", b"Status"), (b"_ask", b"2"), (b"x" * 255, b"v" * 300), (b"seat", b"")],
    [],
    [(b"_command", b"GetGame"), (b"unknown", b"\x00\x00\x00"), (b"game_id", b"z" * 1000)],
    [(b"_answer", b"7"), (b"game", b"{}")],
]  # fmt: skip


class SplitTests(SynchronousTestCase):
    """Several boxes in one stream, split anywhere: the same boxes come out."""

    stream = b"".join(encode(pairs) for pairs in STREAM_BOXES)
    expected = [dict(pairs) for pairs in STREAM_BOXES]

    def test_in_one_piece(self) -> None:
        self.assertEqual(Collector().feed(self.stream), self.expected)
        self.assertEqual(amp.parseString(self.stream), self.expected)

    def test_split_in_two_at_every_offset(self) -> None:
        for at in range(len(self.stream) + 1):
            boxes = Collector().feed(self.stream[:at], self.stream[at:])
            self.assertEqual(boxes, self.expected, at)

    def test_split_in_three_at_every_pair_of_offsets_near_the_boundaries(self) -> None:
        # Every pair of cut points within 6 bytes of a length prefix or box end.
        marks = set()
        at = 0
        for pairs in STREAM_BOXES:
            for key, value in pairs:
                marks.update((at, at + 2 + len(key)))
                at += 4 + len(key) + len(value)
            marks.add(at)
            at += 2
        cuts = sorted({c for m in marks for c in range(m - 3, m + 4) if 0 <= c <= at})
        for first in cuts:
            for second in cuts:
                if first <= second:
                    pieces = (self.stream[:first], self.stream[first:second], self.stream[second:])
                    self.assertEqual(Collector().feed(*pieces), self.expected, (first, second))

    def test_one_byte_at_a_time(self) -> None:
        stream = self.stream
        self.assertEqual(
            Collector().feed(*(stream[i : i + 1] for i in range(len(stream)))), self.expected
        )

    def test_unknown_keys_are_dropped_at_every_offset(self) -> None:
        keys = frozenset({b"_command", b"_ask", b"_answer", b"game_id", b"game", b"move"})
        expected = [{k: v for k, v in box.items() if k in keys} for box in self.expected]
        for at in range(len(self.stream) + 1):
            boxes = Collector(keys).feed(self.stream[:at], self.stream[at:])
            self.assertEqual(boxes, expected, at)

    def test_a_box_split_over_parse_calls(self) -> None:
        collector = Collector()
        collector.parser.feed(self.stream[:10])
        collector.parser.feed(self.stream[10:])
        self.assertFalse(collector.parser.parse())
        self.assertEqual(collector.boxes, self.expected)
        self.assertEqual(collector.parser.buffered, 0)


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[Pairs], list[int]]:
    key = st.binary(min_size=1, max_size=255)
    value = st.one_of(st.binary(max_size=40), st.binary(min_size=200, max_size=3000))
    boxes = draw(st.lists(st.lists(st.tuples(key, value), max_size=6), max_size=5))
    size = sum(len(encode(pairs)) for pairs in boxes)
    cuts = draw(st.lists(st.integers(0, size), max_size=8))
    return boxes, sorted(cuts)


class PropertyTests(SynchronousTestCase):
    @settings(max_examples=300, deadline=None)
    @given(streams(), st.booleans())
    def test_same_boxes_as_stock_amp(
        self, stream: tuple[list[Pairs], list[int]], keep_all: bool
    ) -> None:
        boxes, cuts = stream
        data = b"".join(encode(pairs) for pairs in boxes)
        keys = None if keep_all else frozenset(k for pairs in boxes for k, _ in pairs[::2])
        pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        expected = [
            {k: v for k, v in box.items() if keys is None or k in keys}
            for box in amp.parseString(data)
        ]
        self.assertEqual(Collector(keys).feed(*pieces), expected)


class KeyLengthTests(SynchronousTestCase):
    def test_a_key_of_255_bytes(self) -> None:
        box = [(b"k" * 255, b"v")]
        self.assertEqual(Collector().feed(encode(box)), [dict(box)])

    def test_a_key_of_256_bytes_as_soon_as_its_length_arrives(self) -> None:
        collector = Collector()
        collector.feed(encode([(b"_command", b"Status")]))  # a good box first
        with self.assertRaises(KeyTooLong) as raised:
            collector.feed(b"\x01\x00")
        self.assertEqual(raised.exception.length, 256)
        self.assertEqual(str(raised.exception), "a key of 256 bytes: not AMP framing")
        self.assertEqual(collector.boxes, [{b"_command": b"Status"}])
        self.assertTrue(collector.parser.halted)

    def test_after_a_good_box_in_the_same_read(self) -> None:
        collector = Collector()
        with self.assertRaises(KeyTooLong):
            collector.feed(encode([(b"_ask", b"1")]) + b"\xff\xff" + b"x" * 100)
        self.assertEqual(collector.boxes, [{b"_ask": b"1"}])
        # Halted: more input is ignored.
        collector.feed(encode([(b"_ask", b"2")]))
        self.assertEqual(collector.boxes, [{b"_ask": b"1"}])
        self.assertEqual(collector.parser.buffered, 0)

    def test_an_empty_box(self) -> None:
        self.assertEqual(Collector().feed(b"\x00\x00\x00\x00"), [{}, {}])


class BoxSizeTests(SynchronousTestCase):
    """Every byte of a box counts: lengths, keys, values and the end marker."""

    limit = 1000

    def box_of(self, size: int) -> bytes:
        head = encode([(b"_command", b"GetGame"), (b"pad", b"")])
        return encode([(b"_command", b"GetGame"), (b"pad", b"x" * (size - len(head)))])

    def test_a_box_of_the_limit(self) -> None:
        data = self.box_of(self.limit)
        self.assertEqual(len(data), self.limit)
        for at in range(len(data) + 1):
            boxes = Collector(AMP_KEYS, self.limit).feed(data[:at], data[at:])
            self.assertEqual(boxes, [{b"_command": b"GetGame"}], at)

    def test_a_box_one_byte_over(self) -> None:
        data = self.box_of(self.limit + 1)
        for at in range(len(data) + 1):
            collector = Collector(None, self.limit)
            with self.assertRaises(BoxTooLarge, msg=at) as raised:
                collector.feed(data[:at], data[at:])
            self.assertEqual(str(raised.exception), "a box over max_box_bytes=1000")
            self.assertEqual(collector.boxes, [])

    def test_the_limit_is_per_box(self) -> None:
        data = self.box_of(self.limit) * 5
        self.assertEqual(len(Collector(None, self.limit).feed(data)), 5)

    def test_refused_once_the_lengths_of_a_pair_say_so(self) -> None:
        # The value's bytes never need to arrive: nothing of it is buffered.
        collector = Collector(None, self.limit)
        with self.assertRaises(BoxTooLarge):
            collector.feed(b"\x00\x03pad\x03\xe2")  # 2 + 3 + 2 + 994 = 1001
        # 1000 bytes of pair, then the end marker passes the limit.
        collector = Collector(None, self.limit)
        collector.feed(b"\x00\x03pad\x03\xe1", b"x" * 993, b"\x00")
        with self.assertRaises(BoxTooLarge):
            collector.feed(b"\x00")

    def test_refused_once_a_key_alone_passes_it(self) -> None:
        collector = Collector(None, 260)
        collector.feed(encode([(b"a", b"")])[:-2])  # 6 bytes counted
        with self.assertRaises(BoxTooLarge):
            collector.feed(b"\x00\xff" + b"k" * 255)  # 6 + 257 > 260, before its value length

    def test_an_endless_box_of_unknown_keys_buffers_nothing(self) -> None:
        collector = Collector(AMP_KEYS, 1 << 20)
        pair = b"\x00\x01k\xff\xff" + b"v" * 65535
        for _ in range(15):
            collector.feed(pair[:1000], pair[1000:])
            self.assertEqual(collector.parser.buffered, 0)
        with self.assertRaises(BoxTooLarge):
            collector.feed(pair)

    def test_an_unknown_value_is_skipped_as_it_arrives(self) -> None:
        collector = Collector(AMP_KEYS)
        data = encode([(b"_ask", b"1"), (b"junk", b"j" * 60_000), (b"_command", b"Status")])
        for at in range(0, len(data), 7000):
            collector.feed(data[at : at + 7000])
            self.assertLess(collector.parser.buffered, 7000)
        self.assertEqual(collector.boxes, [{b"_ask": b"1", b"_command": b"Status"}])


class BudgetTests(SynchronousTestCase):
    stream = encode([(b"_ask", b"1")]) * 10

    def test_max_boxes(self) -> None:
        collector = Collector()
        collector.parser.feed(self.stream)
        self.assertTrue(collector.parser.parse(max_boxes=3))
        self.assertEqual(len(collector.boxes), 3)
        self.assertTrue(collector.parser.ready)
        self.assertTrue(collector.parser.parse(max_boxes=6))
        self.assertEqual(len(collector.boxes), 9)
        self.assertFalse(collector.parser.parse(max_boxes=6))
        self.assertEqual(collector.boxes, [{b"_ask": b"1"}] * 10)
        self.assertFalse(collector.parser.ready)

    def test_max_bytes_stops_at_a_pair_boundary(self) -> None:
        collector = Collector()
        collector.parser.feed(self.stream)
        calls = 0
        while collector.parser.parse(max_bytes=1):  # one pair (or box end) per call
            calls += 1
        self.assertEqual(collector.boxes, [{b"_ask": b"1"}] * 10)
        self.assertEqual(calls, 19)

    def test_more_input_while_stopped(self) -> None:
        collector = Collector()
        collector.parser.feed(self.stream)
        collector.parser.parse(max_bytes=20)
        collector.parser.feed(self.stream)
        collector.parser.parse()
        self.assertEqual(len(collector.boxes), 20)


class ReceiverTests(SynchronousTestCase):
    def test_halt_from_the_receiver_stops_at_once(self) -> None:
        boxes: list[object] = []

        def received(box: object) -> None:
            boxes.append(box)
            parser.halt()

        parser = BoxParser(received, None, 1000)
        parser.feed(encode([(b"_ask", b"1")]) * 3)
        self.assertFalse(parser.parse())
        self.assertEqual(len(boxes), 1)
        self.assertEqual(parser.buffered, 0)

    def test_input_fed_by_the_receiver_comes_after(self) -> None:
        boxes: list[dict[bytes, bytes]] = []
        later = encode([(b"_ask", b"3")])

        def received(box: dict[bytes, bytes]) -> None:
            boxes.append(box)
            if box[b"_ask"] == b"1":
                parser.feed(later)
                self.assertFalse(parser.parse())  # not re-entered

        parser = BoxParser(received, None, 1000)
        parser.feed(encode([(b"_ask", b"1")]) + encode([(b"_ask", b"2")]))
        self.assertTrue(parser.parse())
        self.assertFalse(parser.parse())
        self.assertEqual([box[b"_ask"] for box in boxes], [b"1", b"2", b"3"])

    def test_box_factory(self) -> None:
        boxes: list[object] = []
        parser = BoxParser(boxes.append, None, 1000, amp.AmpBox)
        parser.feed(encode([(b"_ask", b"1")]))
        parser.parse()
        self.assertIsInstance(boxes[0], amp.AmpBox)


class KeysOfTests(SynchronousTestCase):
    def test_arguments_and_amp_keys(self) -> None:
        keys = keys_of([p.MakeMove, p.Status])
        self.assertEqual(keys, AMP_KEYS | {b"game_id", b"version", b"move", b"token", b"at"})

    def test_responses(self) -> None:
        keys = keys_of([p.GetGame], arguments=False, responses=True)
        self.assertEqual(keys, AMP_KEYS | {b"game"})
