"""``replgame``: the command line of the replicated client.

Every subcommand talks to the three servers of a cluster (``--config PATH``,
``--servers HOST:PORT,HOST:PORT,HOST:PORT``, or the built-in local cluster),
waits until each reachable server is linked, then sends its requests to all
of them.  Output is text for people, or with ``--json`` one JSON object per
result.  An answer that no two servers gave alike is *provisional*: the text
says so on a ``PROVISIONAL:`` line and the JSON has ``"provisional": true``.
A failure prints one line ``replgame: REASON`` on stderr and exits 1.

Seat tokens are kept in :class:`~game.client.tokens.TokenStore`, per
cluster, so ``move``, ``resign`` and ``draw`` find the user's seat.

The parts: :mod:`.parser` (the arguments), :mod:`.session` (one run's
client, seats and output), :mod:`.commands` and :mod:`.watch` (the
commands), :mod:`.choices` (seat and draw decisions, pure) and
:mod:`game.client.reports` (what is printed, pure).  This module is the
console script: :func:`main` runs one command on the global reactor.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorCore, IReactorTime
from twisted.internet.task import deferLater, react

from game.client.cli.choices import CliError
from game.client.cli.commands import COMMANDS
from game.client.cli.parser import build_parser
from game.client.cli.session import Session
from game.client.client import NoAnswer, NoServers
from game.client.options import resolve_config
from game.client.reports import PROG
from game.config import ConfigError


def fail(message: str, data: Mapping[str, Any] | None = None, as_json: bool = False) -> NoReturn:
    """Print ``replgame: MESSAGE`` (and with ``--json`` the data) and exit 1."""
    if as_json:
        sys.stdout.write(
            json.dumps({"error_message": message, **(data or {})}, sort_keys=True) + "\n"
        )
        sys.stdout.flush()
    sys.stderr.write(f"{PROG}: {message}\n")
    sys.stderr.flush()
    raise SystemExit(1)


async def run(reactor: IReactorCore, args: argparse.Namespace) -> None:
    """Run one subcommand (the ``main`` of :func:`twisted.internet.task.react`)."""
    as_json = bool(getattr(args, "json", False))
    try:
        config = resolve_config(args)
    except ConfigError as error:
        fail(str(error), as_json=as_json)
    if args.command == "cluster":
        from game.client.cluster import ClusterError, run_cluster

        try:
            await run_cluster(reactor, args, config)
        except ClusterError as error:
            # What keeps the servers from starting; said without --json's data.
            fail(str(error))
        return
    clock = IReactorTime(reactor)
    session = Session(clock, args, config)
    try:
        await COMMANDS[args.command](session)
    except CliError as error:
        fail(error.message, error.data, as_json)
    except (NoServers, NoAnswer) as error:
        fail(str(error), as_json=as_json)
    finally:
        # Not from inside a link's callback: ClientService refuses a stop
        # while it is still firing the connection attempt's result.
        session.closing = True
        await deferLater(clock, 0)
        await session.client.stop()


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """The ``replgame`` console script."""
    args = build_parser().parse_args(argv)
    react(lambda reactor: Deferred.fromCoroutine(run(reactor, args)))
