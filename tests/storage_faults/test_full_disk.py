"""A full disk: the server answers the failed change with an error and stops; it
never serves or spreads the change it could not save, and starts again whole.

Two ways to fill a disk: a real one (server 1's data directory on a small
tmpfs, filled up; needs root to mount, skipped otherwise) and an injected
sqlite error ("database or disk is full") in an in-process server (always
runs).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from game import errors as wire
from game import protocol as p
from game.server.commit import GroupCommitter
from game.server.replica import Replica
from game.server.storage import Storage
from tests.integration.cluster import Match, error_tag, eventually, new_token, timed_test
from tests.server.helpers import (
    TOKEN_A,
    TOKEN_B,
    ConnectionTestCase,
    ServerHarness,
    authenticate,
    start_game,
)

TMPFS_SIZE = "6m"


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of a few MB, unmounted afterwards."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs ({done.stderr.strip()}); the injected test covers it")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(directory: Path) -> Path:
    """Fill the file system of ``directory`` up to the last byte; the filler file."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for size in (1 << 20, 1 << 12, 1):
            block = b"\0" * size
            while True:
                try:
                    os.write(fd, block)
                except OSError as error:
                    assert error.errno == errno.ENOSPC, error
                    break
    finally:
        os.close(fd)
    return filler


async def fill_until_a_commit_fails(cluster: Any, clients: Any, disk: Path) -> tuple[str, str]:
    """Fill ``disk``, then create games on server 1 alone until one fails for want
    of space; ``(game id, its answer)``.  Server 1 must then stop by itself."""
    fill(disk)
    for n in range(3000):
        game_id = f"full-disk-{n}"
        answers = await clients.call_each(
            p.CreateGame, servers=(1,), game_id=game_id, kind="checkers",
            player="p" * 32, token=new_token(),
        )  # fmt: skip
        if not isinstance(answers[1], dict):
            print(
                f"\n{n} games saved on a full disk, then {game_id} answered {error_tag(answers[1])}"
            )
            return game_id, str(error_tag(answers[1]))
    raise AssertionError("3000 games fitted on a full disk")


async def full_disk_cluster(make_cluster: Any, clients_for: Any, disk: Path) -> tuple[Any, ...]:
    cluster = make_cluster()
    cluster[1].data = disk / "data-1"
    await cluster.start_all()
    clients = clients_for(cluster)
    game = Match(clients, "connect4")
    await game.start()
    await game.moves(["4", "4"])
    return cluster, clients, game


@timed_test(90)
async def test_a_full_disk_stops_the_server_and_nothing_unsaved_spreads(
    make_cluster, clients_for, small_filesystem
):
    cluster, clients, game = await full_disk_cluster(make_cluster, clients_for, small_filesystem)
    failed, answer = await fill_until_a_commit_fails(cluster, clients, small_filesystem)
    assert answer != "OK"
    await cluster[1].wait_exit(15)
    log = cluster[1].log()
    assert "so that no state that is not on disk is ever served" in log, log[-2000:]
    assert "database or disk is full" in log
    # The change that was not saved is nowhere.
    for i in (2, 3):
        answers = await clients.call_each(p.GetGame, servers=(i,), game_id=failed)
        assert error_tag(answers[i]) == "UNKNOWN_GAME", (i, answers[i])
    # With space again, server 1 starts whole and catches up.
    (small_filesystem / "filler").unlink()
    await cluster[1].start()
    answers = await clients.call_each(p.GetGame, servers=(1,), game_id=failed)
    assert error_tag(answers[1]) == "UNKNOWN_GAME", answers[1]
    assert await clients.game(p.GetGame, game_id=game.id) == game.doc
    await eventually(clients.assert_converged, timeout=20)


@timed_test(60)
async def test_a_server_stopped_by_a_failed_commit_exits_non_zero(
    make_cluster, clients_for, small_filesystem
):
    cluster, clients, _ = await full_disk_cluster(make_cluster, clients_for, small_filesystem)
    await fill_until_a_commit_fails(cluster, clients, small_filesystem)
    assert await cluster[1].wait_exit(15) != 0


