"""The ``replgame`` commands that ask the servers once and print the answer:
``status``, ``games``, ``show``, ``new``, ``join``, ``move``, ``resign``,
``draw``, ``claim`` and ``bot`` (``watch`` follows a game: :mod:`game.client.cli.watch`).

Each command is one coroutine over a :class:`~game.client.cli.session.Session`;
what it prints comes from :mod:`game.client.reports`, which seat it acts for
from :mod:`game.client.cli.choices`.  :data:`COMMANDS` maps the names to them.
"""

from __future__ import annotations

import json
import random
import sys
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from twisted.internet.defer import Deferred

from game import errors as wire
from game import protocol as p
from game.client import reports
from game.client.cli.choices import (
    CliError,
    check_claim,
    draw_action,
    free_seat,
)
from game.client.cli.engine import cmd_engine
from game.client.cli.offers import cmd_rematch, cmd_takeback
from game.client.cli.records import cmd_export, cmd_import
from game.client.cli.session import Session, act, unreadable
from game.client.cli.watch import cmd_watch
from game.client.client import NoAnswer, NoServers, Outcome
from game.client.document import DocumentError, GameDocument
from game.client.livez import check_metrics
from game.client.majority import ListedGame, ServerAnswer, decide
from game.client.replay import Replay, render_at, resolve_at
from game.client.serverinfo import ServerDetails
from game.client.tokens import Seat, new_token

#: Pages of ``ListGames`` read at most (100 games each).
MAX_PAGES = 100
PAGE_SIZE = 100


async def cmd_status(session: Session) -> None:
    client = session.client
    client.start()
    await client.settled()
    # Both at once: each waits for the slowest server.
    asked_statuses, asked_infos = client.statuses(), client.server_infos()
    statuses, infos = await asked_statuses, await asked_infos
    if not any(s.reachable for s in statuses):
        raise CliError(reports.unreachable_message(session.config))
    checks = await check_metrics(session.reactor, session.config, infos)
    details = {
        server_id: ServerDetails(infos.get(server_id), check) for server_id, check in checks.items()
    }
    session.emit(
        reports.format_status(session.config, statuses, details),
        reports.status_json(session.config, statuses, details),
    )


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
        listed.extend(g for g in page.games if mine is None or g.game.game_id in mine)
        cursor = page.next
        if not cursor:
            break
    session.emit(
        reports.format_games(listed, mine),
        reports.games_json(listed, mine, session.client.inactive),
    )


async def cmd_show(session: Session) -> None:
    """Ask every server, draw the answer, and repair the servers that differ;
    with ``--at N``, the board after N moves."""
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
        data = {**reports.error_fields(outcome), **reports.outcome_fields(outcome, unreachable)}
        if isinstance(outcome.error, wire.UnknownGame):
            raise CliError(f"no game {game_id} on the servers", data)
        raise CliError(reports.refusal_message("show", outcome), data)
    repaired = await _read_repair(session, game_id, outcome)
    at = getattr(session.args, "at", None)
    if at is not None:
        _show_at(session, outcome, at, {"repaired": repaired}, unreachable)
        return
    session.show_outcome(outcome, "", {"repaired": repaired}, unreachable)


def _show_at(
    session: Session,
    outcome: Outcome,
    at: int,
    extra: dict[str, Any],
    unreachable: list[int],
) -> None:
    """``show --at N``: the board after N moves (negative: counted back from
    the end), the moves with move N marked.

    :raises CliError: the answer is not a game document, or the game has not
        that many moves.
    """
    try:
        document = outcome.game_document()
    except DocumentError as error:
        raise CliError(unreadable(error)) from None
    try:
        played = resolve_at(at, len(document.moves))
    except ValueError as error:
        raise CliError(f"game {document.game_id}: {error}") from None
    replay = Replay.of(document).go(played)
    shown = replay.document_at()
    lines = [note] if (note := reports.provisional_note(outcome)) else []
    lines.append(render_at(replay))
    servers = reports.servers_note(outcome, unreachable)
    if servers:
        lines.append(servers)
    data = {
        "game": json.loads(outcome.document),
        "at": played,
        "moves": list(shown.moves),
        "position": shown.position,
        **reports.outcome_fields(outcome, unreachable),
        **extra,
    }
    session.emit("\n".join(lines), data)


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
    if done:
        session.say(reports.read_repair_note(done))
    return done


async def cmd_new(session: Session) -> None:
    args = session.args
    await session.connect()
    game_id = uuid.uuid4().hex
    token = new_token()
    outcome = await session.request(
        "new",
        lambda: session.client.create_game(
            game_id, args.kind, args.player, token, args.seat, clock=getattr(args, "clock", None)
        ),
    )
    session.remember(Seat(session.cluster, game_id, args.seat, args.player, token, args.kind))
    session.show_outcome(
        outcome,
        reports.created_text(
            args.kind, game_id, args.player, args.seat, getattr(args, "clock", None)
        ),
        {"seat": args.seat, "player": args.player},
    )


