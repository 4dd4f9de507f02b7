"""The chaos checker: a pure function over the recorded history and the final state.

:func:`check` verifies, after the faults stopped and the links healed:

1. every majority-acknowledged change is in the final game on every server.
   An acknowledgement with fewer than two identically answering servers that
   kept their data directory afterwards relied on a wiped server: it is
   counted on again only if a later confirmation (a change or a read that two
   servers which kept their data answered identically) holds it; otherwise
   it is checked but only reported.  Provisional changes that were undone
   are counted, not failed;
2. the three servers hold byte-identical documents, equal clocks, equal
   game counts and equal digests (and each digest and clock matches its
   documents, as PROTOCOL.md defines them);
3. every final game is a legal history by the rules engine;
4. no server log or output contains a traceback or an ``INTERNAL`` answer,
   and no server answered ``INTERNAL``;
5. the servers converged within ``convergence_limit`` seconds of the last heal;
6. timed games: no acknowledged change was undone by a timeout (check 1,
   reported as ``undone-by-timeout`` when the final game ended on time); a
   game ended on time ended identically everywhere (check 2) with reason
   ``time``, the winner the other seat of the side to move, whose time is 0,
   and the clock stopped (check 3); and no game is still active after
   convergence whose deadline passed more than ``flag_grace`` plus the
   catch-up time (:func:`tests.chaos.timed.catch_up_bound`) before the
   earliest clock of the converged servers.

Nothing here does I/O: the harness gathers the state, the unit tests make it up.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from game.rules import RulesError, new_game
from tests.chaos.history import ACK, PROVISIONAL, History, RequestRecord

#: What a log line must not contain.
LOG_MARKERS: Final = ("Traceback", "INTERNAL")
#: Lines shown after a log hit.
LOG_CONTEXT: Final = 14
#: What a server logs when it ends a game on time by itself (game/server/timeouts.py).
SERVER_TIMEOUT_LOG: Final = "ended by this server after flag_grace"
#: The result reason of a game lost on time.
TIME: Final = "time"


@attrs.frozen
class FinalServer:
    """One server after convergence.

    :ivar status: its ``Status`` answer, or None if it did not answer.
    :ivar documents: every game it holds, by id, as the ``GetGame`` text.
    """

    server_id: int
    status: Mapping[str, Any] | None
    documents: Mapping[str, str]


@attrs.frozen
class FinalState:
    """What the harness found at the end.

    :ivar logs: every server log and output file, by name.
    :ivar heal_at: when the last fault was healed (seconds into the run).
    :ivar converged_at: when the servers were seen converged, or None.
    :ivar incidents: other problems the harness saw (a server that exited on
        its own, an exception in the client library), each one violation.
    :ivar overdue_after: seconds past a deadline after which a game must have
        ended: ``flag_grace`` plus the catch-up time (None: not checked).
    """

    servers: tuple[FinalServer, ...]
    logs: Mapping[str, str] = attrs.Factory(dict)
    heal_at: float | None = None
    converged_at: float | None = None
    convergence_limit: float = 30.0
    incidents: tuple[str, ...] = ()
    overdue_after: float | None = None


@attrs.frozen
class Violation:
    """A broken promise: ``check`` is 1-6 (as in the module doc), 0 for incidents."""

    check: int
    kind: str
    message: str
    game_id: str | None = None


@attrs.define
class CheckResult:
    violations: list[Violation] = attrs.Factory(list)
    requests: int = 0
    games: int = 0
    acknowledged: int = 0
    #: Of the counted: relied on a wiped server, but confirmed again later.
    acknowledged_reconfirmed: int = 0
    #: Relied on a wiped server and never confirmed again: not counted on.
    acknowledged_excluded: int = 0
    provisional: int = 0
    provisional_kept: int = 0
    undone: int = 0
    lost: int = 0
    lost_excluded: int = 0
    divergent_games: int = 0
    illegal_games: int = 0
    log_hits: int = 0
    time_to_converge: float | None = None
    #: Timed games at the end; acknowledged changes of timed games.
    timed_games: int = 0
    acknowledged_timed: int = 0
    #: Games ended on time: all, those a ClaimTimeout was answered for, the others.
    ended_on_time: int = 0
    ended_by_claim: int = 0
    ended_by_servers: int = 0
    #: "ended by this server" log lines (one game may be ended by several replicas).
    server_timeouts_logged: int = 0
    #: Active games past their deadline by more than ``overdue_after``.
    overdue_active: int = 0
    #: Undone provisional changes and lost excluded acknowledgements, described.
    notes: list[str] = attrs.Factory(list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def counts(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        data.pop("violations")
        data.pop("notes")
        data["violations"] = len(self.violations)
        return data


def check(history: History, final: FinalState) -> CheckResult:
    """Check a chaos run; see the module doc."""
    result = CheckResult(requests=len(history.requests))
    parsed: dict[int, dict[str, dict[str, Any]]] = {
        server.server_id: {gid: json.loads(text) for gid, text in server.documents.items()}
        for server in final.servers
    }
    _check_changes(history, parsed, result)
    _check_identical(final, parsed, result)
    _check_legal(final, result)
    _check_logs(history, final, result)
    _check_convergence(final, result)
    _check_time(history, final, parsed, result)
    for incident in final.incidents:
        result.violations.append(Violation(0, "incident", incident))
    return result


# -- 1. acknowledged changes --------------------------------------------------------


def missing_from(acknowledged: Mapping[str, Any], final: Mapping[str, Any] | None) -> str | None:
    """Why the change that produced the document ``acknowledged`` is not in
    ``final`` (the final document of that game on one server); None if it is."""
    if final is None:
        return "the game is missing"
    if final.get("kind") != acknowledged["kind"]:
        return f"kind {final.get('kind')!r}, not {acknowledged['kind']!r}"
    if final["version"] < acknowledged["version"]:
        return f"final version {final['version']} < acknowledged {acknowledged['version']}"
    moves = acknowledged["moves"]
    if final["moves"][: len(moves)] != moves:
        at = next(
            (i for i, (a, b) in enumerate(zip(moves, final["moves"], strict=False)) if a != b),
            min(len(moves), len(final["moves"])),
        )
        return (
            f"moves differ from move {at + 1}: acknowledged {moves[at : at + 3]}..., "
            f"final {final['moves'][at : at + 3]}... ({len(moves)} acknowledged, "
            f"{len(final['moves'])} final)"
        )
    for seat in (0, 1):
        if acknowledged["players"][seat] is not None and (
            final["players"][seat] != acknowledged["players"][seat]
        ):
            return f"seat {seat}: {final['players'][seat]!r}, not {acknowledged['players'][seat]!r}"
    if acknowledged["result"] is not None and (
        final["result"] != acknowledged["result"] or final["version"] != acknowledged["version"]
    ):
        return f"result {final['result']} v{final['version']}, not {acknowledged['result']}"
    if final["version"] == acknowledged["version"] and dict(final) != dict(acknowledged):
        differing = sorted(k for k in acknowledged if final.get(k) != acknowledged[k])
        return f"same version {final['version']}, but {', '.join(differing)} differ"
    return None


def relied_on_wiped(record: RequestRecord, history: History) -> bool:
    """Whether fewer than two of the servers that answered this document
    identically kept their data directory after the request was sent."""
    kept = [
        sid
        for sid in record.holders()
        if not any(w.server_id == sid and w.at >= record.sent for w in history.wipes)
    ]
    return len(kept) < 2


def _check_changes(
    history: History, parsed: Mapping[int, Mapping[str, Mapping[str, Any]]], result: CheckResult
) -> None:
    # Confirmations: documents two servers answered identically (a change or
    # a read) and that neither lost since.  An acknowledged change that
    # relied on a wiped server is counted on again when a later confirmation
    # holds it: two servers that kept their data held it then.
    confirmations: dict[str, list[tuple[RequestRecord, Mapping[str, Any]]]] = {}
    for record in history.requests:
        confirmed = record.decision == ACK and record.document is not None
        if confirmed and not relied_on_wiped(record, history):
            document = json.loads(str(record.document))
            confirmations.setdefault(record.game_id, []).append((record, document))
    for record in history.requests:
        if not record.is_change or record.document is None:
            continue
        if record.decision not in (ACK, PROVISIONAL):
            continue
        acknowledged = json.loads(record.document)
        missing = {
            sid: why
            for sid, documents in sorted(parsed.items())
            if (why := missing_from(acknowledged, documents.get(record.game_id))) is not None
        }
        if record.decision == PROVISIONAL:
            result.provisional += 1
            if missing:
                result.undone += 1
                result.notes.append(f"undone provisional: {record.describe()}")
            else:
                result.provisional_kept += 1
            continue
        counted, why_counted = True, ""
        if relied_on_wiped(record, history):
            confirmed_by = next(
                (
                    later
                    for later, document in reversed(confirmations.get(record.game_id, []))
                    if later.sent >= record.sent and missing_from(acknowledged, document) is None
                ),
                None,
            )
            if confirmed_by is None:
                counted = False
            else:
                why_counted = f" (relied on a wiped server; confirmed again by #{confirmed_by.seq})"
                result.acknowledged_reconfirmed += 1
        if counted:
            result.acknowledged += 1
            if "clock" in acknowledged:
                result.acknowledged_timed += 1
        else:
            result.acknowledged_excluded += 1
        if not missing:
            continue
        finals = ", ".join(
            f"server {sid}: {_short(documents.get(record.game_id))}"
            for sid, documents in sorted(parsed.items())
        )
        reasons = "; ".join(f"server {sid}: {why}" for sid, why in missing.items())
        message = (
            f"{record.describe()}{why_counted}\n    not in the final game: {reasons}\n"
            f"    final: {finals}"
        )
        if counted:
            result.lost += 1
            by_timeout = any(
                _ended_on_time(documents.get(record.game_id)) for documents in parsed.values()
            )
            kind = "undone-by-timeout" if by_timeout else "lost"
            result.violations.append(Violation(1, kind, message, record.game_id))
        else:
            result.lost_excluded += 1
            result.notes.append(f"lost, but relied on a wiped server: {message}")


def _short(doc: Mapping[str, Any] | None) -> str:
    if doc is None:
        return "missing"
    return f"v{doc['version']} {doc['status']} {len(doc['moves'])} moves"


# -- 2. identical replicas ----------------------------------------------------------


def digest_of(documents: Sequence[str]) -> str:
    """PROTOCOL.md's digest: the XOR of the SHA-256 of every document."""
    value = 0
    for text in documents:
        value ^= int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest(), "big")
    return f"{value:064x}"


