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
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any, NoReturn

from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater, react

from game import errors as wire
from game import protocol as p
from game.client import boards
from game.client.client import NoAnswer, NoServers, Outcome, ReplicatedClient, ServerStatus
from game.client.majority import ListedGame, ServerAnswer, decide
from game.client.tokens import Seat, TokenStore, new_token
from game.config import (
    DEFAULT_SOURCE,
    ClusterConfig,
    ConfigError,
    config_from_servers,
    default_config,
    load_config,
)
from game.rules import KINDS

PROG = "replgame"
#: Pages of ``ListGames`` read at most (100 games each).
MAX_PAGES = 100
PAGE_SIZE = 100


class CliError(Exception):
    """A failure to report as one line ``replgame: MESSAGE``."""

    def __init__(self, message: str, data: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = dict(data or {})


# -- arguments ------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser, top: bool) -> None:
    """Options every subcommand takes, before or after the subcommand name.

    On subparsers the defaults are suppressed, so that an option given before
    the subcommand is not reset by the subparser.
    """
    default: Any = None if top else argparse.SUPPRESS
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--config",
        metavar="PATH",
        default=default,
        help="the cluster's TOML configuration (default: the built-in local cluster "
        "on 127.0.0.1 ports 7301-7303)",
    )
    source.add_argument(
        "--servers",
        metavar="HOST:PORT,HOST:PORT,HOST:PORT",
        default=default,
        help="the three servers' client addresses, instead of --config",
    )
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


def build_parser() -> argparse.ArgumentParser:
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


def resolve_config(args: argparse.Namespace) -> ClusterConfig:
    """The cluster the arguments name.

    :raises ConfigError: the file or the ``--servers`` list is wrong.
    """
    if getattr(args, "servers", None):
        return config_from_servers(args.servers)
    if getattr(args, "config", None):
        return load_config(args.config)
    return default_config()


# -- pure helpers (tested without a reactor) ---------------------------------------


def _list(ids: Sequence[int]) -> str:
    """``1``, ``1 and 2``, ``1, 2 and 3``."""
    names = [str(i) for i in ids]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _servers(ids: Sequence[int]) -> str:
    return f"server{'s' if len(ids) != 1 else ''} {_list(ids)}"


def addresses(config: ClusterConfig) -> str:
    return ", ".join(f"{s.host}:{s.port}" for s in config.servers)


def unreachable_message(config: ClusterConfig) -> str:
    start = f"{PROG} cluster"
    if config.source != DEFAULT_SOURCE and not config.source.startswith("--servers"):
        start += f" --config {config.source}"
    return f"no server reachable at {addresses(config)}; start them with `{start}`"


def outcome_fields(outcome: Outcome, unreachable: Sequence[int] = ()) -> dict[str, Any]:
    """Who stood where behind an answer, for ``--json``."""
    return {
        "provisional": bool(outcome.provisional),
        "agreed": sorted(outcome.agreed),
        "differed": sorted(outcome.differed),
        "failed": sorted(outcome.failed),
        "pending": sorted(outcome.pending),
        "unreachable": sorted(unreachable),
    }


def provisional_note(outcome: Outcome) -> str | None:
    """The ``PROVISIONAL:`` line of a provisional answer, else None."""
    if not outcome.provisional:
        return None
    answered = [*outcome.agreed, *outcome.differed]
    if not answered:
        return "PROVISIONAL: no server gave an answer that counts; no majority"
    if len(answered) == 1:
        return f"PROVISIONAL: only server {answered[0]} answered; no majority"
    chosen = outcome.agreed[0] if outcome.agreed else answered[0]
    return (
        f"PROVISIONAL: {_servers(sorted(answered))} answered differently; no majority; "
        f"showing server {chosen}'s answer"
    )


