"""Hostile inputs for a server's client port, generated from a seed.

Everything here is pure: a :class:`Fuzzer` turns a seed into :class:`Job`\\ s
(one connection each, carrying one or more inputs) and says what the server
must do with each input.  The oracle is written from PROTOCOL.md, not from
the server's code: an argument is valid when the contract says so, a box
whose arguments are all valid must not answer ``BAD_REQUEST``, and a box with
an invalid or missing argument must answer exactly ``BAD_REQUEST`` and leave
the connection open.
"""

from __future__ import annotations

import math
import random
import re
import struct
import time
from collections.abc import Callable

import attrs

from game import protocol as p
from tests.hostile.ampwire import command_box, encode_box, list_of

MAX_VERSION = 2**31 - 1
KINDS = ("connect4", "reversi", "checkers")
STATUSES = ("open", "active", "finished")
_GAME_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_INTEGER = re.compile(rb"-?[0-9]{1,20}")

# -- what the contract allows (PROTOCOL.md "Identifiers and limits") ---------------


def _text(value: bytes) -> str | None:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def valid_game_id(value: bytes) -> bool:
    text = _text(value)
    return text is not None and _GAME_ID.fullmatch(text) is not None


def valid_player(value: bytes) -> bool:
    text = _text(value)
    return (
        text is not None
        and 1 <= len(text) <= 32
        and text.isprintable()
        and not text.startswith(" ")
        and not text.endswith(" ")
    )


def valid_token(value: bytes) -> bool:
    text = _text(value)
    return text is not None and 16 <= len(text) <= 128 and all("!" <= c <= "~" for c in text)


def valid_move(value: bytes) -> bool:
    text = _text(value)
    return text is not None and len(text) <= 64


def integer_in(low: int, high: int) -> Callable[[bytes], bool]:
    def check(value: bytes) -> bool:
        return _INTEGER.fullmatch(value) is not None and low <= int(value) <= high

    return check


def one_of(*allowed: str) -> Callable[[bytes], bool]:
    def check(value: bytes) -> bool:
        return _text(value) in allowed

    return check


def empty_or(check: Callable[[bytes], bool]) -> Callable[[bytes], bool]:
    return lambda value: value == b"" or check(value)


def valid_hex64(value: bytes) -> bool:
    text = _text(value)
    return text is not None and _HEX64.fullmatch(text) is not None


def valid_unicode(value: bytes) -> bool:
    return _text(value) is not None


def valid_unicode_list(value: bytes) -> bool:
    """AMP's ``ListOf(Unicode())``: 2-byte-length elements, each UTF-8 (an
    incomplete element at the end is ignored by AMP's parser)."""
    at = 0
    while at + 2 <= len(value):
        (length,) = struct.unpack("!H", value[at : at + 2])
        if at + 2 + length > len(value):
            return True
        if _text(value[at + 2 : at + 2 + length]) is None:
            return False
        at += 2 + length
    return True


_CLOCK = re.compile(rb"live:(0|[1-9][0-9]{0,5})\+(0|[1-9][0-9]{0,5})|corr:(0|[1-9][0-9]{0,5})")
MAX_AT = 2**53
#: The commands that take ``at?`` (version 2); in a timed game it is required.
TIMED_COMMANDS = ("CreateGame", "JoinGame", "MakeMove", "Resign", "OfferDraw", "AcceptDraw")


def valid_clock(value: bytes) -> bool:
    """PROTOCOL.md version 2: empty, ``live:B+I`` (10-10800, 0-180) or ``corr:D`` (1-30)."""
    match = _CLOCK.fullmatch(value)
    if value == b"":
        return True
    if match is None:
        return False
    if match[3] is not None:
        return 1 <= int(match[3]) <= 30
    return 10 <= int(match[1]) <= 10800 and 0 <= int(match[2]) <= 180