def _check_identical(
    final: FinalState,
    parsed: Mapping[int, Mapping[str, Mapping[str, Any]]],
    result: CheckResult,
) -> None:
    servers = final.servers
    all_ids = sorted({gid for server in servers for gid in server.documents})
    result.games = len(all_ids)
    for server in servers:
        if server.status is None:
            result.violations.append(
                Violation(2, "unreachable", f"server {server.server_id} did not answer Status")
            )
            continue
        status = server.status
        if not status.get("serving"):
            result.violations.append(
                Violation(2, "not-serving", f"server {server.server_id} does not serve: {status}")
            )
        documents = list(server.documents.values())
        expected = {
            "clock": sum(doc["version"] for doc in parsed[server.server_id].values()),
            "games": len(documents),
            "digest": digest_of(documents),
        }
        for key, value in expected.items():
            if status.get(key) != value:
                result.violations.append(
                    Violation(
                        2,
                        "status-mismatch",
                        f"server {server.server_id} reports {key} {status.get(key)!r}, "
                        f"but its documents give {value!r}",
                    )
                )
    statuses = {s.server_id: s.status for s in servers if s.status is not None}
    for key in ("clock", "games", "digest"):
        values = {sid: status.get(key) for sid, status in statuses.items()}
        if len(set(values.values())) > 1:
            result.violations.append(
                Violation(2, "status-differ", f"servers report different {key}s: {values}")
            )
    for gid in all_ids:
        texts = {server.server_id: server.documents.get(gid) for server in servers}
        if len(set(texts.values())) > 1:
            result.divergent_games += 1
            shown = ", ".join(
                f"server {sid}: {_short(parsed[sid].get(gid))}" for sid in sorted(texts)
            )
            result.violations.append(
                Violation(2, "divergent", f"game {gid} differs between servers: {shown}", gid)
            )


