"""Cost of receiving AMP boxes: ``python -m bench.ampparse [--repeat N]``.

Compares the server's framing before and after :mod:`game.ampframe`:

- ``stock``: Twisted's ``BinaryBoxProtocol`` (``Int16StringReceiver``, one
  ``stringReceived`` call per key and per value), with the per-string box
  size accounting the server had on top of it;
- ``ampframe``: :class:`game.ampframe.BoxParser`, keeping only the keys of
  replgame's commands, as the server does now.

Both hand each box to a no-op receiver, so the figures are framing only
(no argument parsing, no responder).  Inputs: a typical ``MakeMove``
request, the same 100 at a time in one read, a ``Status`` box with 40,000
extra two-byte keys (the shape of issue 6, 240 KB), and that box arriving
in 64 KiB reads.  Prints the best of ``--repeat`` runs per row, in µs.
"""

from __future__ import annotations

import argparse
import struct
import time
from collections.abc import Callable

from twisted.protocols import amp

from game import protocol as p
from game.ampframe import BoxParser, keys_of

KEYS = keys_of((*p.CLIENT_COMMANDS, *p.PEER_COMMANDS))
MAX_BOX_BYTES = 262_144


class StockFraming(amp.BinaryBoxProtocol):
    """The server's framing before ampframe: stock AMP and a per-string count."""

    def __init__(self) -> None:
        super().__init__(self)
        self.boxes = 0
        self._box_bytes = 0
        self.transport = None

    def stringReceived(self, string: bytes) -> None:
        self._box_bytes += 2 + len(string)
        if self._box_bytes > MAX_BOX_BYTES:
            raise AssertionError("over the limit")
        box_ends = not string and self.state in ("init", "key")
        super().stringReceived(string)
        if box_ends:
            self._box_bytes = 0

    def ampBoxReceived(self, box: amp.AmpBox) -> None:
        self.boxes += 1


def stock(chunks: list[bytes]) -> int:
    framing = StockFraming()
    for chunk in chunks:
        framing.dataReceived(chunk)
    return framing.boxes


def ampframe(chunks: list[bytes]) -> int:
    boxes = []
    parser = BoxParser(boxes.append, KEYS, MAX_BOX_BYTES, amp.AmpBox)
    for chunk in chunks:
        parser.feed(chunk)
        parser.parse()
    return len(boxes)


def make_move(ask: int) -> bytes:
    return amp.AmpBox(
        _command=b"MakeMove",
        _ask=str(ask).encode(),
        game_id=b"0f6c1d2e-8b7a-4c2d-9e3f-5a6b7c8d9e0f",
        version=b"17",
        move=b"11-15",
        token=b"f3Qx9-token-of-seat-0-kLm2Pz7",
    ).serialize()


def tiny_keys_box() -> bytes:
    pairs = [(b"_command", b"Status"), (b"_ask", b"1")]
    pairs += [(struct.pack("!H", n), b"") for n in range(1, 40_001)]
    out = bytearray()
    for key, value in pairs:
        out += struct.pack("!H", len(key)) + key + struct.pack("!H", len(value)) + value
    return bytes(out + b"\x00\x00")


def split(data: bytes, size: int) -> list[bytes]:
    return [data[at : at + size] for at in range(0, len(data), size)]


def best_us(
    run: Callable[[list[bytes]], int], chunks: list[bytes], boxes: int, repeat: int
) -> float:
    """The fastest of ``repeat`` runs, in µs per box."""
    # Enough loops per run for ~20 ms, so the clock's resolution does not matter.
    started = time.perf_counter()
    assert run(chunks) == boxes
    loops = max(1, int(0.02 / max(time.perf_counter() - started, 1e-6)))
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(loops):
            run(chunks)
        best = min(best, (time.perf_counter() - started) / loops)
    return best / boxes * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs per row (best is shown)")
    args = parser.parse_args(argv)
    one = make_move(1)
    hundred = b"".join(make_move(n) for n in range(1, 101))
    tiny = tiny_keys_box()
    rows = [
        (f"MakeMove, one box of {len(one)} B", [one], 1),
        (f"MakeMove x100 in one read ({len(hundred)} B), per box", [hundred], 100),
        (f"Status + 40,000 tiny keys ({len(tiny)} B), one read", [tiny], 1),
        ("Status + 40,000 tiny keys, 64 KiB reads", split(tiny, 65_536), 1),
    ]
    print(f"{'input':<52} {'stock µs':>11} {'ampframe µs':>12} {'speed-up':>9}")
    for name, chunks, boxes in rows:
        # Alternate the two, so that a noisy neighbour slows both alike.
        before = after = float("inf")
        for _ in range(3):
            before = min(before, best_us(stock, chunks, boxes, args.repeat))
            after = min(after, best_us(ampframe, chunks, boxes, args.repeat))
        print(f"{name:<52} {before:>11.1f} {after:>12.1f} {before / after:>8.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
