"""A timed game from the ``replgame`` command line, on three real servers:
``claim`` before the deadline explains the time left, and a game nobody
moves in ends on time by the servers alone, which ``show`` prints."""

from __future__ import annotations

import time
from typing import Any

from tests.integration.cli_helpers import Cli, CliResult
from tests.integration.cluster import eventually, sleep, timed_test

# Small tuning keeps the test short: the servers end the game 3 s after its deadline.
TIME_TUNING: dict[str, float | int] = {"clock_skew": 1, "flag_grace": 3}


def game_of(result: CliResult) -> dict[str, Any]:
    assert result.code == 0, result
    game: dict[str, Any] = result.json()["game"]
    return game


@timed_test(45)
async def test_a_live_game_ends_on_time_by_the_servers(make_cluster: Any) -> None:
    cluster = make_cluster(**TIME_TUNING)
    await cluster.start_all()
    cli = Cli(cluster.root, cluster.config_path)

    created = game_of(
        await cli.run("new", "connect4", "--clock", "live:10+0", "--as", "alice", "--json")
    )
    game_id = created["id"]
    assert created["clock"] == {
        "control": "live:10+0",
        "remaining": [10_000, 10_000],
        "at": None,
        "deadline": None,
    }
    joined = game_of(await cli.run("join", game_id, "--as", "bob", "--json"))
    assert (joined["status"], joined["to_move"]) == ("active", 0)
    deadline_ms = joined["clock"]["deadline"]
    assert deadline_ms == joined["clock"]["at"] + 10_000

    # Too early: this user holds both seats and claims for bob, while alice has time.
    early = await cli.run("claim", game_id[:8])
    assert early.code == 1, early
    assert early.err.startswith("replgame: claim refused by the servers: TIME_LEFT; "), early
    assert "alice (black) still has " in early.err and "on the clock" in early.err, early
    assert "the servers end the game themselves 3 s after that" in early.err, early

    # Nobody moves: past the deadline and flag_grace, the servers ended the game.
    await sleep(max(0.0, deadline_ms / 1000 - time.time()) + TIME_TUNING["flag_grace"] + 0.5)

    async def ended_on_time() -> dict[str, Any]:
        shown = await cli.run("show", game_id, "--json")
        assert shown.code == 0, shown
        answer: dict[str, Any] = shown.json()
        assert answer["agreed"] == [1, 2, 3], answer
        return answer

    answer = await eventually(ended_on_time, timeout=5, interval=0.3, what="3 of 3 agree")
    assert answer["provisional"] is False
    assert answer["game"]["result"] == {"winner": 1, "reason": "time"}
    assert answer["game"]["moves"] == []
    text = await cli.run("show", game_id)
    assert text.code == 0, text
    assert "status: finished" in text.out
    assert "result: bob (white) wins on time" in text.out
    assert "clock: 10s+0  black 0.0  white 0:10" in text.out, text
    # Nobody claimed: a server's own timeout ended it (the others may adopt its event).
    assert any("ran out of time" in server.log() for server in cluster.servers.values())
