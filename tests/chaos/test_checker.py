"""The chaos checker on synthetic histories: it passes a clean run and fails
each kind of broken one (a lost move, a divergent game, an illegal history,
a traceback, an INTERNAL answer, a slow convergence; in timed games a move
undone by a timeout, replicas that end a game differently, a wrong end on
time, an overdue game still active)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from game.rules import new_game
from tests.chaos.checker import (
    FinalServer,
    FinalState,
    check,
    digest_of,
    history_problems,
    missing_from,
    summary_table,
)
from tests.chaos.history import (
    ACK,
    ERROR,
    PROVISIONAL,
    Answer,
    History,
    RequestRecord,
    Wipe,
    document_hash,
)

GAME = "g-1"


def canonical(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def make_doc(
    moves: Sequence[str] = (),
    players: tuple[str | None, str | None] = ("alice", "bob"),
    kind: str = "connect4",
    game_id: str = GAME,
    extra_events: int = 0,
    result: dict[str, Any] | None = None,
    draw_offer: int | None = None,
) -> dict[str, Any]:
    """A game document as a server derives it from its events."""
    position = new_game(kind)
    for move in moves:
        position = position.play(move)
    outcome = position.outcome()
    seated = sum(p is not None for p in players)
    if outcome is not None:
        result = {"winner": outcome.winner, "reason": outcome.reason}
    status = "finished" if result is not None else ("active" if seated == 2 else "open")
    active = status == "active"
    return {
        "id": game_id,
        "kind": kind,
        "version": 1 + (1 if seated == 2 else 0) + len(moves) + extra_events,
        "status": status,
        "players": list(players),
        "to_move": position.to_move if active else None,
        "moves": list(moves),
        "position": position.to_text(),
        "legal": position.legal_moves() if active else [],
        "draw_offer": draw_offer if active else None,
        "result": result,
    }


def record(
    seq: int,
    command: str,
    doc: dict[str, Any],
    holders: Sequence[int] = (1, 2),
    decision: str = ACK,
    sent: float | None = None,
    others: dict[int, Answer] | None = None,
) -> RequestRecord:
    """A request whose answer ``doc`` came from ``holders``."""
    text = canonical(doc)
    at = float(seq) if sent is None else sent
    answers = {
        sid: Answer(at + 0.01, "ok", version=doc["version"], hash=document_hash(text))
        for sid in holders
    }
    answers.update(others or {})
    return RequestRecord(
        seq=seq,
        game_id=doc["id"],
        command=command,
        args={"version": doc["version"] - 1},
        seat=0,
        sent=at,
        decided=at + 0.01,
        asked=[1, 2, 3],
        answers=answers,
        decision=decision,
        agreed=list(holders)[:2],
        document=text,
    )


def clean_history() -> History:
    """Create, join and three moves of connect4, all acknowledged by all three."""
    steps = [
        ("CreateGame", make_doc(players=("alice", None))),
        ("JoinGame", make_doc()),
        ("MakeMove", make_doc(["4"])),
        ("MakeMove", make_doc(["4", "4"])),
        ("MakeMove", make_doc(["4", "4", "3"])),
    ]
    return History([record(i, cmd, doc, (1, 2, 3)) for i, (cmd, doc) in enumerate(steps)])


def server(sid: int, docs: Sequence[dict[str, Any]], **status: Any) -> FinalServer:
    texts = {doc["id"]: canonical(doc) for doc in docs}
    base = {
        "server_id": sid,
        "serving": True,
        "clock": sum(doc["version"] for doc in docs),
        "games": len(docs),
        "digest": digest_of(list(texts.values())),
        "protocol": 1,
    }
    base.update(status)
    return FinalServer(sid, base, texts)


def final_state(
    docs_by_server: dict[int, Sequence[dict[str, Any]]] | None = None,
    logs: dict[str, str] | None = None,
    converged_after: float | None = 2.0,
) -> FinalState:
    if docs_by_server is None:
        final = make_doc(["4", "4", "3"])
        docs_by_server = {1: [final], 2: [final], 3: [final]}
    return FinalState(
        tuple(server(sid, docs) for sid, docs in sorted(docs_by_server.items())),
        logs if logs is not None else {"server-1.run-1.log": "listening on 127.0.0.1\n"},
        heal_at=100.0,
        converged_at=None if converged_after is None else 100.0 + converged_after,
    )


def kinds(result: Any) -> list[str]:
    return [v.kind for v in result.violations]


# -- the clean run ---------------------------------------------------------------------


def test_a_clean_run_passes() -> None:
    result = check(clean_history(), final_state())
    assert result.ok, result.violations
    assert result.acknowledged == 5
    assert result.lost == 0
    assert result.divergent_games == 0
    assert result.time_to_converge == 2.0
    assert "PASS" in summary_table(result, {"kill_restart": 3})


def test_a_game_that_went_on_after_the_acknowledgements_passes() -> None:
    later = make_doc(["4", "4", "3", "3", "2"], extra_events=1, draw_offer=0)
    result = check(clean_history(), final_state({1: [later], 2: [later], 3: [later]}))
    assert result.ok, result.violations


# -- 1. lost acknowledged changes ---------------------------------------------------


def test_a_lost_move_fails() -> None:
    behind = make_doc(["4", "4"])  # the acknowledged "3" is gone everywhere
    result = check(clean_history(), final_state({1: [behind], 2: [behind], 3: [behind]}))
    assert kinds(result) == ["lost"]
    assert result.lost == 1
    assert "MakeMove" in result.violations[0].message
    assert result.violations[0].game_id == GAME


def test_a_move_replaced_by_another_fails() -> None:
    forked = make_doc(["4", "4", "5", "1"])
    result = check(clean_history(), final_state({1: [forked], 2: [forked], 3: [forked]}))
    assert kinds(result) == ["lost"]
    assert "moves differ from move 3" in result.violations[0].message


def test_a_lost_game_fails() -> None:
    other = make_doc(game_id="g-2")
    result = check(clean_history(), final_state({1: [other], 2: [other], 3: [other]}))
    assert result.lost == 5
    assert set(kinds(result)) == {"lost"}


def test_a_lost_result_fails() -> None:
    history = clean_history()
    resigned = make_doc(["4", "4", "3"], extra_events=1, result={"winner": 1, "reason": "resigned"})
    history.requests.append(record(5, "Resign", resigned, (1, 3)))
    result = check(history, final_state())
    assert kinds(result) == ["lost"]
    assert "version 6" in result.violations[0].message or "< acknowledged 6" in (
        result.violations[0].message
    )


def test_a_lost_change_that_relied_on_a_wiped_server_is_only_reported() -> None:
    history = clean_history()
    history.requests[-1] = record(4, "MakeMove", make_doc(["4", "4", "3"]), (1, 2), sent=4.0)
    history.wipes.append(Wipe(2, 10.0))
    behind = make_doc(["4", "4"])
    result = check(history, final_state({1: [behind], 2: [behind], 3: [behind]}))
    assert result.ok, result.violations
    assert result.lost_excluded == 1
    assert result.acknowledged_excluded == 1
    assert result.acknowledged_reconfirmed == 0
    assert any("relied on a wiped server" in note for note in result.notes)


def test_a_change_confirmed_again_after_a_wipe_is_counted_on() -> None:
    history = clean_history()
    history.requests[3] = record(3, "MakeMove", make_doc(["4", "4"]), (1, 2), sent=3.0)
    history.wipes.append(Wipe(2, 3.5))  # request 4 (all three, at 4.0) holds it again
    result = check(history, final_state())
    assert result.ok, result.violations
    assert (result.acknowledged, result.acknowledged_reconfirmed) == (5, 1)
    assert result.acknowledged_excluded == 0


def test_a_lost_change_confirmed_again_by_a_read_after_a_wipe_fails() -> None:
    history = clean_history()
    history.requests[4] = record(4, "MakeMove", make_doc(["4", "4", "3"]), (1, 2), sent=4.0)
    history.wipes.append(Wipe(2, 4.5))
    history.requests.append(record(5, "GetGame", make_doc(["4", "4", "3"]), (1, 3), sent=6.0))
    behind = make_doc(["4", "4"])
    result = check(history, final_state({1: [behind], 2: [behind], 3: [behind]}))
    assert kinds(result) == ["lost"]
    assert "confirmed again by #5" in result.violations[0].message


def test_a_provisional_read_confirms_nothing() -> None:
    history = clean_history()
    history.requests[4] = record(4, "MakeMove", make_doc(["4", "4", "3"]), (1, 2), sent=4.0)
    history.wipes.append(Wipe(2, 4.5))
    read = record(5, "GetGame", make_doc(["4", "4", "3"]), (3,), decision=PROVISIONAL, sent=6.0)
    history.requests.append(read)
    behind = make_doc(["4", "4"])
    result = check(history, final_state({1: [behind], 2: [behind], 3: [behind]}))
    assert result.ok, result.violations
    assert result.lost_excluded == 1


def test_a_wipe_before_the_request_does_not_excuse_a_loss() -> None:
    history = clean_history()
    history.requests[-1] = record(4, "MakeMove", make_doc(["4", "4", "3"]), (1, 2), sent=4.0)
    history.wipes.append(Wipe(2, 1.0))  # wiped, rebuilt, then acknowledged
    behind = make_doc(["4", "4"])
    result = check(history, final_state({1: [behind], 2: [behind], 3: [behind]}))
    assert kinds(result) == ["lost"]


def test_three_holders_survive_one_wipe() -> None:
    history = clean_history()  # every change answered by all three
    history.wipes.append(Wipe(2, 10.0))
    behind = make_doc(["4", "4"])
    result = check(history, final_state({1: [behind], 2: [behind], 3: [behind]}))
    assert kinds(result) == ["lost"]


def test_an_undone_provisional_change_is_counted_not_failed() -> None:
    history = clean_history()
    history.requests.append(
        record(5, "MakeMove", make_doc(["4", "4", "3", "3"]), (2,), decision=PROVISIONAL)
    )
    result = check(history, final_state())
    assert result.ok, result.violations
    assert (result.provisional, result.undone, result.provisional_kept) == (1, 1, 0)


def test_errors_are_not_changes() -> None:
    history = clean_history()
    stale = record(5, "MakeMove", make_doc(["4", "4", "3", "3"]), (1, 2), decision=ERROR)
    stale.document = None
    history.requests.append(stale)
    assert check(history, final_state()).ok


def test_missing_from_compares_the_whole_document_at_the_same_version() -> None:
    acknowledged = make_doc(["4"], extra_events=1, draw_offer=0)
    assert missing_from(acknowledged, acknowledged) is None
    other = dict(acknowledged, draw_offer=None)
    assert "draw_offer" in str(missing_from(acknowledged, other))
    assert missing_from(acknowledged, None) == "the game is missing"


# -- 2. divergence ------------------------------------------------------------------


def test_a_divergent_game_fails() -> None:
    final = make_doc(["4", "4", "3"])
    ahead = make_doc(["4", "4", "3", "3"])
    result = check(clean_history(), final_state({1: [final], 2: [final], 3: [ahead]}))
    assert "divergent" in kinds(result)
    assert "status-differ" in kinds(result)
    assert result.divergent_games == 1
    assert "lost" not in kinds(result)


def test_a_game_missing_on_one_server_is_divergent() -> None:
    final = make_doc(["4", "4", "3"])
    result = check(clean_history(), final_state({1: [final], 2: [final], 3: []}))
    assert result.divergent_games == 1
    assert "lost" in kinds(result)  # not on every server


def test_a_digest_that_does_not_match_the_documents_fails() -> None:
    state = final_state()
    wrong = FinalServer(
        3, {**state.servers[2].status, "digest": "0" * 64}, state.servers[2].documents
    )
    state = FinalState((*state.servers[:2], wrong), state.logs, 100.0, 102.0)
    result = check(clean_history(), state)
    assert "status-mismatch" in kinds(result)


def test_a_server_that_does_not_serve_fails() -> None:
    state = final_state()
    down = FinalServer(2, None, {})
    state = FinalState((state.servers[0], down, state.servers[2]), state.logs, 100.0, 102.0)
    assert "unreachable" in kinds(check(clean_history(), state))


# -- 3. legal histories ---------------------------------------------------------------


def test_an_illegal_history_fails() -> None:
    # Column 4 of connect4 holds six discs: a seventh cannot be played.
    legal = make_doc(["4"] * 6)
    illegal = dict(legal, moves=["4"] * 7, version=legal["version"] + 1)
    result = check(History(), final_state({1: [illegal], 2: [illegal], 3: [illegal]}))
    assert kinds(result) == ["illegal"]
    assert "move 7" in result.violations[0].message


def test_a_wrong_result_is_an_illegal_history() -> None:
    won = make_doc(["4", "4", "3", "3", "2", "2", "1"])
    assert won["result"] == {"winner": 0, "reason": "four in a row"}
    assert history_problems(won) == []
    wrong = dict(won, result={"winner": 1, "reason": "four in a row"})
    assert history_problems(wrong)
    unfinished = dict(
        make_doc(["4"]), status="finished", result={"winner": 0, "reason": "board full"}
    )
    assert history_problems(unfinished)


def test_resignations_draws_and_cancellations_are_legal() -> None:
    resigned = make_doc(["4"], extra_events=1, result={"winner": 0, "reason": "resigned"})
    drawn = make_doc(["4", "5"], extra_events=2, result={"winner": None, "reason": "draw agreed"})
    cancelled = make_doc(
        players=("alice", None), extra_events=1, result={"winner": None, "reason": "cancelled"}
    )
    for doc in (resigned, drawn, cancelled):
        assert history_problems(doc) == [], doc
    assert history_problems(dict(drawn, version=drawn["version"] - 2))


def test_a_position_that_does_not_follow_from_the_moves_is_illegal() -> None:
    doc = make_doc(["4", "4"], kind="connect4")
    assert history_problems(dict(doc, position="43"))
    checkers = make_doc(["11-15", "23-18"], kind="checkers")
    assert history_problems(checkers) == []
    assert history_problems(dict(checkers, legal=["9-13"]))


# -- 4. logs and INTERNAL -----------------------------------------------------------


TRACEBACK_LOG = """\
2026-01-01T00:00:00+0000 [replgame.service#info] listening on 127.0.0.1:4000
2026-01-01T00:00:01+0000 [replgame.connection#critical] INTERNAL error answering MakeMove
\tTraceback (most recent call last):
\t  File "game/server/node.py", line 10, in change_game
\tKeyError: 'g-1'
2026-01-01T00:00:02+0000 [replgame.service#info] fine again
"""


def test_a_traceback_in_a_log_fails() -> None:
    result = check(clean_history(), final_state(logs={"server-2.run-3.log": TRACEBACK_LOG}))
    assert kinds(result) == ["log"]  # one hit: the traceback follows the INTERNAL line
    assert "server-2.run-3.log:2" in result.violations[0].message
    assert "KeyError" in result.violations[0].message


def test_a_traceback_on_stderr_fails() -> None:
    output = "Traceback (most recent call last):\n  ...\nOSError: disk full\n"
    result = check(clean_history(), final_state(logs={"server-1.run-1.out": output}))
    assert kinds(result) == ["log"]


def test_an_internal_answer_fails() -> None:
    history = clean_history()
    history.requests[2].answers[3] = Answer(2.01, "error", tag="INTERNAL")
    result = check(history, final_state())
    assert kinds(result) == ["internal"]


# -- 5. convergence -----------------------------------------------------------------


def test_slow_or_no_convergence_fails() -> None:
    assert kinds(check(clean_history(), final_state(converged_after=31.0))) == ["slow-convergence"]
    assert kinds(check(clean_history(), final_state(converged_after=None))) == ["not-converged"]


def test_incidents_fail() -> None:
    state = final_state()
    state = FinalState(state.servers, state.logs, 100.0, 101.0, incidents=("server 2 exited",))
    assert kinds(check(clean_history(), state)) == ["incident"]


# -- the history format ---------------------------------------------------------------


def test_a_history_round_trips_through_json() -> None:
    history = clean_history()
    history.wipes.append(Wipe(3, 7.5))
    again = History.from_json(json.loads(json.dumps(history.to_json())))
    assert again == history
    assert again.requests[2].holders() == [1, 2, 3]


# -- 6. timed games -----------------------------------------------------------------

#: The servers' time (ms) at the join of the timed games below.
T0 = 1_700_000_000_000


def timed(
    doc: dict[str, Any],
    remaining: tuple[int, int] = (10_000, 10_000),
    at: int = T0,
    control: str = "live:10+0",
) -> dict[str, Any]:
    """``doc`` as a timed game: its clock runs while it is active."""
    running = doc["status"] == "active"
    return {
        **doc,
        "clock": {
            "control": control,
            "remaining": list(remaining),
            "at": at if running else None,
            "deadline": at + remaining[doc["to_move"]] if running else None,
        },
    }


def on_time(moves: Sequence[str], winner: int | None = None, left: int = 7_000) -> dict[str, Any]:
    """A timed connect4 game after ``moves``, ended by the timeout of the side to move."""
    flagged = len(moves) % 2
    won = 1 - flagged if winner is None else winner
    doc = make_doc(moves, extra_events=1, result={"winner": won, "reason": "time"})
    remaining = (0, left) if flagged == 0 else (left, 0)
    return timed(doc, remaining)


def timed_history() -> History:
    """Create, join and two moves of a timed game, all acknowledged by all three."""
    steps = [
        ("CreateGame", timed(make_doc(players=("alice", None)))),
        ("JoinGame", timed(make_doc())),
        ("MakeMove", timed(make_doc(["4"]), (10_000, 10_000), T0 + 400)),
        ("MakeMove", timed(make_doc(["4", "4"]), (9_600, 9_700), T0 + 700)),
    ]
    return History([record(i, cmd, doc, (1, 2, 3)) for i, (cmd, doc) in enumerate(steps)])


def timed_final(
    docs: dict[int, Sequence[dict[str, Any]]], nows: dict[int, int], overdue_after: float = 9.0
) -> FinalState:
    state = final_state(docs)
    servers = tuple(
        FinalServer(s.server_id, {**(s.status or {}), "now": nows[s.server_id]}, s.documents)
        for s in state.servers
    )
    return FinalState(servers, state.logs, 100.0, 102.0, overdue_after=overdue_after)


def everywhere(*docs: dict[str, Any]) -> dict[int, Sequence[dict[str, Any]]]:
    return {1: list(docs), 2: list(docs), 3: list(docs)}


def test_a_game_ended_by_the_servers_on_time_passes() -> None:
    ended = on_time(["4", "4"])
    logs = {"server-2.run-1.log": "... ended by this server after flag_grace\n"}
    state = timed_final(everywhere(ended), dict.fromkeys((1, 2, 3), T0 + 60_000))
    state = FinalState(state.servers, logs, 100.0, 102.0, overdue_after=9.0)
    result = check(timed_history(), state)
    assert result.ok, result.violations
    assert (result.timed_games, result.acknowledged_timed) == (1, 4)
    assert (result.ended_on_time, result.ended_by_claim, result.ended_by_servers) == (1, 0, 1)
    assert result.server_timeouts_logged == 1
    assert "by the servers' own timeout" in summary_table(result, {})


def test_a_game_ended_by_a_claim_passes() -> None:
    history = timed_history()
    ended = on_time(["4", "4"])
    history.requests.append(record(4, "ClaimTimeout", ended, (1, 2, 3)))
    result = check(history, timed_final(everywhere(ended), dict.fromkeys((1, 2, 3), T0 + 60_000)))
    assert result.ok, result.violations
    assert (result.ended_on_time, result.ended_by_claim, result.ended_by_servers) == (1, 1, 0)
    assert result.acknowledged == 5


def test_an_acknowledged_move_undone_by_a_timeout_fails() -> None:
    # The move "4" at version 4 was acknowledged; the final game ended on
    # time at version 4 instead (seat 1 flagged after the first move).
    ended = on_time(["4"])
    result = check(timed_history(), timed_final(everywhere(ended), dict.fromkeys((1, 2, 3), T0)))
    assert kinds(result) == ["undone-by-timeout"]
    assert result.lost == 1
    assert "MakeMove" in result.violations[0].message


def test_replicas_that_end_a_flagged_game_differently_fail() -> None:
    one, other = on_time(["4", "4"], left=7_000), on_time(["4", "4"], left=6_000)
    docs = {1: [one], 2: [one], 3: [other]}
    result = check(timed_history(), timed_final(docs, dict.fromkeys((1, 2, 3), T0)))
    assert "divergent" in kinds(result)
    assert result.divergent_games == 1
    # A timeout on one replica while the others took a move is divergent too.
    moved = timed(make_doc(["4", "4", "3"]), (9_600, 9_200), T0 + 1_200)
    docs = {1: [one], 2: [moved], 3: [moved]}
    assert "divergent" in kinds(
        check(timed_history(), timed_final(docs, dict.fromkeys((1, 2, 3), T0)))
    )


def test_a_game_ended_on_time_must_name_the_other_seat_and_stop_its_clock() -> None:
    flagged_seat = 0  # two moves played: seat 0 to move
    assert history_problems(on_time(["4", "4"])) == []
    wrong = history_problems(on_time(["4", "4"], winner=flagged_seat))
    assert wrong and "the winner must be seat 1" in wrong[0]
    time_left = on_time(["4", "4"])
    time_left["clock"]["remaining"] = [1_500, 7_000]
    assert "ms left" in history_problems(time_left)[0]
    running = on_time(["4", "4"])
    running["clock"]["deadline"] = T0
    assert "still runs" in history_problems(running)[0]
    untimed = make_doc(["4", "4"], extra_events=1, result={"winner": 1, "reason": "time"})
    assert "untimed" in history_problems(untimed)[0]
    no_event = on_time(["4", "4"])
    no_event["version"] -= 1
    assert any("non-move events" in problem for problem in history_problems(no_event))


def test_an_overdue_game_still_active_fails() -> None:
    active = timed(make_doc(["4", "4"]), (9_600, 9_700), T0 + 700)
    deadline = T0 + 700 + 9_600
    # 9 s (flag_grace plus catch-up) past the deadline on the earliest clock: overdue.
    late = deadline + 9_001
    result = check(
        timed_history(), timed_final(everywhere(active), {1: late + 900, 2: late, 3: late + 5})
    )
    assert kinds(result) == ["overdue"] * 3
    assert result.overdue_active == 1
    assert "still active on server" in result.violations[0].message


def test_a_game_not_yet_overdue_on_the_earliest_clock_passes() -> None:
    active = timed(make_doc(["4", "4"]), (9_600, 9_700), T0 + 700)
    deadline = T0 + 700 + 9_600
    nows = {1: deadline + 9_500, 2: deadline + 8_999, 3: deadline + 9_800}
    result = check(timed_history(), timed_final(everywhere(active), nows))
    assert result.ok, result.violations
    # Without a bound (an older run's report), nothing is checked.
    state = timed_final(everywhere(active), dict.fromkeys((1, 2, 3), deadline + 60_000))
    state = FinalState(state.servers, state.logs, 100.0, 102.0)
    assert check(timed_history(), state).ok
