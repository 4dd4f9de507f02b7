"""Scenario 7: all three servers killed with SIGKILL mid-traffic and restarted."""

from __future__ import annotations

import json
import random
import signal

from twisted.internet import defer
from twisted.python.failure import Failure

from game import protocol as p
from tests.integration.cluster import ALL, Match, eventually, timed_test

GAMES = 8
KILL_AFTER_ACKS = 80


@timed_test(60)
async def test_acknowledged_moves_survive_killing_every_server(make_cluster, clients_for):
    cluster = make_cluster()
    await cluster.start_all()
    clients = clients_for(cluster)
    matches = [Match(clients, "checkers") for _ in range(GAMES)]
    for match in matches:
        await match.start()
    acknowledged = {match.id: dict(match.doc) for match in matches}
    counts = {"acks": 0, "provisional": 0, "failed": 0}

    def kill_everything():
        for i in ALL:  # as close together as possible
            cluster[i].signal(signal.SIGKILL)

    async def play(match: Match, rng: random.Random, target: int) -> None:
        while match.doc["status"] == "active":
            move = rng.choice(match.doc["legal"])
            answers = await clients.call_each(
                p.MakeMove,
                game_id=match.id,
                version=match.version,
                move=move,
                token=match.mover().token,
            )
            games = [a["game"] for a in answers.values() if not isinstance(a, Failure)]
            best = max(set(games), key=games.count, default=None)
            if best is None or games.count(best) < 2:
                counts["provisional" if games else "failed"] += 1
                return
            match.doc = acknowledged[match.id] = json.loads(best)
            counts["acks"] += 1
            if counts["acks"] == target:
                kill_everything()

    for round_ in (1, 2):  # kill, restart, play on, kill again
        target = counts["acks"] + KILL_AFTER_ACKS
        await defer.DeferredList(
            [
                defer.ensureDeferred(play(m, random.Random(100 * round_ + n), target))
                for n, m in enumerate(matches)
            ]
        )
        assert counts["acks"] >= target, f"the games ended before the kill: {counts}"
        for i in ALL:
            await cluster[i].wait_exit(5)
        print(f"round {round_}: killed with {counts}")

        await cluster.start_all()
        await eventually(clients.assert_converged, timeout=10, what="the servers converge")
        for match in matches:
            doc = await clients.game(p.GetGame, game_id=match.id)
            acked = acknowledged[match.id]
            assert doc["version"] >= acked["version"], (doc, acked)
            assert doc["moves"][: len(acked["moves"])] == acked["moves"], (doc, acked)
            match.doc = doc
