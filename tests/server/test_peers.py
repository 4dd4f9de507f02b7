"""Tests for game.server.peers: the proofs, and a PeerLink from server 1 to
a real server 2 (:class:`~tests.server.helpers.ServerHarness`) over iosim,
on the harness's Clock."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IProtocolFactory, IStreamClientEndpoint
from twisted.logger import LogEvent, formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from game.server.peers import PeerLink, PeerState, proof, proofs_match
from tests.server.grid import Pipe, open_pipe, refusal
from tests.server.helpers import SECRET, WRONG_SECRET, ServerHarness

HEARTBEAT = 10.0
TIMEOUT = 5.0
NONCE_1 = "11" * 32
NONCE_2 = "22" * 32


class ProofTests(SynchronousTestCase):
    def test_a_proof_is_bound_to_its_role_nonces_ids_and_secret(self) -> None:
        mine = proof(SECRET, "caller", NONCE_1, NONCE_2, 1, 2)
        self.assertTrue(proofs_match(mine, proof(SECRET, "caller", NONCE_1, NONCE_2, 1, 2)))
        for other in (
            proof(SECRET, "callee", NONCE_1, NONCE_2, 1, 2),  # the other side's proof
            proof(SECRET, "caller", NONCE_2, NONCE_1, 1, 2),
            proof(SECRET, "caller", NONCE_1, NONCE_2, 2, 1),
            proof(SECRET, "caller", NONCE_1, NONCE_2, 1, 3),
            proof(WRONG_SECRET, "caller", NONCE_1, NONCE_2, 1, 2),
        ):
            self.assertFalse(proofs_match(mine, other))


@implementer(IStreamClientEndpoint)
class HarnessEndpoint:
    """Connects to the harness's server factory over iosim, or refuses while ``up`` is false."""

    def __init__(self, harness: ServerHarness) -> None:
        self.harness = harness
        self.up = True
        self.pipes: list[Pipe] = []

    def connect(self, factory: IProtocolFactory) -> Deferred[Any]:
        pipe = open_pipe(1, 2, factory, self.harness.factory) if self.up else None
        if pipe is None:
            return refusal(self.harness.clock)
        self.pipes.append(pipe)
        return succeed(pipe.client_io.protocol)


