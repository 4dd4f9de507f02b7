# AMP, TimeoutMixin and Failure have no annotations; calls into them are untyped
# (untyped-calls-exclude misses self. and super() calls), the rest is strict.
# mypy: disable-error-code=no-untyped-call
"""A long-lived AMP connection to one server that redials on its own.

Both a server's links to its peers and a client's links to the three servers
are one of these: a :class:`~twisted.application.internet.ClientService`
with capped, jittered exponential backoff, an optional preparation step
(authentication, re-watching) before the link counts as ready, a timeout on
every call, and a count of the bytes received.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from typing import Any, cast

from twisted.application.internet import ClientService
from twisted.internet import defer
from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory, connectionDone
from twisted.logger import Logger
from twisted.protocols import amp
from twisted.python.failure import Failure

from game import protocol as p
from game.ampframe import BoxParser, FramingError, keys_of
from game.endpoints import send_at_once, stream_transport
from game.lifecycle import Lifecycle

log = Logger(namespace="replgame.link")


class LinkDown(Exception):
    """The link is not connected (and ready) right now."""


class EncodedRequest:
    """A request's arguments encoded once, for :meth:`ReconnectingLink.send`:
    the same strings go to several servers, each link adding its own tag."""

    __slots__ = ("command", "strings")

    def __init__(self, command: type[amp.Command], strings: dict[str, bytes]) -> None:
        self.command = command
        #: The arguments as they go on the wire, by name.
        self.strings = strings


#: ``callRemoteString``'s own parameters, which no argument may be named.
_CALL_PARAMETERS = frozenset({"command", "requiresAnswer"})


def encode_request(command: type[amp.Command], arguments: dict[str, Any]) -> EncodedRequest:
    """Encode a request's arguments as ``callRemote`` would."""
    box = command.makeArguments(arguments, None)
    strings = {key.decode("ascii"): value for key, value in box.items()}
    if _CALL_PARAMETERS & strings.keys():
        raise ValueError(f"{command.commandName!r} has an argument callRemoteString cannot send")
    return EncodedRequest(command, strings)


def _parse_response(box: amp.AmpBox, command: type[amp.Command], protocol: amp.AMP) -> Any:
    response = command.response
    if len(response) == 1 and response[0][0] == b"game" and type(response[0][1]) is amp.Unicode:
        # A game answer, the most common by far: what amp.Unicode parses, directly.
        return {"game": box[b"game"].decode("utf-8")}
    return command.parseResponse(box, protocol)


def _remote_error(failure: Failure, command: type[amp.Command]) -> Failure:
    """What ``callRemote`` makes of an error answer: the exception the
    command declares for its code, else ``UnknownRemoteError``."""
    failure.trap(amp.RemoteAmpError)
    error = cast(amp.RemoteAmpError, failure.value)  # trap (unannotated) let only this through
    declared = {code: error_type for error_type, code in command.errors.items()}
    declared.update({code: error_type for error_type, code in command.fatalErrors.items()})
    error_type = declared.get(error.errorCode, amp.UnknownRemoteError)
    return Failure(error_type(error.description))


def backoff(
    initial: float = 0.2,
    cap: float = 5.0,
    factor: float = 2.0,
    rng: Callable[[], float] = random.random,
) -> Callable[[int], float]:
    """Retry delays growing by ``factor`` up to ``cap``, each scaled by a
    random 50-100% so that many clients do not redial in lockstep."""

    def delay(attempt: int) -> float:
        return min(cap, initial * factor ** min(attempt, 32)) * (0.5 + 0.5 * rng())

    return delay


#: What a server can send us: the answers to every command, and GameChanged.
_ANSWER_KEYS = keys_of(
    (*p.CLIENT_COMMANDS, *p.PEER_COMMANDS, p.GameChanged), arguments=True, responses=True
)
#: Far above any answer of ours (one value is at most 65,535 bytes).
MAX_ANSWER_BYTES = 1 << 20


