"""Time in the chaos harness: the servers' offsets, the bounds, the bots'
timed play (one game's decisions, no reactor) and the servers' command line."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from game import protocol as p
from game.client.document import GameDocument
from tests.chaos.bots import Pause, _Game
from tests.chaos.harness import TUNING
from tests.chaos.processes import ServerProcess
from tests.chaos.test_checker import T0, make_doc, timed
from tests.chaos.timed import (
    CLAIM_MARGIN_MS,
    TimedPlay,
    catch_up_bound,
    server_offsets,
    timed_lead,
    timed_settle,
)

# -- offsets and bounds ------------------------------------------------------------


def test_offsets_come_from_the_seed_within_half_the_skew() -> None:
    offsets = server_offsets(7, 2)
    assert offsets == server_offsets(7, 2)
    assert sorted(offsets) == [1, 2, 3]
    assert all(-1000 <= offset <= 1000 for offset in offsets.values())
    many = [server_offsets(seed, 2) for seed in range(200)]
    assert len({tuple(o.values()) for o in many}) > 150
    spread = [max(o.values()) - min(o.values()) for o in many]
    assert max(spread) <= 2000 and max(spread) > 1500


def test_the_bounds_follow_the_controls_and_the_tuning() -> None:
    play = TimedPlay(controls=("live:10+0", "live:15+2"))
    assert play.longest_ms == 17_000
    assert timed_lead(play, 2) == 19.0
    assert timed_settle(5, 2) == 7.0
    assert catch_up_bound(TUNING) == 1 + 2 + 1
    # flag_grace must exceed clock_skew (PROTOCOL.md): the chaos tuning keeps it.
    assert TUNING["flag_grace"] > TUNING["clock_skew"]


def test_each_server_runs_with_its_offset(tmp_path: Path) -> None:
    shifted = ServerProcess(tmp_path, 2, tmp_path / "c.toml", 7000, clock_offset_ms=-730)
    assert shifted.command(["--rebuild"])[-2:] == ["--clock-offset-ms=-730", "--rebuild"]
    unshifted = ServerProcess(tmp_path, 1, tmp_path / "c.toml", 7000).command()
    assert not any(part.startswith("--clock-offset-ms") for part in unshifted)


# -- one timed game's decisions ------------------------------------------------------


def game(control: str | None = "live:10+0", **settings: Any) -> _Game:
    one = _Game("g-1", "connect4", 3)
    if control is not None:
        one.time(control, TimedPlay(flag_rate=0.0, claim_rate=0.0), random.Random(1))
    for name, value in settings.items():
        setattr(one, name, value)
    return one


def doc(**fields: Any) -> GameDocument:
    return GameDocument.from_mapping(fields)


def test_a_timed_game_is_created_with_its_control_and_every_change_is_stamped() -> None:
    one = game()
    command, seat, arguments = one.next_step(random.Random(1), T0, False)  # type: ignore[misc]
    assert (command, seat, arguments["clock"], arguments["at"]) == (
        p.CreateGame,
        0,
        "live:10+0",
        T0,
    )
    one.doc = doc(**timed(make_doc(players=("a", None))))
    command, _, arguments = one.next_step(random.Random(1), T0 + 5, False)  # type: ignore[misc]
    assert (command, arguments["at"]) == (p.JoinGame, T0 + 5)
    one.doc = doc(**timed(make_doc(["4"]), (10_000, 10_000), T0 + 400))
    command, seat, arguments = one.next_step(random.Random(1), T0 + 600, False)  # type: ignore[misc]
    assert (command, seat, arguments["at"]) == (p.MakeMove, 1, T0 + 600)


def test_an_untimed_game_sends_no_clock_and_no_at() -> None:
    one = game(None)
    _, _, arguments = one.next_step(random.Random(1), T0, False)  # type: ignore[misc]
    assert "clock" not in arguments and "at" not in arguments
    one.doc = doc(**make_doc(["4"]))
    _, _, arguments = one.next_step(random.Random(1), T0, False)  # type: ignore[misc]
    assert "at" not in arguments


def test_the_flagging_seat_stops_after_its_moves_and_the_opponent_claims_once() -> None:
    one = game(flagger=1, flag_after=0, claims=True)
    one.doc = doc(**timed(make_doc(["4"]), (10_000, 10_000), T0 + 400))  # seat 1 to move
    deadline = T0 + 400 + 10_000
    assert isinstance(one.next_step(random.Random(1), T0 + 500, False), Pause)
    assert one.flagging_counted is False  # the bot counts it once
    # Past the deadline, but within the claim margin: wait.
    assert isinstance(one.next_step(random.Random(1), deadline + 10, False), Pause)
    command, seat, arguments = one.next_step(  # type: ignore[misc]
        random.Random(1), deadline + CLAIM_MARGIN_MS, False
    )
    assert (command, seat, arguments["version"]) == (p.ClaimTimeout, 0, 3)
    # One claim per version: then it waits for the servers.
    assert isinstance(one.next_step(random.Random(1), deadline + 2_000, False), Pause)


def test_without_a_claim_the_game_is_left_to_the_servers() -> None:
    one = game(claims=False)
    one.doc = doc(**timed(make_doc(["4"]), (10_000, 10_000), T0 + 400))
    step = one.next_step(random.Random(1), T0 + 400 + 20_000, False)
    assert isinstance(step, Pause) and step.reread
    assert one.overdue_ms(T0 + 400 + 20_000) == 10_000


def test_after_timed_play_ends_no_move_is_made() -> None:
    one = game(claims=False)
    one.doc = doc(**timed(make_doc(["4"]), (10_000, 10_000), T0 + 400))
    assert isinstance(one.next_step(random.Random(1), T0 + 500, True), Pause)
    assert one.flagging_counted is None  # not flagged on purpose


def test_a_seat_holding_more_than_the_base_thinks_for_the_excess() -> None:
    one = game("live:15+2")
    one.doc = doc(**timed(make_doc(["4"]), (15_000, 19_000), T0 + 400, "live:15+2"))
    step = one.next_step(random.Random(1), T0 + 1_400, False)  # seat 1 holds 18 s
    assert step == Pause(3.0, reread=False)
    command, _, _ = one.next_step(random.Random(1), T0 + 4_400, False)  # type: ignore[misc]
    assert command is p.MakeMove


def test_moves_are_counted_per_seat() -> None:
    one = game()
    one.took((p.MakeMove, 1, {}), doc(**timed(make_doc(["4", "4"]))))
    one.took((p.OfferDraw, 0, {}), doc(**timed(make_doc(["4", "4"], extra_events=1))))
    assert one.moves_made == [0, 1]