@timed_test(60)
async def test_a_server_on_a_full_disk_refuses_to_start_with_a_clear_message(
    make_cluster, clients_for, small_filesystem
):
    cluster = make_cluster()
    cluster[1].data = small_filesystem / "data-1"
    await cluster.start_all()
    clients = clients_for(cluster)
    game = Match(clients, "reversi")
    await game.start()
    await cluster[1].stop()
    filler = fill(small_filesystem)
    cluster[1].spawn()
    await cluster[1].wait_settled()
    status = cluster[1].reap()
    log = cluster[1].log()
    if status is None:
        # It may serve reads from a full disk; then a change must fail cleanly.
        answers = await clients.call_each(
            p.MakeMove, servers=(1,), game_id=game.id, version=game.version, move="d3",
            token=game.players[0].token,
        )  # fmt: skip
        assert error_tag(answers[1]) is not None
        await cluster[1].wait_exit(15)
    else:
        assert status != 0, log
        assert "Traceback" not in log, log[-3000:]
        assert str(cluster[1].data) in log, log[-2000:]
    filler.unlink()
    await cluster[1].start()
    assert await clients.game(p.GetGame, game_id=game.id) == game.doc


# -- an injected write error, in-process ---------------------------------------------


class Case(ConnectionTestCase):
    """Gives the harness its assertions; cleanups run by the fixture."""

    __test__ = False  # a helper, not a test case to collect

    def runTest(self) -> None:
        pass

    def __init__(self, method: str = "runTest") -> None:
        super().__init__(method)
        self.cleanups: list[Any] = []

    def addCleanup(self, function: Any, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self.cleanups.append((function, args, kwargs))


@pytest.fixture
def case() -> Iterator[Case]:
    made = Case()
    yield made
    for function, args, kwargs in reversed(made.cleanups):
        with contextlib.suppress(Exception):
            function(*args, **kwargs)


def disk_full() -> None:
    raise sqlite3.OperationalError("database or disk is full")


def test_an_injected_disk_full_error_fails_the_batch_and_stops(case: Case) -> None:
    harness = ServerHarness(case)
    stopped: list[Any] = []
    harness.committer.on_failure = stopped.append
    client = harness.connect()
    start_game(case, client, "g1")
    case.game(client.call(p.MakeMove, game_id="g1", version=2, move="4", token=TOKEN_A))
    harness.storage._mapping.commit = disk_full  # type: ignore[method-assign]
    failed = client.call(p.MakeMove, game_id="g1", version=3, move="4", token=TOKEN_B)
    error = case.failureResultOf(failed).value
    assert isinstance(error, wire.WireError) and error.tag != b"", error
    assert stopped, "the committer did not report the failure (the service stops on it)"
    # Nothing later is accepted, and the disk holds exactly what was answered.
    later = client.call(p.MakeMove, game_id="g1", version=3, move="5", token=TOKEN_B)
    case.failureResultOf(later)
    directory = harness.storage.directory
    harness.storage.close()
    storage = Storage.open(directory)
    try:
        replica = Replica(storage, GroupCommitter(storage, Clock()))
        game = replica.game("g1")
        assert game is not None and game.version == 3 and game.moves == ["4"]
    finally:
        storage.close()


def test_after_a_failed_commit_no_peer_is_served_the_unsaved_change(case: Case) -> None:
    harness = ServerHarness(case)
    harness.committer.on_failure = lambda failure: None  # the service would stop next turn
    client, peer = harness.connect(), harness.connect()
    case.successResultOf(authenticate(case, peer))
    start_game(case, client, "g1")  # version 2, on disk
    harness.storage._mapping.commit = disk_full  # type: ignore[method-assign]
    case.failureResultOf(client.call(p.MakeMove, game_id="g1", version=2, move="4", token=TOKEN_A))
    events = peer.call(p.PeerEvents, game_id="g1", since=0, head="0" * 64)
    status = peer.call(p.PeerStatus)
    for answer in (events, status):
        assert answer.called
    if not isinstance(events.result, Failure):
        got = case.successResultOf(events)
        moves = [json.loads(e) for e in got["events"] if json.loads(e)["type"] == "move"]
        assert got["version"] == 2 and not moves, f"PeerEvents served the unsaved move: {got}"
    if not isinstance(status.result, Failure):
        clock = case.successResultOf(status)["clock"]
        assert clock == 2, f"PeerStatus reports clock {clock}; 2 is on disk"
