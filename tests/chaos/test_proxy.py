"""The fault proxy on real loopback sockets: pass, delay, blackhole, cut."""

from __future__ import annotations

from typing import Any

import pytest_twisted
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import deferLater

from tests.chaos.proxy import BLACKHOLE, CUT, DELAY, DOWN, HOST, PASS, UP, FaultProxy


def sleep(seconds: float) -> defer.Deferred[None]:
    return deferLater(reactor, seconds, lambda: None)


class Echo(Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)


class Collect(Protocol):
    def __init__(self) -> None:
        self.received = b""
        self.arrivals: list[float] = []
        self.lost = defer.Deferred()
        self.closed = False

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        self.arrivals.append(reactor.seconds())

    def connectionLost(self, reason: Any = None) -> None:
        self.closed = True
        if not self.lost.called:
            self.lost.callback(None)


async def until(check: Any, timeout: float = 3.0) -> None:
    deadline = reactor.seconds() + timeout
    while not check():
        assert reactor.seconds() < deadline, "condition not met in time"
        await sleep(0.01)


class Setup:
    async def start(self) -> None:
        factory = Factory.forProtocol(Echo)
        self.server = reactor.listenTCP(0, factory, interface=HOST)
        self.proxy = FaultProxy(reactor, "test", self.server.getHost().port)
        self.proxy.listen()

    async def connect(self) -> Collect:
        endpoint = TCP4ClientEndpoint(reactor, HOST, self.proxy.port, timeout=2)
        return await connectProtocol(endpoint, Collect())

    async def stop(self) -> None:
        self.proxy.stop()
        await self.server.stopListening()
        await sleep(0.01)


async def with_setup(test: Any) -> None:
    setup = Setup()
    await setup.start()
    try:
        await test(setup)
    finally:
        await setup.stop()


@pytest_twisted.ensureDeferred
async def test_pass_forwards_both_ways() -> None:
    async def test(setup: Setup) -> None:
        client = await setup.connect()
        client.transport.write(b"hello")
        await until(lambda: client.received == b"hello")
        client.transport.loseConnection()
        await client.lost

    await with_setup(test)


@pytest_twisted.ensureDeferred
async def test_delay_holds_bytes_in_order() -> None:
    async def test(setup: Setup) -> None:
        client = await setup.connect()
        setup.proxy.set_mode(DOWN, DELAY, 0.3)
        sent = reactor.seconds()
        for chunk in (b"a", b"b", b"c"):
            client.transport.write(chunk)
            await sleep(0.02)
        await until(lambda: client.received == b"abc")
        assert client.arrivals[0] - sent >= 0.28
        setup.proxy.set_mode(DOWN, PASS)
        client.transport.write(b"d")
        await until(lambda: client.received == b"abcd", timeout=1)
        client.transport.loseConnection()

    await with_setup(test)


@pytest_twisted.ensureDeferred
async def test_blackhole_drops_bytes_and_closes_when_it_ends() -> None:
    async def test(setup: Setup) -> None:
        client = await setup.connect()
        setup.proxy.set_mode(UP, BLACKHOLE)
        client.transport.write(b"lost")
        await sleep(0.2)
        assert client.received == b"" and not client.closed
        fresh = await setup.connect()  # accepted, but goes nowhere
        fresh.transport.write(b"also lost")
        await sleep(0.2)
        assert fresh.received == b"" and not fresh.closed
        setup.proxy.set_mode(UP, PASS)
        await until(lambda: client.closed and fresh.closed)
        after = await setup.connect()
        after.transport.write(b"ok")
        await until(lambda: after.received == b"ok")
        after.transport.loseConnection()

    await with_setup(test)


@pytest_twisted.ensureDeferred
async def test_cut_up_closes_and_refuses() -> None:
    async def test(setup: Setup) -> None:
        client = await setup.connect()
        setup.proxy.set_mode(UP, CUT)
        await until(lambda: client.closed)
        refused = await setup.connect()
        await until(lambda: refused.closed)
        assert setup.proxy.counters.refused >= 1
        setup.proxy.heal()
        again = await setup.connect()
        again.transport.write(b"back")
        await until(lambda: again.received == b"back")
        again.transport.loseConnection()

    await with_setup(test)


@pytest_twisted.ensureDeferred
async def test_cut_down_closes_on_the_first_answer() -> None:
    async def test(setup: Setup) -> None:
        setup.proxy.set_mode(DOWN, CUT)
        client = await setup.connect()
        await sleep(0.1)
        assert not client.closed  # the way up is open
        client.transport.write(b"ping")
        await until(lambda: client.closed)
        assert client.received == b""

    await with_setup(test)
