"""How the server reads its input: bulk framing (game.ampframe) and a fair
share of the reactor per connection (game.server.fairness), over real AMP
boxes through iosim, as in test_connection."""

from __future__ import annotations

import struct

from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs
from twisted.protocols import amp
from twisted.python.failure import Failure
from twisted.test.iosim import FakeAddress

from game.server.fairness import SLICE_BYTES, TURN_SLICES
from tests.server.helpers import Connection, ConnectionTestCase, ServerHarness, start_game
from tests.server.test_fairness import one_turn


def box(**pairs: bytes) -> bytes:
    return amp.AmpBox(**pairs).serialize()


def tiny_keys_status(ask: bytes, keys: int = 40_000) -> bytes:
    """Issue 6's box: Status with ``keys`` extra 2-byte keys and empty values."""
    out = bytearray(box(_command=b"Status", _ask=ask)[:-2])
    for n in range(1, keys + 1):
        out += b"\x00\x02" + struct.pack("!H", n) + b"\x00\x00"
    return bytes(out + b"\x00\x00")


class InputCase(ConnectionTestCase):
    tuning: dict[str, int] = {}

    def setUp(self) -> None:
        self.server = ServerHarness(self, **self.tuning)
        self.conn = self.server.connect()
        start_game(self, self.conn)

    def take_output(self, connection: Connection) -> bytes:
        """What the server wrote on ``connection``, taken off the wire: these
        answer raw requests, not the harness client's."""
        output = connection.pending_output()
        del connection.server_io.stream[:]
        return output

    def answers(self, connection: Connection) -> list[amp.AmpBox]:
        """The answers :meth:`take_output` takes."""
        boxes: list[amp.AmpBox] = amp.parseString(self.take_output(connection))
        return boxes

    def record_reading(self, connection: Connection) -> list[str]:
        """Every pauseProducing/resumeProducing the server calls on its transport."""
        calls: list[str] = []
        for name in ("pauseProducing", "resumeProducing"):
            self.patch(connection.server_io, name, lambda name=name: calls.append(name))
        return calls


#: Requests of every outcome, read-only so that repeating them answers the same.
PIPELINE = b"".join(
    [
        box(_command=b"Status", _ask=b"1"),
        box(_command=b"GetGame", _ask=b"2", game_id=b"g1", colour=b"\xff" * 300),
        box(_command=b"GetGame", _ask=b"3", game_id=b"nosuch"),
        box(_command=b"GetGame", _ask=b"4", game_id=b"bad id"),
        box(_command=b"NoSuchCommand", _ask=b"5"),
        box(_command=b"StartTLS", _ask=b"6"),
        box(_command=b"ListGames", _ask=b"7", limit=b"5"),
        box(_command=b"Status"),  # no answer wanted
        box(_command=b"Status", _ask=b"8"),
    ]
)


class SplitInputTests(InputCase):
    def test_the_same_answers_however_the_input_is_split(self) -> None:
        whole = self.server.connect()
        whole.protocol.dataReceived(PIPELINE)
        expected = self.take_output(whole)
        tags = [
            b.get(b"_error_code", b"OK") for b in amp.parseString(expected)
        ]  # the baseline is what PROTOCOL.md says
        self.assertEqual(
            tags,
            [b"OK", b"OK", b"UNKNOWN_GAME", b"BAD_REQUEST", b"UNHANDLED", b"UNHANDLED", b"OK",
             b"OK"],
        )  # fmt: skip
        for at in range(1, len(PIPELINE)):
            connection = self.server.connect()
            connection.protocol.dataReceived(PIPELINE[:at])
            connection.protocol.dataReceived(PIPELINE[at:])
            self.assertEqual(self.take_output(connection), expected, at)
            self.assertTrue(connection.open)
            connection.close()
            self.server.connections.remove(connection)

    def test_one_byte_at_a_time(self) -> None:
        whole = self.server.connect()
        whole.protocol.dataReceived(PIPELINE)
        expected = self.take_output(whole)
        bytewise = self.server.connect()
        for at in range(len(PIPELINE)):
            bytewise.protocol.dataReceived(PIPELINE[at : at + 1])
        self.assertEqual(self.take_output(bytewise), expected)


