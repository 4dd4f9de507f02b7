"""Takeback and rematch across a crash: the offer acknowledged by all three,
one server killed (SIGKILL), the accept acknowledged by the other two, the
killed server restarted; all three converge (docs/protocol.md, "Takebacks
and rematches")."""

from __future__ import annotations

import time
from typing import Any

from game import protocol as p
from tests.integration.cluster import ALL, Match, eventually, new_game_id, new_token, timed_test

SURVIVORS = (1, 2)


async def converged(clients: Any, *game_ids: str) -> dict[str, dict[str, Any]]:
    """Equal clocks, game counts and digests, and every game byte-identical on all three."""
    await clients.assert_converged()
    return {game_id: await clients.game(p.GetGame, game_id=game_id) for game_id in game_ids}


@timed_test(40)
async def test_takeback_accepted_while_a_server_is_down(make_cluster, clients_for):
    cluster = make_cluster()
    await cluster.start_all()
    clients = clients_for(cluster)
    started = time.monotonic()
    game = Match(clients, "connect4")
    await game.start()
    await game.moves(["4", "3", "5", "2"])
    alice, bob = game.players
    offered = await clients.game(
        p.OfferTakeback, ALL, game_id=game.id, version=game.version, token=alice.token
    )
    assert offered["takeback"] == 0, offered

    cluster[3].kill()
    accepted = await clients.game(
        p.AcceptTakeback, SURVIVORS, game_id=game.id, version=offered["version"], token=bob.token
    )
    assert accepted["moves"] == ["4", "3"] and accepted["to_move"] == 0, accepted
    assert "takeback" not in accepted

    await cluster[3].start()
    documents = await eventually(
        lambda: converged(clients, game.id), timeout=10, what="the three servers converge"
    )
    assert documents[game.id] == accepted
    game.doc = accepted
    await game.move("7")  # play goes on through all three
    elapsed = time.monotonic() - started
    print(f"takeback across a crash: converged and played on in {elapsed:.1f} s")
    assert elapsed < 20, elapsed


@timed_test(40)
async def test_rematch_accepted_while_a_server_is_down(make_cluster, clients_for):
    cluster = make_cluster()
    await cluster.start_all()
    clients = clients_for(cluster)
    started = time.monotonic()
    game = Match(clients, "reversi")
    await game.start()
    alice, bob = game.players
    finished = await clients.game(
        p.Resign, ALL, game_id=game.id, version=game.version, token=bob.token
    )
    rematch_id = new_game_id("rematch")
    alice_token, bob_token = new_token(), new_token()
    offered = await clients.game(
        p.OfferRematch,
        ALL,
        game_id=game.id,
        version=finished["version"],
        token=alice.token,
        rematch_id=rematch_id,
        rematch_token=alice_token,
    )
    assert offered["rematch"] == {"by": 0, "game": rematch_id, "state": "offered"}, offered

    cluster[3].kill()
    new = await clients.game(
        p.AcceptRematch,
        SURVIVORS,
        game_id=game.id,
        version=offered["version"],
        token=bob.token,
        rematch_token=bob_token,
    )
    assert new["id"] == rematch_id and new["players"] == ["bob", "alice"], new
    assert (new["status"], new["rematch_of"]) == ("active", game.id), new

    await cluster[3].start()
    documents = await eventually(
        lambda: converged(clients, game.id, rematch_id),
        timeout=10,
        what="the three servers converge",
    )
    assert documents[rematch_id] == new
    assert documents[game.id]["rematch"]["state"] == "accepted"
    assert documents[game.id]["status"] == "finished"
    # The new game is played through all three: bob holds seat 0 there.
    moved = await clients.game(
        p.MakeMove, ALL, game_id=rematch_id, version=2, move="d3", token=bob_token
    )
    assert moved["moves"] == ["d3"], moved
    elapsed = time.monotonic() - started
    print(f"rematch across a crash: converged and played on in {elapsed:.1f} s")
    assert elapsed < 20, elapsed
