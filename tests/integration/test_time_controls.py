"""Timed games on three real twistd servers: abandoned games end by the servers
alone (also across a restart), TIME_LEFT, CLOCK_SKEW."""

from __future__ import annotations

import re
import time
from typing import Any

from game import protocol as p
from tests.integration.cli_helpers import Cli
from tests.integration.cluster import (
    Clients,
    Cluster,
    error_tag,
    eventually,
    new_game_id,
    new_token,
    sleep,
    timed_test,
)

# Small tuning keeps the suite fast: a 10 s game is over 3 s after its deadline.
TIME_TUNING: dict[str, float | int] = {"clock_skew": 1, "flag_grace": 3}
#: PROTOCOL.md: ends "within flag_grace + 2 s of its deadline".
WITHIN_S = TIME_TUNING["flag_grace"] + 2


async def servers_now(clients: Clients) -> int:
    """The median of the three servers' ``Status.now`` (ms)."""
    statuses = await clients.statuses()
    return sorted(int(status["now"]) for status in statuses.values())[1]


async def timed_game(clients: Clients, control: str = "live:10+0") -> dict[str, Any]:
    """Alice creates, Bob joins: seat 0's clock runs from the join."""
    game_id = new_game_id("timed")
    alice, bob = new_token(), new_token()
    await clients.game(
        p.CreateGame, game_id=game_id, kind="connect4", player="alice", token=alice, clock=control
    )
    joined = await clients.game(
        p.JoinGame,
        game_id=game_id,
        version=1,
        player="bob",
        token=bob,
        at=await servers_now(clients),
    )
    return {"id": game_id, "tokens": (alice, bob), "doc": joined}


async def ended_on_time(clients: Clients, game_id: str) -> dict[str, Any]:
    """The three servers hold the same finished document, and the same digest."""
    document = await clients.game(p.GetGame, game_id=game_id)
    assert document["result"] == {"winner": 1, "reason": "time"}, document
    await clients.assert_converged()
    return document


@timed_test(60)
async def test_an_abandoned_game_ends_by_the_servers_alone(make_cluster, clients_for):
    cluster: Cluster = make_cluster(**TIME_TUNING)
    await cluster.start_all()
    clients = clients_for(cluster)
    game = await timed_game(clients)
    game_id, (alice, bob) = game["id"], game["tokens"]
    deadline = game["doc"]["clock"]["deadline"]
    assert game["doc"]["clock"]["remaining"] == [10_000, 10_000]

    # Before the deadline: a claim answers TIME_LEFT on all three.
    now = await servers_now(clients)
    answers = await clients.call_each(p.ClaimTimeout, game_id=game_id, version=2, token=bob, at=now)
    assert [error_tag(a) for a in answers.values()] == ["TIME_LEFT"] * 3, answers
    # A move stamped 10 s in the past: CLOCK_SKEW, nothing changes.
    answers = await clients.call_each(
        p.MakeMove, game_id=game_id, version=2, move="4", token=alice, at=now - 10_000
    )
    assert [error_tag(a) for a in answers.values()] == ["CLOCK_SKEW"] * 3, answers

    # Nobody moves: the servers end the game themselves.
    await sleep(max(0.0, (deadline - await servers_now(clients)) / 1000))
    document = await eventually(
        lambda: ended_on_time(clients, game_id), timeout=WITHIN_S, interval=0.2
    )
    assert document["clock"] == {
        "control": "live:10+0",
        "remaining": [0, 10_000],
        "at": None,
        "deadline": None,
    }
    for server in cluster.servers.values():
        assert "ran out of time" in server.log(), server.tail()
    await export_has_a_clock_after_every_move(cluster, clients)


async def export_has_a_clock_after_every_move(cluster: Cluster, clients: Clients) -> None:
    """``replgame export`` of a timed checkers game: a ``[%clock]`` comment
    after each of its three moves (the servers' MoveClocks)."""
    game_id = new_game_id("timed-record")
    tokens = (new_token(), new_token())
    await clients.game(
        p.CreateGame,
        game_id=game_id,
        kind="checkers",
        player="alice",
        token=tokens[0],
        clock="live:60+1",
    )
    now = await servers_now(clients)
    await clients.game(
        p.JoinGame, game_id=game_id, version=1, player="bob", token=tokens[1], at=now
    )
    for version, move in enumerate(("11-15", "23-19", "8-11"), start=2):
        await clients.game(
            p.MakeMove,
            game_id=game_id,
            version=version,
            move=move,
            token=tokens[version % 2],
            at=await servers_now(clients),
        )
    exported = await Cli(cluster.root, cluster.config_path).run("export", game_id)
    assert exported.code == 0, exported
    movetext = " ".join(exported.out.split("\n\n", 1)[1].split())
    assert re.fullmatch(
        r"1\. 11-15 \{\[%clock W0:01:00 b0:01:0\d\]\} 23-19 \{\[%clock w0:01:0\d B0:01:0\d\]\} "
        r"2\. 8-11 \{\[%clock W0:01:0\d b0:01:0\d\]\} \*",
        movetext,
    ), exported
    assert "note:" not in exported.err, exported


@timed_test(90)
async def test_a_server_killed_during_the_wait_ends_it_the_same_way(make_cluster, clients_for):
    cluster: Cluster = make_cluster(**TIME_TUNING)
    await cluster.start_all()
    clients = clients_for(cluster)
    game = await timed_game(clients)
    deadline = game["doc"]["clock"]["deadline"]
    cluster[3].kill()
    # Restart it only once the deadline (and the grace) passed.
    await sleep((deadline - time.time() * 1000) / 1000 + TIME_TUNING["flag_grace"] + 1)
    cluster[3].spawn()
    await cluster[3].wait_serving(20)
    started = time.monotonic()
    document = await eventually(
        lambda: ended_on_time(clients, game["id"]), timeout=WITHIN_S, interval=0.2
    )
    assert time.monotonic() - started < WITHIN_S
    assert document["version"] == 3