#: (command, argument) -> the contract's check.  Every argument of every
#: command in game.protocol must be here (test_every_argument_has_a_check).
CHECKS: dict[tuple[str, str], Callable[[bytes], bool]] = {}
for _name in ("JoinGame", "MakeMove", "Resign", "OfferDraw", "AcceptDraw", "ClaimTimeout"):
    CHECKS[_name, "game_id"] = valid_game_id
    CHECKS[_name, "version"] = integer_in(1, MAX_VERSION)
    CHECKS[_name, "token"] = valid_token
for _name in (*TIMED_COMMANDS, "ClaimTimeout"):
    CHECKS[_name, "at"] = integer_in(0, MAX_AT)
CHECKS["CreateGame", "clock"] = valid_clock
#: Takebacks and rematches (docs/protocol.md).
OFFER_COMMANDS = (
    "OfferTakeback", "AcceptTakeback", "DeclineTakeback",
    "OfferRematch", "AcceptRematch", "DeclineRematch",
)  # fmt: skip
for _name in OFFER_COMMANDS:
    CHECKS[_name, "game_id"] = valid_game_id
    CHECKS[_name, "version"] = integer_in(1, MAX_VERSION)
    CHECKS[_name, "token"] = valid_token
CHECKS["OfferRematch", "rematch_id"] = valid_game_id
CHECKS["OfferRematch", "rematch_token"] = valid_token
CHECKS["AcceptRematch", "rematch_token"] = valid_token
CHECKS["AcceptRematch", "at"] = integer_in(0, MAX_AT)
for _name in ("GetGame", "SyncGame", "Watch", "Unwatch", "CreateGame", "PeerEvents", "MoveClocks"):
    CHECKS[_name, "game_id"] = valid_game_id
CHECKS.update(
    {
        ("CreateGame", "kind"): one_of(*KINDS),
        ("CreateGame", "player"): valid_player,
        ("CreateGame", "token"): valid_token,
        ("CreateGame", "seat"): integer_in(0, 1),
        ("JoinGame", "player"): valid_player,
        ("MakeMove", "move"): valid_move,
        ("ListGames", "status"): one_of("", *STATUSES),
        ("ListGames", "kind"): one_of("", *KINDS),
        ("ListGames", "player"): empty_or(valid_player),
        ("ListGames", "limit"): integer_in(1, 100),
        ("ListGames", "after"): empty_or(valid_game_id),
        ("PeerHello", "server_id"): integer_in(1, 3),
        ("PeerHello", "nonce"): valid_hex64,
        ("PeerProve", "proof"): valid_hex64,
        ("PeerTree", "prefixes"): valid_unicode_list,
        ("PeerBucket", "prefix"): valid_unicode,
        ("PeerBucket", "after"): empty_or(valid_game_id),
        ("PeerBuckets", "prefixes"): valid_unicode_list,
        ("PeerEvents", "since"): integer_in(0, MAX_VERSION),
        ("PeerEvents", "head"): valid_hex64,
        ("PeerHistories", "games"): valid_unicode_list,
        ("PeerDump", "after"): empty_or(valid_game_id),
    }
)

COMMANDS: dict[str, type[p.Command]] = {
    command.commandName.decode(): command for command in (*p.CLIENT_COMMANDS, *p.PEER_COMMANDS)
}


def arguments_of(command: type[p.Command]) -> list[tuple[str, bool]]:
    """``(name, optional)`` of every argument of ``command``."""
    return [(name.decode(), bool(argument.optional)) for name, argument in command.arguments]


def error_tags(command: type[p.Command]) -> set[str]:
    return {tag.decode() for tag in command.errors.values()}


def answers_for_valid(command_name: str, target_id: int) -> set[str]:
    """What a box with valid arguments may answer on an unauthenticated connection."""
    if command_name == "PeerHello":
        return {"OK", "PEER_REFUSED"}
    if command_name == "PeerProve":
        return {"PEER_REFUSED"}
    if command_name.startswith("Peer"):
        return {"NOT_PEER"}
    allowed = {"OK", *error_tags(COMMANDS[command_name])}
    # A serving server never answers these to a well-formed client command.
    allowed -= {"BAD_REQUEST", "NOT_SERVING", "INTERNAL"}
    if command_name in ("ClaimTimeout", "AcceptRematch"):
        allowed.add("BAD_REQUEST")  # on an untimed game; a timed game without `at`
    return allowed


