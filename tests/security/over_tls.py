"""A pytest plugin that runs a real-cluster suite over TLS.

::

    .venv/bin/python -m pytest tests/integration -p tests.security.over_tls -p no:cacheprovider -q

At start-up it makes a local CA and three server certificates
(:func:`game.tlscerts.make_certificates`), then makes every
:class:`~tests.integration.cluster.Cluster` write a TLS config (``tls_ca``,
``ssl:`` listen endpoints) and every connection the suite opens with
``tests.integration.cluster.connect`` (clients, status checks, raw
connections) a TLS connection verified against that CA.  The servers and the
CLI read the config, so their peer links and client links use TLS as they
would in production.  Nothing in the suite changes; it must be imported
before the suite's modules, which ``-p`` does.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.protocol import Protocol

from game.tlscerts import make_certificates
from tests.integration import cluster as real
from tests.security.tls import add_tls, connect_tls

_CERTIFICATES = Path(tempfile.mkdtemp(prefix="replgame-tls-"))


def pytest_configure(config: pytest.Config) -> None:
    make_certificates(_CERTIFICATES)
    ca = _CERTIFICATES / "ca.pem"
    plain_config_text = real.Cluster.config_text

    def config_text(self: real.Cluster, secret: str | None = None, **extra: Any) -> str:
        servers = [(s.port, _CERTIFICATES / f"server-{s.id}.pem") for s in self.servers.values()]
        return add_tls(plain_config_text(self, secret, **extra), ca, servers)

    async def connect(
        port: int, timeout: float = 5, factory: Callable[[], Protocol] = real.ClientProtocol
    ) -> Any:
        return await connect_tls(port, ca, timeout=timeout, factory=factory)

    real.Cluster.config_text = config_text  # type: ignore[method-assign]
    real.connect = connect
    config.addinivalue_line("markers", "over_tls: the run uses TLS everywhere")


def pytest_report_header(config: pytest.Config) -> str:
    return f"over TLS: certificates in {_CERTIFICATES}"


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_CERTIFICATES, ignore_errors=True)
