"""One server's ``twistd replgame`` processes, start after start: the tests' and benchmarks' server.

Blocking flavour of :mod:`game.launcher`: each run is a ``subprocess.Popen``
(reaped with ``poll``/``wait``) that dies with the test or benchmark process.
The suites subclass :class:`ServerProcess` with how they ask a server for its
status (``tests/integration/cluster.py``, ``tests/chaos/processes.py``,
``bench/servers.py``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater

from game.launcher import (
    AddressInUse,
    StartFailed,
    StartState,
    kill_and_reap,
    read_log,
    server_command,
    spawn,
    start_state,
)


def standard_layout(root: Path, server_id: int) -> dict[str, Path]:
    """The files of server ``server_id`` under ``root``, as the test and
    benchmark clusters lay them out: ``data-N``, ``server-N.pid``, ``logs/``
    (the keyword arguments of :class:`ServerProcess`)."""
    return {
        "data": root / f"data-{server_id}",
        "pidfile": root / f"server-{server_id}.pid",
        "logs": root / "logs",
    }


class ServerProcess:
    """One server's ``twistd replgame`` processes, one start ("run") after another.

    Each run has its own log (``LOGS/server-N.run-R.log``) and output file
    (``.out``: what twistd printed before its log opened).

    :param root: the working directory of the processes.
    :param data: the data directory given with ``--data`` (None: the config's).
    :param env: the environment of the processes (default: ours).
    :param options: ``replgame`` options given to every run, before those of
        :meth:`spawn` (e.g. ``clock_offset_options(500)``).
    """

    def __init__(
        self,
        server_id: int,
        root: Path,
        config_path: Path,
        port: int,
        *,
        data: Path | None,
        pidfile: Path,
        logs: Path,
        env: Mapping[str, str] | None = None,
        options: Sequence[str] = (),
    ) -> None:
        self.id = server_id
        self.root = root
        self.config_path = config_path
        self.port = port
        self.data = data
        self.pidfile = pidfile
        self.logs = logs
        self.env = env
        self.options = tuple(options)
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False
        self.runs = 0

    # -- files -----------------------------------------------------------------

    def log_file(self, run: int | None = None) -> Path:
        return self.logs / f"server-{self.id}.run-{run or self.runs}.log"

    def output_file(self, run: int | None = None) -> Path:
        return self.logs / f"server-{self.id}.run-{run or self.runs}.out"

    def read_log(self, run: int | None = None) -> str:
        """The log of one run (default: the latest), rotated parts included."""
        return read_log(self.log_file(run))

    def read_output(self, run: int | None = None) -> str:
        """What one run wrote to stdout and stderr (usage errors, exit messages)."""
        try:
            return self.output_file(run).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(
            [
                f"--- server {self.id} run {self.runs} log (tail) ---",
                *self.read_log().splitlines()[-lines:],
                f"--- server {self.id} run {self.runs} output ---",
                self.read_output(),
            ]
        )

    # -- the process -------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None, f"server {self.id} was never started"
        return self.process.pid

    def poll(self) -> int | None:
        """The exit status if the process has ended (reaping it), else None."""
        return None if self.process is None else self.process.poll()

    def command(
        self,
        options: Sequence[str] = (),
        *,
        config: Path | None = None,
        data: Path | None = None,
        twistd_options: Sequence[str] = (),
        twistd: Sequence[str] | None = None,
    ) -> list[str]:
        """The command line of the next run (:attr:`options`, then ``options``)."""
        return server_command(
            self.id,
            pidfile=self.pidfile,
            logfile=self.log_file(),
            config=config or self.config_path,
            data=data or self.data,
            options=[*self.options, *options],
            twistd_options=twistd_options,
            twistd=twistd,
        )

    def spawn(
        self,
        *options: str,
        config: Path | None = None,
        data: Path | None = None,
        twistd_options: Sequence[str] = (),
        twistd: Sequence[str] | None = None,
    ) -> None:
        """Start the next run; do not wait for anything.

        :param options: more ``replgame`` options (``--rebuild``).
        :param config: another config than :attr:`config_path`.
        :param data: another data directory than :attr:`data`.
        :param twistd_options: more twistd options (``--profile ...``).
        :param twistd: what runs twistd instead of :func:`twistd_command`.
        """
        assert not self.running, f"server {self.id} is already running"
        self.poll()
        self.runs += 1
        self.logs.mkdir(parents=True, exist_ok=True)
        # The previous process is dead (or was never ours): a pidfile it left
        # could name a pid reused since, and twistd would refuse to start.
        self.pidfile.unlink(missing_ok=True)
        argv = self.command(
            options, config=config, data=data, twistd_options=twistd_options, twistd=twistd
        )
        self.process = spawn(argv, self.root, self.output_file(), env=self.env)
        self.paused = False

    def signal(self, signum: int) -> None:
        assert self.running, f"server {self.id} is not running"
        os.kill(self.pid, signum)

    def pause(self) -> None:
        self.signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        if self.process is not None and self.paused:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGCONT)
        self.paused = False

    def kill(self) -> None:
        """SIGKILL the process and reap it."""
        if self.process is not None:
            kill_and_reap(self.process)
        self.paused = False

    def terminate(self) -> None:
        """SIGTERM (after SIGCONT if paused); does not wait."""
        self.resume()
        if self.running:
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()

    async def wait_exit(
        self, clock: IReactorTime, timeout: float, interval: float = 0.05
    ) -> int | None:
        """Wait for the process to end; its exit status, or None after ``timeout``."""
        deadline = time.monotonic() + timeout
        while (status := self.poll()) is None and self.process is not None:
            if time.monotonic() > deadline:
                return None
            await deferLater(clock, interval, lambda: None)
        return status

    async def wait_listening(self, clock: IReactorTime, timeout: float) -> None:
        """Wait until this run's log says it listens.

        :raises AddressInUse: its port was taken (the process is killed: it may
            well not exit by itself).
        :raises StartFailed: it exited, or did not listen in time.
        """
        deadline = time.monotonic() + timeout
        while True:
            state = start_state(self.read_log(), self.read_output())
            if state is StartState.LISTENING:
                return
            if state is StartState.ADDRESS_IN_USE:
                self.kill()
                raise AddressInUse(f"server {self.id}: port {self.port} is in use\n{self.tail()}")
            status = self.poll()
            if status is not None or self.process is None:
                raise StartFailed(f"server {self.id} exited with {status}\n{self.tail()}")
            if time.monotonic() > deadline:
                raise StartFailed(f"server {self.id} did not listen in {timeout} s\n{self.tail()}")
            await deferLater(clock, 0.05, lambda: None)
