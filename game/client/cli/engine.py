"""``replgame engine --level N [--kind K] [--games M]``: the computer in the lobby.

Keeps M open games named ``computer (level N)`` in the lobby
(:class:`~game.client.computer.HouseGames`), plays whoever joins each, and
opens a new one whenever one starts, until Ctrl-C.  One line on stderr per
game opened, started and ended.  On Ctrl-C it stops its searches and
cancels the games still open (nobody would answer whoever joined them);
games being played are left as they are.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorCore

from game.client.cli.session import Session
from game.client.computer import HouseGames
from game.client.searchpool import PoolSearch
from game.engine import HIGHEST, LOWEST
from game.rules import KINDS

#: Seconds Ctrl-C waits for the open games' cancels.
CANCEL_WAIT = 3.0


def add_engine_command(
    command: Callable[[str, str, str], argparse.ArgumentParser],
    positive: Callable[[str], int],
    player: Callable[[str], str],
    clock: Callable[[str], str],
) -> None:
    """Add ``engine`` to ``replgame``'s parser (the argument types are the parser's)."""
    engine = command(
        "engine",
        "keep open games of the computer in the lobby and play whoever joins, until Ctrl-C",
        "Keep M open games named 'computer (level N)' in the lobby (each kind in turn "
        "unless --kind is given) and play whoever joins them, opening a new game as soon "
        "as one starts; on Ctrl-C the games still open are cancelled.",
    )
    engine.add_argument(
        "--level",
        type=int,
        choices=range(LOWEST, HIGHEST + 1),
        required=True,
        metavar="N",
        help=f"the computer's strength, {LOWEST} (beginner) to {HIGHEST} (strongest)",
    )
    engine.add_argument("--kind", choices=KINDS, help="open games of this kind only")
    engine.add_argument(
        "--games",
        type=positive,
        metavar="M",
        help="open games kept in the lobby (default: one per kind)",
    )
    engine.add_argument(
        "--name",
        type=player,
        metavar="NAME",
        help="the computer's player name (default 'computer (level N)')",
    )
    engine.add_argument(
        "--clock", type=clock, metavar="CONTROL", help="open timed games (e.g. live:300+5)"
    )


async def cmd_engine(session: Session) -> None:
    """Play as the computer until Ctrl-C (the reactor's shutdown)."""
    args = session.args
    await session.connect()
    search = PoolSearch(session.reactor)
    search.start()
    games = args.games or (1 if args.kind else len(KINDS))
    house = HouseGames(
        session.client,
        args.level,
        games,
        args.kind,
        search,
        session.reactor,
        name=args.name,
        announce=lambda line: print(line, file=sys.stderr, flush=True),
        time_control=getattr(args, "clock", None),
    )
    stopped: Deferred[None] = Deferred()

    def shutting_down() -> Deferred[object]:
        session.closing = True
        search.stop()
        cancels = house.stop()
        cancels.addTimeout(CANCEL_WAIT, session.reactor)

        def done(_: object) -> None:
            if not stopped.called:
                stopped.callback(None)

        cancels.addBoth(done)
        return cancels

    IReactorCore(session.reactor).addSystemEventTrigger("before", "shutdown", shutting_down)
    house.start()
    await stopped
