"""The ``replgame`` command's arguments: one ``argparse`` parser with a
subparser per command, and the cluster the arguments name.

The options every command takes (the cluster, ``--json``) are accepted
before or after the command's name.
"""

from __future__ import annotations

import argparse

from game import protocol as p
from game.client.cli.engine import add_engine_command
from game.client.cli.offers import add_offer_commands
from game.client.cli.records import add_record_commands
from game.client.options import add_cluster_options
from game.client.reports import PROG
from game.rules import KINDS
from game.timecontrol import InvalidTimeControl, parse_time_control


def _common(parser: argparse.ArgumentParser, top: bool) -> None:
    """Options every subcommand takes, before or after the subcommand name.

    On subparsers the defaults are suppressed, so that an option given before
    the subcommand is not reset by the subparser.
    """
    add_cluster_options(parser, suppress_defaults=not top)
    parser.add_argument(
        "--json",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="print one JSON object per result instead of text",
    )


def _seat(value: str) -> int:
    if value not in ("0", "1"):
        raise argparse.ArgumentTypeError("a seat is 0 (black, moves first) or 1 (white)")
    return int(value)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _player(value: str) -> str:
    try:
        return p.check_player(value)
    except p.InvalidArgument as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _game_id(value: str) -> str:
    try:
        return p.check_game_id(value)
    except p.InvalidArgument as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _clock(value: str) -> str:
    """A time control as the wire writes it (``live:300+5``, ``corr:3``)."""
    try:
        return parse_time_control(value).text
    except InvalidTimeControl as error:
        raise argparse.ArgumentTypeError(
            f"{error} (e.g. live:300+5: 300 s each and 5 s per move, or corr:3: 3 days per move)"
        ) from None


def _rate(value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value}")
    return rate


CLOCK_HELP = (
    "a time control: live:B+I (B seconds each, 10-10800, plus I seconds per move, 0-180) "
    "or corr:D (D days per move, 1-30); untimed without it"
)


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``replgame``: a subparser per command; the command's name
    is ``args.command``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Play and watch replgame games on a cluster of three replicated servers.",
        epilog="Every command takes --config PATH or --servers ..., and --json where it "
        "prints data.  Seat tokens are kept in $XDG_CONFIG_HOME/replgame/seats.json.",
    )
    _common(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help: str, description: str | None = None) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=description or help)
        _common(sub, top=False)
        return sub

    command("status", "a table of the three servers and whether they agree")

    games = command("games", "list the games of the cluster")
    games.add_argument("--status", choices=p.STATUSES, help="only games with this status")
    games.add_argument("--kind", choices=KINDS, help="only games of this kind")
    games.add_argument("--mine", action="store_true", help="only games you hold a seat in")

    show = command("show", "draw a game's board")
    show.add_argument("game", metavar="GAME", type=_game_id, help="the game id")
    show.add_argument(
        "--at",
        type=int,
        metavar="N",
        help="the board after the first N moves (0: the start; negative counts back from "
        "the end: -1 is the board before the last move), the moves with move N marked",
    )

    new = command("new", "create a game and take its first seat")
    new.add_argument("kind", metavar="KIND", choices=KINDS, help=f"one of {', '.join(KINDS)}")
    new.add_argument(
        "--as", dest="player", metavar="NAME", required=True, type=_player, help="your player name"
    )
    new.add_argument(
        "--seat",
        type=_seat,
        default=0,
        help="the seat to take: 0 (black, moves first, the default) or 1",
    )
    new.add_argument("--clock", type=_clock, metavar="CONTROL", help=CLOCK_HELP)

    join = command("join", "take the free seat of an open game")
    join.add_argument("game", metavar="GAME", type=_game_id, help="the game id")
    join.add_argument(
        "--as", dest="player", metavar="NAME", required=True, type=_player, help="your player name"
    )

    move = command("move", "play a move in a game where you hold the seat to move")
    move.add_argument("game", metavar="GAME", type=_game_id, help="the game id")
    move.add_argument(
        "move",
        metavar="MOVE",
        help="connect4: a column 1-7; reversi: a square a1-h8 or pass; checkers: 11-15 or 15x24x31",
    )
    move.add_argument("--seat", type=_seat, help="the seat to play for (default: yours)")

    resign = command("resign", "resign a game (or cancel an open one you created)")
    resign.add_argument("game", metavar="GAME", type=_game_id, help="the game id")
    resign.add_argument("--seat", type=_seat, help="the seat that resigns, if you hold both")

    draw = command(
        "draw",
        "offer a draw, or accept the opponent's standing offer",
        "On your turn with no offer standing, offer a draw: it stands until your "
        "opponent accepts it or makes a move.  If your opponent's offer stands, accept it.",
    )
    draw.add_argument("game", metavar="GAME", type=_game_id, help="the game id")
    draw.add_argument("--seat", type=_seat, help="the seat to act for (default: yours)")

    claim = command(
        "claim",
        "claim a timed game whose opponent ran out of time",
        "Claim the win in a timed game once the side to move has run out of time (the "
        "servers also end such a game themselves a few seconds later).",
    )
    claim.add_argument("game", metavar="GAME", type=_game_id, help="the game id")
    claim.add_argument("--seat", type=_seat, help="the seat to claim for, if you hold both")

    add_offer_commands(command, _game_id, _seat)

    watch = command("watch", "follow a game, redrawing it on every change (Ctrl-C to stop)")
    watch.add_argument("game", metavar="GAME", type=_game_id, help="the game id")
    watch.add_argument("--keep", action="store_true", help="keep watching after the game is over")

    bot = command(
        "bot",
        "play games of random legal moves between bots",
        "Play N concurrent games of random legal moves between bot players (each kind "
        "in turn unless --kind is given); report moves per second and every "
        "disagreement between the servers.",
    )
    bot.add_argument("--games", type=_positive, required=True, metavar="N", help="how many games")
    bot.add_argument("--kind", choices=KINDS, help="play only this kind")
    bot.add_argument("--seed", type=int, help="seed of the random moves")
    bot.add_argument(
        "--open",
        action="store_true",
        help="create the games open and play seat 0 of each against whoever joins "
        "(a person, with `join` or replgame-play); --stall-timeout bounds the wait",
    )
    bot.add_argument("--clock", type=_clock, metavar="CONTROL", help=CLOCK_HELP)
    bot.add_argument(
        "--flag-rate",
        type=_rate,
        default=0.0,
        metavar="R",
        help="with --clock: the fraction (0-1) of games in which a bot stops moving on "
        "purpose and loses on time (default 0)",
    )
    bot.add_argument(
        "--concurrency",
        type=_positive,
        default=50,
        metavar="N",
        help="games played at once (default 50)",
    )
    bot.add_argument(
        "--stall-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="abandon a game that makes no progress for this long (default 30)",
    )

    add_record_commands(command, _game_id, _player)
    add_engine_command(command, _positive, _player, _clock)

    cluster = command(
        "cluster",
        "run the three servers of a cluster here, until Ctrl-C",
        "Start the three servers of the config (the built-in local cluster by default) as "
        "`twistd replgame` child processes with pid and log files in the run directory, "
        "print their status once they serve, and stop them all on Ctrl-C or SIGTERM.",
    )
    cluster.add_argument(
        "--run-dir",
        default="replgame-run",
        metavar="DIR",
        help="where pid and log files go (default replgame-run)",
    )
    cluster.add_argument(
        "--wait",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for the servers to serve (default 30)",
    )
    return parser
