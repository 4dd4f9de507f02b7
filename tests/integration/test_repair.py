"""Scenarios 5 and 6: a replica that missed a change is repaired."""

from __future__ import annotations

import time

from twisted.internet import defer

from game import protocol as p
from tests.integration.cluster import (
    ALL,
    Match,
    Player,
    call,
    canonical,
    connect,
    error_tag,
    eventually,
    sleep,
    timed_test,
)

QUIET = 3600  # anti-entropy that never runs during a test


async def lagging_game(clients):
    """A started Connect Four game whose move "4" reached servers 1 and 2 only."""
    game = Match(clients, "connect4")
    await game.start()
    stale = dict(game.doc)
    await game.move("4", servers=(1, 2))
    return game, stale


@timed_test(30)
async def test_anti_entropy_repairs_a_missed_move(make_cluster, clients_for):
    cluster = make_cluster(anti_entropy_interval=1)
    await cluster.start_all()
    clients = clients_for(cluster)
    game = Match(clients, "connect4")
    await game.start()
    watcher = await connect(cluster[3].port)  # a spectator of the lagging server
    await call(watcher, p.Watch, game_id=game.id)
    await game.move("4", servers=(1, 2))
    missed_at = time.monotonic()

    # No client request names the game on server 3: only Status is asked.
    async def repaired():
        return await clients.assert_converged()

    await eventually(
        repaired,
        timeout=3 * 1 + 0.5,
        interval=0.05,
        what="anti-entropy repairs server 3 within three intervals",
    )
    print(f"repaired by anti-entropy in {time.monotonic() - missed_at:.2f} s")
    assert await clients.game(p.GetGame, game_id=game.id) == game.doc
    assert "anti-entropy repaired 1 game(s)" in cluster[3].log()
    # Changes adopted from peers are announced to watchers too.
    assert watcher.changes and watcher.changes[-1] == game.doc, watcher.changes
    watcher.transport.abortConnection()


@timed_test(30)
async def test_sync_game_repairs_a_missed_move(make_cluster, clients_for):
    cluster = make_cluster(anti_entropy_interval=QUIET)
    await cluster.start_all()
    clients = clients_for(cluster)
    game, stale = await lagging_game(clients)

    # Without anti-entropy, server 3 stays behind...
    await sleep(1)
    lagging = await clients.call(3, p.GetGame, game_id=game.id)
    assert lagging["game"] == canonical(stale)
    assert lagging["game"] != (await clients.call(1, p.GetGame, game_id=game.id))["game"]
    # ... until a client asks it to compare with its peers.
    synced = await clients.call(3, p.SyncGame, game_id=game.id)
    assert synced == await clients.call(1, p.GetGame, game_id=game.id)
    await clients.assert_converged()
    assert stale["version"] + 1 == game.version


@timed_test(30)
async def test_client_command_at_later_version_catches_up(make_cluster, clients_for):
    cluster = make_cluster(anti_entropy_interval=QUIET)
    await cluster.start_all()
    clients = clients_for(cluster)
    game, stale = await lagging_game(clients)
    statuses = await clients.statuses()
    assert statuses[3]["clock"] == statuses[1]["clock"] - 1

    # Bob answers at the new version, on all three: server 3 catches up first.
    doc = await game.move("3")
    assert doc["version"] == stale["version"] + 2 and doc["moves"] == ["4", "3"]
    await clients.assert_converged()

    # A game server 3 never heard of: any command naming it catches it up.
    unheard = Match(clients, "checkers")
    await unheard.start(servers=(1, 2))
    assert await clients.game(p.GetGame, servers=(3,), game_id=unheard.id) == unheard.doc
    other = Match(clients, "reversi")
    await other.start(servers=(1, 2))
    await other.move("d3", servers=(1, 2))
    assert await other.move("c5") == other.doc  # at version 4, which server 3 lacked
    await clients.assert_converged()
    # An id no server knows stays unknown.
    nobody = await clients.call_each(p.GetGame, game_id="no-such-game")
    assert {i: error_tag(a) for i, a in nobody.items()} == {i: "UNKNOWN_GAME" for i in ALL}


