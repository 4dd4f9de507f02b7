"""Scenario 1: whole games played by two clients; the three servers answer alike."""

from __future__ import annotations

import json

from game import protocol as p
from game.rules import new_game
from tests.integration.cluster import ALL, Match, call, connect, error_tag, timed_test


@timed_test(40)
async def test_connect_four_to_a_win_and_a_reversi_opening(make_cluster, clients_for):
    cluster = make_cluster()
    await cluster.start_all()
    clients = clients_for(cluster)

    # A spectator watches the Connect Four game on every server.
    game = Match(clients, "connect4")
    doc = await game.create()
    assert doc["version"] == 1 and doc["status"] == "open"
    assert doc["players"] == ["alice", None]
    watchers = {i: await connect(cluster[i].port) for i in ALL}
    for watcher in watchers.values():
        watched = await call(watcher, p.Watch, game_id=game.id)
        assert json.loads(watched["game"]) == doc

    doc = await game.join()
    assert doc["status"] == "active" and doc["players"] == ["alice", "bob"]
    assert doc["to_move"] == 0 and doc["legal"] == ["1", "2", "3", "4", "5", "6", "7"]

    # Alice stacks column 1, Bob column 2: four in a row on Alice's 4th disc.
    position = new_game("connect4")
    for move in ["1", "2", "1", "2", "1", "2", "1"]:
        doc = await game.move(move)
        position = position.play(move)
        assert doc["position"] == position.to_text()
        assert doc["moves"][-1] == move
        assert doc["legal"] == (position.legal_moves() if doc["status"] == "active" else [])
        # Every read answers the same bytes too.
        assert await clients.game(p.GetGame, game_id=game.id) == doc
    assert doc["status"] == "finished"
    assert doc["result"] == {"winner": 0, "reason": "four in a row"}
    assert doc["version"] == 9 and doc["to_move"] is None and doc["legal"] == []

    # A move after the end: GAME_OVER from every server.
    late = await clients.call_each(
        p.MakeMove, game_id=game.id, version=9, move="3", token=game.players[1].token
    )
    assert {i: error_tag(a) for i, a in late.items()} == {i: "GAME_OVER" for i in ALL}

    # A short reversi opening, each side playing its first legal move.
    reversi = Match(clients, "reversi")
    await reversi.start()
    assert reversi.doc["legal"] == ["c4", "d3", "e6", "f5"]
    board = new_game("reversi")
    for _ in range(8):
        move = reversi.doc["legal"][0]
        doc = await reversi.move(move)
        board = board.play(move)
        assert doc["position"] == board.to_text()
        assert doc["legal"] == board.legal_moves()
    assert reversi.doc["version"] == 10 and reversi.doc["status"] == "active"

    # Listings, statuses and the watchers' last documents agree.
    listing = await clients.same(p.ListGames)
    assert sorted(json.loads(s)["id"] for s in listing["games"]) == sorted([game.id, reversi.id])
    status = await clients.assert_converged()
    assert status["clock"] == 9 + 10 and status["games"] == 2
    for i, watcher in watchers.items():
        assert watcher.changes, f"server {i} sent no GameChanged"
        assert watcher.changes[-1]["version"] == 9, f"server {i}: {watcher.changes[-1]}"
        assert [c["version"] for c in watcher.changes] == list(range(2, 10))
        watcher.transport.abortConnection()
