"""What ``replgame`` prints: the text and the ``--json`` data of answers,
game listings, watched games and the servers' status.

Pure: plain functions from values (:class:`~game.client.client.Outcome`,
:class:`~game.client.client.ServerStatus`, listings, game documents) to
strings and dicts, with no Twisted and no I/O, so that ``replgame status``,
``replgame cluster`` and the other commands share them and unit tests check
them without a reactor.  The client's value types are imported for type
checking only.

Text is drawn from the typed :class:`~game.client.document.GameDocument`;
``--json`` output re-emits the JSON object the servers sent, so fields a
later protocol version adds pass through.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from game.client import boards
from game.client.clocks import describe_control, format_time, read_clocks
from game.client.majority import agreed
from game.config import DEFAULT_SOURCE, ClusterConfig
from game.timecontrol import InvalidTimeControl

if TYPE_CHECKING:
    from game.client.client import Outcome, ServerStatus
    from game.client.document import GameDocument
    from game.client.majority import ListedGame
    from game.client.serverinfo import MetricsCheck, ServerDetails, ServerInfo
    from game.client.watching import WatchUpdate

#: The command's name, as messages quote it.
PROG: Final = "replgame"
#: What clears a terminal before a watched game is drawn again.
CLEAR_SCREEN: Final = "\x1b[H\x1b[2J"


# -- servers ------------------------------------------------------------------------


def and_list(ids: Sequence[int]) -> str:
    """``1``, ``1 and 2``, ``1, 2 and 3``."""
    names = [str(i) for i in ids]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def servers_phrase(ids: Sequence[int]) -> str:
    """``server 2``, ``servers 1 and 3``."""
    return f"server{'s' if len(ids) != 1 else ''} {and_list(ids)}"


def addresses(config: ClusterConfig) -> str:
    return ", ".join(f"{s.host}:{s.port}" for s in config.servers)


def unreachable_message(config: ClusterConfig) -> str:
    start = f"{PROG} cluster"
    if config.source != DEFAULT_SOURCE and not config.source.startswith("--servers"):
        start += f" --config {config.source}"
    return f"no server reachable at {addresses(config)}; start them with `{start}`"


# -- answers ------------------------------------------------------------------------


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


def error_fields(outcome: Outcome) -> dict[str, Any]:
    """The error the servers answered, for ``--json``."""
    error = outcome.error
    assert error is not None
    return {"error": {"tag": error.tag.decode(), "description": error.description}}


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
        f"PROVISIONAL: {servers_phrase(sorted(answered))} answered differently; no majority; "
        f"showing server {chosen}'s answer"
    )


def servers_note(outcome: Outcome, unreachable: Sequence[int] = ()) -> str | None:
    """A line about servers that differed, failed or were unreachable, if any."""
    parts = []
    if outcome.differed and not outcome.provisional:
        parts.append(f"{servers_phrase(sorted(outcome.differed))} answered differently")
    if outcome.failed:
        parts.append(f"{servers_phrase(sorted(outcome.failed))} did not answer")
    if unreachable:
        parts.append(f"{servers_phrase(sorted(unreachable))} unreachable")
    if not parts:
        return None
    agreed = sorted(outcome.agreed)
    head = f"answer of {servers_phrase(agreed)}" if agreed else "no answer"
    return f"note: {head}; " + "; ".join(parts)


def refusal_message(action: str, outcome: Outcome) -> str:
    """``move refused by the servers: ILLEGAL_MOVE ('9' is not connect4 notation)``."""
    error = outcome.error
    assert error is not None
    text = f"{action} refused by the servers: {error.tag.decode()} ({error.description})"
    if outcome.provisional:
        text += f"; provisional: {servers_phrase(sorted(outcome.agreed))} only, no majority"
    return text


def no_answer_message(action: str, outcome: Outcome) -> str:
    """``no server answered move (server 1: ...; server 2: ...)``."""
    reasons = "; ".join(f"server {a.server_id}: {a.value}" for a in outcome.decision.answers)
    return f"no server answered {action} ({reasons or 'none asked'})"


def game_report(
    outcome: Outcome,
    text: str,
    extra: Mapping[str, Any] | None = None,
    unreachable: Sequence[int] = (),
    now_ms: int | None = None,
) -> tuple[str, dict[str, Any]]:
    """A game answer as text (``text``, its provisional mark, the board and a
    note on the other servers) and as ``--json`` data; a timed game's clocks
    read at ``now_ms`` (the servers' time scale).

    :raises game.client.document.DocumentError: the servers answered a
        malformed document.
    """
    lines = text.rstrip("\n").splitlines()
    note = provisional_note(outcome)
    if note:
        lines.append(note)
    if lines:
        lines.append("")
    lines.append(boards.render_game(outcome.game_document(), now_ms))
    servers = servers_note(outcome, unreachable)
    if servers:
        lines.append(servers)
    # The object as sent, so fields a later protocol version adds pass through.
    sent = json.loads(outcome.document)
    data = {"game": sent, **outcome_fields(outcome, unreachable), **(extra or {})}
    return "\n".join(lines), data


def read_repair_note(repaired: Sequence[int]) -> str:
    """The line saying which servers were asked to sync a game."""
    return (
        f"read repair: {servers_phrase(repaired)} answered differently and "
        f"{'were' if len(repaired) > 1 else 'was'} asked to sync the game (SyncGame)"
    )


# -- what a command did ---------------------------------------------------------------


def created_text(kind: str, game_id: str, player: str, seat: int, clock: str | None = None) -> str:
    """What ``replgame new`` did; ``clock``: the time control of a timed game."""
    timed = (
        f"time control {describe_control(clock)} ({clock}): the clock starts when "
        "the second player joins\n"
        if clock
        else ""
    )
    return (
        f"created {kind} game {game_id}: you are {player} "
        f"({boards.COLOURS[seat]}, seat {seat})\n"
        f"{timed}"
        f"another player joins with: {PROG} join {game_id} --as NAME\n"
    )


def claimed_text(document: GameDocument, player: str, seat: int) -> str:
    """What ``replgame claim`` did, given the game as the servers answered it."""
    return (
        f"{player} ({boards.COLOURS[seat]}) claimed the game: {boards.describe_result(document)}\n"
    )


def time_left_message(document: GameDocument, now_ms: int, flag_grace: float) -> str:
    """Why a claim was refused (``TIME_LEFT``): how much time the side to
    move still has, given the game as read before the claim."""
    reading = read_clocks(document, now_ms)
    if reading is None or reading.running is None:
        return (
            f"claim refused by the servers: TIME_LEFT; nobody's clock runs in game "
            f"{document.game_id}"
        )
    seat = reading.running
    left = format_time(reading.remaining[seat], reading.control)
    return (
        f"claim refused by the servers: TIME_LEFT; {boards.seat_label(document, seat)} "
        f"still has {left} on the clock; claim again once it runs out (the servers end "
        f"the game themselves {flag_grace:g} s after that)"
    )


def joined_text(game_id: str, player: str, seat: int) -> str:
    return f"joined game {game_id} as {player} ({boards.COLOURS[seat]}, seat {seat})\n"


def played_text(move: str, player: str, seat: int) -> str:
    return f"played {move} as {player} ({boards.COLOURS[seat]})\n"


def resigned_text(before: GameDocument, player: str, seat: int) -> str:
    """What resigning did, given the game as it was before."""
    verb = "cancelled the game" if before.status == "open" else "resigned"
    return f"{player} ({boards.COLOURS[seat]}) {verb}\n"


def draw_text(action: str, document: GameDocument, player: str, seat: int) -> str:
    """What ``replgame draw`` did: ``offer`` or ``accept``."""
    who = f"{player} ({boards.COLOURS[seat]})"
    if action == "accept":
        return f"{who} accepted the draw offer: the game is drawn\n"
    opponent = boards.seat_label(document, 1 - seat)
    return (
        f"{who} offered a draw; it stands until {opponent} accepts it "
        f"(`{PROG} draw {document.game_id}`) or makes a move\n"
    )


# -- watched games ----------------------------------------------------------------------


def is_over(update: WatchUpdate) -> bool:
    """Whether a watched game is finished, by a majority of the servers."""
    return update.game_document().status == "finished" and not update.provisional


def clock_running(update: WatchUpdate) -> bool:
    """Whether a watched game's clock is running (timed and active)."""
    document = update.game_document()
    return document.clock is not None and document.status == "active"


def clock_tick(update: WatchUpdate, now_ms: int) -> str:
    """A watched timed game's clock line at ``now_ms``, for the seconds
    between two frames."""
    return boards.clock_line(update.game_document(), now_ms) or ""


def watch_frame(
    update: WatchUpdate, unreachable: Sequence[int], clear: bool, now_ms: int | None = None
) -> str:
    """A watched game drawn once: a separator (or a cleared screen), the
    board (a timed game's clocks at ``now_ms``), its provisional mark, and
    which servers hold which version."""
    held = ", ".join(f"{sid}: v{version}" for sid, version in sorted(update.versions.items()))
    lines = [
        CLEAR_SCREEN if clear else "-" * 40,
        boards.render_game(update.game_document(), now_ms),
    ]
    if update.provisional:
        lines.append(
            f"PROVISIONAL: only {servers_phrase(list(update.agreed))} holds this version; "
            "no majority"
        )
    lines.append(
        f"watching on servers {held or 'none'}"
        + (f"; {servers_phrase(unreachable)} unreachable" if unreachable else "")
    )
    return "\n".join(lines)


def watch_claim(
    document: GameDocument, seat: int, answer: Outcome | BaseException
) -> tuple[str, dict[str, Any]]:
    """What ``watch`` says after it claimed the game on time for ``seat``,
    as text and as one ``--json`` line."""
    who = boards.seat_label(document, seat)
    claim: dict[str, Any] = {"game_id": document.game_id, "version": document.version, "seat": seat}
    if isinstance(answer, BaseException):
        claim["error_message"] = str(answer)
        return f"claimed the game on time for {who}: no answer ({answer})", {"claim": claim}
    error = answer.error
    if error is not None:
        claim.update(error_fields(answer))
        text = f"claimed the game on time for {who}: {error.tag.decode()} ({error.description})"
        return text, {"claim": claim}
    if answer.decision.chosen is None:
        claim["error_message"] = no_answer_message("claim", answer)
        return f"claimed the game on time for {who}: {claim['error_message']}", {"claim": claim}
    claim["provisional"] = answer.provisional
    return f"claimed the game on time for {who}", {"claim": claim}


def watch_json(update: WatchUpdate, unreachable: Sequence[int]) -> dict[str, Any]:
    """A watched game's state as one ``--json`` line."""
    return {
        "game": json.loads(update.document),
        "provisional": update.provisional,
        "agreed": sorted(update.agreed),
        "versions": {str(k): v for k, v in sorted(update.versions.items())},
        "unreachable": list(unreachable),
    }


# -- listings ---------------------------------------------------------------------------


def control_name(clock: str | None) -> str:
    """A summary's control as players name it (the wire text if unreadable)."""
    try:
        return describe_control(clock)
    except InvalidTimeControl:
        return str(clock)


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows in columns as wide as their widest cell, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def format_games(
    listed: Sequence[ListedGame], mine: Mapping[str, Sequence[int]] | None = None
) -> str:
    """The table of ``replgame games``; ``mine``: the user's seats per game id,
    when only those games are listed."""
    if not listed:
        return "no games"
    header = ["id", "kind", "status", "version", "players"]
    # The clock column only when a game is timed: untimed listings read as before.
    timed = any(game.game.clock for game in listed)
    if timed:
        header.insert(2, "clock")
    if mine is not None:
        header.append("you")
    rows = [header]
    for game in listed:
        summary = game.game
        row = [
            summary.game_id,
            summary.kind,
            summary.status,
            str(summary.version),
            " vs ".join(name if name is not None else "(open)" for name in summary.players),
        ]
        if timed:
            row.insert(2, control_name(summary.clock))
        if mine is not None:
            seats = mine.get(summary.game_id, ())
            row.append(", ".join(f"seat {s} ({boards.COLOURS[s]})" for s in seats))
        if game.provisional:
            row[-1] += f"  PROVISIONAL ({servers_phrase(list(game.servers))} only)"
        rows.append(row)
    lines = _table(rows)
    provisional = sum(1 for game in listed if game.provisional)
    lines.append(f"{len(listed)} game{'s' if len(listed) != 1 else ''}")
    if provisional:
        lines.append(
            f"PROVISIONAL: {provisional} game(s) not listed alike by two servers; no majority"
        )
    return "\n".join(lines)


def games_json(
    listed: Sequence[ListedGame],
    mine: Mapping[str, Sequence[int]] | None,
    unreachable: Sequence[int],
) -> dict[str, Any]:
    """``replgame games --json``: each summary as the servers sent it."""
    return {
        "games": [
            {
                **game.summary,
                "provisional": game.provisional,
                "servers": list(game.servers),
                **({"mine": sorted(mine.get(game.game.game_id, []))} if mine is not None else {}),
            }
            for game in listed
        ],
        "provisional": any(game.provisional for game in listed),
        "unreachable": list(unreachable),
    }


# -- status -----------------------------------------------------------------------------


def status_summary(statuses: Sequence[ServerStatus]) -> tuple[bool, str, bool]:
    """``(agree, explanation, provisional)`` for a set of server statuses.

    They agree when all are reachable, serving, and report the same clock and
    digest.  The view is provisional when no two serving servers report the
    same digest.
    """
    serving = [s for s in statuses if s.reachable and s.serving]
    down = [s.server_id for s in statuses if not s.reachable]
    idle = [s.server_id for s in statuses if s.reachable and not s.serving]
    provisional = not agreed(serving, key=lambda s: s.digest)
    by_digest: dict[str, list[int]] = {}
    for s in serving:
        by_digest.setdefault(s.digest, []).append(s.server_id)
    clocks = {s.clock for s in serving}
    if not down and not idle and len(by_digest) == 1 and len(clocks) == 1:
        return True, f"all {len(serving)} serve the same games at clock {clocks.pop()}", provisional
    reasons = []
    if down:
        reasons.append(f"{servers_phrase(down)} unreachable")
    if idle:
        reasons.append(f"{servers_phrase(idle)} not serving yet")
    if len(by_digest) > 1:
        groups = "; ".join(
            f"{servers_phrase(ids)}: {d[:12]}" for d, ids in sorted(by_digest.items())
        )
        reasons.append(f"digests differ ({groups})")
    elif len(clocks) > 1:
        reasons.append("clocks differ")
    return False, ", ".join(reasons), provisional


def format_status(
    config: ClusterConfig,
    statuses: Sequence[ServerStatus],
    details: Mapping[int, ServerDetails] | None = None,
) -> str:
    """The table of ``replgame status``; with ``details`` (``ServerInfo`` and
    the metrics endpoint), a second table of them below."""
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
    lines = _table(rows)
    agree, why, provisional = status_summary(statuses)
    lines.append(f"agree: {'yes' if agree else 'no'}, {why}")
    if provisional:
        lines.append("PROVISIONAL: no two serving servers hold the same games; no majority")
    if details is not None:
        lines += ["", *details_table(statuses, details)]
    return "\n".join(lines)


def status_json(
    config: ClusterConfig,
    statuses: Sequence[ServerStatus],
    details: Mapping[int, ServerDetails] | None = None,
) -> dict[str, Any]:
    """``replgame status --json``; with ``details``, each server's also has
    ``info`` (its ``ServerInfo`` object, or ``null``) and ``metrics_endpoint``."""
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
        detail = details.get(s.server_id) if details is not None else None
        if detail is not None:
            servers[-1]["info"] = detail.info.fields if detail.info is not None else None
            servers[-1]["metrics_endpoint"] = detail.metrics.as_json()
    return {"servers": servers, "agree": agree, "reason": why, "provisional": provisional}


#: The widest ``state`` cell of the details table.
STATE_WIDTH = 34


def details_table(
    statuses: Sequence[ServerStatus], details: Mapping[int, ServerDetails]
) -> list[str]:
    """The second table of ``replgame status``: what ``ServerInfo`` says of
    each server and whether its metrics endpoint answers.  A server that did
    not answer ``ServerInfo`` (down, or older) shows only ``-``."""
    rows = [("server", "state", "uptime", "conns", "watches", "last catch-up", "metrics")]
    for s in sorted(statuses, key=lambda s: s.server_id):
        detail = details.get(s.server_id)
        metrics = metrics_cell(detail.metrics) if detail is not None else "-"
        info = detail.info if detail is not None else None
        if info is None:
            rows.append((str(s.server_id), "-", "-", "-", "-", "-", metrics))
            continue
        rows.append(
            (
                str(s.server_id),
                state_text(info),
                duration_text(info.uptime),
                str(info.connections),
                str(info.watches),
                catch_up_text(info),
                metrics,
            )
        )
    return _table(rows)


def state_text(info: ServerInfo, width: int = STATE_WIDTH) -> str:
    """``serving``, or why not (``/readyz``'s reason without "server N is"),
    cut to ``width``."""
    if info.reason is None:
        return "serving"
    prefix = f"server {info.server_id} is "
    text = info.reason.removeprefix(prefix)
    return text if len(text) <= width else text[: width - 3] + "..."


def duration_text(seconds: float) -> str:
    """A duration in its two largest units: ``42s``, ``5m 12s``, ``4h 3m``, ``3d 4h``."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def bytes_text(count: int) -> str:
    """``512 B``, ``18 KB``, ``3.4 MB``, ``1.2 GB`` (powers of 1024)."""
    if count < 1024:
        return f"{count} B"
    if count < 1024**2:
        return f"{round(count / 1024)} KB"
    if count < 1024**3:
        return f"{count / 1024**2:.1f} MB"
    return f"{count / 1024**3:.1f} GB"


def catch_up_text(info: ServerInfo) -> str:
    """``12s ago from 2: 40 games, 113 events, 18 KB``, or ``none``."""
    last = info.last_catch_up
    if last is None:
        return "none"
    source = f" from {', '.join(str(peer) for peer in last.peers)}" if last.peers else ""
    return (
        f"{duration_text((info.now - last.at) / 1000)} ago{source}: "
        f"{_count(last.games, 'game')}, {_count(last.events, 'event')}, {bytes_text(last.bytes)}"
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def metrics_cell(check: MetricsCheck) -> str:
    """The metrics column: ``yes``, ``no (why)``, or ``-`` (none configured)."""
    return check.text() if check.configured else "-"
