"""The server's cost per connection, per heartbeat and per push, in one process.

``python -m bench.fanout [--connections N] [--statuses N] [--watchers N]``
builds one server's stack (sqlite in a temporary directory, group commit,
replica, node, factory, metrics) on a fake clock and connects
:class:`~game.server.connection.ServerProtocol`\\ s to
:class:`~twisted.internet.testing.StringTransport`\\ s: no sockets, so what
is measured is the server's Python work alone.  Prints a table:

- bytes per idle connection: traced Python allocations of ``N``
  connected protocols (``tracemalloc``), transports excluded;
- CPU per ``Status``: one Status box per ``dataReceived`` (a heartbeat
  arrives alone), through framing, dispatch, the answer and its write;
- CPU per push per watcher: a change of a game watched by ``N``
  connections, :meth:`ServerNode._changed` to the bytes on each transport;
- the idle timer's cost per ``dataReceived`` (``resetTimeout``), with the
  real reactor's timers;
- over a real loopback connection, the ``transport.write`` and ``send``
  calls of one reactor turn that answers 100 requests and pushes 20 changes
  to one connection (Twisted's TCP transport coalesces them already).
"""

from __future__ import annotations

import argparse
import gc
import shutil
import socket
import tempfile
import time
import tracemalloc
from typing import Any

import attrs
from twisted.internet.protocol import connectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.protocols import amp
from twisted.test.iosim import FakeAddress

from game import protocol as p
from game.config import default_config
from game.server.commit import GroupCommitter
from game.server.connection import ServerFactory, ServerProtocol
from game.server.gamelog import Command
from game.server.metrics import ServerMetrics
from game.server.node import ServerNode
from game.server.replica import Replica
from game.server.storage import Storage

SECRET = "bench-fanout-cluster-secret"
TOKEN_A = "alice-token-0123456789"
TOKEN_B = "bobby-token-0123456789"


class Server:
    """One serving server with no peers on a fake clock, and its connections."""

    def __init__(self, directory: str) -> None:
        self.clock = Clock()
        self.storage = Storage.open(directory)
        self.committer = GroupCommitter(self.storage, self.clock)
        self.replica = Replica(self.storage, self.committer)
        config = attrs.evolve(default_config(), secret=SECRET)
        self.node = ServerNode(1, config, self.replica, {}, self.clock)
        self.node.metrics = ServerMetrics()
        self.replica.mark_initialized()
        self.clock.advance(0)
        self.node.start()
        self.factory = ServerFactory(self.node, SECRET, self.clock)

    def connect(self, transport: StringTransport) -> ServerProtocol:
        protocol = self.factory.buildProtocol(FakeAddress())
        assert protocol is not None
        protocol.makeConnection(transport)
        return protocol

    def game(self, game_id: str) -> str:
        """A connect4 game with a few moves; its document."""
        self.node.create_game(game_id, "connect4", "alice", 0, TOKEN_A)
        self.clock.advance(0)
        self.node.change_game(game_id, _command("join", 1, TOKEN_B, player="bob"))
        self.clock.advance(0)
        for version, (move, token) in enumerate(
            [("4", TOKEN_A), ("4", TOKEN_B), ("3", TOKEN_A), ("5", TOKEN_B)], start=2
        ):
            self.node.change_game(game_id, _command("move", version, token, move=move))
            self.clock.advance(0)
        document: list[str] = []
        self.node.get_game(game_id).addCallback(document.append)
        return document[0]

    def close(self) -> None:
        self.storage.close()


def _command(kind: str, version: int, token: str, **rest: Any) -> Command:
    return Command(kind, version, token, **rest)


def _box(command: type[amp.Command], tag: bytes, **arguments: Any) -> bytes:
    box = command.makeArguments(arguments, None)
    box[b"_command"] = command.commandName
    box[b"_ask"] = tag
    serialized: bytes = box.serialize()
    return serialized


