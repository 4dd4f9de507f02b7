"""A well-behaved client that stays connected while a server is attacked.

Run as its own process (standard library only, so that the load of the test
process cannot slow it down)::

    python tests/hostile/monitor.py PORT GAME_ID

It opens one connection and, until its standard input closes, sends
``Status`` and ``GetGame(GAME_ID)`` in turn, one at a time, timing each
answer.  It checks that every answer is a success, that the game document
never changes, and that the connection is never dropped.  On exit it prints
one JSON object: the number of requests, the slowest answer, every answer
over one second and every problem.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import sys
import threading
import time

SLOW = 1.0
PAUSE = 0.01


def encode_box(pairs: list[tuple[bytes, bytes]]) -> bytes:
    out = bytearray()
    for key, value in pairs:
        out += struct.pack("!H", len(key)) + key + struct.pack("!H", len(value)) + value
    return bytes(out + b"\x00\x00")


class Reader:
    """Reads whole boxes from a blocking socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def _exactly(self, count: int, deadline: float) -> bytes:
        while len(self.buffer) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer in time")
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                continue
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    def box(self, deadline: float) -> dict[bytes, bytes]:
        box: dict[bytes, bytes] = {}
        while True:
            (length,) = struct.unpack("!H", self._exactly(2, deadline))
            if length == 0:
                return box
            key = self._exactly(length, deadline)
            (length,) = struct.unpack("!H", self._exactly(2, deadline))
            box[key] = self._exactly(length, deadline)


def main() -> int:
    port, game_id = int(sys.argv[1]), sys.argv[2].encode()
    stop = threading.Event()

    def wait_for_eof() -> None:
        sys.stdin.buffer.read()
        stop.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = Reader(sock)
    report: dict[str, object] = {"requests": 0, "max_latency": 0.0, "slow": [], "problems": []}
    slow: list[list[object]] = []
    problems: list[str] = []
    first_document: bytes | None = None
    ask = 0
    print("ready", flush=True)
    while not stop.is_set():
        ask += 1
        name = b"Status" if ask % 2 else b"GetGame"
        pairs = [(b"_command", name), (b"_ask", str(ask).encode())]
        if name == b"GetGame":
            pairs.append((b"game_id", game_id))
        started = time.monotonic()
        try:
            sock.sendall(encode_box(pairs))
            while True:
                box = reader.box(started + 30)
                if box.get(b"_answer", box.get(b"_error")) == str(ask).encode():
                    break
        except (OSError, TimeoutError, ConnectionError) as error:
            problems.append(f"request {ask} ({name.decode()}): {error!r}")
            break
        latency = time.monotonic() - started
        report["requests"] = ask
        report["max_latency"] = max(float(report["max_latency"]), latency)  # type: ignore[arg-type]
        if latency > SLOW:
            slow.append([ask, name.decode(), round(latency, 3), time.time()])
        if b"_error" in box:
            code = box.get(b"_error_code", b"?").decode()
            problems.append(f"request {ask} ({name.decode()}) answered {code}")
        elif name == b"GetGame":
            document = box.get(b"game")
            if first_document is None:
                first_document = document
            elif document != first_document:
                problems.append(f"request {ask}: the game document changed: {document!r:.300}")
        time.sleep(PAUSE)
    sock.close()
    report["slow"] = slow
    report["problems"] = problems
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
