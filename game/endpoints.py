"""Client-side endpoints to servers: plain TCP, or TLS verified against a CA;
and the transports of our connections, as our protocols use them."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, cast

from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import (
    IAddress,
    IPushProducer,
    IReactorTCP,
    IStreamClientEndpoint,
)
from twisted.internet.protocol import BaseProtocol


def client_endpoint(
    reactor: IReactorTCP, host: str, port: int, tls_ca: str | None = None, timeout: float = 5
) -> IStreamClientEndpoint:
    """An endpoint to ``host:port``; with ``tls_ca``, TLS that verifies the
    server's certificate (for ``host``) against that CA.

    :param reactor: the reactor, which connects (``HostnameEndpoint`` also
        resolves ``host`` and times its attempts on it).
    """
    tcp = HostnameEndpoint(reactor, host, port, timeout=timeout)
    if tls_ca is None:
        return tcp
    from twisted.internet.ssl import Certificate, optionsForClientTLS

    authority = Certificate.loadPEM(Path(tls_ca).read_bytes())
    return wrapClientTLS(optionsForClientTLS(host, trustRoot=authority), tcp)


def send_at_once(transport: object) -> None:
    """Turn off Nagle's algorithm on a TCP (or TLS over TCP) transport.

    Our traffic is small boxes, several in flight on one connection: Nagle
    would hold a box back until the previous one is acknowledged.
    """
    set_no_delay = getattr(transport, "setTcpNoDelay", None)
    if set_no_delay is not None:
        set_no_delay(True)


class StreamTransport(Protocol):
    """A connected protocol's transport as ours use it: TCP or TLS over TCP
    (``ITCPTransport``), which is also the ``IConsumer`` of our output and
    the ``IPushProducer`` of our input.  Twisted types ``transport`` as
    ``ITransport | None``, and zope interfaces cannot be intersected."""

    def getPeer(self) -> IAddress: ...

    def loseConnection(self) -> None: ...

    def abortConnection(self) -> None: ...

    def registerProducer(self, producer: IPushProducer, streaming: bool) -> None: ...

    def pauseProducing(self) -> None: ...

    def resumeProducing(self) -> None: ...


def stream_transport(protocol: BaseProtocol) -> StreamTransport:
    """``protocol``'s transport, once it is connected (a cast: see
    :class:`StreamTransport`)."""
    return cast(StreamTransport, protocol.transport)