async def cmd_join(session: Session) -> None:
    args = session.args
    await session.connect()
    game_id = args.game
    document = await session.read_document(game_id)
    seat = free_seat(document)
    token = new_token()
    outcome = await session.request(
        "join",
        lambda: session.client.join_game(game_id, document.version, args.player, token),
    )
    session.remember(Seat(session.cluster, game_id, seat, args.player, token, document.kind))
    session.show_outcome(
        outcome,
        reports.joined_text(game_id, args.player, seat),
        {"seat": seat, "player": args.player},
    )


async def cmd_move(session: Session) -> None:
    args = session.args
    outcome, seat, _ = await act(
        session,
        "move",
        lambda doc, seat: session.client.make_move(doc.game_id, doc.version, args.move, seat.token),
    )
    session.show_outcome(
        outcome,
        reports.played_text(args.move, seat.player, seat.seat),
        {"seat": seat.seat, "move": args.move},
    )


async def cmd_resign(session: Session) -> None:
    outcome, seat, before = await act(
        session,
        "resign",
        lambda doc, seat: session.client.resign(doc.game_id, doc.version, seat.token),
    )
    session.show_outcome(
        outcome, reports.resigned_text(before, seat.player, seat.seat), {"seat": seat.seat}
    )


async def cmd_draw(session: Session) -> None:
    chosen: dict[str, str] = {}

    def send(document: GameDocument, seat: Seat) -> Deferred[Outcome]:
        # Offer or accept depends on the game as read, which a retry re-reads.
        action = chosen["action"] = draw_action(document, seat.seat)
        if action == "accept":
            return session.client.accept_draw(document.game_id, document.version, seat.token)
        return session.client.offer_draw(document.game_id, document.version, seat.token)

    outcome, seat, document = await act(session, "draw", send)
    session.show_outcome(
        outcome,
        reports.draw_text(chosen["action"], document, seat.player, seat.seat),
        {"seat": seat.seat, "action": chosen["action"]},
    )


async def cmd_claim(session: Session) -> None:
    """Claim the win on time; ``TIME_LEFT`` says how much time the opponent has."""
    read: dict[str, GameDocument] = {}

    def send(document: GameDocument, seat: Seat) -> Deferred[Outcome]:
        check_claim(document, seat.seat)
        read["document"] = document
        return session.client.claim_timeout(document.game_id, document.version, seat.token)

    try:
        outcome, seat, _ = await act(session, "claim", send)
    except CliError as error:
        if error.tag == "TIME_LEFT" and "document" in read:
            message = reports.time_left_message(
                read["document"], session.client.server_now(), session.config.tuning.flag_grace
            )
            raise CliError(message, error.data) from None
        raise
    try:
        text = reports.claimed_text(outcome.game_document(), seat.player, seat.seat)
    except DocumentError as error:
        raise CliError(unreadable(error)) from None
    session.show_outcome(outcome, text, {"seat": seat.seat})


async def cmd_bot(session: Session) -> None:
    from game.client.bots import run_bots

    args = session.args
    time_control = getattr(args, "clock", None)
    flag_rate = getattr(args, "flag_rate", 0.0)
    if flag_rate and not time_control:
        raise CliError("--flag-rate needs timed games: give --clock too, e.g. --clock live:10+0")
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
            time_control=time_control,
            flag_rate=flag_rate,
        )
    else:
        report = await run_bots(
            session.client,
            args.games,
            args.kind,
            rng,
            concurrency=args.concurrency,
            stall_timeout=args.stall_timeout,
            time_control=time_control,
            flag_rate=flag_rate,
        )
    data = report.to_json()
    data["provisional"] = any(d.provisional for d in report.disagreements)
    session.emit(report.describe(), data)
    if report.abandoned:
        raise CliError(f"{len(report.abandoned)} of {report.games} bot games abandoned")


#: Every command that talks to the servers (``cluster`` runs them instead).
COMMANDS: dict[str, Callable[[Session], Coroutine[Any, Any, None]]] = {
    "status": cmd_status,
    "games": cmd_games,
    "show": cmd_show,
    "new": cmd_new,
    "join": cmd_join,
    "move": cmd_move,
    "resign": cmd_resign,
    "draw": cmd_draw,
    "claim": cmd_claim,
    "takeback": cmd_takeback,
    "rematch": cmd_rematch,
    "watch": cmd_watch,
    "bot": cmd_bot,
    "engine": cmd_engine,
    "export": cmd_export,
    "import": cmd_import,
}