class PeerLinkTests(SynchronousTestCase):
    """Server 1's link to server 2."""

    def setUp(self) -> None:
        self.messages: list[str] = []
        globalLogPublisher.addObserver(self.record)
        self.addCleanup(globalLogPublisher.removeObserver, self.record)
        self.ready: list[PeerLink] = []
        #: Server 2's connections stop moving bytes while true (as if SIGSTOPped).
        self.server_paused = False

    def record(self, event: LogEvent) -> None:
        if event.get("log_namespace") == "replgame.peers":
            self.messages.append(formatEvent(event))

    def link(self, *, secret: str = SECRET, server_secret: str = SECRET, peer: int = 2) -> PeerLink:
        self.harness = ServerHarness(self, server_id=2, secret=server_secret, heartbeat=HEARTBEAT)
        self.endpoint = HarnessEndpoint(self.harness)
        link = PeerLink(
            my_id=1,
            peer=self.harness.config.server(peer),
            secret=secret,
            endpoint=self.endpoint,
            clock=self.harness.clock,
            timeout=TIMEOUT,
            heartbeat=HEARTBEAT,
            on_ready=self.ready.append,
        )
        self.addCleanup(self.stop, link)
        link.start()
        self.settle()
        return link

    def stop(self, link: PeerLink) -> None:
        link.stop()
        self.server_paused = False
        self.settle()

    def settle(self) -> None:
        clock = self.harness.clock
        for _ in range(1000):
            paused = {2} if self.server_paused else set()
            moved = any([pipe.flush(paused) for pipe in self.endpoint.pipes])
            if any(call.getTime() <= clock.seconds() for call in clock.getDelayedCalls()):
                clock.advance(0)
                moved = True
            if not moved:
                return
        raise AssertionError("the link did not settle")

    def advance(self, seconds: float, step: float = 0.25) -> None:
        for _ in range(round(seconds / step)):
            self.harness.clock.advance(step)
            self.settle()

    def server_peers(self) -> list[int | None]:
        """The peer id each open server-side connection authenticated as."""
        return [protocol.peer_id for protocol in self.harness.factory.connections]

    # -- authentication ------------------------------------------------------------

    def test_both_sides_prove_the_secret(self) -> None:
        link = self.link()
        self.assertTrue(link.ready)
        self.assertEqual(self.ready, [link])
        self.assertEqual(self.server_peers(), [1])
        self.assertEqual(len(self.endpoint.pipes), 1)

    def test_a_peer_without_the_secret_is_refused_and_redialled(self) -> None:
        for mine, theirs in [(SECRET, WRONG_SECRET), (WRONG_SECRET, SECRET)]:
            self.messages.clear()
            link = self.link(secret=mine, server_secret=theirs)
            self.assertFalse(link.ready)
            self.assertEqual(self.ready, [])
            self.assertEqual(self.server_peers(), [])  # refused before PeerProve: closed
            self.assertIn("failed to prove the cluster secret", self.messages[0])
            self.advance(30)  # redialled (at most 2 s apart), refused every time
            self.assertGreater(len(self.endpoint.pipes), 10)
            self.assertFalse(link.ready)
            self.assertEqual(self.server_peers(), [])
            # Warned on the 1st and 10th refusal, not on every redial.
            warnings = [m for m in self.messages if "failed to prove" in m]
            self.assertEqual(len(warnings), 2, warnings)
            self.assertIn("10 time(s) so far", warnings[1])
            self.stop(link)

    def test_a_peer_answering_as_another_server_is_refused(self) -> None:
        link = self.link(peer=3)  # we dial "server 3"; server 2 answers
        self.assertFalse(link.ready)
        self.assertIn("claims id 2", self.messages[0])

    # -- heartbeats --------------------------------------------------------------------

    def test_heartbeats_keep_the_peer_status(self) -> None:
        link = self.link()
        self.assertIsNone(link.state)
        self.advance(HEARTBEAT / 2)
        status = self.harness.node.peer_status()
        self.assertEqual(link.state, PeerState(**status))
        self.assertEqual((status["server_id"], status["games"]), (2, 0))

        self.harness.seed_game("g1", moves=["4"])
        self.advance(HEARTBEAT / 2)
        assert link.state is not None
        self.assertEqual((link.state.games, link.state.clock), (1, 3))
        self.assertEqual(link.state, PeerState(**self.harness.node.peer_status()))

    def test_poll_status_answers_with_the_state(self) -> None:
        link = self.link()
        polled: list[PeerState] = []
        link.poll_status().addCallback(polled.append)
        self.settle()
        self.assertEqual(polled, [link.state])

    def test_the_server_keeps_a_link_with_heartbeats_open(self) -> None:
        # The server closes connections silent for three heartbeats.
        link = self.link()
        self.advance(10 * HEARTBEAT, step=1.0)
        self.assertTrue(link.ready)
        self.assertEqual(len(self.endpoint.pipes), 1)
        self.assertEqual(self.ready, [link])

    def test_a_missed_heartbeat_drops_the_link_and_redials(self) -> None:
        link = self.link()
        self.advance(HEARTBEAT / 2)
        self.assertIsNotNone(link.state)
        self.server_paused = True
        self.advance(HEARTBEAT / 2 + TIMEOUT)  # the next PeerStatus times out
        self.assertFalse(link.ready)
        self.assertIsNone(link.state)
        self.assertTrue(any("missed a heartbeat" in m for m in self.messages), self.messages)
        self.assertTrue(any("lost; redialling" in m for m in self.messages), self.messages)

        self.server_paused = False
        self.advance(3)  # redialled after the backoff (at most 2 s)
        self.assertTrue(link.ready)
        self.assertEqual(self.ready, [link, link])
        self.assertEqual(len(self.endpoint.pipes), 2)
        self.assertEqual(self.server_peers(), [1])  # the old connection is gone

    def test_a_peer_that_is_down_is_redialled_until_it_is_up(self) -> None:
        link = self.link()
        self.endpoint.up = False
        link.drop()
        self.settle()
        self.assertFalse(link.ready)
        self.advance(10)
        self.assertFalse(link.ready)
        self.endpoint.up = True
        self.advance(3)
        self.assertTrue(link.ready)
        self.assertEqual(len(self.ready), 2)

    def test_stop_ends_heartbeats_and_redials(self) -> None:
        link = self.link()
        self.stop(link)
        self.assertFalse(link.ready)
        self.assertEqual(self.server_peers(), [])
        self.advance(3 * HEARTBEAT, step=1.0)
        self.assertEqual(len(self.endpoint.pipes), 1)
        self.assertEqual(self.harness.clock.getDelayedCalls(), [])
