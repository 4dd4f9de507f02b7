"""Forks: an acknowledged change wins over a provisional one, however long."""

from __future__ import annotations

from game import protocol as p
from tests.integration.cluster import ALL, Match, call, connect, error_tag, eventually, timed_test


@timed_test(30)
async def test_acknowledged_branch_beats_a_longer_provisional_one(make_cluster, clients_for):
    cluster = make_cluster(anti_entropy_interval=1)
    await cluster.start_all()
    clients = clients_for(cluster)
    game = Match(clients, "connect4")
    await game.start()
    await game.moves(["4", "4"])
    before = dict(game.doc)
    watcher = await connect(cluster[1].port)  # a spectator on the server that will lose
    await call(watcher, p.Watch, game_id=game.id)

    # Server 1 alone takes "1" for Alice, and three more moves after it: a
    # provisional branch four events long (server 1 is paused meanwhile for
    # the others, so no anti-entropy settles it early).
    cluster[2].pause()
    cluster[3].pause()
    try:
        provisional = Match(clients, "connect4", game.id)
        provisional.players, provisional.doc = game.players, dict(before)
        await provisional.moves(["1", "1", "1", "2"], servers=(1,))
    finally:
        cluster[2].resume()
        cluster[3].resume()
    cluster[1].pause()
    try:
        # Servers 2 and 3 acknowledge "7" at the same version.
        acknowledged = await game.move("7", servers=(2, 3))
    finally:
        cluster[1].resume()

    async def settled():
        await clients.assert_converged()
        return await clients.game(p.GetGame, game_id=game.id)

    doc = await eventually(settled, timeout=6, what="the fork is resolved everywhere")
    assert doc == acknowledged, f"{doc['moves']} instead of {acknowledged['moves']}"
    assert "adopted the branch that won by majority" in cluster[1].log()
    # The spectator saw the provisional branch, then the acknowledged one.
    seen = [change["moves"] for change in watcher.changes]
    assert seen[-1] == acknowledged["moves"], seen
    assert ["4", "4", "1", "1", "1", "2"] in seen, seen
    watcher.transport.abortConnection()
    # Play goes on from the acknowledged branch on all three.
    await game.move("3")
    stale = await clients.call_each(
        p.MakeMove,
        game_id=game.id,
        version=before["version"] + 1,
        move="1",
        token=game.players[1].token,
    )
    assert {i: error_tag(a) for i, a in stale.items()} == {i: "STALE_VERSION" for i in ALL}
