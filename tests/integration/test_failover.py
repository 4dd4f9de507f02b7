"""Scenario 2: a replica killed mid-game, restarted while its peers are frozen."""

from __future__ import annotations

import time

from game import protocol as p
from tests.integration.cluster import Match, error_tag, eventually, sleep, timed_test

# startup_wait above the time the peers stay frozen: a restarted server with an
# existing database may serve alone once startup_wait has passed (PROTOCOL.md),
# and this scenario checks that it does not serve before its peers answer.
STARTUP_WAIT = 10


@timed_test(60)
async def test_killed_server_catches_up_once_peers_resume(make_cluster, clients_for):
    cluster = make_cluster(startup_wait=STARTUP_WAIT)
    await cluster.start_all()
    clients = clients_for(cluster)

    game = Match(clients, "connect4")
    await game.start()
    await game.moves(["4", "4", "3"])
    other = Match(clients, "reversi")
    await other.start()

    cluster[3].kill()  # SIGKILL mid-game
    # The game goes on through servers 1 and 2.
    await game.moves(["5", "2", "6"], servers=(1, 2))
    await other.moves(["d3", "c3"], servers=(1, 2))
    third = Match(clients, "checkers")
    await third.start(servers=(1, 2))
    assert game.version == 8

    cluster[1].pause()
    cluster[2].pause()
    paused_at = time.monotonic()
    cluster[3].spawn()
    await cluster[3].wait_listening()
    for _ in range(2):  # right away, and again after a catch-up timeout went by
        status = await eventually(lambda: cluster[3].status(timeout=1), 5)
        assert status["serving"] is False, status
        answer = await clients.call_each(p.GetGame, servers=(3,), game_id=game.id)
        assert error_tag(answer[3]) == "NOT_SERVING", answer
        await sleep(2.5)
    assert time.monotonic() - paused_at < STARTUP_WAIT

    cluster[1].resume()
    cluster[2].resume()
    resumed_at = time.monotonic()

    async def same_as_others():
        status = await clients.assert_converged()
        for match in (game, other, third):
            assert await clients.game(p.GetGame, game_id=match.id) == match.doc
        return status

    status = await eventually(same_as_others, timeout=5, what="server 3 serves what 1 and 2 do")
    elapsed = time.monotonic() - resumed_at
    print(f"server 3 caught up {elapsed:.2f} s after SIGCONT")
    assert status["games"] == 3
    assert "caught up with server" in cluster[3].log()
    # And play goes on through all three.
    await game.move("1")