# -- values ------------------------------------------------------------------------

INVALID_UTF8 = (b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"a\x80b", b"\xc0\xaf")
PRINTABLE_ODD = ("é", "ß", "漢", "😀", "e\u0301", "Ω", "ﬁ")
UNPRINTABLE = ("\t", "\n", "\x00", "\x7f", "\u200b", "\u00a0", "\u2028", "\ufeff", "\x1b")


@attrs.define
class Values:
    """Generates argument values: valid ones, limit cases and garbage."""

    rng: random.Random
    game_ids: list[str]
    tokens: list[str]

    def ascii(self, alphabet: str, low: int, high: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(self.rng.randint(low, high)))

    def garbage(self) -> bytes:
        choice = self.rng.random()
        if choice < 0.3:
            return self.rng.randbytes(self.rng.randint(1, 40))
        if choice < 0.5:
            return self.rng.choice(INVALID_UTF8) * self.rng.randint(1, 3)
        if choice < 0.7:
            return b"x" * self.rng.choice((255, 256, 1000, 4096, 65_535))
        if choice < 0.85:
            return self.rng.choice((b"", b" ", b"\x00", b"null", b"[]", b"{}", b"-", b"0x10"))
        return str(self.rng.choice((-1, 0, 2**31, 2**63, 10**25))).encode()

    def game_id(self) -> bytes:
        r = self.rng.random()
        if r < 0.35:
            return self.rng.choice(self.game_ids).encode()
        if r < 0.6:
            return ("fz-" + self.ascii("abcdef0123456789", 4, 12)).encode()
        if r < 0.7:
            alphabet = "ABCXYZabcxyz019_-"
            return self.ascii(alphabet, 64, 64).encode()
        if r < 0.8:
            return self.ascii("a", 1, 1).encode()
        bad = ["a" * 65, "", "a b", "é", "a/b", "a.b", "a\x00", "a\n", "-" * 65, "💥"]
        return self.rng.choice(bad).encode() if self.rng.random() < 0.7 else self.garbage()

    def player(self) -> bytes:
        r = self.rng.random()
        if r < 0.4:
            return self.ascii("abcdefghijklmnopqrstuvwxyz", 1, 12).encode()
        if r < 0.55:
            n = self.rng.choice((1, 31, 32, 33, 40))
            text = "".join(self.rng.choice(PRINTABLE_ODD) for _ in range(n))
            return text.encode()
        if r < 0.65:
            return self.rng.choice(("a" * 32, "a" * 33, " a", "a ", "a b", " ", "")).encode()
        if r < 0.8:
            text = "ab" + self.rng.choice(UNPRINTABLE) + "cd"
            return text.encode()
        if r < 0.9:
            # JSON and markup that must stay a mere name.
            return self.rng.choice(
                ('x","token":"y', '"}]', "<script>", "\\u0000", "${x}", "%s%n", "'; DROP")
            ).encode()
        return self.garbage()

    def token(self) -> bytes:
        r = self.rng.random()
        if r < 0.25:
            return self.rng.choice(self.tokens).encode()
        if r < 0.55:
            alphabet = "".join(chr(c) for c in range(0x21, 0x7F))
            return self.ascii(alphabet, 16, 128).encode()
        if r < 0.75:
            n = self.rng.choice((15, 16, 128, 129, 0, 300))
            return ("t" * n).encode()
        if r < 0.9:
            base = "t" * 20
            bad = self.rng.choice((" ", "\x7f", "é", "\x00", "\t", "😀"))
            return (base[:10] + bad + base[10:]).encode()
        return self.garbage()

    def integer(self, low: int, high: int) -> bytes:
        r = self.rng.random()
        if r < 0.5:
            top = min(high, low + 20)
            return str(self.rng.randint(low, top)).encode()
        if r < 0.75:
            return str(self.rng.choice((low, high, low - 1, high + 1, -(2**31), 2**64))).encode()
        if r < 0.9:
            return self.rng.choice(
                (b"", b" 1", b"1 ", b"+1", b"1.0", b"1e3", b"0x1", b"\xd9\xa1", b"one", b"--1")
            )
        return self.garbage()

    def move(self) -> bytes:
        r = self.rng.random()
        if r < 0.4:
            return self.rng.choice(
                ("4", "1", "7", "8", "0", "d3", "c4", "pass", "9-13", "11-15", "1x10", "a9", "")
            ).encode()
        if r < 0.7:
            n = self.rng.choice((63, 64, 65, 100))
            return (self.rng.choice(("x", "é", "😀")) * n).encode()
        if r < 0.85:
            return self.rng.choice(('4","moves":["1"]', "4\x00", "4 ", " 4", "\uff14")).encode()
        return self.garbage()

    def hex64(self) -> bytes:
        r = self.rng.random()
        if r < 0.6:
            return self.rng.randbytes(32).hex().encode()
        if r < 0.8:
            return self.rng.choice(
                (
                    self.rng.randbytes(32).hex().upper(),
                    self.rng.randbytes(31).hex(),
                    self.rng.randbytes(33).hex(),
                    "g" * 64,
                )
            ).encode()
        return self.garbage()

    def choice_of(self, allowed: tuple[str, ...], empty_ok: bool) -> bytes:
        r = self.rng.random()
        if r < 0.6:
            return self.rng.choice(allowed).encode()
        if r < 0.7 and empty_ok:
            return b""
        if r < 0.9:
            word = self.rng.choice(allowed)
            near = (word.upper(), word + " ", " " + word, word[:-1], "chess")
            return self.rng.choice(near).encode()
        return self.garbage()

    def unicode_list(self) -> bytes:
        r = self.rng.random()
        if r < 0.5:
            items = [self.ascii("0123456789abcdef", 0, 4) for _ in range(self.rng.randint(0, 300))]
            return list_of(items)
        if r < 0.7:
            return list_of([self.rng.choice(INVALID_UTF8)]) + list_of(["a"])
        if r < 0.8:
            return list_of(["x" * 60_000])
        return self.garbage()

    def value(self, command: str, argument: str) -> bytes:
        if argument in ("game_id", "after"):
            return b"" if argument == "after" and self.rng.random() < 0.2 else self.game_id()
        if argument == "player":
            return b"" if command == "ListGames" and self.rng.random() < 0.2 else self.player()
        if argument == "token":
            return self.token()
        if argument == "version":
            return self.integer(1, MAX_VERSION)
        if argument == "since":
            return self.integer(0, MAX_VERSION)
        if argument == "seat":
            return self.integer(0, 1)
        if argument == "limit":
            return self.integer(1, 100)
        if argument == "server_id":
            return self.integer(1, 3)
        if argument == "move":
            return self.move()
        if argument == "kind":
            return self.choice_of(KINDS, command == "ListGames")
        if argument == "status":
            return self.choice_of(STATUSES, True)
        if argument in ("nonce", "proof", "head"):
            return self.hex64()
        if argument in ("prefixes", "games"):
            return self.unicode_list()
        if argument == "prefix":
            return self.rng.choice((b"0000", b"abcd", b"", b"zz", self.garbage()))
        if argument == "at":
            if self.rng.random() < 0.4:
                return str(int(time.time() * 1000) + self.rng.randint(-3000, 3000)).encode()
            return self.integer(0, MAX_AT)
        if argument == "clock":
            r = self.rng.random()
            if r < 0.5:
                return self.rng.choice((b"", b"live:300+5", b"live:10+0", b"corr:3", b"corr:30"))
            if r < 0.8:
                near = (b"live:9+0", b"live:10801+0", b"live:300+181", b"live:0300+5", b"corr:0")
                return self.rng.choice((*near, b"corr:31", b"live:300", b"blitz", b"LIVE:1+1"))
            return self.garbage()
        return self.garbage()


