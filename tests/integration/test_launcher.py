"""The launcher's children die with their parent (game.launcher).

A parent process runs three real ``twistd replgame`` servers with the
launcher, then dies; no server may outlive it:

- killed by SIGKILL, running the blocking flavour (the tests' and
  benchmarks' :class:`~game.serverprocess.ServerProcess`): the kernel sends
  each child SIGKILL (``PR_SET_PDEATHSIG``);
- killed by SIGKILL, running the Twisted flavour (``replgame cluster``): each
  child gets SIGTERM and shuts down;
- exiting without stopping children that have no death signal: the
  :mod:`atexit` hook kills them.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

from twisted.internet import reactor

from game.localcluster import write_local_config
from tests.integration.cli_helpers import Cli, Collector, pid_alive
from tests.integration.cluster import eventually, timed_test

# argv: the root directory, then "sleep" (wait to be killed) or "exit" (return at
# once, children still running).  Prints each server's pid, then "spawned".
PARENT = """\
import sys, time
from pathlib import Path
from game import launcher
from game.serverprocess import ServerProcess

root, then = Path(sys.argv[1]), sys.argv[2]
config = root / "cluster.toml"
for server_id in (1, 2, 3):
    if then == "sleep":
        server = ServerProcess(
            server_id, root, config, 0, data=None,
            pidfile=root / f"{server_id}.pid", logs=root / "logs",
        )
        server.spawn()
        pid = server.pid
    else:  # no death signal: only the atexit hook can stop them
        command = launcher.server_command(
            server_id, pidfile=root / f"{server_id}.pid",
            logfile=root / f"{server_id}.log", config=config,
        )
        pid = launcher.spawn(command, root, root / f"{server_id}.out", death_signal=0).pid
    print(pid, flush=True)
print("spawned", flush=True)
if then == "sleep":
    time.sleep(600)
"""


#: ``replgame cluster``'s line about a server it started.
SERVER_PID = re.compile(r"server \d: pid (\d+),")


def start_parent(root: Path, then: str, lines: list[str]) -> Collector:
    parent = Collector(lines.append)
    argv = [sys.executable, "-c", PARENT, str(root), then]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    reactor.spawnProcess(parent, sys.executable, argv, env=env, path=str(root))
    return parent


async def wait_pidfiles(root: Path, pids: list[int]) -> None:
    """Wait until each twistd has written its pidfile: they run, as twistd."""

    async def written() -> None:
        for server_id, pid in enumerate(pids, start=1):
            pidfile = root / f"{server_id}.pid"
            assert pidfile.exists() and pidfile.read_text().strip() == str(pid), pidfile

    await eventually(written, 20, what="three pidfiles")


async def wait_all_gone(pids: list[int], timeout: float) -> None:
    async def gone() -> None:
        assert [pid for pid in pids if pid_alive(pid)] == [], pids

    await eventually(gone, timeout, what="no child outlives its parent")


def kill_survivors(pids: list[int]) -> None:
    for pid in pids:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


@timed_test(60)
async def test_the_blocking_flavours_children_die_with_a_killed_parent(tmp_path: Path) -> None:
    write_local_config(tmp_path)
    lines: list[str] = []
    parent = start_parent(tmp_path, "sleep", lines)
    pids: list[int] = []
    try:

        async def spawned() -> None:
            assert "spawned" in lines, (lines, parent.stderr)

        await eventually(spawned, 20, what="the parent spawned three servers")
        pids = [int(line) for line in lines[:3]]
        await wait_pidfiles(tmp_path, pids)
        parent.signal("KILL")
        assert await parent.ended == -signal.SIGKILL
        await wait_all_gone(pids, 10)
    finally:
        parent.signal("KILL")
        kill_survivors(pids)


@timed_test(60)
async def test_the_children_of_an_exiting_parent_are_killed_at_exit(tmp_path: Path) -> None:
    write_local_config(tmp_path)
    lines: list[str] = []
    parent = start_parent(tmp_path, "exit", lines)
    pids: list[int] = []
    try:
        assert await parent.ended == 0, parent.stderr
        assert lines[3:] == ["spawned"], lines
        pids = [int(line) for line in lines[:3]]
        await wait_all_gone(pids, 10)
    finally:
        kill_survivors(pids)


@timed_test(80)
async def test_replgame_clusters_servers_die_with_a_killed_replgame_cluster(
    tmp_path: Path,
) -> None:
    config = write_local_config(tmp_path)
    cli = Cli(tmp_path, config)
    run_dir = tmp_path / "run"
    lines: list[str] = []
    pids: list[int] = []
    try:
        parent = cli.spawn("cluster", "--run-dir", str(run_dir), on_line=lines.append)

        def started_pids() -> list[int]:
            return [int(found[1]) for line in lines if (found := SERVER_PID.match(line))]

        async def started() -> None:
            assert len(started_pids()) == 3, lines

        await eventually(started, 20, what="replgame cluster started three servers")
        pids = started_pids()
        await wait_pidfiles(run_dir, pids)
        parent.signal("KILL")
        assert await parent.ended == -signal.SIGKILL
        # SIGTERM: each server shuts down as on Ctrl-C.
        await wait_all_gone(pids, 20)
    finally:
        await cli.stop()
        kill_survivors(pids)
