# twisted.web's Resource, Request and Site have no annotations: calls into them are
# untyped, the rest is strict.
# mypy: disable-error-code=no-untyped-call
"""The operators' HTTP face of a server (PROTOCOL.md, "Operators' HTTP
endpoints"): ``/livez``, ``/readyz`` and ``/metrics``, as a twisted.web site.

``/metrics`` renders the server's registry in the reactor thread, not
through prometheus_client's ``MetricsResource`` (a WSGI app in the reactor's
thread pool): the families read from the node at scrape time must not be
read while the reactor changes them, and it would need the global reactor.
A scrape therefore holds the reactor for as long as it renders: about 6 us
per sample in ``generate_latest`` (1.2 ms for the ~200 samples of a server
answering 7 commands; a command's duration histogram is 19 samples) plus
~0.15 us per game held (``replgame_games`` counts the index).
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from twisted.web.resource import Resource
from twisted.web.server import Request, Site


class Livez(Resource):
    """200 while the process runs (it answers, so it runs)."""

    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return b"ok\n"


class Readyz(Resource):
    """200 while the server serves; 503 with the reason on one line otherwise.

    :param not_ready: the reason it does not serve, or ``None`` while it
        does (:meth:`game.server.node.ServerNode.not_ready_reason`).
    """

    isLeaf = True

    def __init__(self, not_ready: Callable[[], str | None]) -> None:
        super().__init__()
        self.not_ready = not_ready

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        reason = self.not_ready()
        if reason is None:
            return b"ok\n"
        request.setResponseCode(503)
        return reason.replace("\n", " ").encode("utf-8") + b"\n"


class MetricsPage(Resource):
    """The registry in Prometheus' text format."""

    isLeaf = True

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__()
        self.registry = registry

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", CONTENT_TYPE_LATEST.encode("ascii"))
        return generate_latest(self.registry)


def operator_root(registry: CollectorRegistry, not_ready: Callable[[], str | None]) -> Resource:
    """The resource tree: ``/livez``, ``/readyz``, ``/metrics``."""
    root = Resource()
    root.putChild(b"livez", Livez())
    root.putChild(b"readyz", Readyz(not_ready))
    root.putChild(b"metrics", MetricsPage(registry))
    return root


def operator_site(registry: CollectorRegistry, not_ready: Callable[[], str | None]) -> Site:
    """The HTTP factory of the ``metrics`` endpoint (no access log: a
    scrape every few seconds would fill the server's log)."""
    site = Site(operator_root(registry, not_ready))
    site.log = lambda request: None  # type: ignore[method-assign]
    return site