class LinkProtocol(amp.AMP):
    """Our side of a link: counts what it receives, reports its loss.

    Boxes are parsed by :class:`~game.ampframe.BoxParser` (in bulk), not by
    stock AMP's per-string state machine: a client reads three answers per
    request, and that parsing was most of its work.
    """

    bytes_received = 0
    on_lost: Callable[[LinkProtocol], None] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parser = BoxParser(self.ampBoxReceived, _ANSWER_KEYS, MAX_ANSWER_BYTES, amp.AmpBox)

    def connectionMade(self) -> None:
        super().connectionMade()
        send_at_once(self.transport)

    def dataReceived(self, data: bytes) -> None:
        self.bytes_received += len(data)
        self._parser.feed(data)
        try:
            self._parser.parse()
        except FramingError as error:
            log.warn(
                "dropping the link to {peer}: {error}",
                peer=stream_transport(self).getPeer(),
                error=error,
            )
            stream_transport(self).abortConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        super().connectionLost(reason)
        if self.on_lost is not None:
            self.on_lost(self)

    def call_encoded(self, request: EncodedRequest) -> Deferred[amp.AmpBox]:
        """Send a request encoded by :func:`encode_request`; fires with the
        raw answer box, or fails as ``callRemoteString`` does."""
        answer: Deferred[amp.AmpBox] = self.callRemoteString(
            request.command.commandName, **request.strings
        )
        return answer


class LinkState(enum.Enum):
    """Where a :class:`ReconnectingLink` is.  A lost link is connecting
    again at once: "down" is :attr:`CONNECTING` after :attr:`READY`."""

    #: Not started, or stopped: no connection, no redialling.
    STOPPED = "stopped"
    #: Dialling, or waiting out the backoff before the next attempt.
    CONNECTING = "connecting"
    #: Connected; :meth:`ReconnectingLink.prepare` runs on the connection.
    PREPARING = "preparing"
    READY = "ready"


#: The changes a link's state may make.
LINK_TRANSITIONS: dict[LinkState, frozenset[LinkState]] = {
    LinkState.STOPPED: frozenset({LinkState.CONNECTING}),
    LinkState.CONNECTING: frozenset({LinkState.PREPARING, LinkState.STOPPED}),
    LinkState.PREPARING: frozenset({LinkState.READY, LinkState.CONNECTING, LinkState.STOPPED}),
    LinkState.READY: frozenset({LinkState.CONNECTING, LinkState.STOPPED}),
}