# -- inputs and jobs -------------------------------------------------------------


@attrs.define
class Request:
    """One request box in a pipeline, and what it must answer."""

    command: str
    data: bytes
    ask: bytes | None
    expect: frozenset[str]
    description: str


@attrs.define
class Job:
    """One connection's worth of hostile input.

    ``mode``:

    - ``pipeline``: ``requests`` are sent back to back; each with an ``_ask``
      must be answered with one of its ``expect`` tags; the connection stays open.
    - ``closed``: ``data`` must make the server close the connection.
    - ``any``: ``data`` then a half-close; the server may answer or close,
      but never with ``INTERNAL`` or AMP's ``UNKNOWN``.
    - ``truncated``: ``data`` (part of a box), then we close abruptly.
    - ``slow``: ``requests`` sent one byte at a time with pauses.
    """

    category: str
    mode: str
    inputs: int
    data: bytes = b""
    requests: list[Request] = attrs.field(factory=list)
    pause: float = 0.0
    description: str = ""


class Fuzzer:
    """Builds the jobs of one fuzzing run from ``seed``.

    :param game_ids: games that exist (the fuzzer may name them).
    :param tokens: seat tokens the fuzzer may use (of its own games only).
    :param target_id: the id of the server under attack.
    :param max_box_bytes: the server's limit.
    """

    def __init__(
        self,
        seed: int,
        game_ids: list[str],
        tokens: list[str],
        target_id: int,
        max_box_bytes: int,
    ) -> None:
        self.rng = random.Random(seed)
        self.values = Values(self.rng, game_ids, tokens)
        self.target_id = target_id
        self.max_box_bytes = max_box_bytes

    # -- single boxes ------------------------------------------------------------

    def command_request(self, ask: bytes | None) -> Request:
        """A known command with each argument valid, at a limit, past it, or garbage."""
        rng = self.rng
        peer = rng.random() < 0.15
        names = [c.commandName.decode() for c in (p.PEER_COMMANDS if peer else p.CLIENT_COMMANDS)]
        name = rng.choice(names)
        arguments: list[tuple[bytes, bytes]] = []
        valid = True
        notes: list[str] = []
        for argument, optional in arguments_of(COMMANDS[name]):
            if optional and rng.random() < 0.3:
                continue
            if not optional and rng.random() < 0.05:
                notes.append(f"{argument} missing")
                valid = False
                continue
            value = self.values.value(name, argument)
            ok = CHECKS[name, argument](value)
            valid = valid and ok
            notes.append(f"{argument}={value[:40]!r}{'' if ok else ' (invalid)'}")
            arguments.append((argument.encode(), value))
        if rng.random() < 0.15:
            # Unknown extra keys are ignored, as AMP does.
            for _ in range(rng.randint(1, 3)):
                key = b"x" + rng.randbytes(rng.randint(0, 30)).hex().encode()[:200]
                arguments.append((key, rng.randbytes(rng.randint(0, 50))))
        rng.shuffle(arguments)
        pairs = [(b"_command", name.encode())]
        if ask is not None:
            pairs.append((b"_ask", ask))
        box = encode_box(pairs + arguments)
        if len(box) > self.max_box_bytes:
            raise _TooBig
        allowed = answers_for_valid(name, self.target_id)
        if name in TIMED_COMMANDS[1:] and b"at" not in dict(arguments):
            allowed.add("BAD_REQUEST")  # the game may be timed (one this fuzzer created)
        expect = frozenset(allowed) if valid else frozenset({"BAD_REQUEST"})
        return Request(name, box, ask, expect, f"{name}({', '.join(notes)})")

    def unknown_request(self, ask: bytes | None) -> Request:
        rng = self.rng
        name = rng.choice(
            [
                b"status",
                b"STATUS",
                b"Status ",
                b"GameChanged",
                b"Peer",
                b"getgame",
                b"",
                b"amp_Status",
                b"__init__",
                b"\x00",
                rng.randbytes(rng.randint(1, 20)).hex().encode(),
                # Not "Stätus": a non-ASCII name closes the connection (a bug,
                # reproduced by test_limits.test_a_non_ascii_command_name_answers_unhandled).
            ]
        )
        pairs = [(b"_command", name)]
        if ask is not None:
            pairs.append((b"_ask", ask))
        for _ in range(rng.randint(0, 4)):
            pairs.append((rng.randbytes(rng.randint(1, 8)).hex().encode(), rng.randbytes(10)))
        return Request(
            name.decode("latin-1"),
            encode_box(pairs),
            ask,
            frozenset({"UNHANDLED"}),
            f"unknown command {name!r}",
        )

    # -- jobs --------------------------------------------------------------------

    def pipeline(self, size: int, unknown_share: float) -> Job:
        requests: list[Request] = []
        ask = 0
        while len(requests) < size:
            ask += 1
            # A few requests without _ask: no answer, and the connection stays.
            tag = None if self.rng.random() < 0.05 else str(ask).encode()
            try:
                if self.rng.random() < unknown_share:
                    requests.append(self.unknown_request(tag))
                else:
                    requests.append(self.command_request(tag))
            except _TooBig:
                continue
        category = "unknown commands" if unknown_share > 0.5 else "fuzzed arguments"
        return Job(category, "pipeline", len(requests), requests=requests)

    def random_bytes(self) -> Job:
        rng = self.rng
        size = rng.choice((1, 2, 3, 10, 100, 1000, 10_000, 60_000))
        data = rng.randbytes(rng.randint(1, size))
        return Job("random bytes", "any", 1, data=data, description=f"{len(data)} random bytes")

    def random_framing(self) -> Job:
        """Valid AMP framing with random keys and values, no known command."""
        rng = self.rng
        pairs = []
        for _ in range(rng.randint(0, 12)):
            key = rng.randbytes(rng.randint(1, 255))
            if key.startswith(b"_"):
                key = b"k" + key[1:]
            pairs.append((key, rng.randbytes(rng.randint(0, 2000))))
        extra = rng.random()
        if extra < 0.3:
            pairs.append((b"_answer", str(rng.randint(0, 99)).encode()))
        elif extra < 0.5:
            pairs += [
                (b"_error", str(rng.randint(0, 99)).encode()),
                (b"_error_code", b"X"),
                (b"_error_description", b"y"),
            ]
        data = encode_box(pairs)
        if rng.random() < 0.3:
            data += encode_box([(b"_command", b"Status"), (b"_ask", b"1")])
        return Job(
            "random framing",
            "closed",
            1,
            data=data,
            description=f"a box of {len(pairs)} random keys (no command)",
        )

    def bad_framing(self) -> Job:
        """A key over 255 bytes: not AMP framing."""
        rng = self.rng
        length = rng.randint(256, 65_535)
        data = struct.pack("!H", length) + rng.randbytes(length)
        if rng.random() < 0.5:
            data = command_box(b"Status", b"1") + data
        return Job("bad framing", "closed", 1, data=data, description=f"a key of {length} bytes")

    def oversized(self) -> Job:
        """A box over ``max_box_bytes``, as a command or not, in one of several shapes."""
        rng = self.rng
        shape = rng.choice(("few huge values", "one command", "many tiny keys"))
        target = self.max_box_bytes + rng.randint(1, 200_000)
        if shape == "many tiny keys":
            data = self.tiny_pairs(target + 1) + command_box(b"Status", b"1")
            return Job(
                "oversized boxes", "closed", 1, data=data, description=f"{shape}, {len(data)} B"
            )
        pairs: list[tuple[bytes, bytes]] = []
        if shape == "one command":
            pairs = [(b"_command", b"GetGame"), (b"_ask", b"1"), (b"game_id", b"x" * 65_535)]
        size = sum(4 + len(k) + len(v) for k, v in pairs)
        n = 0
        while size <= target:
            n += 1
            key, value = b"k%d" % n, rng.randbytes(65_535)
            pairs.append((key, value))
            size += 4 + len(key) + len(value)
        data = encode_box(pairs)
        return Job("oversized boxes", "closed", 1, data=data, description=f"{shape}, {size} B")

    def tiny_pairs(self, size: int) -> bytes:
        """Framed pairs of unknown keys of 1-3 bytes and values of 0-2 bytes,
        ``size`` bytes in all (at least 7)."""
        rng = self.rng
        out = bytearray()
        while len(out) < size:
            left = size - len(out)
            key_length = rng.choice((1, 2, 2, 2, 3)) if left >= 14 else max(1, min(3, left - 4))
            value_length = rng.choice((0, 0, 0, 1, 2)) if left >= 14 else left - 4 - key_length
            key = rng.randbytes(key_length)
            out += struct.pack("!H", key_length) + key + struct.pack("!H", value_length)
            out += rng.randbytes(value_length)
        return bytes(out)

    def tiny_keys(self) -> Job:
        """Issue 6's shape: a request padded with thousands of tiny unknown keys,
        under ``max_box_bytes``.  Legal (unknown keys are ignored): answered as
        without them, and the connection stays open for the next request."""
        rng = self.rng
        try:
            request = self.command_request(b"1")
        except _TooBig:
            request = Request("Status", command_box(b"Status", b"1"), b"1", frozenset({"OK"}), "")
        room = self.max_box_bytes - len(request.data)
        padding = self.tiny_pairs(rng.randint(min(room, 10_000), room))
        request.data = padding + request.data  # the box's own pairs last
        request.description = f"{request.description} after {len(padding)} B of tiny keys"
        status = Request("Status", command_box(b"Status", b"2"), b"2", frozenset({"OK"}), "Status")
        return Job("many tiny keys", "pipeline", 2, requests=[request, status])

    def truncated(self) -> Job:
        rng = self.rng
        try:
            request = self.command_request(b"1")
        except _TooBig:
            request = Request("Status", command_box(b"Status", b"1"), b"1", frozenset(), "")
        cut = rng.randint(0, max(0, len(request.data) - 1))
        return Job(
            "truncated boxes",
            "truncated",
            1,
            data=request.data[:cut],
            description=f"{request.description} cut at {cut} of {len(request.data)} bytes",
        )

    def slow(self) -> Job:
        rng = self.rng
        requests = []
        for ask in range(1, rng.randint(1, 3) + 1):
            try:
                requests.append(self.command_request(str(ask).encode()))
            except _TooBig:
                requests.append(
                    Request(
                        "Status",
                        command_box(b"Status", str(ask).encode()),
                        str(ask).encode(),
                        frozenset({"OK"}),
                        "Status",
                    )
                )
        return Job(
            "slow senders",
            "slow",
            len(requests),
            requests=requests,
            pause=rng.uniform(0.002, 0.02),
        )

    def jobs(self, total: int, mix: dict[str, float]) -> list[Job]:
        """About ``total`` inputs, shared out by ``mix`` (category -> share)."""
        makers: dict[str, Callable[[], Job]] = {
            "fuzzed arguments": lambda: self.pipeline(self.rng.randint(10, 30), 0.0),
            "unknown commands": lambda: self.pipeline(self.rng.randint(10, 30), 0.9),
            "random bytes": self.random_bytes,
            "random framing": self.random_framing,
            "bad framing": self.bad_framing,
            "oversized boxes": self.oversized,
            "many tiny keys": self.tiny_keys,
            "truncated boxes": self.truncated,
            "slow senders": self.slow,
        }
        jobs: list[Job] = []
        shares = sum(mix.values())
        for category, share in mix.items():
            goal = math.ceil(total * share / shares)
            count = 0
            while count < goal:
                job = makers[category]()
                jobs.append(job)
                count += job.inputs
        self.rng.shuffle(jobs)
        return jobs


class _TooBig(Exception):
    """A generated request would itself be over max_box_bytes."""


def describe_expectation(expect: frozenset[str]) -> str:
    return " or ".join(sorted(expect))


__all__ = [
    "CHECKS",
    "COMMANDS",
    "Fuzzer",
    "Job",
    "Request",
    "answers_for_valid",
    "arguments_of",
    "describe_expectation",
]
