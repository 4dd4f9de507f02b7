"""``replgame cluster``: run the three servers of a cluster as child processes.

Each server is ``twistd -n --pidfile RUN/N.pid --logfile RUN/N.log replgame
--id N [--config PATH]`` with the ``twistd`` of this Python's environment,
started in the current directory (so the config's ``data`` directories,
by default ``replgame-data/N``, are relative to it).  Once all three serve
(or after ``--wait`` seconds) their status table is printed.

Each child runs in its own process group, so a Ctrl-C typed in the terminal
reaches only this process, which then stops the children in order: SIGTERM,
and SIGKILL for any still running after :data:`KILL_AFTER` seconds.  On
Linux each child also gets SIGTERM if this process dies without cleaning up
(``PR_SET_PDEATHSIG``).  A child that exits on its own is reported with the
end of its log; the others keep running, and the exit code is then 1.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, Final

from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from game.config import DEFAULT_SOURCE, ClusterConfig, ConfigError

#: Seconds between SIGTERM and SIGKILL when stopping the servers.
KILL_AFTER: Final = 10.0
#: Seconds between status polls while waiting for the servers to serve.
POLL_INTERVAL: Final = 0.5
#: Lines of a log shown when its server dies.
TAIL_LINES: Final = 12

# Runs in the child before it becomes twistd: a process group of its own (so
# a terminal's Ctrl-C reaches only `replgame cluster`), and SIGTERM should the
# parent die first.  argv: parent pid, then the twistd command line.
_CHILD_SETUP: Final = """\
import os, signal, sys
os.setpgid(0, 0)
try:
    import ctypes
    ctypes.CDLL(None).prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
