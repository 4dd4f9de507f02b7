"""``twistd replgame``: the command line of a server (PROTOCOL.md)."""

from __future__ import annotations

import gc
import importlib
import sys

from twisted.application.service import IService
from twisted.python import usage

from game.config import ClusterConfig, ConfigError, default_config, load_config


class Options(usage.Options):
    synopsis = "--id N [--config PATH] [--data DIR] [--rebuild]"
    longdesc = (
        "Run one of the three replgame servers of a cluster.  Without --config, "
        "the built-in local cluster on 127.0.0.1 ports 7301-7303 is used."
    )
    optParameters = [
        ["id", None, None, "this server's id in the config: 1, 2 or 3", int],
        ["config", None, None, "the cluster's TOML config file"],
        ["data", None, None, "data directory (overrides the config's `data`)"],
    ]
    optFlags = [
        ["rebuild", None, "move the database aside and rebuild it from the peers"],
    ]

    config: ClusterConfig

    def postOptions(self) -> None:
        if self["id"] is None:
            raise usage.UsageError("--id is required: which server of the cluster this is (1-3)")
        try:
            self.config = (
                load_config(self["config"]) if self["config"] is not None else default_config()
            )
            server = self.config.server(self["id"])
            self.config.require_secret()
        except ConfigError as error:
            raise usage.UsageError(str(error)) from None
        if self["data"] is None:
            self["data"] = server.data
        # Here, not in makeService: twistd installs its reactor in between,
        # and the reactor's base module is one of those that import pyOpenSSL.
        if not uses_tls(self.config, self["id"]):
            import_twisted_without_tls()


#: Endpoint types that need no TLS machinery.
_PLAIN_ENDPOINTS = ("tcp", "tcp6", "unix")


def uses_tls(config: ClusterConfig, server_id: int) -> bool:
    """Whether this server needs pyOpenSSL: a ``tls_ca``, or a listen endpoint
    other than plain TCP or a UNIX socket (``ssl:``, ``tls:``, a plugin's)."""
    kind = config.server(server_id).listen.split(":", 1)[0].strip().lower()
    return config.tls_ca is not None or kind not in _PLAIN_ENDPOINTS


#: The modules that import pyOpenSSL whenever it is installed (each guards the import).
_IMPORTERS_OF_TLS = (
    "twisted.internet.posixbase",
    "twisted.internet.endpoints",
    "twisted.protocols.amp",
)


def import_twisted_without_tls() -> None:
    """Import the reactor's base, endpoints and AMP without pyOpenSSL.

    Each imports pyOpenSSL (and with it ``cryptography`` and
    ``service_identity``) whenever it is installed: a third of a server's
    imports, for nothing on a cluster without TLS.  Only for a process that
    will never need TLS: the reactor, endpoints and AMP then offer none.
    Does nothing if any of them is imported already.
    """
    if any(name in sys.modules for name in (*_IMPORTERS_OF_TLS, "OpenSSL")):
        return
    sys.modules["OpenSSL"] = None  # type: ignore[assignment]  # "import OpenSSL" now fails
    try:
        for name in _IMPORTERS_OF_TLS:
            importlib.import_module(name)
    finally:
        del sys.modules["OpenSSL"]


def makeService(options: Options) -> IService:
    from twisted.internet import reactor

    # Start-up makes hundreds of thousands of long-lived objects (our
    # modules, then the index): the cyclic collector would traverse them
    # again and again and free nothing.  startService turns it back on once
    # the index is loaded.
    gc.disable()
    from game.server.service import ReplgameService

    return ReplgameService(
        options["id"], options.config, options["data"], reactor, rebuild=options["rebuild"]
    )


__all__ = ["Options", "import_twisted_without_tls", "makeService", "uses_tls"]
