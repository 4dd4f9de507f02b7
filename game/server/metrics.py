"""The metric families of PROTOCOL.md ("Operators' HTTP endpoints"), over a
registry of one server (not prometheus_client's global one, so that tests
can build several servers in one process).

What mirrors the server's state (serving, clock, games, peers, connections,
watches) and the counts the node keeps as plain integers (catch-ups, events
adopted, timeouts) are read at scrape time by :class:`NodeCollector`: the
hot path only adds one to an int.  Requests and commits are observed on
their paths, through label children bound once per command
(:class:`CommandMetrics`), so a request costs two method calls and no dict.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

#: What triggers a catch-up (``replgame_catch_ups_total``'s ``trigger``).
CATCH_UP_TRIGGERS = ("startup", "on_demand", "anti_entropy", "read_repair")
#: A commit including its fsync: 50 us (tmpfs, one write) to 1 s (a slow disk).
COMMIT_BUCKETS = (
    50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 0.1, 0.25, 0.5, 1.0,
)  # fmt: skip
#: Writes sharing one commit: 1 when idle, hundreds under load.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
#: A request from its arrival to its answer: a read (about 0.1 ms), a change
#: and its commit (about 1 ms), a catch-up (up to catchup_timeout).  Ten
#: buckets, since each command's histogram is most of a scrape's lines.
REQUEST_BUCKETS = (250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 0.1, 0.5, 2.5)

#: Every family a server exports (checked by the tests and the dashboard's).
FAMILIES = (
    "replgame_serving",
    "replgame_clock",
    "replgame_games",
    "replgame_requests_total",
    "replgame_request_duration_seconds",
    "replgame_commit_duration_seconds",
    "replgame_changes_per_commit",
    "replgame_peer_up",
    "replgame_catch_ups_total",
    "replgame_events_adopted_total",
    "replgame_client_connections",
    "replgame_watches",
    "replgame_timeouts_total",
)


class CommandMetrics:
    """The label children of one command, bound once.

    :ivar started: the timer (``time.perf_counter``), read when a request arrives.
    """

    __slots__ = ("_duration", "_errors", "_ok", "_requests", "command", "started")

    def __init__(self, metrics: ServerMetrics, command: str) -> None:
        self.command = command
        self.started = metrics.timer
        self._requests = metrics.requests
        self._ok = metrics.requests.labels(command, "ok")
        self._duration = metrics.request_duration.labels(command)
        self._errors: dict[bytes, Counter] = {}

    def answered(self, started: float) -> None:
        """A request that arrived at ``started`` was answered."""
        self._ok.inc()
        self._duration.observe(self.started() - started)

    def refused(self, started: float, tag: bytes) -> None:
        """A request that arrived at ``started`` was answered with error ``tag``."""
        child = self._errors.get(tag)
        if child is None:
            label = tag.decode("ascii", "replace")
            child = self._errors[tag] = self._requests.labels(self.command, label)
        child.inc()
        self._duration.observe(self.started() - started)


class ServerMetrics:
    """The families of one server, in :attr:`registry`.

    :param timer: seconds for durations (``time.perf_counter``; tests pass a fake).
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        # No `_created` series (an eighth of a scrape's lines, which nothing
        # here reads).  Process-wide: prometheus_client has no switch per registry.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry = CollectorRegistry() if registry is None else registry
        self.timer = timer
        self.requests = Counter(
            "replgame_requests",
            "Requests answered, by command and result (ok or the error tag).",
            ["command", "result"],
            registry=registry,
        )
        self.request_duration = Histogram(
            "replgame_request_duration_seconds",
            "From a request's arrival to its answer (after the commit that makes it durable).",
            ["command"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.commit_duration = Histogram(
            "replgame_commit_duration_seconds",
            "One group commit, including its fsync.",
            buckets=COMMIT_BUCKETS,
            registry=registry,
        )
        self.changes_per_commit = Histogram(
            "replgame_changes_per_commit",
            "Writes that shared one group commit.",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self._commands: dict[bytes, CommandMetrics] = {}

    def command(self, name: bytes) -> CommandMetrics:
        """The children of command ``name`` (an AMP command name), bound once."""
        bound = self._commands.get(name)
        if bound is None:
            bound = self._commands[name] = CommandMetrics(self, name.decode("ascii", "replace"))
        return bound

    def committed(self, seconds: float, changes: int) -> None:
        """A group commit of ``changes`` writes took ``seconds``
        (:attr:`game.server.commit.GroupCommitter.on_commit`)."""
        self.commit_duration.observe(seconds)
        self.changes_per_commit.observe(changes)

    def watch(self, node: Any, connections: Callable[[], int]) -> None:
        """Export ``node``'s state, read at each scrape.

        :param node: a :class:`game.server.node.ServerNode` (not imported:
            the node imports this module).

        :param connections: how many client (not peer) connections are open.
        """
        self.registry.register(NodeCollector(node, connections))


class NodeCollector(Collector):
    """The families read from a node at scrape time (in the reactor thread:
    the node's state is not safe to read from another one)."""

    def __init__(self, node: Any, connections: Callable[[], int]) -> None:
        self.node = node
        self.connections = connections

    def collect(self) -> Iterator[Metric]:
        node = self.node
        replica = node.replica
        yield GaugeMetricFamily(
            "replgame_serving", "1 while the server serves clients, else 0.", value=node.serving
        )
        yield GaugeMetricFamily(
            "replgame_clock", "The sum of the versions of the games held.", value=replica.clock
        )
        games = GaugeMetricFamily(
            "replgame_games", "Games held, by kind and status.", labels=["kind", "status"]
        )
        tally = replica.census()
        for (kind, status), count in sorted(tally.items()):
            games.add_metric([kind, status], count)
        yield games
        peers = GaugeMetricFamily(
            "replgame_peer_up", "1 while the link to a peer is authenticated.", labels=["peer"]
        )
        for peer_id, link in sorted(node.links.items()):
            peers.add_metric([str(peer_id)], link.ready)
        yield peers
        catch_ups = CounterMetricFamily(
            "replgame_catch_ups", "Catch-ups started, by trigger.", labels=["trigger"]
        )
        for trigger in CATCH_UP_TRIGGERS:
            catch_ups.add_metric([trigger], node.catch_ups[trigger])
        yield catch_ups
        yield CounterMetricFamily(
            "replgame_events_adopted",
            "Events adopted from peers (catch-up, repair, rebuild, forks).",
            value=node.sync.events_adopted,
        )
        yield GaugeMetricFamily(
            "replgame_client_connections", "Open client connections.", value=self.connections()
        )
        yield GaugeMetricFamily(
            "replgame_watches",
            "Watches registered (one per connection and game).",
            value=node.watch_count,
        )
        timeouts = CounterMetricFamily(
            "replgame_timeouts",
            "Timed games ended on time, by who ended them (a client's claim or this server).",
            labels=["by"],
        )
        timeouts.add_metric(["claim"], node.timeouts_claimed)
        timeouts.add_metric(["server"], node.timeouts.ended)
        yield timeouts