def servers_note(outcome: Outcome, unreachable: Sequence[int] = ()) -> str | None:
    """A line about servers that differed, failed or were unreachable, if any."""
    parts = []
    if outcome.differed and not outcome.provisional:
        parts.append(f"{_servers(sorted(outcome.differed))} answered differently")
    if outcome.failed:
        parts.append(f"{_servers(sorted(outcome.failed))} did not answer")
    if unreachable:
        parts.append(f"{_servers(sorted(unreachable))} unreachable")
    if not parts:
        return None
    agreed = sorted(outcome.agreed)
    head = f"answer of {_servers(agreed)}" if agreed else "no answer"
    return f"note: {head}; " + "; ".join(parts)


def refusal_message(action: str, outcome: Outcome) -> str:
    """``move refused by the servers: ILLEGAL_MOVE ('9' is not connect4 notation)``."""
    error = outcome.error
    assert error is not None
    text = f"{action} refused by the servers: {error.tag.decode()} ({error.description})"
    if outcome.provisional:
        text += f"; provisional: {_servers(sorted(outcome.agreed))} only, no majority"
    return text


def choose_seat(
    seats: Sequence[Seat],
    document: Mapping[str, Any],
    action: str,
    requested: int | None = None,
) -> Seat:
    """The seat the user acts for in a game.

    With one seat held, that one.  With both, the seat to move for ``move``
    and ``draw``; ``resign`` needs ``requested``.

    :raises CliError: the user holds no such seat, or the choice is ambiguous.
    """
    game_id = document["id"]
    if requested is not None:
        for seat in seats:
            if seat.seat == requested:
                return seat
        held = ", ".join(str(s.seat) for s in seats)
        hint = f" (you hold seat {held})" if held else ""
        raise CliError(f"you hold no seat {requested} in game {game_id}{hint}")
    if not seats:
        if document.get("status") == "open":
            raise CliError(
                f"you hold no seat in game {game_id}; take the free one with "
                f"`{PROG} join {game_id} --as NAME`"
            )
        raise CliError(
            f"you hold no seat in game {game_id} (its players are "
            f"{boards.seat_label(document, 0)} and {boards.seat_label(document, 1)})"
        )
    if len(seats) == 1:
        return seats[0]
    if action in ("move", "draw"):
        to_move = document.get("to_move")
        if to_move is None:
            raise CliError(f"game {game_id} is {document.get('status')}; nobody is to move")
        for seat in seats:
            if seat.seat == to_move:
                return seat
    raise CliError(
        f"you hold both seats of game {game_id}; choose one with --seat 0 (black) or --seat 1 "
        "(white)"
    )


def draw_action(document: Mapping[str, Any], seat: int) -> str:
    """``offer`` or ``accept``: what ``replgame draw`` does for ``seat``.

    :raises CliError: the user's own offer already stands.
    """
    offer = document.get("draw_offer")
    if offer is None:
        return "offer"
    if offer != seat:
        return "accept"
    opponent = boards.seat_label(document, 1 - seat)
    then = (
        f"play your move, then {opponent} may accept it"
        if document.get("to_move") == seat
        else f"it is up to {opponent} to accept it"
    )
    raise CliError(f"your draw offer in game {document['id']} already stands; {then}")


def resolve_game(game: str, seats: Sequence[Seat]) -> str:
    """A game id, completing a unique prefix of a game the user holds a seat in."""
    ids = {seat.game_id for seat in seats}
    if game in ids:
        return game
    matches = sorted(i for i in ids if i.startswith(game))
    return matches[0] if len(matches) == 1 else game


