"""2,000 clients on a cluster with the default settings: every watcher gets every push.

Issue 15's acceptance: real ``twistd`` servers with no ``[tuning]`` at all
(``max_connections`` 10,000, ``heartbeat`` 10 s), and 2,000
:class:`~game.client.client.ReplicatedClient` instances, what a player
runs, each linked to all three servers (6,000 connections in this
process, 2,000 per server).  Twenty of them play ten games; the other
1,980 each watch one of those games (198 per game).  Every server must push
every version of a watched game to every watcher: checked per watcher and
per server, not only for a majority.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from typing import Any

import pytest
from twisted.internet import defer, reactor

from game.client.client import Outcome, ReplicatedClient
from game.client.watching import WatchUpdate
from game.config import load_config
from game.rules import new_game
from tests.integration.cluster import ALL, eventually, new_game_id, new_token, timed_test

CLIENTS = 2_000
GAMES = 10
MOVES = 3
#: Clients started at once (their links dial together): the servers' accept
#: queues (Twisted's listen backlog is 50) keep up without SYN retries.
BATCH = 250


@pytest.fixture
def open_files() -> Iterator[None]:
    """This process holds 6,000 connections: raise its soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 3 * CLIENTS + 200:
        pytest.skip(f"the hard limit on open files ({hard}) is below {3 * CLIENTS + 200}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def acknowledged(outcome: Outcome) -> int:
    """The version of an acknowledged change (two identical answers)."""
    assert not outcome.provisional and outcome.error is None, outcome
    assert len(outcome.agreed) >= 2, outcome
    return outcome.game_document().version


class Seen:
    """Every version each server showed one watcher (its Watch answer and pushes)."""

    def __init__(self) -> None:
        self.versions: dict[int, set[int]] = {i: set() for i in ALL}

    def __call__(self, update: WatchUpdate) -> None:
        # A new view per server document offered: each push shows here.
        for server_id, version in update.versions.items():
            self.versions[server_id].add(version)


@timed_test(120)
async def test_two_thousand_clients_every_watcher_gets_every_push(make_cluster, open_files):
    cluster = make_cluster()
    cluster.tuning = {}  # the defaults: no [tuning] values at all
    cluster.write_config(cluster.config_path)
    await cluster.start_all(timeout=30)
    config = load_config(cluster.config_path)
    assert config.tuning.max_connections == 10_000 and config.tuning.heartbeat == 10

    clients: list[ReplicatedClient] = []
    started = time.monotonic()
    try:
        for first in range(0, CLIENTS, BATCH):
            batch = [ReplicatedClient(config, reactor) for _ in range(BATCH)]
            clients += batch
            for client in batch:
                client.start()
            linked = await defer.gatherResults([c.settled() for c in batch])
            assert all(sorted(active) == list(ALL) for active in linked), (first, linked)
        connected = time.monotonic() - started
        print(f"\n{CLIENTS} clients linked to all three servers in {connected:.1f} s")

        players, watchers = clients[: 2 * GAMES], clients[2 * GAMES :]
        games = []
        for n in range(GAMES):
            game_id = new_game_id("many")
            tokens = (new_token(), new_token())
            seats = (players[2 * n], players[2 * n + 1])
            acknowledged(await seats[0].create_game(game_id, "connect4", "alice", tokens[0]))
            acknowledged(await seats[1].join_game(game_id, 1, "bob", tokens[1]))
            games.append((game_id, seats, tokens))

        seen: list[tuple[str, Seen]] = []
        for n, watcher in enumerate(watchers):
            game_id = games[n % GAMES][0]
            listener = Seen()
            watcher.watch(game_id, listener)
            seen.append((game_id, listener))

        async def all_watching() -> None:
            waiting = sum(1 for _, s in seen for i in ALL if 2 not in s.versions[i])
            assert not waiting, f"{waiting} watches not answered yet"

        await eventually(all_watching, 30, interval=0.2)
        watching = time.monotonic()
        print(f"{len(seen)} watches on every server in {watching - started - connected:.1f} s")

        async def play(game_id: str, seats: Any, tokens: tuple[str, str]) -> None:
            position = new_game("connect4")
            version = 2
            for _ in range(MOVES):
                move = position.legal_moves()[0]
                seat = position.to_move
                outcome = await seats[seat].make_move(game_id, version, move, tokens[seat])
                version = acknowledged(outcome)
                position = position.play(move)

        await defer.gatherResults(
            [defer.ensureDeferred(play(*game)) for game in games], consumeErrors=True
        )
        print(f"{GAMES * MOVES} moves played in {time.monotonic() - watching:.1f} s")
        final = 2 + MOVES
        wanted = set(range(2, final + 1))

        async def every_push_arrived() -> None:
            missing = [
                (game_id, i, sorted(wanted - s.versions[i]))
                for game_id, s in seen
                for i in ALL
                if not wanted <= s.versions[i]
            ]
            assert not missing, f"{len(missing)} (watcher, server) pairs missing pushes: " + str(
                missing[:5]
            )

        await eventually(every_push_arrived, 20, interval=0.2)
        print(
            f"{len(seen)} watchers got every push of {GAMES} games from every server; "
            f"{time.monotonic() - started:.1f} s in all"
        )
        statuses = await clients[0].statuses()
        assert all(s.serving for s in statuses)
    finally:
        await defer.DeferredList([c.stop() for c in clients])
