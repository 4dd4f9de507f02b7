"""Tests for game.link's encoded requests: serialized once, sent to several
servers with their own tags, the same bytes as ``callRemote``'s."""

from __future__ import annotations

from typing import Any

from twisted.internet.error import ConnectionLost
from twisted.internet.testing import StringTransport
from twisted.protocols import amp
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from game import errors as wire
from game import protocol as p
from game.link import LinkProtocol, _parse_response, _remote_error, encode_request

TOKEN = "a-token-of-twenty-chars"


def connected() -> tuple[LinkProtocol, StringTransport]:
    protocol = LinkProtocol()
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


class EncodedRequestTests(SynchronousTestCase):
    def test_same_bytes_as_call_remote(self) -> None:
        cases = [
            (p.MakeMove, {"game_id": "g-1", "version": 7, "move": "4", "token": TOKEN}),
            (p.CreateGame, {"game_id": "g", "kind": "reversi", "player": "Zoë 😀",
                            "token": TOKEN, "seat": 1}),
            (p.CreateGame, {"game_id": "g", "kind": "reversi", "player": "z", "token": TOKEN}),
            (p.ListGames, {"status": "", "kind": "", "player": "", "limit": 5, "after": ""}),
            (p.Status, {}),
        ]  # fmt: skip
        for command, arguments in cases:
            stock, stock_io = connected()
            encoded, encoded_io = connected()
            for _ in range(17):  # tags of one and two hex digits
                stock.callRemote(command, **arguments)
                encoded.call_encoded(encode_request(command, arguments))
            self.assertEqual(encoded_io.value(), stock_io.value(), command)

    def test_answers_and_errors(self) -> None:
        protocol, _ = connected()
        request = encode_request(p.GetGame, {"game_id": "g1"})
        answered = protocol.call_encoded(request)
        errors: list[bytes] = []
        # Handled before the answer arrives, as ReconnectingLink.send does.
        protocol.call_encoded(request).addErrback(lambda f: errors.append(f.value.errorCode))
        protocol.dataReceived(
            amp.AmpBox({b"_answer": b"1", b"game": b"{}"}).serialize()
            + amp.AmpBox(
                {b"_error": b"2", b"_error_code": b"UNKNOWN_GAME", b"_error_description": b"no"}
            ).serialize()
        )
        self.assertEqual(self.successResultOf(answered)[b"game"], b"{}")
        self.assertEqual(errors, [b"UNKNOWN_GAME"])

    def test_after_the_connection_is_lost(self) -> None:
        protocol, _ = connected()
        pending = protocol.call_encoded(encode_request(p.Status, {}))
        protocol.connectionLost(Failure(ConnectionLost()))
        self.failureResultOf(pending, ConnectionLost)
        self.failureResultOf(protocol.call_encoded(encode_request(p.Status, {})), ConnectionLost)


class SendTests(SynchronousTestCase):
    """What ReconnectingLink.send makes of answers (game.link's _parse_response
    and _remote_error) is what callRemote makes of them."""

    def outcomes(self, command: type[p.Command], arguments: dict[str, Any], answer: bytes) -> Any:
        results = []
        for encoded in (False, True):
            protocol, _ = connected()
            if encoded:
                sent = protocol.call_encoded(encode_request(command, arguments)).addCallbacks(
                    _parse_response,
                    _remote_error,
                    callbackArgs=(command, protocol),
                    errbackArgs=(command,),
                )
            else:
                sent = protocol.callRemote(command, **arguments)
            outcome: list[Any] = []
            sent.addBoth(outcome.append)
            protocol.dataReceived(answer)
            (value,) = outcome
            if isinstance(value, Failure):
                value = (type(value.value), value.value.args)
            results.append(value)
        return results

    def test_answers_and_errors_as_call_remote(self) -> None:
        move = {"game_id": "g1", "version": 3, "move": "4", "token": TOKEN}
        status = {b"server_id": b"1", b"clock": b"7", b"games": b"2", b"serving": b"True",
                  b"protocol": b"1", b"digest": b"ab"}  # fmt: skip
        cases = [
            (p.MakeMove, move, {b"_answer": b"1", b"game": '{"é":1}'.encode()}),
            (p.Status, {}, {b"_answer": b"1", **status}),
        ]
        for code in (*p.MakeMove.errors.values(), b"NO_SUCH_CODE", b"UNHANDLED"):
            error = {b"_error": b"1", b"_error_code": code, b"_error_description": "✓".encode()}
            cases.append((p.MakeMove, move, error))
        for command, arguments, box in cases:
            stock, encoded = self.outcomes(command, arguments, amp.AmpBox(box).serialize())
            self.assertEqual(encoded, stock, box)
        bad_request = {b"_error": b"1", b"_error_code": b"BAD_REQUEST", b"_error_description": b"x"}
        _, encoded = self.outcomes(p.MakeMove, move, amp.AmpBox(bad_request).serialize())
        self.assertEqual(encoded, (wire.BadRequest, ("x",)))

    def test_an_argument_named_like_call_remote_string_s_own(self) -> None:
        class Odd(p.Command):
            arguments = [(b"command", amp.Unicode())]

        with self.assertRaises(ValueError):
            encode_request(Odd, {"command": "x"})


class AnswerParsingTests(SynchronousTestCase):
    """LinkProtocol reads answers with game.ampframe's bulk parser."""

    def test_answers_split_anywhere_arrive_whole_and_in_order(self) -> None:
        stream = b"".join(
            amp.AmpBox({b"_answer": b"%d" % tag, b"game": b'{"n":%d}' % tag}).serialize()
            for tag in (1, 2, 3)
        )
        for split in range(len(stream) + 1):
            protocol, _ = connected()
            answers = [protocol.callRemote(p.GetGame, game_id=f"g{n}") for n in (1, 2, 3)]
            protocol.dataReceived(stream[:split])
            protocol.dataReceived(stream[split:])
            self.assertEqual(
                [self.successResultOf(answer) for answer in answers],
                [{"game": f'{{"n":{n}}}'} for n in (1, 2, 3)],
            )
            self.assertEqual(protocol.bytes_received, len(stream))

    def test_unknown_keys_are_dropped(self) -> None:
        protocol, _ = connected()
        answered = protocol.call_encoded(encode_request(p.GetGame, {"game_id": "g1"}))
        protocol.dataReceived(
            amp.AmpBox({b"_answer": b"1", b"game": b"{}", b"extra": b"x" * 1000}).serialize()
        )
        self.assertEqual(self.successResultOf(answered), {b"_answer": b"1", b"game": b"{}"})

    def test_bytes_that_are_not_framing_drop_the_link(self) -> None:
        protocol, transport = connected()
        pending = protocol.callRemote(p.Status)
        protocol.dataReceived(b"\x01\x00" + b"k" * 256)  # a 256-byte key
        self.assertTrue(transport.disconnecting)
        protocol.connectionLost(Failure(ConnectionLost()))
        self.failureResultOf(pending, ConnectionLost)


class NoDelayTests(SynchronousTestCase):
    def test_links_turn_off_nagle(self) -> None:
        class TCPTransport(StringTransport):
            no_delay = False

            def setTcpNoDelay(self, enabled: bool) -> None:
                self.no_delay = enabled

        transport = TCPTransport()
        LinkProtocol().makeConnection(transport)
        self.assertTrue(transport.no_delay)
