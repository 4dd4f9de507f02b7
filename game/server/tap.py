# Twisted's service framework has no annotations: calls into it are untyped, the rest is strict.
# mypy: untyped-calls-exclude=twisted.application
"""``twistd replgame``: the command line of a server (PROTOCOL.md), and its
service tree (:mod:`game.server.service`), composed without any I/O."""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.application.internet import TimerService
from twisted.application.service import IService, MultiService
from twisted.internet.interfaces import IReactorCore, IReactorTCP, IReactorTime
from twisted.python import usage

from game.config import ClusterConfig, ConfigError, default_config, load_config
from game.server.logformat import LOG_FORMATS, JsonLog

if TYPE_CHECKING:  # imported by makeService, after the reactor (see game.server.startup)
    from game.server.peers import PeerLink


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
        [
            "clock-offset-ms",
            None,
            0,
            "FOR TESTS ONLY: add this many ms to the server's wall clock "
            "(Status.now, timed games' checks and timeouts)",
            int,
        ],
        ["log-format", None, "text", "text (twistd's) or json: one JSON object per line"],
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
        if self["log-format"] not in LOG_FORMATS:
            raise usage.UsageError(f"--log-format is text or json, not {self['log-format']!r}")


def makeService(options: Options, reactor: IReactorCore | None = None) -> MultiService:
    """The server: a :class:`~game.server.service.ServerService` whose named
    children start in this order and stop in reverse.

    :param reactor: for tests; twistd's is the global reactor.
    """
    config, server_id = options.config, options["id"]
    if reactor is None:
        from game.server.startup import server_reactor

        # Before any other import of Twisted's networking: it decides
        # whether they come with TLS.
        reactor = server_reactor(config, server_id)
    clock = IReactorTime(reactor)

    from game.server.service import (
        Listener,
        MetricsListener,
        NodeService,
        PeerLinksService,
        ServerService,
        StorageService,
        peer_endpoints,
    )

    links: dict[int, PeerLink] = {}  # filled by the peers service, read by the node
    server = ServerService(server_id, config, options["data"])
    if options["log-format"] == "json":
        # twistd's options, whose --logfile the JSON goes to (none in tests).
        server.log_observer = JsonLog(getattr(options, "parent", None) or {})
    storage = StorageService(options["data"], clock, rebuild=options["rebuild"])
    node = NodeService(
        server_id, config, storage, links, clock, reactor, options["clock-offset-ms"]
    )
    anti_entropy = TimerService(config.tuning.anti_entropy_interval, node.anti_entropy_round)
    anti_entropy.clock = clock
    peers = PeerLinksService(
        server_id,
        config,
        links,
        clock,
        dial=peer_endpoints(IReactorTCP(reactor), config),
        on_ready=node.peer_ready,
    )
    listener = Listener(reactor, config.server(server_id).listen, node.server_factory)
    children: list[tuple[str, IService]] = [
        ("storage", storage),
        ("anti-entropy", anti_entropy),
        ("peers", peers),
        ("node", node),
        ("listener", listener),
    ]
    # Last: a port in use for the AMP listener is reported first, as before.
    metrics_endpoint = config.server(server_id).metrics
    if metrics_endpoint is not None:
        children.append(("metrics", MetricsListener(reactor, metrics_endpoint, node)))
    for name, child in children:
        child.setName(name)
        child.setServiceParent(server)
    return server