class ManyTinyKeysTests(InputCase):
    """Issue 6: a legal box of 40,000 tiny keys, answered without making
    anyone else wait for all of it."""

    def test_answered_like_a_plain_status(self) -> None:
        plain, heavy = self.server.connect(), self.server.connect()
        plain.protocol.dataReceived(box(_command=b"Status", _ask=b"1"))
        data = tiny_keys_status(b"1")
        self.assertLess(len(data), 262_144)
        heavy.protocol.dataReceived(data)
        self.server.clock.advance(0)
        self.assertEqual(self.take_output(heavy), self.take_output(plain))
        self.assertTrue(heavy.open)

    def test_a_slice_per_turn_and_a_light_client_answered_at_once(self) -> None:
        heavy, light = self.server.connect(), self.server.connect()
        reading = self.record_reading(heavy)
        data = tiny_keys_status(b"1") + box(_command=b"GetGame", _ask=b"2", game_id=b"g1")
        heavy.protocol.dataReceived(data)
        # One slice parsed; the rest waits, and the connection is not read meanwhile.
        self.assertEqual(heavy.pending_output(), b"")
        self.assertEqual(reading, ["pauseProducing"])
        self.assertEqual(self.server.factory.input.waiting, [heavy.protocol])

        light.protocol.dataReceived(box(_command=b"Status", _ask=b"9"))
        self.assertEqual(self.answers(light)[0][b"_answer"], b"9")

        turns = 0
        while heavy.pending_output() == b"":
            one_turn(self.server.clock)
            turns += 1
        expected_turns = -(-(len(data) - SLICE_BYTES) // (SLICE_BYTES * TURN_SLICES))
        self.assertEqual(turns, expected_turns)
        self.assertEqual([b[b"_answer"] for b in self.answers(heavy)], [b"1", b"2"])
        self.assertEqual(reading, ["pauseProducing", "resumeProducing"])
        self.assertEqual(self.server.factory.input.waiting, [])

    def test_two_heavy_connections_take_turns(self) -> None:
        first, second = self.server.connect(), self.server.connect()
        first.protocol.dataReceived(tiny_keys_status(b"1", 30_000))
        second.protocol.dataReceived(tiny_keys_status(b"1", 10_000))
        input_ = self.server.factory.input
        self.assertEqual(input_.waiting, [first.protocol, second.protocol])
        one_turn(self.server.clock)  # first, second, first, second
        self.assertEqual(input_.waiting, [first.protocol, second.protocol])
        one_turn(self.server.clock)
        self.assertEqual(input_.waiting, [first.protocol])  # second is done
        self.assertEqual(len(self.answers(second)), 1)
        self.assertEqual(self.answers(first), [])
        while input_.waiting:
            one_turn(self.server.clock)
        self.assertEqual(len(self.answers(first)), 1)

    def test_closed_while_waiting(self) -> None:
        heavy = self.server.connect()
        heavy.protocol.dataReceived(tiny_keys_status(b"1"))
        self.assertEqual(self.server.factory.input.waiting, [heavy.protocol])
        heavy.close()
        self.assertEqual(self.server.factory.input.waiting, [])
        self.server.settle()
        self.assertEqual(heavy.pending_output(), b"")

    def test_a_pipeline_of_a_hundred_requests_is_one_slice(self) -> None:
        # So that their changes still make one group commit.
        data = b"".join(
            box(_command=b"GetGame", _ask=str(n).encode(), game_id=b"g1") for n in range(128)
        )
        self.assertLess(len(data), SLICE_BYTES)
        self.conn.protocol.dataReceived(data)
        self.assertEqual(len(self.answers(self.conn)), 128)
        self.assertEqual(self.server.factory.input.waiting, [])


class LimitsTests(InputCase):
    tuning = {"max_box_bytes": 1000}

    def assert_closed_for(self, connection: Connection, data: bytes, why: str) -> None:
        with capturedLogs() as events:
            connection.protocol.dataReceived(data)
        self.assertFalse(connection.open)
        self.assertEqual(self.server.factory.input.waiting, [])
        self.assertIn(why, [e.get("why") for e in events])

    def test_a_key_over_255_bytes_as_soon_as_its_length_arrives(self) -> None:
        victim = self.server.connect()
        victim.protocol.dataReceived(box(_command=b"Status", _ask=b"1"))
        self.assert_closed_for(victim, b"\x01\x00", "a key of 256 bytes: not AMP framing")
        self.assertEqual(len(self.answers(victim)), 1)  # the box before it was answered

    def test_a_box_over_the_limit_before_its_bytes_arrive(self) -> None:
        victim = self.server.connect()
        head = box(_command=b"GetGame", _ask=b"1", game_id=b"g1")[:-2]
        self.assert_closed_for(
            victim, head + b"\x00\x03pad\x03\xe8", "a box over max_box_bytes=1000"
        )
        self.assertEqual(self.answers(victim), [])

    def test_a_box_over_the_limit_in_the_middle_of_a_pipeline(self) -> None:
        victim = self.server.connect()
        good = box(_command=b"GetGame", _ask=b"1", game_id=b"g1")
        bad = box(_command=b"GetGame", _ask=b"2", game_id=b"g1", pad=b"x" * 1000)
        self.assert_closed_for(victim, good + bad + good, "a box over max_box_bytes=1000")
        self.assertEqual([b[b"_answer"] for b in self.answers(victim)], [b"1"])

    def test_unknown_keys_count_towards_the_limit(self) -> None:
        victim = self.server.connect()
        data = box(_command=b"Status", _ask=b"1", **{f"k{n}": b"" for n in range(200)})
        self.assertGreater(len(data), 1000)
        self.assert_closed_for(victim, data, "a box over max_box_bytes=1000")


class NoDelayTests(ConnectionTestCase):
    def test_connections_turn_off_nagle(self) -> None:
        class TCPTransport(StringTransport):
            no_delay = False

            def setTcpNoDelay(self, enabled: bool) -> None:
                self.no_delay = enabled

        server = ServerHarness(self)
        protocol = server.factory.buildProtocol(FakeAddress())
        assert protocol is not None
        transport = TCPTransport()
        protocol.makeConnection(transport)
        self.assertTrue(transport.no_delay)
        protocol.connectionLost(Failure(ConnectionDone()))
