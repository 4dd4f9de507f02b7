"""Tests for ReconnectingLink's lifecycle (game.link.LinkState): every state
change allowed by its table and logged, on a Clock and StringTransports."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IProtocolFactory, IStreamClientEndpoint
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import LogEvent, capturedLogs, formatEvent
from twisted.python.failure import Failure
from twisted.test.iosim import FakeAddress
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from game.link import LinkProtocol, LinkState, ReconnectingLink


@implementer(IStreamClientEndpoint)
class HeldEndpoint:
    """Connection attempts that wait until the test completes them."""

    def __init__(self) -> None:
        self.attempts: list[tuple[IProtocolFactory, Deferred[Any]]] = []

    def connect(self, factory: IProtocolFactory) -> Deferred[Any]:
        attempt: Deferred[Any] = Deferred()
        self.attempts.append((factory, attempt))
        return attempt

    def complete(self) -> Any:
        """Connect the oldest attempt; returns the protocol ClientService sees."""
        factory, attempt = self.attempts.pop(0)
        protocol = factory.buildProtocol(FakeAddress())
        protocol.makeConnection(StringTransport())
        attempt.callback(protocol)
        return protocol


class PreparedLink(ReconnectingLink):
    def __init__(self, endpoint: HeldEndpoint, clock: Clock) -> None:
        super().__init__(endpoint, clock, 5.0, retry=lambda attempt: 1.0, name="link to server 2")
        self.preparation: Deferred[Any] = succeed(None)
        self.events: list[str] = []

    def prepare(self, protocol: LinkProtocol) -> Deferred[Any]:
        return self.preparation

    def became_ready(self) -> None:
        self.events.append("ready")

    def became_down(self) -> None:
        self.events.append("down")


def changes(events: list[LogEvent]) -> list[tuple[str, str, str]]:
    return [(e["old"], e["new"], e["reason"]) for e in events if "new" in e]


class LinkLifecycleTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.endpoint = HeldEndpoint()
        self.link = PreparedLink(self.endpoint, self.clock)

    def test_connect_prepare_lose_stop(self) -> None:
        link = self.link
        self.assertEqual(link.lifecycle.state, LinkState.STOPPED)
        with capturedLogs() as events:
            link.start()
            connection = self.endpoint.complete()
            self.assertTrue(link.ready)
            connection.connectionLost(Failure(ConnectionDone()))
            self.assertFalse(link.ready)
            self.clock.advance(1.0)
            second = self.endpoint.complete()
            stopping = link.stop()
            second.connectionLost(Failure(ConnectionDone()))  # ClientService closed it
            self.successResultOf(stopping)
        self.assertEqual(
            changes(events),
            [
                ("stopped", "connecting", "started"),
                ("connecting", "preparing", "connected"),
                ("preparing", "ready", "prepared"),
                ("ready", "connecting", "connection lost"),
                ("connecting", "preparing", "connected"),
                ("preparing", "ready", "prepared"),
                ("ready", "stopped", "stopped"),
            ],
        )
        self.assertEqual(link.events, ["ready", "down", "ready"])
        first = next(e for e in events if "new" in e)
        self.assertEqual(formatEvent(first), "link to server 2: stopped -> connecting (started)")

    def test_a_refused_preparation_redials(self) -> None:
        link = self.link
        link.preparation = fail(ValueError("wrong secret"))
        link.start()
        with capturedLogs() as events:
            connection = self.endpoint.complete()
            self.assertTrue(connection.transport.disconnecting)  # aborted
            connection.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(
            changes(events),
            [
                ("connecting", "preparing", "connected"),
                ("preparing", "connecting", "not prepared: wrong secret"),
            ],
        )
        self.assertEqual(link.events, [])  # never ready, so never down
        self.successResultOf(link.stop())

    def test_stopped_while_preparing(self) -> None:
        link = self.link
        link.preparation = Deferred()
        link.start()
        self.endpoint.complete()
        self.assertEqual(link.lifecycle.state, LinkState.PREPARING)
        link.stop()
        link.preparation.callback(None)
        self.assertEqual(link.lifecycle.state, LinkState.STOPPED)
        self.assertEqual(link.events, [])