# -- 3. legal histories -------------------------------------------------------------


def history_problems(doc: Mapping[str, Any]) -> list[str]:
    """What is wrong with a game document as a history of the rules (empty if nothing)."""
    try:
        position = new_game(doc["kind"])
    except RulesError as error:
        return [str(error)]
    moves = doc["moves"]
    for number, move in enumerate(moves, 1):
        try:
            position = position.play(move)
        except RulesError as error:
            return [f"move {number} {move!r} cannot be played: {error}"]
    problems = []
    if doc["position"] != position.to_text():
        problems.append(f"position {doc['position']!r}, the moves give {position.to_text()!r}")
    seated = sum(player is not None for player in doc["players"])
    others = doc["version"] - 1 - (1 if seated == 2 else 0) - len(moves)
    if others < 0:
        problems.append(f"version {doc['version']} is too low for {len(moves)} moves")
    status, result = doc["status"], doc["result"]
    outcome = position.outcome()
    if seated < 2:
        if moves:
            problems.append("moves were played with a free seat")
        if status == "open":
            if result is not None or others != 0:
                problems.append(f"an open game with result {result} and version {doc['version']}")
        elif status == "finished":
            if result != {"winner": None, "reason": "cancelled"}:
                problems.append(f"a game with a free seat finished with {result}")
        else:
            problems.append(f"status {status!r} with a free seat")
    elif outcome is not None:
        expected = {"winner": outcome.winner, "reason": outcome.reason}
        if result != expected or status != "finished":
            problems.append(f"the rules end the game with {expected}, the document says {result}")
    elif result is None:
        if status != "active":
            problems.append(f"status {status!r} without a result")
        if doc["to_move"] != position.to_move:
            problems.append(f"to_move {doc['to_move']}, the moves give {position.to_move}")
        if doc["legal"] != position.legal_moves():
            problems.append("the legal moves differ from the rules'")
    elif result.get("reason") == "resigned":
        if result.get("winner") not in (0, 1) or others < 1:
            problems.append(f"a resignation with {result} and {others} non-move events")
    elif result.get("reason") == "draw agreed":
        if result.get("winner") is not None or others < 2:
            problems.append(f"an agreed draw with {result} and {others} non-move events")
    elif result.get("reason") == TIME:
        problems += time_result_problems(doc, position.to_move, others)
    else:
        problems.append(f"result {result}, but the rules do not end the game")
    if status == "finished" and (doc["legal"] or doc["to_move"] is not None or doc["draw_offer"]):
        problems.append("a finished game with legal moves, a side to move or a draw offer")
    return problems


