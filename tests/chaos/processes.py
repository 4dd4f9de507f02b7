"""The three ``twistd replgame`` processes of a chaos run.

Each server is a real child process from the launcher's blocking flavour
(:class:`game.serverprocess.ServerProcess`: ``subprocess.Popen``, reaped with
``poll``/``wait``, dying with the harness), with its own data directory,
pidfile, and one log file per start ("run").  The harness kills (SIGKILL),
pauses (SIGSTOP/SIGCONT), wipes and restarts them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
from pathlib import Path
from typing import Final

from twisted.internet import reactor

from game.launcher import (
    AddressInUse,
    StartFailed,
    child_environment,
    clock_offset_options,
    terminate_and_reap,
)
from game.serverprocess import ServerProcess as LaunchedServer

__all__ = ["AddressInUse", "ServerProcess", "StartFailed", "free_port", "snapshot_code"]

HOST: Final = "127.0.0.1"


def free_port() -> int:
    """A port of 127.0.0.1 that was free a moment ago (bound to port 0, released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


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


class ServerProcess(LaunchedServer):
    """One server: its files, its current process, and what was done to it.

    :param code: where the server's code is imported from first (see :func:`snapshot_code`).
    :param clock_offset_ms: added to the server's wall clock (``--clock-offset-ms``).
    """

    def __init__(
        self,
        root: Path,
        server_id: int,
        config_path: Path,
        port: int,
        code: Path | None = None,
        clock_offset_ms: int = 0,
    ) -> None:
        super().__init__(
            server_id,
            root,
            config_path,
            port,
            data=root / "data" / f"server-{server_id}",
            pidfile=root / f"server-{server_id}.pid",
            logs=root / "logs",
            env=child_environment(os.environ, code),
            options=clock_offset_options(clock_offset_ms),
        )
        self.code = code
        self.clock_offset_ms = clock_offset_ms
        #: (run, exit status) of every process that ended without us killing it.
        self.unexpected_exits: list[tuple[int, int]] = []
        self._killed_by_us = False

    def check_exit(self) -> int | None:
        """Reap the process if it ended; its status if it ended on its own."""
        status = self.poll()
        if status is None:
            return None
        self.process = None
        if self._killed_by_us:
            return None
        self.unexpected_exits.append((self.runs, status))
        return status

    def spawn(self) -> None:  # type: ignore[override]
        assert not self.running, f"server {self.id} is already running"
        self.check_exit()
        super().spawn()
        self._killed_by_us = False

    def kill(self) -> None:
        """SIGKILL and reap."""
        if self.process is not None:
            self._killed_by_us = True
        super().kill()
        self.process = None

    def pause(self) -> None:
        if self.running:
            super().pause()

    def wipe(self) -> None:
        """Remove the data directory (the process must be dead)."""
        assert not self.running, f"server {self.id} still runs; kill it before wiping"
        assert self.data is not None
        shutil.rmtree(self.data, ignore_errors=True)

    async def wait_listening(self, timeout: float) -> None:  # type: ignore[override]
        """Wait until this run's log says it listens.

        :raises AddressInUse: the port was taken (the process is killed).
        :raises StartFailed: it exited, or did not listen in time (it is killed).
        """
        try:
            await super().wait_listening(reactor, timeout)
        except AddressInUse:
            raise
        except StartFailed:
            self.check_exit()
            self.kill()
            raise

    def terminate(self, timeout: float = 10) -> None:  # type: ignore[override]
        """SIGTERM (after SIGCONT if paused), SIGKILL if it is not gone in time."""
        if self.process is None:
            return
        self._killed_by_us = True
        self.resume()
        terminate_and_reap(self.process, timeout)
        self.process = None

    def all_logs(self) -> dict[str, str]:
        """Every log and output file of every run, by file name."""
        texts: dict[str, str] = {}
        for run in range(1, self.runs + 1):
            texts[self.log_file(run).name] = self.read_log(run)
            texts[self.output_file(run).name] = self.read_output(run)
        return texts
