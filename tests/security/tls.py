"""Real clusters over TLS, built on the integration suite's :mod:`tests.integration.cluster`.

- :func:`add_tls`: a cluster config with ``tls_ca`` in ``[cluster]`` and each
  server listening on ``ssl:PORT:interface=127.0.0.1:privateKey=server-N.pem``.
- :class:`TLSCluster`: a :class:`~tests.integration.cluster.Cluster` whose
  config is :func:`add_tls`'s and whose servers are asked for their status
  over TLS.
- :func:`connect_tls`: an AMP connection verifying the server against a CA
  (the client library's own :func:`game.endpoints.client_endpoint`), or, with
  ``hostname``, against another name.

The certificates come from :func:`game.tlscerts.make_certificates`, the code
behind ``make certs``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.protocol import Protocol
from twisted.internet.ssl import Certificate, optionsForClientTLS

from game import protocol as p
from game.endpoints import client_endpoint
from tests.integration.cluster import ALL, HOST, ClientProtocol, Cluster, Server, call, free_ports


def add_tls(text: str, ca: Path, ports_and_certificates: Iterable[tuple[int, Path]]) -> str:
    """Turn a config written by ``Cluster.config_text`` into its TLS twin."""
    text = text.replace("[cluster]\n", f"[cluster]\ntls_ca = {json.dumps(str(ca))}\n", 1)
    for port, certificate in ports_and_certificates:
        listen = f"ssl:{port}:interface={HOST}:privateKey={certificate}"
        old = f"port = {port}\n"
        assert text.count(old) == 1, f"port {port} is not in the config once"
        text = text.replace(old, f"{old}listen = {json.dumps(listen)}\n")
    return text


async def connect_tls(
    port: int,
    ca: Path,
    timeout: float = 5,
    factory: Callable[[], Protocol] = ClientProtocol,
    hostname: str | None = None,
) -> Any:
    """Connect to ``127.0.0.1:port`` over TLS, verifying against ``ca`` (for
    ``hostname``, by default the address itself, as clients do)."""
    if hostname is None:
        endpoint = client_endpoint(reactor, HOST, port, str(ca), timeout)
    else:
        authority = Certificate.loadPEM(ca.read_bytes())
        endpoint = wrapClientTLS(
            optionsForClientTLS(hostname, trustRoot=authority),
            HostnameEndpoint(reactor, HOST, port, timeout=timeout),
        )
    return await connectProtocol(endpoint, factory()).addTimeout(timeout, reactor)


class TLSServer(Server):
    """A server of a :class:`TLSCluster`: its status is asked over TLS."""

    cluster: TLSCluster

    async def status(self, timeout: float = 2) -> dict[str, Any]:
        connection = await connect_tls(self.port, self.cluster.ca, timeout=timeout)
        try:
            return dict(await call(connection, p.Status, timeout=timeout))
        finally:
            connection.transport.abortConnection()


class TLSCluster(Cluster):
    """Three servers that speak TLS only, with certificates from ``certificates``.

    :param certificates: a directory written by ``make_certificates``.
    :param server_certificates: a certificate file per server id that replaces
        ``certificates/server-N.pem`` (e.g. one signed by another CA).
    """

    def __init__(
        self,
        root: Path,
        certificates: Path,
        server_certificates: dict[int, Path] | None = None,
        **tuning: float | int,
    ) -> None:
        self.ca = certificates / "ca.pem"
        self.certificate_of = {i: certificates / f"server-{i}.pem" for i in ALL}
        self.certificate_of.update(server_certificates or {})
        super().__init__(root, **tuning)

    def _assign_ports(self) -> None:
        for server_id, port in zip(ALL, free_ports(3), strict=True):
            server = self.servers.get(server_id)
            if server is None:
                self.servers[server_id] = TLSServer(self, server_id, port)
            else:
                server.port = port
        self.write_config(self.config_path)

    def config_text(self, secret: str | None = None, **extra_tuning: Any) -> str:
        return add_tls(
            super().config_text(secret, **extra_tuning),
            self.ca,
            [(s.port, self.certificate_of[s.id]) for s in self.servers.values()],
        )