except Exception:
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)
os.execv(sys.argv[2], sys.argv[2:])
"""


def twistd_path() -> Path:
    """The ``twistd`` next to the running Python (the same virtualenv)."""
    return Path(sys.executable).with_name("twistd")


def server_command(
    server_id: int, run_dir: Path, config_path: str | None, twistd: Path | None = None
) -> list[str]:
    """The command line of one server."""
    command = [
        str(twistd or twistd_path()),
        "-n",
        "--pidfile",
        str(run_dir / f"{server_id}.pid"),
        "--logfile",
        str(run_dir / f"{server_id}.log"),
        "replgame",
        "--id",
        str(server_id),
    ]
    if config_path is not None:
        command += ["--config", config_path]
    return command


def tail(path: Path, lines: int = TAIL_LINES) -> list[str]:
    """The last ``lines`` lines of a text file ([] if it cannot be read)."""
    try:
        with path.open("rb") as file:
            file.seek(0, os.SEEK_END)
            size = file.tell()
            file.seek(max(0, size - 64 * 1024))
            text = file.read().decode("utf-8", "replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]


def running_pid(pidfile: Path) -> int | None:
    """The pid in a pidfile if that process is alive, else None."""
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def describe_exit(reason: Failure) -> str:
    value = reason.value
    if isinstance(value, ProcessDone):
        return "exit code 0"
    if isinstance(value, ProcessTerminated):
        if value.signal is not None:
            try:
                name = signal.Signals(value.signal).name
            except ValueError:
                name = f"signal {value.signal}"
            return f"killed by {name}"
        return f"exit code {value.exitCode}"
    return str(value)


class ServerProcess(ProcessProtocol):
    """One child server: its pid, its last output lines, how it ended."""

    def __init__(self, runner: ClusterRunner, server_id: int) -> None:
        self.runner = runner
        self.server_id = server_id
        self.output: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self.pid: int | None = None
        self.ended: str | None = None

    @property
    def running(self) -> bool:
        return self.ended is None

    def connectionMade(self) -> None:
        self.pid = self.transport.pid if self.transport is not None else None

    def outReceived(self, data: bytes) -> None:
        self.output.extend(data.decode("utf-8", "replace").splitlines())

    errReceived = outReceived

    def signal(self, name: str) -> None:
        if self.running and self.transport is not None:
            with contextlib.suppress(ProcessExitedAlready, OSError):
                self.transport.signalProcess(name)  # type: ignore[call-arg]

    def processEnded(self, reason: Failure) -> None:
        self.ended = describe_exit(reason)
        self.runner.child_ended(self)


class ClusterRunner:
    """Starts, watches and stops the three servers of a cluster."""

    def __init__(
        self,
        reactor: Any,
        config: ClusterConfig,
        config_path: str | None,
        run_dir: Path,
        *,
        out: IO[str] | None = None,
        err: IO[str] | None = None,
        as_json: bool = False,
        wait: float = 30.0,
        kill_after: float = KILL_AFTER,
        twistd: Path | None = None,
    ) -> None:
        self.reactor = reactor
        self.config = config
        self.config_path = config_path
        self.run_dir = run_dir
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.as_json = as_json
        self.wait = wait
        self.kill_after = kill_after
        self.twistd = twistd or twistd_path()
        self.children: dict[int, ServerProcess] = {}
        self.unexpected: list[int] = []
        self.stopping = False
        self.finished: Deferred[int] = Deferred()
        self._waiters: list[Deferred[None]] = []
        self._kill_timer: Any = None
        self._status_client: Any = None

    # -- output ----------------------------------------------------------------

    def say(self, text: str) -> None:
        """An information line: stdout, or stderr when stdout carries JSON."""
        stream = self.err if self.as_json else self.out
        stream.write(text + "\n")
        stream.flush()

    def warn(self, text: str) -> None:
        self.err.write(text + "\n")
        self.err.flush()

    # -- start -----------------------------------------------------------------

    def check(self) -> None:
        """Refuse to start over servers that already run from this run directory.

        :raises ConfigError: a pidfile names a live process.
        """
        if not self.twistd.exists():
            raise ConfigError(f"cannot find twistd at {self.twistd}")
        for server in self.config.servers:
            pidfile = self.run_dir / f"{server.id}.pid"
            pid = running_pid(pidfile)
            if pid is not None:
                raise ConfigError(
                    f"server {server.id} already runs (pid {pid} in {pidfile}); stop it first"
                )

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        source = self.config.source if self.config_path else DEFAULT_SOURCE
        self.say(f"starting the three servers of {source}; pid and log files in {self.run_dir}/")
        for server in self.config.servers:
            command = server_command(server.id, self.run_dir, self.config_path, self.twistd)
            child = ServerProcess(self, server.id)
            self.children[server.id] = child
            transport = self.reactor.spawnProcess(
                child,
                sys.executable,
                [sys.executable, "-c", _CHILD_SETUP, str(os.getpid()), *command],
                env=dict(os.environ),
                path=os.getcwd(),
            )
            child.pid = transport.pid
            self.say(
                f"server {server.id}: pid {child.pid}, {server.host}:{server.port}, "
                f"data {server.data}, log {self.run_dir / f'{server.id}.log'}"
            )

    async def report_when_serving(self) -> None:
        """Print the status table once all three serve, or after ``wait`` seconds."""
        from game.client.client import ReplicatedClient
        from game.client.reports import format_status, status_json

        client = self._status_client = ReplicatedClient(self.config, self.reactor)
        client.start()
        deadline = self.reactor.seconds() + self.wait
        statuses: Sequence[Any] = []
        try:
            while not self.stopping:
                statuses = await client.statuses()
                if self.stopping:
                    return
                if all(s.reachable and s.serving for s in statuses):
                    break
                if self.reactor.seconds() >= deadline:
                    late = [s.server_id for s in statuses if not (s.reachable and s.serving)]
                    self.warn(
                        f"after {self.wait:.0f} s, not serving: "
                        + ", ".join(f"server {i} (see {self.run_dir / f'{i}.log'})" for i in late)
                    )
                    break
                await deferLater(self.reactor, POLL_INTERVAL)
            else:
                return
            if self.as_json:
                data = status_json(self.config, statuses)
                self.out.write(json.dumps(data, sort_keys=True) + "\n")
                self.out.flush()
            else:
                self.say(format_status(self.config, statuses))
                self.say("press Ctrl-C to stop the servers")
        finally:
            self._status_client = None
            await client.stop()

    # -- children ending -------------------------------------------------------

    def child_ended(self, child: ServerProcess) -> None:
        if self.stopping:
            # twistd ends itself with the signal it got once it has shut down.
            how = "" if child.ended in ("exit code 0", "killed by SIGTERM") else f" ({child.ended})"
            self.say(f"server {child.server_id} stopped{how}")
        else:
            self.unexpected.append(child.server_id)
            log = self.run_dir / f"{child.server_id}.log"
            lines = [
                f"replgame: server {child.server_id} (pid {child.pid}) exited unexpectedly "
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

    def stop(self, why: str = "stopping") -> Deferred[None]:
        """SIGTERM the servers still running, SIGKILL them after ``kill_after``;
        fires once every child has been reaped."""
        waiter: Deferred[None] = Deferred()
        running = [c for c in self.children.values() if c.running]
        if not running:
            if not self.finished.called:
                self._all_ended()
            waiter.callback(None)
            return waiter
        self._waiters.append(waiter)
        if self.stopping:
            return waiter
        self.stopping = True
        if self._status_client is not None:
            self._status_client.stop()
        pids = ", ".join(f"{c.server_id} (pid {c.pid})" for c in running)
        self.say(f"{why}: sending SIGTERM to server(s) {pids}")
        for child in running:
            child.signal("TERM")
        self._kill_timer = self.reactor.callLater(self.kill_after, self.kill)
        return waiter

    def kill(self) -> None:
        """SIGKILL every child still running."""
        for child in self.children.values():
            if child.running:
                self.warn(f"server {child.server_id} (pid {child.pid}) still running; SIGKILL")
                child.signal("KILL")

    def on_signal(self, signum: int) -> None:
        """A SIGINT or SIGTERM: stop; a second one: kill now."""
        if self.stopping:
            self.kill()
        else:
            self.stop(f"got {signal.Signals(signum).name}")


def _when_running(reactor: Any) -> Deferred[None]:
    started: Deferred[None] = Deferred()
    reactor.callWhenRunning(started.callback, None)
    return started


def install_signal_handlers(reactor: Any, handler: Callable[[int], None]) -> None:
    """Route SIGINT and SIGTERM to ``handler`` in the reactor thread."""

    def received(signum: int, frame: Any) -> None:
        reactor.callFromThread(handler, signum)

    signal.signal(signal.SIGINT, received)
    signal.signal(signal.SIGTERM, received)


async def run_cluster(reactor: Any, args: argparse.Namespace, config: ClusterConfig) -> None:
    """The ``replgame cluster`` subcommand.

    :raises SystemExit: with 1 if a server exited unexpectedly.
    """
    from game.client.cli import fail

    if getattr(args, "servers", None):
        fail("cluster needs --config PATH (a file with the cluster secret), not --servers")
    config_path = os.path.abspath(args.config) if getattr(args, "config", None) else None
    runner = ClusterRunner(
        reactor,
        config,
        config_path,
        Path(args.run_dir),
        as_json=bool(getattr(args, "json", False)),
        wait=args.wait,
    )
    try:
        config.require_secret()
        runner.check()
    except ConfigError as error:
        fail(str(error))
    await _when_running(reactor)
    install_signal_handlers(reactor, runner.on_signal)
    # Whatever stops the reactor, the children go first.
    reactor.addSystemEventTrigger("before", "shutdown", runner.stop)
    runner.start()
    Deferred.fromCoroutine(runner.report_when_serving()).addErrback(
        lambda failure: runner.warn(f"replgame: status polling failed: {failure.getErrorMessage()}")
    )
    code = await runner.finished
    if code:
        raise SystemExit(code)
