"""The three servers of ``replgame cluster``, run, watched and stopped on the reactor.

Each server is ``twistd -n --pidfile RUN/N.pid --logfile RUN/N.log replgame
--id N [--config PATH]`` (:func:`game.launcher.server_command`), started in
the current directory (so the config's ``data`` directories, by default
``replgame-data/N``, are relative to it).

Each child runs in its own process group, so a Ctrl-C typed in the terminal
reaches only this process, which then stops the children in order: SIGTERM,
and SIGKILL for any still running after :data:`KILL_AFTER` seconds.  Should
this process die without cleaning up, each child gets SIGTERM
(:func:`game.launcher.spawn_on_reactor`).  A child that exits on its own is
reported with the end of its log; the others keep running, and the exit
code is then 1.

What ``replgame cluster`` prints about the servers' status is the
command's own business (:mod:`game.client.cluster`): this module starts and
stops processes only.
"""

from __future__ import annotations

import functools
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import IO, Final

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IDelayedCall,
    IReactorFromThreads,
    IReactorProcess,
    IReactorTime,
)

from game.config import DEFAULT_SOURCE, ClusterConfig
from game.launcher import ChildProcess, running_pid, server_command, spawn_on_reactor, tail

#: Seconds between SIGTERM and SIGKILL when stopping the servers.
KILL_AFTER: Final = 10.0


class ClusterError(Exception):
    """``replgame cluster`` cannot start: the message says why."""


