"""The three ``twistd replgame`` processes of a chaos run.

Each server is a real child process (``subprocess.Popen``, reaped with
``poll``/``wait``) that dies with the harness (``PR_SET_PDEATHSIG``), with its
own data directory, pidfile, and one log file per start ("run").  The harness
kills (SIGKILL), pauses (SIGSTOP/SIGCONT), wipes and restarts them.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

from twisted.internet import reactor
from twisted.internet.task import deferLater

TWISTD: Final = Path(sys.executable).with_name("twistd")
HOST: Final = "127.0.0.1"

_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG: Final = 1

#: Every process started, so that none outlives the harness.
_ALL_PROCESSES: list[subprocess.Popen[bytes]] = []


def _die_with_parent() -> None:
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def kill_and_reap(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()  # works on a stopped process too
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


@atexit.register
def kill_everything() -> None:
    for process in _ALL_PROCESSES:
        kill_and_reap(process)


def free_port() -> int:
    """A port of 127.0.0.1 that was free a moment ago (bound to port 0, released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def sleep(seconds: float) -> object:
    return deferLater(reactor, seconds, lambda: None)


PROJECT: Final = Path(__file__).resolve().parents[2]


def snapshot_code(destination: Path) -> str:
    """Copy the server's code (``game/`` and the twistd plugin) to ``destination``.

    The servers run from this copy (it comes first on their ``PYTHONPATH``),
    so that a run tests one version of the code even while files under the
    working tree change: every restart of a server would otherwise import
    whatever is on disk at that moment.

    :return: a short digest of the copied files.
    """
    digest = hashlib.sha256()
    sources = [path for path in sorted((PROJECT / "game").rglob("*")) if path.is_file()]
    sources += sorted((PROJECT / "twisted" / "plugins").glob("*.py"))
    for source in sources:
        if "__pycache__" in source.parts:
            continue
        relative = source.relative_to(PROJECT)
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        data = source.read_bytes()
        target.write_bytes(data)
        digest.update(str(relative).encode() + b"\0" + data + b"\0")
    return digest.hexdigest()[:12]


class AddressInUse(Exception):
    """The server could not listen: its real port was taken."""


class StartFailed(Exception):
    """The server exited, or did not listen in time."""


class ServerProcess:
    """One server: its files, its current process, and what was done to it."""

    def __init__(
        self, root: Path, server_id: int, config_path: Path, port: int, code: Path | None = None
    ) -> None:
        self.root = root
        #: Where the server's code is imported from first (see :func:`snapshot_code`).
        self.code = code
        self.id = server_id
        self.config_path = config_path
        #: The real port the server listens on (behind the proxies).
        self.port = port
        self.data = root / "data" / f"server-{server_id}"
        self.pidfile = root / f"server-{server_id}.pid"
        self.logs = root / "logs"
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False
        self.runs = 0
        #: (run, exit status) of every process that ended without us killing it.
        self.unexpected_exits: list[tuple[int, int]] = []
        self._killed_by_us = False

    # -- files -----------------------------------------------------------------

    def log_path(self, run: int | None = None) -> Path:
        return self.logs / f"server-{self.id}.run-{run or self.runs}.log"

    def output_path(self, run: int | None = None) -> Path:
        return self.logs / f"server-{self.id}.run-{run or self.runs}.out"

    def read_log(self, run: int | None = None) -> str:
        """The log of one run (default: the latest), rotated parts first."""
        path = self.log_path(run)
        parts = sorted(
            path.parent.glob(path.name + ".*"), key=lambda part: -int(part.suffix[1:] or 0)
        )
        text = ""
        for part in [*parts, path]:
            with contextlib.suppress(FileNotFoundError):
                text += part.read_text(errors="replace")
        return text

    def read_output(self, run: int | None = None) -> str:
        try:
            return self.output_path(run).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 30) -> str:
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

    def check_exit(self) -> int | None:
        """Reap the process if it ended; its status if it ended on its own."""
        if self.process is None:
            return None
        status = self.process.poll()
        if status is None:
            return None
        self.process = None
        if self._killed_by_us:
            return None
        self.unexpected_exits.append((self.runs, status))
        return status

    def spawn(self) -> None:
        assert not self.running, f"server {self.id} is already running"
        self.check_exit()
        self.runs += 1
        self.logs.mkdir(parents=True, exist_ok=True)
        # The previous process is dead (killed and reaped): a pidfile it left
        # could name a pid reused since, and twistd would refuse to start.
        self.pidfile.unlink(missing_ok=True)
        argv = [
            str(TWISTD),
            "-n",
            "--pidfile",
            str(self.pidfile),
            "--logfile",
            str(self.log_path()),
            "replgame",
            "--id",
            str(self.id),
            "--config",
            str(self.config_path),
            "--data",
            str(self.data),
        ]
        env = dict(os.environ)
        if self.code is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                [str(self.code), *filter(None, [env.get("PYTHONPATH")])]
            )
        with open(self.output_path(), "wb") as out:
            self.process = subprocess.Popen(
                argv,
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        _ALL_PROCESSES.append(self.process)
        self._killed_by_us = False
        self.paused = False

    def kill(self) -> None:
        """SIGKILL and reap."""
        if self.process is not None:
            self._killed_by_us = True
            kill_and_reap(self.process)
            self.process = None
        self.paused = False

    def pause(self) -> None:
        if self.running:
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.process is not None and self.paused:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGCONT)
        self.paused = False

    def wipe(self) -> None:
        """Remove the data directory (the process must be dead)."""
        assert not self.running, f"server {self.id} still runs; kill it before wiping"
        shutil.rmtree(self.data, ignore_errors=True)

    async def wait_listening(self, timeout: float) -> None:
        """Wait until this run's log says it listens.

        :raises AddressInUse: the port was taken (the process is killed).
        :raises StartFailed: it exited, or did not listen in time.
        """
        deadline = time.monotonic() + timeout
        while True:
            log = self.read_log()
            if "listening on" in log:
                return
            if "cannot listen" in log or "Address already in use" in self.read_output():
                self.kill()
                raise AddressInUse(f"server {self.id}: port {self.port} is in use")
            if self.process is None or self.process.poll() is not None:
                status = self.check_exit()
                raise StartFailed(f"server {self.id} exited with {status}\n{self.tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise StartFailed(f"server {self.id} did not listen in {timeout} s\n{self.tail()}")
            await sleep(0.05)

    def terminate(self, timeout: float = 10) -> None:
        """SIGTERM (after SIGCONT if paused), SIGKILL if it is not gone in time."""
        if self.process is None:
            return
        self._killed_by_us = True
        self.resume()
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_and_reap(self.process)
        self.process = None

    def all_logs(self) -> dict[str, str]:
        """Every log and output file of every run, by file name."""
        texts: dict[str, str] = {}
        for run in range(1, self.runs + 1):
            texts[self.log_path(run).name] = self.read_log(run)
            texts[self.output_path(run).name] = self.read_output(run)
        return texts
