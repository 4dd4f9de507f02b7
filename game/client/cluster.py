"""``replgame cluster``: run the three servers of a cluster as child processes.

The processes are :class:`game.clusterrunner.ClusterRunner`'s; this command
checks the arguments, starts the runner, and prints the servers' status
table once all three serve (or after ``--wait`` seconds).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IReactorCore,
    IReactorFromThreads,
    IReactorProcess,
    IReactorTime,
)
from twisted.internet.task import deferLater

from game.client.client import ReplicatedClient, ServerStatus
from game.client.reports import format_status, status_json
from game.clusterrunner import ClusterError, ClusterRunner, install_signal_handlers
from game.config import ClusterConfig, ConfigError
from game.launcher import fires_when_running

__all__ = ["ClusterError", "run_cluster"]

#: Seconds between status polls while waiting for the servers to serve.
POLL_INTERVAL: Final = 0.5


async def report_when_serving(
    reactor: IReactorTime, runner: ClusterRunner, wait: float, as_json: bool
) -> None:
    """Print the status table once all three serve, or after ``wait`` seconds."""
    client = ReplicatedClient(runner.config, reactor)
    client.start()
    polling = True
    # Stopping the servers ends the poll at once (its requests fail).
    runner.when_stopping(lambda: client.stop() if polling else None)
    deadline = reactor.seconds() + wait
    statuses: Sequence[ServerStatus] = []
    try:
        while not runner.stopping:
            statuses = await client.statuses()
            if runner.stopping:
                return
            if all(s.reachable and s.serving for s in statuses):
                break
            if reactor.seconds() >= deadline:
                late = [s.server_id for s in statuses if not (s.reachable and s.serving)]
                runner.warn(
                    f"after {wait:.0f} s, not serving: "
                    + ", ".join(f"server {i} (see {runner.logfile(i)})" for i in late)
                )
                break
            await deferLater(reactor, POLL_INTERVAL)
        else:
            return
        if as_json:
            data = status_json(runner.config, statuses)
            runner.out.write(json.dumps(data, sort_keys=True) + "\n")
            runner.out.flush()
        else:
            runner.say(format_status(runner.config, statuses))
            runner.say("press Ctrl-C to stop the servers")
    finally:
        polling = False
        await client.stop()


async def run_cluster(
    reactor: IReactorCore, args: argparse.Namespace, config: ClusterConfig
) -> None:
    """The ``replgame cluster`` subcommand.

    :param reactor: the reactor, adapted to each interface a part needs.

    :raises ClusterError: it cannot start (the message says why).
    :raises SystemExit: with 1 if a server exited unexpectedly.
    """
    if getattr(args, "servers", None):
        raise ClusterError(
            "cluster needs --config PATH (a file with the cluster secret), not --servers"
        )
    config_path = os.path.abspath(args.config) if getattr(args, "config", None) else None
    as_json = bool(getattr(args, "json", False))
    runner = ClusterRunner(
        IReactorProcess(reactor), config, config_path, Path(args.run_dir), as_json=as_json
    )
    try:
        config.require_secret()
    except ConfigError as error:
        raise ClusterError(str(error)) from None
    runner.check()
    await fires_when_running(reactor)
    install_signal_handlers(IReactorFromThreads(reactor), runner.on_signal)
    # Whatever stops the reactor, the children go first.
    reactor.addSystemEventTrigger("before", "shutdown", runner.stop)
    runner.start()
    Deferred.fromCoroutine(
        report_when_serving(IReactorTime(reactor), runner, args.wait, as_json)
    ).addErrback(
        lambda failure: runner.warn(f"replgame: status polling failed: {failure.getErrorMessage()}")
    )
    code = await runner.finished
    if code:
        raise SystemExit(code)
