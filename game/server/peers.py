"""Links from one server to its two peers, authenticated both ways.

Each server dials each peer (``peer_host``/``peer_port``) and keeps that
connection up with :class:`~twisted.application.internet.ClientService`.
Before the link is used, both sides prove that they know the cluster
secret: a challenge-response with a fresh nonce from each side and
HMAC-SHA256 over both nonces and both server ids, labelled by role so that
one side's proof can never be replayed as the other's.  The dialling side
pulls state over its own link only; the listening side serves peer
commands only on connections that proved themselves.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import random
from collections.abc import Callable, Generator
from typing import Any

import attrs
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.interfaces import IReactorTime, IStreamClientEndpoint
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from game import errors as wire
from game.config import ServerConfig
from game.link import LinkProtocol, ReconnectingLink, backoff
from game.protocol import PeerHello, PeerProve, PeerStatus

log = Logger(namespace="replgame.peers")

_LABEL = b"replgame-peer-v1"


def new_nonce() -> str:
    return os.urandom(32).hex()


def proof(
    secret: str, role: str, caller_nonce: str, callee_nonce: str, caller: int, callee: int
) -> str:
    """HMAC-SHA256 of both nonces and both ids, for ``role`` "caller" or "callee"."""
    message = b"\0".join(
        [_LABEL, role.encode(), caller_nonce.encode(), callee_nonce.encode(),
         str(caller).encode(), str(callee).encode()]
    )  # fmt: skip
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def proofs_match(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


@attrs.frozen
class PeerState:
    """What a peer last said about itself (PeerStatus)."""

    server_id: int
    clock: int
    games: int
    serving: bool
    digest: str
    tree: str
    fresh: bool


class PeerLink(ReconnectingLink):
    """The authenticated outgoing link to one peer; reconnects on its own.

    :param on_ready: called with this link each time it (re)authenticates.
    :param rng: jitter for the redial backoff (seeded in tests, for runs that repeat).
    """

    def __init__(
        self,
        *,
        my_id: int,
        peer: ServerConfig,
        secret: str,
        endpoint: IStreamClientEndpoint,
        clock: IReactorTime,
        timeout: float,
        heartbeat: float,
        on_ready: Callable[[PeerLink], None] = lambda link: None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(
            endpoint,
            clock,
            timeout,
            retry=backoff(initial=0.2, cap=2.0, rng=rng),
            name=f"peer link to server {peer.id}",
        )
        self.my_id = my_id
        self.peer = peer
        self.peer_id = peer.id
        self._secret = secret
        self._on_ready = on_ready
        self.state: PeerState | None = None
        self._refusals = 0
        # Keep the link alive (the peer closes connections silent for three
        # heartbeats) and its status fresh between anti-entropy rounds.
        self._heartbeat = LoopingCall(self._beat)
        self._heartbeat.clock = clock
        self._heartbeat_interval = heartbeat / 2

    @inlineCallbacks
    def prepare(self, protocol: LinkProtocol) -> Generator[Deferred[Any], Any, None]:
        """Both sides prove they know the cluster secret before any state moves."""
        nonce = new_nonce()
        answer = yield self.call_on(protocol, PeerHello, server_id=self.my_id, nonce=nonce)
        expected = proof(self._secret, "callee", nonce, answer["nonce"], self.my_id, self.peer_id)
        if answer["server_id"] != self.peer_id or not proofs_match(expected, answer["proof"]):
            self._refusals += 1
            if self._refusals in (1, 10) or self._refusals % 100 == 0:  # not every redial
                log.warn(
                    "peer {peer_id} at {address} failed to prove the cluster secret "
                    "(claims id {claimed}; {count} time(s) so far); not using it. Check "
                    "that all three servers share the [cluster] secret.",
                    peer_id=self.peer_id,
                    address=f"{self.peer.peer_host}:{self.peer.peer_port}",
                    claimed=answer["server_id"],
                    count=self._refusals,
                )
            raise wire.PeerRefused("peer failed to prove the cluster secret")
        mine = proof(self._secret, "caller", nonce, answer["nonce"], self.my_id, self.peer_id)
        yield self.call_on(protocol, PeerProve, proof=mine)

    def became_ready(self) -> None:
        self._refusals = 0
        log.info("peer link to server {peer_id} authenticated", peer_id=self.peer_id)
        if not self._heartbeat.running:
            self._heartbeat.start(self._heartbeat_interval, now=False)
        self._on_ready(self)

    def became_down(self) -> None:
        self.state = None
        if self._heartbeat.running:
            self._heartbeat.stop()
        log.info("peer link to server {peer_id} lost; redialling", peer_id=self.peer_id)

    def stop(self) -> Deferred[None]:
        if self._heartbeat.running:
            self._heartbeat.stop()
        return super().stop()

    def _beat(self) -> None:
        def silent(failure: Failure) -> None:
            log.info(
                "server {peer_id} missed a heartbeat ({error}); redialling",
                peer_id=self.peer_id,
                error=failure.getErrorMessage(),
            )
            self.drop()

        self.poll_status().addErrback(silent)

    def poll_status(self) -> Deferred[PeerState]:
        """Ask the peer for its status, remember and return it."""

        def remember(answer: dict[str, Any]) -> PeerState:
            self.state = PeerState(
                server_id=answer["server_id"],
                clock=answer["clock"],
                games=answer["games"],
                serving=answer["serving"],
                digest=answer["digest"],
                tree=answer["tree"],
                fresh=answer["fresh"],
            )
            return self.state

        return self.call(PeerStatus).addCallback(remember)