def status_summary(statuses: Sequence[ServerStatus]) -> tuple[bool, str, bool]:
    """``(agree, explanation, provisional)`` for a set of server statuses.

    They agree when all are reachable, serving, and report the same clock and
    digest.  The view is provisional when fewer than two serving servers
    report the same digest.
    """
    serving = [s for s in statuses if s.reachable and s.serving]
    down = [s.server_id for s in statuses if not s.reachable]
    idle = [s.server_id for s in statuses if s.reachable and not s.serving]
    by_digest: dict[str, list[int]] = {}
    for s in serving:
        by_digest.setdefault(s.digest, []).append(s.server_id)
    provisional = not any(len(ids) >= 2 for ids in by_digest.values())
    clocks = {s.clock for s in serving}
    if not down and not idle and len(by_digest) == 1 and len(clocks) == 1:
        return True, f"all {len(serving)} serve the same games at clock {clocks.pop()}", provisional
    reasons = []
    if down:
        reasons.append(f"{_servers(down)} unreachable")
    if idle:
        reasons.append(f"{_servers(idle)} not serving yet")
    if len(by_digest) > 1:
        groups = "; ".join(f"{_servers(ids)}: {d[:12]}" for d, ids in sorted(by_digest.items()))
        reasons.append(f"digests differ ({groups})")
    elif len(clocks) > 1:
        reasons.append("clocks differ")
    return False, ", ".join(reasons), provisional


