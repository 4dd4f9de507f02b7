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
from collections.abc import Callable
from typing import Any

import attrs
from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet.defer import Deferred, fail, inlineCallbacks
from twisted.internet.interfaces import IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.protocols import amp
from twisted.python.failure import Failure

from game import errors as wire
from game.config import ServerConfig
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


class PeerUnavailable(Exception):
    """The peer is not connected and authenticated right now."""


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


class LinkProtocol(amp.AMP):
    """Our side of a link we dialled: counts what it receives."""

    bytes_received = 0
    on_lost: Callable[[LinkProtocol], None] | None = None

    def dataReceived(self, data: bytes) -> None:
        self.bytes_received += len(data)
        super().dataReceived(data)

    def connectionLost(self, reason: Failure) -> None:
        super().connectionLost(reason)
        if self.on_lost is not None:
            self.on_lost(self)


class PeerLink:
    """The authenticated outgoing link to one peer; reconnects on its own.

    :param on_ready: called with this link each time it (re)authenticates.
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
        on_ready: Callable[[PeerLink], None] = lambda link: None,
    ) -> None:
        self.my_id = my_id
        self.peer = peer
        self.peer_id = peer.id
        self._secret = secret
        self._clock = clock
        self.timeout = timeout
        self._on_ready = on_ready
        self._protocol: LinkProtocol | None = None
        self.state: PeerState | None = None
        self.bytes_received_closed = 0  # from connections already gone
        self._refusals = 0
        self._service = ClientService(
            endpoint,
            Factory.forProtocol(LinkProtocol),
            retryPolicy=backoffPolicy(initialDelay=0.2, maxDelay=2.0),
            clock=clock,
            prepareConnection=self._authenticate,
        )

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        self._service.startService()
        self._service.whenConnected(failAfterFailures=None).addCallbacks(
            self._connected, lambda _: None
        )

    def stop(self) -> Deferred[None]:
        self._protocol = None
        return self._service.stopService()  # type: ignore[no-any-return]

    @property
    def ready(self) -> bool:
        return self._protocol is not None

    @property
    def bytes_received(self) -> int:
        current = self._protocol.bytes_received if self._protocol is not None else 0
        return self.bytes_received_closed + current

    @inlineCallbacks
    def _authenticate(self, protocol: LinkProtocol) -> Any:
        nonce = new_nonce()
        answer = yield protocol.callRemote(PeerHello, server_id=self.my_id, nonce=nonce).addTimeout(
            self.timeout, self._clock
        )
        expected = proof(self._secret, "callee", nonce, answer["nonce"], self.my_id, self.peer_id)
        if answer["server_id"] != self.peer_id or not proofs_match(expected, answer["proof"]):
            self._refusals += 1
            log.warn(
                "peer {peer_id} at {address} failed to prove the cluster secret "
                "(claims id {claimed}); not using it",
                peer_id=self.peer_id,
                address=f"{self.peer.peer_host}:{self.peer.peer_port}",
                claimed=answer["server_id"],
            )
            protocol.transport.loseConnection()
            raise wire.PeerRefused("peer failed to prove the cluster secret")
        mine = proof(self._secret, "caller", nonce, answer["nonce"], self.my_id, self.peer_id)
        yield protocol.callRemote(PeerProve, proof=mine).addTimeout(self.timeout, self._clock)

    def _connected(self, protocol: LinkProtocol) -> None:
        self._protocol = protocol
        protocol.on_lost = self._lost
        log.info("peer link to server {peer_id} authenticated", peer_id=self.peer_id)
        self._on_ready(self)

    def _lost(self, protocol: LinkProtocol) -> None:
        self.bytes_received_closed += protocol.bytes_received
        if self._protocol is not protocol:
            return
        self._protocol = None
        self.state = None
        log.info("peer link to server {peer_id} lost; redialling", peer_id=self.peer_id)
        if self._service.running:
            self._service.whenConnected(failAfterFailures=None).addCallbacks(
                self._connected, lambda _: None
            )

    # -- calls ---------------------------------------------------------------

    def call(
        self, command: type[amp.Command], timeout: float | None = None, **kwargs: Any
    ) -> Deferred[Any]:
        """Send a peer command; fails with PeerUnavailable if not linked."""
        if self._protocol is None:
            return fail(PeerUnavailable(f"no link to server {self.peer_id}"))
        return self._protocol.callRemote(command, **kwargs).addTimeout(
            self.timeout if timeout is None else timeout, self._clock
        )

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
