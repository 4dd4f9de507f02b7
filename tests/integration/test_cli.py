"""The ``replgame`` command line against three real servers (real processes).

Run with the other integration tests, apart from the unit suites::

    .venv/bin/python -m pytest tests/integration/test_cli.py -p no:cacheprovider -q
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

from twisted.internet import reactor

from game import protocol as p
from game.client.client import ReplicatedClient
from game.config import load_config
from game.localcluster import free_ports
from tests.integration.cli_helpers import Cli, CliResult, pid_alive
from tests.integration.cluster import HOST, Cluster, eventually, sleep, timed_test


def game_id_of(result: CliResult) -> str:
    assert result.code == 0, result
    game_id: str = result.json()["game"]["id"]
    return game_id


def with_metrics(cluster: Cluster) -> dict[int, str]:
    """Give each server a metrics endpoint on a free port, as the built-in
    cluster has (kept when the cluster picks new ports); their endpoints."""
    endpoints = {
        server_id: f"tcp:{port}:interface={HOST}"
        for server_id, port in zip(sorted(cluster.servers), free_ports(3), strict=True)
    }
    plain = cluster.config_text

    def config_text(secret: str | None = None, **extra_tuning: Any) -> str:
        text = plain(secret, **extra_tuning)
        for server_id, endpoint in endpoints.items():
            text = text.replace(
                f"id = {server_id}\n", f'id = {server_id}\nmetrics = "{endpoint}"\n'
            )
        return text

    cluster.config_text = config_text  # type: ignore[method-assign]
    cluster.write_config(cluster.config_path)
    return endpoints


@timed_test(60)
async def test_a_game_played_to_its_end(make_cluster: Any) -> None:
    cluster = make_cluster()
    endpoints = with_metrics(cluster)
    await cluster.start_all()
    cli = Cli(cluster.root, cluster.config_path)

    status = await cli.run("status", "--json")
    assert status.code == 0, status
    data = status.json()
    assert data["agree"] is True and data["provisional"] is False
    assert [s["serving"] for s in data["servers"]] == [True, True, True]
    # Beside Status: each server's ServerInfo, and its metrics endpoint answers.
    for server_id, server in zip((1, 2, 3), data["servers"], strict=True):
        info = server["info"]
        assert (info["server_id"], info["state"], info["reason"]) == (server_id, "serving", None)
        assert info["connections"] >= 1 and info["watches"] == 0, info  # this command's link
        assert info["peers"] == [i for i in (1, 2, 3) if i != server_id], info
        assert 0 <= info["uptime"] < 60 and info["now"] >= info["started"], info
        assert info["metrics"] == endpoints[server_id], info
        assert server["metrics_endpoint"] == {
            "configured": True,
            "endpoint": endpoints[server_id],
            "answers": True,
            "error": "",
        }, server
    table = (await cli.run("status")).out.splitlines()
    assert table[4] == "agree: yes, all 3 serve the same games at clock 0", table
    assert table[6].split() == [
        "server", "state", "uptime", "conns", "watches", "last", "catch-up", "metrics"
    ], table  # fmt: skip
    for server_id, row in zip((1, 2, 3), table[7:], strict=True):
        cells = row.split()
        assert cells[:2] == [str(server_id), "serving"] and cells[-1] == "yes", row

    new = await cli.run("new", "connect4", "--as", "alice", "--json")
    game_id = game_id_of(new)
    assert new.json()["game"]["players"] == ["alice", None]
    assert new.json()["provisional"] is False and len(new.json()["agreed"]) >= 2

    join = await cli.run("join", game_id, "--as", "bob")
    assert join.code == 0, join
    assert f"joined game {game_id} as bob (white, seat 1)" in join.out
    assert "status: active, alice (black) to move" in join.out

    refused = await cli.run("move", game_id, "9")
    assert refused.code == 1
    assert refused.err == (
        "replgame: move refused by the servers: ILLEGAL_MOVE ('9' is not connect4 notation)\n"
    )

    # This user holds both seats: each move is played by the seat to move.
    for column in "121212":
        played = await cli.run("move", game_id, column)
        assert played.code == 0, played
        assert "PROVISIONAL" not in played.out
    last = await cli.run("move", game_id, "1", "--json")
    assert last.json()["game"]["result"] == {"winner": 0, "reason": "four in a row"}

    shown = await cli.run("show", game_id, "--json")
    document = shown.json()
    assert document["game"]["status"] == "finished"
    assert document["provisional"] is False
    assert document["agreed"] == [1, 2, 3] and document["repaired"] == []
    text = await cli.run("show", game_id)
    assert "result: alice (black) wins: four in a row" in text.out
    assert "|X O . . . . .|" in text.out

    mine = await cli.run("games", "--mine", "--json")
    (listed,) = mine.json()["games"]
    assert (listed["id"], listed["status"], listed["mine"]) == (game_id, "finished", [0, 1])
    over = await cli.run("move", game_id, "3")
    assert over.code == 1 and "nobody is to move" in over.err


@timed_test(90)
async def test_servers_killed_and_restarted(make_cluster: Any) -> None:
    """One server down: a majority of two.  Two down: provisional answers.
    Both back: the clients that kept running relink, and within 10 s every
    server serves the same games."""
    cluster = make_cluster()
    await cluster.start_all()
    cli = Cli(cluster.root, cluster.config_path)
    client = ReplicatedClient(load_config(cluster.config_path), reactor)
    try:
        game_id = game_id_of(await cli.run("new", "connect4", "--as", "alice", "--json"))
        assert (await cli.run("join", game_id, "--as", "bob")).code == 0
        for column in "12":
            assert (await cli.run("move", game_id, column)).code == 0

        # A library client and a `replgame watch` that live through it all.
        client.start()
        assert sorted(await client.settled()) == [1, 2, 3]
        watched: list[dict[str, Any]] = []
        watch = cli.spawn(
            "watch", game_id, "--json", on_line=lambda line: watched.append(json.loads(line))
        )

        async def watching() -> None:
            assert watched and watched[-1]["game"]["version"] == 4

        await eventually(watching, 10, what="the first watch update")

        cluster[3].kill()
        two = await cli.run("move", game_id, "3", "--json")
        assert two.code == 0, two
        data = two.json()
        assert data["provisional"] is False
        assert (data["agreed"], data["unreachable"]) == ([1, 2], [3])
        text = await cli.run("show", game_id)
        assert "PROVISIONAL" not in text.out
        assert "note: answer of servers 1 and 2; server 3 unreachable" in text.out

        cluster[2].kill()
        one = await cli.run("move", game_id, "4")
        assert one.code == 0, one
        assert "PROVISIONAL: only server 1 answered; no majority" in one.out
        lone = await cli.run("move", game_id, "3", "--json")
        assert lone.code == 0, lone
        data = lone.json()
        assert (data["provisional"], data["agreed"], data["unreachable"]) == (True, [1], [2, 3])
        status = await cli.run("status")
        assert status.code == 0 and "agree: no, servers 2 and 3 unreachable" in status.out
        assert "PROVISIONAL" in status.out
        # The details of the two down: nothing known, no metrics endpoint configured.
        for server_id in (2, 3):
            assert f"{server_id}       -  " in status.out, status.out

        async def provisional_watch() -> None:
            assert any(u["provisional"] and u["game"]["version"] == 7 for u in watched)

        await eventually(provisional_watch, 10, what="a provisional watch update")

        cluster[2].spawn()
        cluster[3].spawn()
        restarted = time.monotonic()

        async def converged() -> None:
            result = await cli.run("status", "--json")
            assert result.code == 0, result
            servers = result.json()["servers"]
            assert all(s["serving"] for s in servers), servers
            assert len({s["clock"] for s in servers}) == 1, servers
            assert len({s["digest"] for s in servers}) == 1, servers

        await eventually(converged, 10, what="three serving servers, equal clocks and digests")
        assert time.monotonic() - restarted < 10

        # The library client redialled both and plays on with a majority.
        async def relinked() -> None:
            assert sorted(client.active) == [1, 2, 3]

        await eventually(relinked, 10, what="the library client relinked")
        document = (await client.get_game(game_id)).game_document()
        assert document.version == 7 and document.to_move == 1
        outcome = await client.make_move(game_id, 7, "4", cli.seats(game_id)[1])
        assert not outcome.provisional and len(outcome.agreed) >= 2
        for column in "343":  # black completes column 3
            assert (await cli.run("move", game_id, column)).code == 0
        final = (await cli.run("show", game_id, "--json")).json()
        assert final["game"]["result"] == {"winner": 0, "reason": "four in a row"}
        assert final["provisional"] is False

        # The watch followed every change and stopped at the agreed end.
        assert await watch.ended == 0, watch.stderr
        assert watched[-1]["provisional"] is False
        assert watched[-1]["game"] == final["game"]
    finally:
        await client.stop()
        await cli.stop()


@timed_test(60)
async def test_show_repairs_a_server_that_missed_a_move(
    make_cluster: Any, clients_for: Any
) -> None:
    """Anti-entropy off: a move reaches two servers only; ``replgame show``
    asks all three, sees the third differ, and its SyncGame repairs it."""
    cluster = make_cluster(anti_entropy_interval=3600)
    await cluster.start_all()
    cli = Cli(cluster.root, cluster.config_path)
    clients = clients_for(cluster)

    game_id = game_id_of(await cli.run("new", "connect4", "--as", "alice", "--json"))
    assert (await cli.run("join", game_id, "--as", "bob")).code == 0

    async def joined_everywhere() -> None:
        document = await clients.game(p.GetGame, game_id=game_id)
        assert document["version"] == 2

    await eventually(joined_everywhere, 10, what="the join on all three servers")
    token = cli.seats(game_id)[0]
    moved = await clients.game(
        p.MakeMove, (1, 2), game_id=game_id, version=2, move="4", token=token
    )
    assert moved["version"] == 3
    await sleep(0.5)
    behind = json.loads((await clients.call(3, p.GetGame, game_id=game_id))["game"])
    assert behind["version"] == 2

    shown = await cli.run("show", game_id, "--json")
    assert shown.code == 0, shown
    data = shown.json()
    assert (data["agreed"], data["differed"], data["repaired"]) == ([1, 2], [3], [3])
    assert data["provisional"] is False and data["game"]["moves"] == ["4"]

    # Server 3 now holds the very same document.
    assert await clients.game(p.GetGame, game_id=game_id) == moved
    text = await cli.run("show", game_id)
    assert "read repair" not in text.out and "answered differently" not in text.out


@timed_test(80)
async def test_cluster_command(make_cluster: Any) -> None:
    """``replgame cluster`` starts three servers, serves bots, and stops them
    all on SIGINT; a server that dies is reported and makes the exit code 1."""
    cluster = make_cluster()  # only its config: `replgame cluster` runs the servers
    cli = Cli(cluster.root, cluster.config_path)
    run_dir = cluster.root / "run"
    lines: list[str] = []

    async def up() -> None:
        assert any(line.startswith("agree: yes") for line in lines), lines

    try:
        parent = cli.spawn("cluster", "--run-dir", str(run_dir), on_line=lines.append)
        await eventually(up, 30, what="the cluster serving")
        pids = [int((run_dir / f"{i}.pid").read_text()) for i in (1, 2, 3)]
        bots = await cli.run("bot", "--games", "6", "--json")
        assert bots.code == 0, bots
        report = bots.json()
        assert report["finished"] == 6 and report["moves"] > 0
        assert report["disagreements"] == []

        parent.signal("INT")
        assert await parent.ended == 0, parent.stderr
        assert "got SIGINT: sending SIGTERM" in parent.stdout
        assert [pid for pid in pids if pid_alive(pid)] == []
        assert (cluster.root / "replgame-data" / "1").is_dir()

        # Again, and one server dies under it.
        lines.clear()
        parent = cli.spawn("cluster", "--run-dir", str(run_dir), on_line=lines.append)
        await eventually(up, 30, what="the cluster serving again")
        pids = [int((run_dir / f"{i}.pid").read_text()) for i in (1, 2, 3)]
        os.kill(pids[1], signal.SIGKILL)

        async def reported() -> None:
            assert "server 2" in parent.stderr and "exited unexpectedly" in parent.stderr

        await eventually(reported, 10, what="the death reported")
        assert "last lines of" in parent.stderr
        status = await cli.run("status", "--json")
        assert [s["reachable"] for s in status.json()["servers"]] == [True, False, True]
        parent.signal("TERM")
        assert await parent.ended == 1
        assert parent.stderr.strip().splitlines()[-1].startswith("replgame: server(s) 2 exited")
        assert [pid for pid in pids if pid_alive(pid)] == []
    finally:
        await cli.stop()
