"""Connections as the attack: past max_connections, clients that never read, silent ones.

In each test a well-behaved client (``monitor.py``, its own process) stays
connected to the attacked server and must get every answer within 1 s, and
the cluster must keep replicating.
"""

from __future__ import annotations

import collections

from twisted.internet import defer

from tests.hostile import support
from tests.hostile.ampwire import answer_tag, command_box, connect_raw, sleep
from tests.integration.cluster import ALL, Match, eventually, timed_test

MAX_CONNECTIONS = 24


def assert_monitor_happy(report):
    assert not report["problems"], report["problems"]
    assert report["max_latency"] < 1.0, report["slow"]
    assert report["requests"] > 10, report


@timed_test(60)
async def test_connections_past_max_connections_are_refused_and_only_they(
    make_cluster, clients_for
):
    cluster = make_cluster(max_connections=MAX_CONNECTIONS)
    await cluster.start_all()
    clients = clients_for(cluster)
    game = Match(clients, "connect4")
    await game.start()
    clients.close()  # our own connections would count too
    await sleep(0.5)
    monitor = support.Monitor(cluster[1].port, game.id)
    try:
        # Already connected to server 1: the monitor (the peer links of 2 and 3
        # have their own room beyond the limit).
        already = 1
        connections = await defer.gatherResults(
            [defer.ensureDeferred(connect_raw(cluster[1].port)) for _ in range(40)]
        )
        asks = [c.request(b"Status") for c in connections]
        await sleep(1.0)
        outcome = collections.Counter()
        for connection, ask in zip(connections, asks, strict=True):
            try:
                box = await connection.answer(ask, timeout=0.1)
                outcome[answer_tag(box)] += 1
            except Exception:
                outcome["closed" if connection.closed else "silent"] += 1
        assert outcome == {
            "OK": MAX_CONNECTIONS - already,
            "closed": 40 - MAX_CONNECTIONS + already,
        }
        assert f"max_connections={MAX_CONNECTIONS} reached" in cluster[1].log()
        # Freeing connections makes room again.
        for connection in connections:
            connection.abort()
        await sleep(0.5)
        again = await connect_raw(cluster[1].port)
        assert answer_tag(await again.call(b"Status")) == "OK"
        again.abort()
    finally:
        report = monitor.stop()
    assert_monitor_happy(report)
    # The peer links were never dropped: the cluster still replicates.
    clients = clients_for(cluster)
    game.clients = clients
    await game.move("4")
    await eventually(clients.assert_converged, timeout=10)
    for i in ALL:
        assert not support.log_problems(cluster[i].log())


@timed_test(90)
async def test_a_client_that_never_reads_is_closed_after_a_mebibyte(make_cluster, clients_for):
    cluster = make_cluster()
    await cluster.start_all()
    clients = clients_for(cluster)
    game = Match(clients, "reversi")
    await game.start()
    await game.moves(["d3", "c3", "c4"])
    monitor = support.Monitor(cluster[1].port, game.id)
    rss_before = support.rss_kib(cluster[1].pid)
    try:
        greedy = await connect_raw(cluster[1].port)
        greedy.transport.pauseProducing()  # never read what the server sends
        request = command_box(b"GetGame", b"1", game_id=game.id.encode())
        # ~1.3 KB answered per request: 40 MB of answers, far beyond every buffer.
        for _ in range(30):
            greedy.write(request * 1000)
            await sleep(0.05)
        closed = await greedy.wait_closed(20)
        rss_after = support.rss_kib(cluster[1].pid)
    finally:
        report = monitor.stop()
    assert closed, "the server kept a client that never reads"
    assert "more than 1 MiB of unsent output" in cluster[1].log()
    assert rss_after - rss_before < 20 * 1024, (rss_before, rss_after)
    assert_monitor_happy(report)
    assert not support.log_problems(cluster[1].log())


@timed_test(60)
async def test_silent_and_half_sent_connections_are_closed_after_three_heartbeats(
    make_cluster, clients_for
):
    cluster = make_cluster()  # heartbeat = 2 s: silence is cut after 6 s
    await cluster.start_all()
    clients = clients_for(cluster)
    game = Match(clients, "checkers")
    await game.create()
    monitor = support.Monitor(cluster[1].port, game.id)
    try:
        silent = [await connect_raw(cluster[1].port) for _ in range(10)]
        half = [await connect_raw(cluster[1].port) for _ in range(10)]
        for connection in half:
            connection.write(command_box(b"Status", b"1")[:7])
        await sleep(4.0)
        assert not any(c.closed for c in silent + half), "closed before three heartbeats"
        closed = [await c.wait_closed(6.0) for c in silent + half]
    finally:
        report = monitor.stop()
    assert all(closed), f"{closed.count(False)} connections still open after 10 s of silence"
    assert "silent for 6 s (three heartbeats)" in cluster[1].log()
    assert_monitor_happy(report)