def format_status(config: ClusterConfig, statuses: Sequence[ServerStatus]) -> str:
    """The table of ``replgame status``."""
    rows = [("server", "address", "reachable", "serving", "clock", "games", "digest")]
    for s in sorted(statuses, key=lambda s: s.server_id):
        server = config.server(s.server_id)
        address = f"{server.host}:{server.port}"
        if s.reachable:
            rows.append(
                (
                    str(s.server_id),
                    address,
                    "yes",
                    "yes" if s.serving else "no",
                    str(s.clock),
                    str(s.games),
                    s.digest[:16],
                )
            )
        else:
            rows.append((str(s.server_id), address, "no", "-", "-", "-", "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    agree, why, provisional = status_summary(statuses)
    lines.append(f"agree: {'yes' if agree else 'no'}, {why}")
    if provisional:
        lines.append("PROVISIONAL: no two serving servers hold the same games; no majority")
    return "\n".join(lines)


def status_json(config: ClusterConfig, statuses: Sequence[ServerStatus]) -> dict[str, Any]:
    agree, why, provisional = status_summary(statuses)
    servers = []
    for s in sorted(statuses, key=lambda s: s.server_id):
        server = config.server(s.server_id)
        servers.append(
            {
                "id": s.server_id,
                "address": f"{server.host}:{server.port}",
                "reachable": s.reachable,
                "serving": s.serving,
                "clock": s.clock,
                "games": s.games,
                "digest": s.digest,
                "error": s.error,
            }
        )
    return {"servers": servers, "agree": agree, "reason": why, "provisional": provisional}


def format_games(listed: Sequence[Any], mine: Mapping[str, Sequence[int]] | None = None) -> str:
    """The table of ``replgame games`` (``listed``: ListedGame values)."""
    if not listed:
        return "no games"
    header = ["id", "kind", "status", "version", "players"]
    if mine is not None:
        header.append("you")
    rows = [header]
    for game in listed:
        summary = game.summary
        players = summary.get("players") or [None, None]
        row = [
            summary["id"],
            summary["kind"],
            summary["status"],
            str(summary["version"]),
            " vs ".join(name if name is not None else "(open)" for name in players),
        ]
        if mine is not None:
            row.append(
                ", ".join(f"seat {s} ({boards.COLOURS[s]})" for s in mine.get(summary["id"], ()))
            )
        if game.provisional:
            row[-1] += f"  PROVISIONAL ({_servers(list(game.servers))} only)"
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    provisional = sum(1 for game in listed if game.provisional)
    lines.append(f"{len(listed)} game{'s' if len(listed) != 1 else ''}")
    if provisional:
        lines.append(
            f"PROVISIONAL: {provisional} game(s) not listed alike by two servers; no majority"
        )
    return "\n".join(lines)


def error_fields(outcome: Outcome) -> dict[str, Any]:
    error = outcome.error
    assert error is not None
    return {"error": {"tag": error.tag.decode(), "description": error.description}}


# -- running a command --------------------------------------------------------------


class Session:
    """One run of a subcommand: its arguments, the cluster, the client, the output."""

    def __init__(
        self,
        reactor: Any,
        args: argparse.Namespace,
        config: ClusterConfig,
        out: IO[str] | None = None,
        store: TokenStore | None = None,
        client: Any = None,
    ) -> None:
        self.reactor = reactor
        self.args = args
        self.config = config
        self.out = out or sys.stdout
        self.store = store or TokenStore()
        self.client = client if client is not None else ReplicatedClient(config, reactor)
        self.json = bool(getattr(args, "json", False))
        #: Servers not linked when the last request was sent.
        self.unreachable: list[int] = []
        #: Set once the command is done: links going down now are no news.
        self.closing = False

    @property
    def cluster(self) -> str:
        return self.config.cluster_id

    def emit(self, text: str, data: Mapping[str, Any]) -> None:
        """Print a result: ``text`` for people or ``data`` as one JSON line."""
        if self.json:
            self.out.write(json.dumps(data, sort_keys=True, ensure_ascii=False) + "\n")
        else:
            self.out.write(text.rstrip("\n") + "\n")
        self.out.flush()

    async def connect(self) -> list[int]:
        self.client.start()
        active = await self.client.settled()
        if not active:
            raise CliError(unreachable_message(self.config))
        return list(active)

    async def request(self, action: str, send: Callable[[], Deferred[Outcome]]) -> Outcome:
        """Send one request and return its outcome, raising :class:`CliError`
        when nobody answered or the servers refused."""
        unreachable = self.unreachable = self.client.inactive
        try:
            outcome = await send()
        except NoServers:
            raise CliError(unreachable_message(self.config)) from None
        if outcome.decision.chosen is None:
            reasons = "; ".join(
                f"server {a.server_id}: {a.value}" for a in outcome.decision.answers
            )
            raise CliError(f"no server answered {action} ({reasons or 'none asked'})")
        if outcome.error is not None:
            raise CliError(
                refusal_message(action, outcome),
                {**error_fields(outcome), **outcome_fields(outcome, unreachable)},
            )
        return outcome

    def seats(self, game_id: str) -> list[Seat]:
        try:
            return self.store.find(self.cluster, game_id)
        except OSError as error:
            raise CliError(str(error)) from None

    def game_id(self) -> str:
        try:
            seats = self.store.seats(self.cluster)
        except OSError:
            seats = []
        return resolve_game(self.args.game, seats)

    async def read_game(self, game_id: str, sync: bool = False) -> Outcome:
        """The game, by ``GetGame`` (or ``SyncGame``).

        :raises CliError: no server knows it, or none answered.
        """
        try:
            if sync:
                return await self.request("sync", lambda: self.client.sync_game(game_id))
            return await self.request("read", lambda: self.client.get_game(game_id))
        except CliError as error:
            if error.data.get("error", {}).get("tag") == "UNKNOWN_GAME":
                raise CliError(f"no game {game_id} on the servers", error.data) from None
            raise

    def show_outcome(
        self,
        outcome: Outcome,
        text: str,
        extra: Mapping[str, Any] | None = None,
        unreachable: Sequence[int] | None = None,
    ) -> None:
        """Print a game answer with its provisional mark and server notes."""
        if unreachable is None:
            unreachable = self.unreachable
        document = outcome.game()
        lines = text.rstrip("\n").splitlines()
        note = provisional_note(outcome)
        if note:
            lines.append(note)
        if lines:
            lines.append("")
        lines.append(boards.render_game(document))
        servers = servers_note(outcome, unreachable)
        if servers:
            lines.append(servers)
        data = {"game": document, **outcome_fields(outcome, unreachable), **(extra or {})}
        self.emit("\n".join(lines), data)


async def cmd_status(session: Session) -> None:
    session.client.start()
    await session.client.settled()
    statuses = await session.client.statuses()
    if not any(s.reachable for s in statuses):
        raise CliError(unreachable_message(session.config))
    session.emit(format_status(session.config, statuses), status_json(session.config, statuses))


async def cmd_games(session: Session) -> None:
    await session.connect()
    args = session.args
    mine: dict[str, list[int]] | None = None
    if args.mine:
        mine = {}
        try:
            for seat in session.store.seats(session.cluster):
                mine.setdefault(seat.game_id, []).append(seat.seat)
        except OSError as error:
            raise CliError(str(error)) from None
    listed: list[ListedGame] = []
    cursor = ""
    for _ in range(MAX_PAGES):
        try:
            page = await session.client.list_games(
                status=args.status or "", kind=args.kind or "", limit=PAGE_SIZE, after=cursor
            )
        except (NoServers, NoAnswer) as error:
            raise CliError(str(error)) from None
        listed.extend(g for g in page.games if mine is None or g.summary["id"] in mine)
        cursor = page.next
        if not cursor:
            break
    data = {
        "games": [
            {
                **game.summary,
                "provisional": game.provisional,
                "servers": list(game.servers),
                **({"mine": sorted(mine.get(game.summary["id"], []))} if mine is not None else {}),
            }
            for game in listed
        ],
        "provisional": any(game.provisional for game in listed),
        "unreachable": session.client.inactive,
    }
    session.emit(format_games(listed, mine), data)


async def cmd_show(session: Session) -> None:
    """Ask every server, draw the answer, and repair the servers that differ."""
    await session.connect()
    game_id = session.game_id()
    unreachable = session.client.inactive
    answers = await session.client.ask_each(p.GetGame, game_id=game_id)
    found = [ServerAnswer.from_outcome(sid, value) for sid, value in sorted(answers.items())]
    decision = decide(found, len(found))
    if decision is None:  # pragma: no cover - decide() decides once all answered
        raise CliError(f"no answer for game {game_id}")
    outcome = Outcome("GetGame", decision)
    if decision.chosen is None:
        reasons = "; ".join(f"server {a.server_id}: {a.value}" for a in found)
        raise CliError(f"no server answered about game {game_id} ({reasons})")
    if outcome.error is not None:
        if isinstance(outcome.error, wire.UnknownGame):
            raise CliError(
                f"no game {game_id} on the servers",
                {**error_fields(outcome), **outcome_fields(outcome, unreachable)},
            )
        raise CliError(
            refusal_message("show", outcome),
            {**error_fields(outcome), **outcome_fields(outcome, unreachable)},
        )
    repaired = await _read_repair(session, game_id, outcome)
    session.show_outcome(outcome, "", {"repaired": repaired}, unreachable)


async def _read_repair(session: Session, game_id: str, outcome: Outcome) -> list[int]:
    """Send ``SyncGame`` to the servers whose answer differed and wait for them."""
    targets = sorted(outcome.differed)
    if outcome.provisional and targets:
        targets = sorted({*outcome.agreed, *outcome.differed})
    if not targets:
        return []
    calls = []
    for server_id in targets:
        link = session.client.links[server_id]
        calls.append(
            link.call(p.SyncGame, timeout=2 * link.timeout, game_id=game_id).addCallbacks(
                lambda _, sid=server_id: sid, lambda _: None
            )
        )
    done = []
    for call in calls:
        server_id = await call
        if server_id is not None:
            done.append(server_id)
    if not session.json and done:
        session.out.write(
            f"read repair: {_servers(done)} answered differently and "
            f"{'were' if len(done) > 1 else 'was'} asked to sync the game (SyncGame)\n"
        )
    return done


async def cmd_new(session: Session) -> None:
    args = session.args
    await session.connect()
    game_id = uuid.uuid4().hex
    token = new_token()
    outcome = await session.request(
        "new",
        lambda: session.client.create_game(game_id, args.kind, args.player, token, args.seat),
    )
    _remember(session, Seat(session.cluster, game_id, args.seat, args.player, token, args.kind))
    text = (
        f"created {args.kind} game {game_id}: you are {args.player} "
        f"({boards.COLOURS[args.seat]}, seat {args.seat})\n"
        f"another player joins with: {PROG} join {game_id} --as NAME\n"
    )
    session.show_outcome(outcome, text, {"seat": args.seat, "player": args.player})


def _remember(session: Session, seat: Seat) -> None:
    try:
        session.store.add(seat)
    except OSError as error:
        raise CliError(f"the servers took the seat but it could not be saved: {error}") from None


async def cmd_join(session: Session) -> None:
    args = session.args
    await session.connect()
    game_id = args.game
    document = (await session.read_game(game_id)).game()
    if document["status"] != "open":
        raise CliError(
            f"game {game_id} is {document['status']}, not open (its players are "
            f"{boards.seat_label(document, 0)} and {boards.seat_label(document, 1)})"
        )
    seat = document["players"].index(None)
    token = new_token()
    outcome = await session.request(
        "join",
        lambda: session.client.join_game(game_id, document["version"], args.player, token),
    )
    _remember(session, Seat(session.cluster, game_id, seat, args.player, token, document["kind"]))
    text = f"joined game {game_id} as {args.player} ({boards.COLOURS[seat]}, seat {seat})\n"
    session.show_outcome(outcome, text, {"seat": seat, "player": args.player})


async def _act(
    session: Session,
    action: str,
    send: Callable[[dict[str, Any], Seat], Deferred[Outcome]],
) -> tuple[Outcome, Seat, dict[str, Any]]:
    """Read the game, pick the user's seat, send; once more after a re-read
    if the servers say the version was stale or they are behind."""
    await session.connect()
    game_id = session.game_id()
    seats = session.seats(game_id)
    document = (await session.read_game(game_id)).game()
    for attempt in range(2):
        seat = choose_seat(seats, document, action, session.args.seat)
        try:
            outcome = await session.request(action, functools.partial(send, document, seat))
        except CliError as error:
            tag = error.data.get("error", {}).get("tag")
            if attempt == 0 and tag in ("STALE_VERSION", "BEHIND"):
                document = (await session.read_game(game_id, sync=True)).game()
                continue
            raise
        return outcome, seat, document
    raise AssertionError("unreachable")  # pragma: no cover


async def cmd_move(session: Session) -> None:
    args = session.args
    outcome, seat, _ = await _act(
        session,
        "move",
        lambda doc, seat: session.client.make_move(
            doc["id"], doc["version"], args.move, seat.token
        ),
    )
    text = f"played {args.move} as {seat.player} ({boards.COLOURS[seat.seat]})\n"
    session.show_outcome(outcome, text, {"seat": seat.seat, "move": args.move})


async def cmd_resign(session: Session) -> None:
    outcome, seat, before = await _act(
        session,
        "resign",
        lambda doc, seat: session.client.resign(doc["id"], doc["version"], seat.token),
    )
    verb = "cancelled the game" if before["status"] == "open" else "resigned"
    text = f"{seat.player} ({boards.COLOURS[seat.seat]}) {verb}\n"
    session.show_outcome(outcome, text, {"seat": seat.seat})


async def cmd_draw(session: Session) -> None:
    chosen: dict[str, str] = {}

    def send(document: dict[str, Any], seat: Seat) -> Deferred[Outcome]:
        action = chosen["action"] = draw_action(document, seat.seat)
        if action == "accept":
            return session.client.accept_draw(document["id"], document["version"], seat.token)
        return session.client.offer_draw(document["id"], document["version"], seat.token)

    outcome, seat, document = await _act(session, "draw", send)
    who = f"{seat.player} ({boards.COLOURS[seat.seat]})"
    if chosen["action"] == "accept":
        text = f"{who} accepted the draw offer: the game is drawn\n"
    else:
        opponent = boards.seat_label(document, 1 - seat.seat)
        text = (
            f"{who} offered a draw; it stands until {opponent} accepts it "
            f"(`{PROG} draw {document['id']}`) or makes a move\n"
        )
    session.show_outcome(outcome, text, {"seat": seat.seat, "action": chosen["action"]})


#: How long ``watch`` waits for every linked server's first answer before drawing.
WATCH_SETTLE = 1.0


async def cmd_watch(session: Session) -> None:
    """Draw the game on every change of what the servers hold, until it ends."""
    await session.connect()
    game_id = session.game_id()
    await session.read_game(game_id)  # an unknown game fails here, not silently later
    done: Deferred[None] = Deferred()
    clear = not session.json and session.out.isatty()
    keep = session.args.keep
    drawn: list[Any] = []  # the key of the last frame drawn
    settled = [False]

    def closing() -> None:
        session.closing = True

    # Links dropping at Ctrl-C must not draw a last, misleading frame.
    session.reactor.addSystemEventTrigger("before", "shutdown", closing)

    def draw(update: Any) -> None:
        document = update.game()
        down = session.client.inactive
        if session.json:
            session.emit(
                "",
                {
                    "game": document,
                    "provisional": update.provisional,
                    "agreed": sorted(update.agreed),
                    "versions": {str(k): v for k, v in sorted(update.versions.items())},
                    "unreachable": down,
                },
            )
        else:
            held = ", ".join(
                f"{sid}: v{version}" for sid, version in sorted(update.versions.items())
            )
            lines = ["\x1b[H\x1b[2J" if clear else "-" * 40, boards.render_game(document)]
            if update.provisional:
                lines.append(
                    f"PROVISIONAL: only {_servers(list(update.agreed))} holds this version; "
                    "no majority"
                )
            lines.append(
                f"watching on servers {held or 'none'}"
                + (f"; {_servers(down)} unreachable" if down else "")
            )
            session.emit("\n".join(lines), {})

    def show(update: Any) -> None:
        if session.closing:
            return
        if not settled[0]:
            # The first answers arrive one by one: wait for every linked server.
            if len(update.versions) < len(session.client.active):
                return
            settled[0] = True
        key = (update.document, update.provisional, tuple(session.client.inactive))
        if drawn and drawn[-1] == key:
            return  # only a version behind the shown one changed
        drawn.append(key)
        draw(update)
        finished = update.game()["status"] == "finished" and not update.provisional
        if finished and not keep and not done.called:
            done.callback(None)

    def settle() -> None:
        if not settled[0]:
            settled[0] = True
            current = watch.current()
            if current is not None:
                show(current)

    watch = session.client.watch(game_id, show)
    timer = session.reactor.callLater(WATCH_SETTLE, settle)
    try:
        await done
    finally:
        if timer.active():
            timer.cancel()


async def cmd_bot(session: Session) -> None:
    from game.client.bots import run_bots

    args = session.args
    await session.connect()
    rng = random.Random(args.seed)
    if getattr(args, "open", False):
        from game.client.opponent import run_open_bots

        report = await run_open_bots(
            session.client,
            args.games,
            args.kind,
            rng,
            stall_timeout=args.stall_timeout,
            announce=lambda line: print(line, file=sys.stderr, flush=True),
        )
    else:
        report = await run_bots(
            session.client,
            args.games,
            args.kind,
            rng,
            concurrency=args.concurrency,
            stall_timeout=args.stall_timeout,
        )
    data = report.to_json()
    data["provisional"] = any(d.provisional for d in report.disagreements)
    session.emit(report.describe(), data)
    if report.abandoned:
        raise CliError(f"{len(report.abandoned)} of {report.games} bot games abandoned")


COMMANDS: dict[str, Callable[[Session], Any]] = {
    "status": cmd_status,
    "games": cmd_games,
    "show": cmd_show,
    "new": cmd_new,
    "join": cmd_join,
    "move": cmd_move,
    "resign": cmd_resign,
    "draw": cmd_draw,
    "watch": cmd_watch,
    "bot": cmd_bot,
}


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


async def run(reactor: Any, args: argparse.Namespace) -> None:
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
            fail(str(error))
        return
    session = Session(reactor, args, config)
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
        await deferLater(reactor, 0)
        await session.client.stop()


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """The ``replgame`` console script."""
    args = build_parser().parse_args(argv)
    react(lambda reactor: Deferred.fromCoroutine(run(reactor, args)))
