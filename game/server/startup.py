"""Start-up without pyOpenSSL: the global reactor for a server that needs no TLS.

Twisted's reactor base, its endpoints and AMP each import pyOpenSSL (and
with it ``cryptography`` and ``service_identity``) whenever it is installed.
A server of a cluster without TLS never uses them.  Measured (an empty
database, exec to "listening on", median of 9 alternating runs): 0.25 s of
CPU instead of 0.31 s, wall 0.63 s instead of 0.74 s; 68 fewer modules, whose
own import time (``python -X importtime``, median of 5) was 0.13 s.

It must run before the first import of any of those modules: under
``twistd`` that is the reactor's installation, which happens at
``from twisted.internet import reactor`` in ``makeService`` (twistd itself
has not imported the reactor when it calls ``makeService``, unless
``--reactor`` was given).
"""

from __future__ import annotations

import importlib
import sys

from twisted.internet.interfaces import IReactorCore

from game.config import ClusterConfig

#: Endpoint types that need no TLS machinery.
_PLAIN_ENDPOINTS = ("tcp", "tcp6", "unix")

#: The modules that import pyOpenSSL whenever it is installed (each guards the import).
_IMPORTERS_OF_TLS = (
    "twisted.internet.posixbase",
    "twisted.internet.endpoints",
    "twisted.protocols.amp",
)


def uses_tls(config: ClusterConfig, server_id: int) -> bool:
    """Whether this server needs pyOpenSSL: a ``tls_ca``, or a listen endpoint
    other than plain TCP or a UNIX socket (``ssl:``, ``tls:``, a plugin's)."""
    kind = config.server(server_id).listen.split(":", 1)[0].strip().lower()
    return config.tls_ca is not None or kind not in _PLAIN_ENDPOINTS


def import_twisted_without_tls() -> None:
    """Import the reactor's base, endpoints and AMP without pyOpenSSL.

    Only for a process that will never need TLS: the reactor, endpoints and
    AMP then offer none.  Does nothing if any of them is imported already.
    """
    if any(name in sys.modules for name in (*_IMPORTERS_OF_TLS, "OpenSSL")):
        return
    sys.modules["OpenSSL"] = None  # type: ignore[assignment]  # "import OpenSSL" now fails
    try:
        for name in _IMPORTERS_OF_TLS:
            importlib.import_module(name)
    finally:
        del sys.modules["OpenSSL"]


def server_reactor(config: ClusterConfig, server_id: int) -> IReactorCore:
    """The global reactor, installed (if it is not yet) without pyOpenSSL
    when this server needs no TLS.  For ``makeService`` only."""
    if not uses_tls(config, server_id):
        import_twisted_without_tls()
    from twisted.internet import reactor

    return reactor