def bytes_per_connection(server: Server, count: int) -> float:
    transports = [StringTransport() for _ in range(count)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    protocols = [server.connect(transport) for transport in transports]
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    for protocol in protocols:
        protocol.connectionLost(connectionDone)
    return grown / count


def us_per_status(server: Server, count: int) -> float:
    """The best of five runs of ``count / 5`` Status requests (this machine
    is shared: the best run is the one least disturbed)."""
    transport = StringTransport()
    protocol = server.connect(transport)
    boxes = [_box(p.Status, b"%x" % n) for n in range(1, 1001)]
    rounds = max(1, count // len(boxes) // 5)
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for _ in range(rounds):
            for box in boxes:
                protocol.dataReceived(box)
            transport.clear()
        best = min(best, time.process_time() - started)
    protocol.connectionLost(connectionDone)
    return best / (rounds * len(boxes)) * 1e6


def us_per_push(server: Server, watchers: int, document: str) -> tuple[float, int]:
    """The best of five runs of 4 pushes to ``watchers`` watchers."""
    transports = [StringTransport() for _ in range(watchers)]
    protocols = [server.connect(transport) for transport in transports]
    game_id = "g1"
    for protocol in protocols:
        protocol.watching.add(game_id)
        server.node.watch(game_id, protocol)
    pushes = 4
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for _ in range(pushes):
            server.node._changed(game_id, document)
        best = min(best, time.process_time() - started)
        for transport in transports:
            transport.clear()
    for protocol in protocols:
        protocol.connectionLost(connectionDone)
    return best / (pushes * watchers) * 1e6, len(document.encode())


def us_per_reset(server: Server, count: int) -> float:
    """``resetTimeout`` (each ``dataReceived``) over ``count`` connections
    whose idle timers are the real reactor's (its ``DelayedCall.reset`` is
    lazy; :class:`Clock`'s sorts every call)."""
    from twisted.internet import reactor

    transports = [StringTransport() for _ in range(count)]
    protocols = []
    for transport in transports:
        protocol = server.factory.buildProtocol(FakeAddress())
        assert protocol is not None
        protocol.callLater = reactor.callLater  # type: ignore[attr-defined]
        protocol.makeConnection(transport)
        protocols.append(protocol)
    rounds = 10
    started = time.process_time()
    for _ in range(rounds):
        for protocol in protocols:
            protocol.resetTimeout()
    elapsed = time.process_time() - started
    for protocol in protocols:
        protocol.connectionLost(connectionDone)
    return elapsed / (rounds * count) * 1e6


def writes_and_sends(server: Server, document: str) -> tuple[int, int]:
    """Over a real loopback connection, one reactor turn that answers 100
    ``Status`` requests (one segment) and pushes 20 changes to the same
    connection: ``transport.write`` calls, and ``send`` calls (Twisted's
    ``writeSomeData``: the transport buffers writes until the socket is
    writable, then sends what it holds at once)."""
    from twisted.internet import reactor, tcp

    counts = {"write": 0, "send": 0}
    write, send = tcp.Connection.write, tcp.Connection.writeSomeData

    def counted_write(connection: Any, data: bytes) -> None:
        counts["write"] += 1
        write(connection, data)

    def counted_send(connection: Any, data: bytes) -> Any:
        counts["send"] += 1
        return send(connection, data)

    factory = ServerFactory(server.node, SECRET, reactor)  # type: ignore[arg-type]
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")  # type: ignore[attr-defined]
    client = socket.create_connection(("127.0.0.1", port.getHost().port))
    requests = b"".join(_box(p.Status, b"%x" % n) for n in range(1, 101))

    def watch_then_send() -> None:
        (protocol,) = factory.connections
        server.node.watch("g1", protocol)
        received = protocol.dataReceived

        def answer_then_push(data: bytes) -> None:
            received(data)
            for _ in range(20):
                server.node._changed("g1", document)

        protocol.dataReceived = answer_then_push  # type: ignore[method-assign]
        tcp.Connection.write, tcp.Connection.writeSomeData = counted_write, counted_send
        client.sendall(requests)
        reactor.callLater(0.5, reactor.stop)  # type: ignore[attr-defined]

    reactor.callLater(0.2, watch_then_send)  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]
    tcp.Connection.write, tcp.Connection.writeSomeData = write, send
    client.close()
    return counts["write"], counts["send"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--statuses", type=int, default=100_000)
    parser.add_argument("--watchers", type=int, default=10_000)
    options = parser.parse_args(argv)
    directory = tempfile.mkdtemp(prefix="bench-fanout-")
    try:
        server = Server(directory)
        document = server.game("g1")
        us_per_status(server, 2000)  # warm up
        rows = [
            (
                "bytes per idle connection",
                f"{bytes_per_connection(server, options.connections):,.0f}",
            ),
            ("CPU us per Status", f"{us_per_status(server, options.statuses):.1f}"),
        ]
        per_push, size = us_per_push(server, options.watchers, document)
        rows.append((f"CPU us per push per watcher ({size} B document)", f"{per_push:.2f}"))
        reset = us_per_reset(server, options.connections)
        rows.append(("CPU us per resetTimeout (real reactor's timers)", f"{reset:.2f}"))
        writes, sends = writes_and_sends(server, document)
        rows.append(("one turn, 100 answers + 20 pushes: writes / sends", f"{writes} / {sends}"))
        server.close()
    finally:
        shutil.rmtree(directory, True)
    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