class ClusterRunner:
    """Starts, watches and stops the three servers of a cluster.

    :param reactor: spawns the servers, and times the kill that follows a
        stop (an ``IReactorTime`` too).
    :param config_path: the config file the servers get (None: the built-in one).
    :param run_dir: where pid and log files go.
    :param as_json: stdout carries JSON, so information lines go to ``err``.
    """

    def __init__(
        self,
        reactor: IReactorProcess,
        config: ClusterConfig,
        config_path: str | None,
        run_dir: Path,
        *,
        out: IO[str] | None = None,
        err: IO[str] | None = None,
        as_json: bool = False,
        kill_after: float = KILL_AFTER,
    ) -> None:
        self.reactor = reactor
        self.config = config
        self.config_path = config_path
        self.run_dir = run_dir
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.as_json = as_json
        self.kill_after = kill_after
        self.children: dict[int, ChildProcess] = {}
        self.unexpected: list[int] = []
        self.stopping = False
        #: Fires with the exit code once every child has ended: 1 if one exited on its own.
        self.finished: Deferred[int] = Deferred()
        self._waiters: list[Deferred[None]] = []
        self._on_stopping: list[Callable[[], object]] = []
        self._kill_timer: IDelayedCall | None = None

    # -- output ----------------------------------------------------------------

    def say(self, text: str) -> None:
        """An information line: stdout, or stderr when stdout carries JSON."""
        stream = self.err if self.as_json else self.out
        stream.write(text + "\n")
        stream.flush()

    def warn(self, text: str) -> None:
        self.err.write(text + "\n")
        self.err.flush()

    # -- files -----------------------------------------------------------------

    def pidfile(self, server_id: int) -> Path:
        return self.run_dir / f"{server_id}.pid"

    def logfile(self, server_id: int) -> Path:
        return self.run_dir / f"{server_id}.log"

    # -- start -----------------------------------------------------------------

    def check(self) -> None:
        """Refuse to start over servers that already run from this run directory.

        :raises ClusterError: a pidfile names a live process.
        """
        for server in self.config.servers:
            pidfile = self.pidfile(server.id)
            pid = running_pid(pidfile)
            if pid is not None:
                raise ClusterError(
                    f"server {server.id} already runs (pid {pid} in {pidfile}); stop it first"
                )

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        source = self.config.source if self.config_path else DEFAULT_SOURCE
        self.say(f"starting the three servers of {source}; pid and log files in {self.run_dir}/")
        for server in self.config.servers:
            command = server_command(
                server.id,
                pidfile=self.pidfile(server.id),
                logfile=self.logfile(server.id),
                config=self.config_path,
            )
            child = ChildProcess(functools.partial(self.child_ended, server.id))
            self.children[server.id] = spawn_on_reactor(self.reactor, child, command)
            self.say(
                f"server {server.id}: pid {child.pid}, {server.host}:{server.port}, "
                f"data {server.data}, log {self.logfile(server.id)}"
            )

    # -- children ending -------------------------------------------------------

    def child_ended(self, server_id: int, child: ChildProcess) -> None:
        if self.stopping:
            # twistd ends itself with the signal it got once it has shut down.
            how = "" if child.ended in ("exit code 0", "killed by SIGTERM") else f" ({child.ended})"
            self.say(f"server {server_id} stopped{how}")
        else:
            self.unexpected.append(server_id)
            log = self.logfile(server_id)
            lines = [
                f"replgame: server {server_id} (pid {child.pid}) exited unexpectedly "
                f"({child.ended}); the others keep running"
            ]
            log_tail = tail(log)
            if log_tail:
                lines.append(f"last lines of {log}:")
                lines.extend(f"  {line}" for line in log_tail)
            if child.output:
                lines.append("its output:")
                lines.extend(f"  {line}" for line in child.output)
            self.warn("\n".join(lines))
        if all(not c.running for c in self.children.values()):
            self._all_ended()

    def _all_ended(self) -> None:
        if self._kill_timer is not None and self._kill_timer.active():
            self._kill_timer.cancel()
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(None)
        if not self.finished.called:
            if self.unexpected:
                ids = ", ".join(str(i) for i in self.unexpected)
                self.warn(
                    f"replgame: server(s) {ids} exited unexpectedly; see their logs in "
                    f"{self.run_dir}/"
                )
            self.finished.callback(1 if self.unexpected else 0)

    # -- stopping ------------------------------------------------------------------

    def when_stopping(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` once :meth:`stop` begins (e.g. to stop a status poll)."""
        self._on_stopping.append(callback)

    def stop(self, why: str = "stopping") -> Deferred[None]:
        """SIGTERM the servers still running, SIGKILL them after ``kill_after``;
        fires once every child has been reaped."""
        waiter: Deferred[None] = Deferred()
        running = [(i, c) for i, c in self.children.items() if c.running]
        if not running:
            if not self.finished.called:
                self._all_ended()
            waiter.callback(None)
            return waiter
        self._waiters.append(waiter)
        if self.stopping:
            return waiter
        self.stopping = True
        callbacks, self._on_stopping = self._on_stopping, []
        for callback in callbacks:
            callback()
        pids = ", ".join(f"{i} (pid {c.pid})" for i, c in running)
        self.say(f"{why}: sending SIGTERM to server(s) {pids}")
        for _, child in running:
            child.signal("TERM")
        self._kill_timer = IReactorTime(self.reactor).callLater(self.kill_after, self.kill)
        return waiter

    def kill(self) -> None:
        """SIGKILL every child still running."""
        for server_id, child in self.children.items():
            if child.running:
                self.warn(f"server {server_id} (pid {child.pid}) still running; SIGKILL")
                child.signal("KILL")

    def on_signal(self, signum: int) -> None:
        """A SIGINT or SIGTERM: stop; a second one: kill now."""
        if self.stopping:
            self.kill()
        else:
            self.stop(f"got {signal.Signals(signum).name}")


def install_signal_handlers(reactor: IReactorFromThreads, handler: Callable[[int], None]) -> None:
    """Route SIGINT and SIGTERM to ``handler`` in the reactor thread."""

    def received(signum: int, frame: FrameType | None) -> None:
        reactor.callFromThread(handler, signum)

    signal.signal(signal.SIGINT, received)
    signal.signal(signal.SIGTERM, received)