class ReconnectingLink:
    """An AMP link to one server, redialled whenever it drops.

    Subclasses may override :meth:`prepare` (run on every new connection
    before it is ready), :meth:`became_ready` and :meth:`became_down`.

    :param locator: answers commands the server sends us (e.g. GameChanged).
    :param name: what the link is, in the log lines of its state changes.
    """

    def __init__(
        self,
        endpoint: IStreamClientEndpoint,
        clock: IReactorTime,
        timeout: float,
        *,
        retry: Callable[[int], float] | None = None,
        locator: amp.CommandLocator | None = None,
        name: str = "link",
    ) -> None:
        self.clock = clock
        self.timeout = timeout
        self.lifecycle = Lifecycle(LinkState.STOPPED, LINK_TRANSITIONS, log, subject=name)
        self._protocol: LinkProtocol | None = None  # while READY
        self._preparing: LinkProtocol | None = None  # while PREPARING
        self._refused = ""  # why prepare() failed, for the log line of the loss
        self._settle_waiters: list[Deferred[bool]] = []
        self._closed_bytes = 0

        def build() -> LinkProtocol:
            return LinkProtocol(locator=locator) if locator is not None else LinkProtocol()

        factory = Factory.forProtocol(build)
        factory.noisy = False
        self._service = ClientService(
            endpoint,
            factory,
            retryPolicy=retry or backoff(),
            clock=clock,
        )

    # -- lifecycle -----------------------------------------------------------
    #
    # ClientService keeps one TCP connection up.  We prepare each new one
    # ourselves (rather than with ClientService's prepareConnection, which
    # leaves a rejected connection open) and drop it if preparing fails.

    def start(self) -> None:
        self.lifecycle.enter(LinkState.CONNECTING, "started")
        self._service.startService()
        self._await_connection()

    def stop(self) -> Deferred[None]:
        for protocol in (self._protocol, self._preparing):
            if protocol is not None:
                protocol.on_lost = None
        self._protocol = self._preparing = None
        if self.lifecycle.state is not LinkState.STOPPED:
            self.lifecycle.enter(LinkState.STOPPED, "stopped")
        self._settle(False)
        stopped: Deferred[None] = self._service.stopService()
        return stopped

    @property
    def ready(self) -> bool:
        return self.lifecycle.state is LinkState.READY

    @property
    def bytes_received(self) -> int:
        current = self._protocol.bytes_received if self._protocol is not None else 0
        return self._closed_bytes + current

    def settled(self) -> Deferred[bool]:
        """Fires with True once ready, or False once an attempt failed."""
        if self.ready:
            return succeed(True)
        waiter: Deferred[bool] = Deferred()
        self._settle_waiters.append(waiter)
        if self._service.running:
            attempt: Deferred[Any] = self._service.whenConnected(failAfterFailures=1)
            attempt.addErrback(lambda _: self._settle(False))
        return waiter

    def _settle(self, ready: bool) -> None:
        waiters, self._settle_waiters = self._settle_waiters, []
        for waiter in waiters:
            # On a later turn: this may run inside ClientService's state
            # machine, which a waiter calling stop() must not re-enter.
            self.clock.callLater(0, waiter.callback, ready)

    def _await_connection(self) -> None:
        if self._service.running:
            self._service.whenConnected(failAfterFailures=None).addCallbacks(
                self._connected, lambda _: None
            )

    def _connected(self, protocol: LinkProtocol) -> None:
        self._preparing = protocol
        protocol.on_lost = self._lost
        self.lifecycle.enter(LinkState.PREPARING, "connected")

        def prepared(_: object) -> None:
            if self._preparing is protocol:
                self._preparing = None
                self._protocol = protocol
                self.lifecycle.enter(LinkState.READY, "prepared")
                self._settle(True)
                self.became_ready()

        def rejected(failure: Failure) -> None:
            if self._preparing is protocol and protocol.transport is not None:
                self._refused = f"not prepared: {failure.getErrorMessage()}"
                self._settle(False)
                stream_transport(protocol).abortConnection()  # ClientService redials

        self.prepare(protocol).addCallbacks(prepared, rejected)

    def _lost(self, protocol: LinkProtocol) -> None:
        self._closed_bytes += protocol.bytes_received
        if self._preparing is protocol:
            self._preparing = None
            reason, self._refused = self._refused or "lost while preparing", ""
            self.lifecycle.enter(LinkState.CONNECTING, reason)
        elif self._protocol is protocol:
            self._protocol = None
            self.lifecycle.enter(LinkState.CONNECTING, "connection lost")
            self.became_down()
        else:
            return
        # ClientService learns of the loss after us: ask for the next
        # connection once it has.
        self.clock.callLater(0, self._await_connection)

    def drop(self) -> None:
        """Close the current connection (it will be redialled)."""
        if self._protocol is not None and self._protocol.transport is not None:
            stream_transport(self._protocol).abortConnection()

    # -- what subclasses refine ----------------------------------------------

    def prepare(self, protocol: LinkProtocol) -> Deferred[Any]:
        """Make a new connection usable; a failure drops it (and it is redialled)."""
        return succeed(None)

    def became_ready(self) -> None:
        """The link is connected and prepared."""

    def became_down(self) -> None:
        """The link was lost; it is being redialled."""

    # -- calls ---------------------------------------------------------------

    def call(
        self, command: type[amp.Command], timeout: float | None = None, **kwargs: Any
    ) -> Deferred[Any]:
        """Send a command; fails with :class:`LinkDown` if not connected, and
        with ``TimeoutError`` after ``timeout`` (default: the link's)."""
        if self._protocol is None:
            return fail(LinkDown("not connected"))
        return self.call_on(self._protocol, command, timeout, **kwargs)

    def send(self, command: type[amp.Command], request: EncodedRequest) -> Deferred[Any]:
        """Send a request :func:`encode_request` serialized, with no timeout
        (the caller keeps one); answers as :meth:`call`."""
        protocol = self._protocol
        if protocol is None:
            return fail(LinkDown("not connected"))
        answer: Deferred[Any] = protocol.call_encoded(request)
        return answer.addCallbacks(
            _parse_response,
            _remote_error,
            callbackArgs=(command, protocol),
            errbackArgs=(command,),
        )

    def call_on(
        self,
        protocol: amp.AMP,
        command: type[amp.Command],
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Deferred[Any]:
        """Send a command on a given connection (used while preparing it)."""
        deferred: Deferred[Any] = protocol.callRemote(command, **kwargs)
        name = command.commandName.decode("ascii")

        def timed_out(result: Any, seconds: float) -> Any:
            if isinstance(result, Failure) and result.check(CancelledError):
                raise defer.TimeoutError(f"no answer to {name} within {seconds:g} s")
            return result

        limit = self.timeout if timeout is None else timeout
        return deferred.addTimeout(limit, self.clock, onTimeoutCancel=timed_out)
