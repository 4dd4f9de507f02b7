# twisted.web.client has no annotations: calls into it are untyped, the rest is strict.
# mypy: disable-error-code=no-untyped-call
"""Whether a server's metrics endpoint answers: one ``GET /livez`` each,
for ``replgame status`` (:class:`~game.client.serverinfo.MetricsCheck`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.interfaces import IReactorTCP, IReactorTime
from twisted.python.failure import Failure
from twisted.web.client import Agent, readBody

from game.client.serverinfo import MetricsCheck, NotHttpTcp, ServerInfo, http_target
from game.config import ClusterConfig

#: How long one probe may take, connecting included.
PROBE_TIMEOUT = 2.0


def livez_url(host: str, port: int) -> bytes:
    """``http://host:port/livez`` (an IPv6 address in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/livez".encode("ascii")


def probe_livez(
    reactor: Any, endpoint: str, server_host: str, timeout: float = PROBE_TIMEOUT
) -> Deferred[MetricsCheck]:
    """``GET /livez`` on a metrics endpoint; never fails.

    :param reactor: an ``IReactorTCP`` and ``IReactorTime``.
    :param endpoint: the endpoint string the server listens on.
    :param server_host: the server's host, dialled when the endpoint
        names no interface.
    """
    try:
        host, port = http_target(endpoint, server_host)
    except NotHttpTcp as error:
        return succeed(MetricsCheck(endpoint, False, str(error)))
    # The timeout below covers the connecting too, cancelling it.
    agent = Agent(IReactorTCP(reactor))
    asked: Deferred[Any] = agent.request(b"GET", livez_url(host, port))

    def answered(response: Any) -> Deferred[MetricsCheck]:
        def read(body: bytes) -> MetricsCheck:
            if response.code == 200:
                return MetricsCheck(endpoint, True)
            return MetricsCheck(endpoint, False, f"HTTP {response.code}")

        body: Deferred[bytes] = readBody(response)
        return body.addCallback(read)

    def failed(failure: Failure) -> MetricsCheck:
        return MetricsCheck(endpoint, False, _short_error(failure))

    def too_late(result: object, seconds: float) -> MetricsCheck:
        # Whatever the cancelled request failed with (ConnectingCancelledError, ...).
        return MetricsCheck(endpoint, False, f"no answer within {seconds:g} s")

    checked: Deferred[MetricsCheck] = asked.addCallback(answered).addErrback(failed)
    return checked.addTimeout(timeout, IReactorTime(reactor), onTimeoutCancel=too_late)


def _short_error(failure: Failure) -> str:
    """A connection error in a few words (Twisted's own are sentences)."""
    reasons = getattr(failure.value, "reasons", None)  # ResponseFailed and the like
    if reasons and isinstance(reasons[0], Failure):
        return _short_error(reasons[0])
    error = failure.value
    text = str(getattr(error, "osError", "") or "") or failure.getErrorMessage()
    name = type(error).__name__
    if name == "ConnectionRefusedError" or "refused" in text.lower():
        return "connection refused"
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:80]
    return name


def check_metrics(
    reactor: Any,
    config: ClusterConfig,
    infos: Mapping[int, ServerInfo | None],
    timeout: float = PROBE_TIMEOUT,
) -> Deferred[dict[int, MetricsCheck]]:
    """Probe every server's metrics endpoint at once.

    The endpoint is the one the server reports (``ServerInfo``), else the
    one in ``config``; neither: not configured.
    """
    ids = [server.id for server in config.servers]
    probes: list[Deferred[MetricsCheck]] = []
    for server in config.servers:
        info = infos.get(server.id)
        endpoint = info.metrics if info is not None else server.metrics
        if endpoint is None:
            probes.append(succeed(MetricsCheck(None)))
        else:
            probes.append(probe_livez(reactor, endpoint, server.host, timeout))
    return DeferredList(probes).addCallback(
        lambda results: {
            server_id: check for server_id, (_, check) in zip(ids, results, strict=True)
        }
    )
