"""Scenarios 3 and 4 at scale: catch-up of missed moves among 10,000 games, and
a rebuild from scratch killed half-way.  The same logic on a few games runs
in-process in tests/server/test_cluster_scenarios.py."""

from __future__ import annotations

import contextlib
import re
import shutil
import sqlite3
import time

from twisted.internet import defer

from game import protocol as p
from game.server.storage import connect_read_only
from tests.integration.cluster import ALL, Match, catch_up_bytes, new_token, sleep, timed_test

STORED_GAMES = 10_000
MISSED_MOVES = 10
BATCH = 500
#: Issue 3: a catch-up of 10 missed moves among 10,000 games moves under 200 KB.
CATCH_UP_BUDGET = 200_000


async def create_many(clients, count: int, prefix: str) -> float:
    """Create ``count`` open games on every server, ``BATCH`` requests in flight per server."""
    token = new_token()
    started = time.monotonic()
    connections = {i: await clients.connection(i) for i in ALL}
    for first in range(0, count, BATCH):
        calls = [
            connections[i].callRemote(
                p.CreateGame,
                game_id=f"{prefix}-{n:05d}",
                kind="connect4",
                player=f"p{n % 97}",
                token=token,
            )
            for n in range(first, min(first + BATCH, count))
            for i in ALL
        ]
        results = await defer.DeferredList(calls, consumeErrors=True)
        failed = [value for ok, value in results if not ok]
        assert not failed, f"{len(failed)} CreateGame failed, e.g. {failed[0]}"
    return time.monotonic() - started


@timed_test(150)
async def test_catch_up_of_ten_moves_among_ten_thousand_games(make_cluster, clients_for):
    cluster = make_cluster()
    await cluster.start_all()
    clients = clients_for(cluster, timeout=60)

    seconds = await create_many(clients, STORED_GAMES, "bulk")
    print(
        f"created {STORED_GAMES} games on 3 servers in {seconds:.1f} s "
        f"({3 * STORED_GAMES / seconds:.0f} CreateGame/s)"
    )
    matches = [Match(clients, "connect4") for _ in range(MISSED_MOVES)]
    for match in matches:
        await match.start()
    status = await clients.assert_converged()
    assert status["games"] == STORED_GAMES + MISSED_MOVES

    await cluster[3].stop()
    for match in matches:  # one move in each of ten games, on servers 1 and 2 only
        await match.move("4", servers=(1, 2))
    await cluster[3].start()

    log = cluster[3].log()
    before_serving = log[: log.index("serving clients")]
    received = catch_up_bytes(before_serving)
    print(f"server 3 catch-up: {received}")
    assert received, "no 'caught up with server N: ... bytes received' line before serving"
    total = sum(size for _, size in received)
    assert total < CATCH_UP_BUDGET, f"catch-up received {total} bytes: {received}"
    status = await clients.assert_converged()
    assert status["games"] == STORED_GAMES + MISSED_MOVES
    for match in matches:
        assert await clients.game(p.GetGame, game_id=match.id) == match.doc

    # Every server pages through the listing alike.
    pages = {"": 100, "bulk-04999": 100, "bulk-09990": 9 + MISSED_MOVES}
    for after, size in pages.items():
        page = await clients.same(p.ListGames, limit=100, after=after)
        assert len(page["games"]) == size, (after, page["next"])

    # The same 10,010 games rebuilt from scratch (PeerDump pages through them
    # all); the first rebuild is killed half-way, the second one completes.
    await cluster[2].stop()
    shutil.rmtree(cluster[2].data)
    cluster[2].spawn()
    killed_mid_rebuild = await kill_during_rebuild(cluster[2])
    started = time.monotonic()
    await cluster[2].start(timeout=60)
    seconds = time.monotonic() - started
    print(
        f"server 2 rebuilt {STORED_GAMES + MISSED_MOVES} games in {seconds:.1f} s "
        f"(the first attempt killed after it committed {killed_mid_rebuild} games)"
    )
    log = cluster[2].log()
    assert "a new database" in log, "a half-rebuilt database was taken for a complete one"
    # The second rebuild resumed after the games the first one had copied.
    copied_before = int(re.search(r"resuming the rebuild .* \((\d+) game\(s\) copied", log)[1])
    copied_after = int(re.search(r"rebuilt (\d+) game\(s\)", log)[1])
    assert 0 < copied_before < STORED_GAMES + MISSED_MOVES
    assert copied_before + copied_after == STORED_GAMES + MISSED_MOVES, log[-3000:]
    assert (await clients.assert_converged())["clock"] == status["clock"]


async def kill_during_rebuild(server) -> int:
    """SIGKILL ``server`` once its rebuild has committed some games, not all.

    A rebuild commits about a megabyte of games at a time, so the files grow
    before anything is committed: what counts is the committed index
    entries, read as any other reader would (``mode=ro``, one snapshot).

    :return: the number of games committed at that moment.
    """
    database = server.data / "games.sqlite"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        committed = committed_games(database)
        if committed:
            server.kill()
            assert "rebuilt" not in server.log(), "the rebuild ended before it could be killed"
            return committed
        assert server.running, server.tail()
        await sleep(0.005)
    raise AssertionError(f"server {server.id} committed no game in 30 s\n{server.tail()}")


def committed_games(database) -> int:
    """Index entries committed in ``database`` (0 while it cannot be read)."""
    try:
        with contextlib.closing(connect_read_only(database)) as connection:
            (count,) = connection.execute(
                "SELECT count(*) FROM kv WHERE key >= ? AND key < ?", (b"i/", b"i0")
            ).fetchone()
    except sqlite3.Error:
        return 0
    return int(count)