def time_result_problems(doc: Mapping[str, Any], flagged: int, others: int) -> list[str]:
    """What is wrong with a game that ended on time: ``flagged`` is the side
    to move after its moves (the one whose time ran out), ``others`` its
    events that are not moves (the timeout among them)."""
    clock = doc.get("clock")
    if clock is None:
        return [f"an untimed game ended on time: {doc['result']}"]
    problems = []
    if doc["result"].get("winner") != 1 - flagged:
        problems.append(
            f"ended on time with {doc['result']}, but seat {flagged} was to move: "
            f"the winner must be seat {1 - flagged}"
        )
    if others < 1:
        problems.append(f"ended on time with {others} non-move events")
    if clock.get("remaining", [None, None])[flagged] != 0:
        problems.append(f"ended on time, but seat {flagged} has {clock.get('remaining')} ms left")
    if clock.get("at") is not None or clock.get("deadline") is not None:
        problems.append(f"ended on time, but its clock still runs: {clock}")
    return problems


def _ended_on_time(doc: Mapping[str, Any] | None) -> bool:
    return doc is not None and (doc.get("result") or {}).get("reason") == TIME


def _check_legal(final: FinalState, result: CheckResult) -> None:
    seen: set[str] = set()
    for server in final.servers:
        for gid, text in sorted(server.documents.items()):
            if text in seen:
                continue
            seen.add(text)
            problems = history_problems(json.loads(text))
            if problems:
                result.illegal_games += 1
                result.violations.append(
                    Violation(
                        3,
                        "illegal",
                        f"game {gid} on server {server.server_id}: {'; '.join(problems)}",
                        gid,
                    )
                )


# -- 4. logs ------------------------------------------------------------------------


def log_hits(name: str, text: str) -> list[str]:
    """Every traceback or INTERNAL in one log, with the lines after it."""
    lines = text.splitlines()
    hits = []
    skip_until = -1
    for number, line in enumerate(lines):
        if number <= skip_until:
            continue
        if any(marker in line for marker in LOG_MARKERS):
            context = lines[number : number + LOG_CONTEXT]
            hits.append(f"{name}:{number + 1}:\n    " + "\n    ".join(context))
            skip_until = number + LOG_CONTEXT - 1
    return hits


def _check_logs(history: History, final: FinalState, result: CheckResult) -> None:
    for name, text in sorted(final.logs.items()):
        for hit in log_hits(name, text):
            result.log_hits += 1
            result.violations.append(Violation(4, "log", hit))
    for record in history.requests:
        for sid, answer in sorted(record.answers.items()):
            if answer.kind == "error" and answer.tag == "INTERNAL":
                result.violations.append(
                    Violation(
                        4,
                        "internal",
                        f"server {sid} answered INTERNAL: {record.describe()}",
                        record.game_id,
                    )
                )


# -- 5. convergence -----------------------------------------------------------------