@timed_test(30)
async def test_catch_up_is_bounded_by_catchup_timeout(make_cluster, clients_for):
    cluster = make_cluster(anti_entropy_interval=QUIET)  # catchup_timeout = 2
    await cluster.start_all()
    clients = clients_for(cluster)
    game, _ = await lagging_game(clients)
    unheard = Match(clients, "reversi")
    await unheard.start(servers=(1, 2))
    bob = game.players[1]

    cluster[1].pause()
    cluster[2].pause()
    try:
        started = time.monotonic()
        move, get = await defer.gatherResults(
            [
                defer.ensureDeferred(
                    clients.call_each(
                        p.MakeMove,
                        servers=(3,),
                        game_id=game.id,
                        version=game.version,
                        move="3",
                        token=bob.token,
                    )
                ),
                defer.ensureDeferred(
                    clients.call_each(p.GetGame, servers=(3,), game_id=unheard.id)
                ),
            ]
        )
        elapsed = time.monotonic() - started
    finally:
        cluster[1].resume()
        cluster[2].resume()
    assert (error_tag(move[3]), error_tag(get[3])) == ("BEHIND", "UNKNOWN_GAME"), (move, get)
    assert 1.5 < elapsed < 2 + 1.5, f"answered after {elapsed:.2f} s with catchup_timeout = 2"

    # With the peers back, the same command catches up and succeeds; a version
    # that no server holds still answers BEHIND.
    assert (await game.move("3"))["moves"] == ["4", "3"]
    ahead = await clients.call_each(
        p.MakeMove, game_id=game.id, version=game.version + 5, move="5", token=game.players[0].token
    )
    assert {i: error_tag(a) for i, a in ahead.items()} == {i: "BEHIND" for i in ALL}
    assert await clients.game(p.GetGame, game_id=unheard.id) == unheard.doc


@timed_test(30)
async def test_racing_joins_converge_on_one_player(make_cluster, clients_for):
    cluster = make_cluster(anti_entropy_interval=1)
    await cluster.start_all()
    clients = clients_for(cluster)
    game = Match(clients, "connect4")
    created = await game.create()
    anna, bert = Player("anna"), Player("bert")

    cluster[3].pause()
    try:
        # Client A's join reaches server 1 only, client B's server 2 only.
        a = await clients.call(
            1, p.JoinGame, game_id=game.id, version=1, player=anna.name, token=anna.token
        )
        b = await clients.call(
            2, p.JoinGame, game_id=game.id, version=1, player=bert.name, token=bert.token
        )
        assert a != b  # each server seated its own joiner: a fork at version 2
        await sleep(1.5)  # anti-entropy between 1 and 2 meanwhile must wait for server 3
    finally:
        cluster[3].resume()
    resumed_at = time.monotonic()

    async def one_player():
        await clients.assert_converged()
        doc = await clients.game(p.GetGame, game_id=game.id)
        assert doc["version"] == 2 and doc["status"] == "active", doc
        return doc

    doc = await eventually(one_player, timeout=5, what="the three servers agree on one joiner")
    print(f"converged {time.monotonic() - resumed_at:.2f} s after SIGCONT: {doc['players']}")
    assert doc["players"][0] == created["players"][0]
    assert doc["players"][1] in (anna.name, bert.name)
    seated, unseated = (anna, bert) if doc["players"][1] == anna.name else (bert, anna)

    # Both clients learn the outcome: the loser's join is now refused everywhere,
    # the winner's repeats (answered with the current game).
    game.doc, game.players[1] = doc, seated
    repeat = await clients.game(
        p.JoinGame, game_id=game.id, version=1, player=seated.name, token=seated.token
    )
    assert repeat == doc
    lost = await clients.call_each(
        p.JoinGame, game_id=game.id, version=1, player=unseated.name, token=unseated.token
    )
    assert {i: error_tag(a) for i, a in lost.items()} == {i: "STALE_VERSION" for i in ALL}
    await game.move("4")  # alice
    await game.move("4")  # the seated joiner
    assert game.version == 4


@timed_test(30)
async def test_idle_peer_links_stay_up(make_cluster):
    """Peer links keep themselves alive between anti-entropy rounds.

    A server closes any connection silent for three heartbeats; a peer link
    that only carries anti-entropy traffic is dropped and redialled whenever
    anti_entropy_interval is over three heartbeats, and a SyncGame or a
    catch-up that needs the peer in the gap finds it unreachable.
    """
    cluster = make_cluster(anti_entropy_interval=QUIET, heartbeat=0.5)
    await cluster.start_all()
    await sleep(2.5)  # over four heartbeats, with no client traffic at all
    dropped = {
        i: [
            line
            for line in cluster[i].log().splitlines()
            if "lost; redialling" in line or "silent for" in line
        ]
        for i in ALL
    }
    assert not any(dropped.values()), "idle peer links were dropped:\n" + "\n".join(
        f"server {i}: {line[25:]}" for i, lines in dropped.items() for line in lines
    )
