"""``twistd replgame``: the command line of a server (PROTOCOL.md)."""

from __future__ import annotations

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


def makeService(options: Options) -> IService:
    from twisted.internet import reactor

    from game.server.service import ReplgameService

    return ReplgameService(
        options["id"], options.config, options["data"], reactor, rebuild=options["rebuild"]
    )


__all__ = ["Options", "makeService"]