def _check_convergence(final: FinalState, result: CheckResult) -> None:
    if final.converged_at is None or final.heal_at is None:
        result.violations.append(
            Violation(5, "not-converged", "the servers did not converge after the last heal")
        )
        return
    result.time_to_converge = round(final.converged_at - final.heal_at, 2)
    if result.time_to_converge > final.convergence_limit:
        result.violations.append(
            Violation(
                5,
                "slow-convergence",
                f"converged {result.time_to_converge} s after the last heal "
                f"(limit {final.convergence_limit} s)",
            )
        )


# -- 6. timed games -----------------------------------------------------------------


def overdue_games(
    documents: Mapping[str, Mapping[str, Any]], now_ms: int, overdue_after: float
) -> list[str]:
    """The active games of one server whose deadline passed more than
    ``overdue_after`` seconds before ``now_ms``."""
    limit = now_ms - round(1000 * overdue_after)
    return sorted(
        gid
        for gid, doc in documents.items()
        if doc["status"] == "active"
        and (doc.get("clock") or {}).get("deadline") is not None
        and doc["clock"]["deadline"] < limit
    )


def _check_time(
    history: History,
    final: FinalState,
    parsed: Mapping[int, Mapping[str, Mapping[str, Any]]],
    result: CheckResult,
) -> None:
    # Counted on one server's documents (check 2 says whether they differ).
    documents = next(iter(parsed.values()), {})
    claimed = {
        record.game_id
        for record in history.requests
        if record.command == "ClaimTimeout"
        and any(answer.kind == "ok" for answer in record.answers.values())
    }
    for gid, doc in documents.items():
        if "clock" in doc:
            result.timed_games += 1
        if _ended_on_time(doc):
            result.ended_on_time += 1
            if gid in claimed:
                result.ended_by_claim += 1
            else:
                result.ended_by_servers += 1
    result.server_timeouts_logged = sum(
        text.count(SERVER_TIMEOUT_LOG) for name, text in final.logs.items() if name.endswith(".log")
    )
    if final.overdue_after is None:
        return
    nows = [s.status["now"] for s in final.servers if s.status is not None and "now" in s.status]
    if not nows:
        return
    # The earliest clock of the servers: each ends a game by its own clock.
    now_ms = min(nows)
    overdue: set[str] = set()
    for sid, held in sorted(parsed.items()):
        for gid in overdue_games(held, now_ms, final.overdue_after):
            late = (now_ms - held[gid]["clock"]["deadline"]) / 1000
            overdue.add(gid)
            result.violations.append(
                Violation(
                    6,
                    "overdue",
                    f"game {gid} is still active on server {sid} {late:.1f} s after its "
                    f"deadline (flag_grace plus catch-up: {final.overdue_after:g} s)",
                    gid,
                )
            )
    result.overdue_active = len(overdue)


# -- the summary --------------------------------------------------------------------


def summary_table(
    result: CheckResult, faults: Mapping[str, int], extra: Sequence[tuple[str, object]] = ()
) -> str:
    """The table printed at the end of a run."""
    rows: list[tuple[str, object]] = [("faults, total", sum(faults.values()))]
    rows += [(f"  {kind}", count) for kind, count in sorted(faults.items())]
    ttc = result.time_to_converge
    rows += [
        ("requests", result.requests),
        ("games at the end", result.games),
        ("changes acknowledged, counted on", result.acknowledged),
        ("  of them confirmed again after a wipe", result.acknowledged_reconfirmed),
        ("changes acknowledged, relied on a wiped server", result.acknowledged_excluded),
        ("provisional changes", result.provisional),
        ("  kept", result.provisional_kept),
        ("  undone", result.undone),
        ("acknowledged changes lost", result.lost),
        ("  lost, relied on a wiped server (not failed)", result.lost_excluded),
        ("divergent games", result.divergent_games),
        ("illegal games", result.illegal_games),
        ("log tracebacks / INTERNAL", result.log_hits),
        ("time to converge (s)", "never" if ttc is None else f"{ttc:.2f}"),
        ("timed games", result.timed_games),
        ("  changes acknowledged in timed games", result.acknowledged_timed),
        ("  ended on time", result.ended_on_time),
        ("    by a claim", result.ended_by_claim),
        ("    by the servers' own timeout", result.ended_by_servers),
        ("  servers' own timeouts (log lines)", result.server_timeouts_logged),
        ("  overdue games left active", result.overdue_active),
        *extra,
        ("violations", len(result.violations)),
        ("verdict", "PASS" if result.ok else "FAIL"),
    ]
    width = max(len(name) for name, _ in rows)
    line = "-" * (width + 14)
    body = "\n".join(f"{name:<{width}}  {value!s:>10}" for name, value in rows)
    return f"{line}\n{body}\n{line}"
