"""Running the ``replgame`` command line in the integration tests.

The servers come from :mod:`tests.integration.cluster`; :class:`Cli` runs
``replgame`` subcommands against such a cluster's config as child processes
of the reactor that pytest-twisted runs (so a long-lived client in the test
process keeps its links alive meanwhile), each with the test's own
``XDG_CONFIG_HOME`` (where the seat tokens go).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

REPLGAME = Path(sys.executable).with_name("replgame")
#: No command line run by a test may take longer than this (seconds).
RUN_DEADLINE = 60


class Collector(ProcessProtocol):
    """A child's output; ``ended`` fires with its exit code (``-N`` if killed
    by signal N); ``on_line`` gets every stdout line as it comes."""

    def __init__(self, on_line: Callable[[str], None] | None = None) -> None:
        self.out = b""
        self.err = b""
        self.ended: Deferred[int] = Deferred()
        self.code: int | None = None
        self.on_line = on_line
        self._partial = b""

    def outReceived(self, data: bytes) -> None:
        self.out += data
        if self.on_line is not None:
            self._partial += data
            *complete, self._partial = self._partial.split(b"\n")
            for line in complete:
                self.on_line(line.decode("utf-8", "replace"))

    def errReceived(self, data: bytes) -> None:
        self.err += data

    def processEnded(self, reason: Failure) -> None:
        value = reason.value
        signal_number = getattr(value, "signal", None)
        self.code = -signal_number if signal_number else getattr(value, "exitCode", 0) or 0
        self.ended.callback(self.code)

    def signal(self, name: str) -> None:
        if self.code is None and self.transport is not None:
            with contextlib.suppress(ProcessExitedAlready):
                self.transport.signalProcess(name)

    @property
    def stdout(self) -> str:
        return self.out.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self.err.decode("utf-8", "replace")


class CliResult:
    """What one ``replgame`` run printed, and its exit code."""

    def __init__(self, args: tuple[str, ...], code: int, out: str, err: str) -> None:
        self.args = args
        self.code = code
        self.out = out
        self.err = err

    def json(self) -> Any:
        return json.loads(self.out)

    def __repr__(self) -> str:
        return f"replgame {' '.join(self.args)} -> exit {self.code}\n{self.out}\n{self.err}"


class Cli:
    """``replgame ... --config CONFIG`` in ``root``, with seat tokens in ``root/xdg``."""

    def __init__(self, root: Path, config: Path) -> None:
        self.root = root
        self.config = config
        self.env = dict(os.environ, XDG_CONFIG_HOME=str(root / "xdg"), PYTHONUNBUFFERED="1")
        self.running: list[Collector] = []

    def spawn(self, *args: str, on_line: Callable[[str], None] | None = None) -> Collector:
        """Start ``replgame ARGS --config CONFIG`` and leave it running."""
        child = Collector(on_line)
        argv = [str(REPLGAME), *args, "--config", str(self.config)]
        reactor.spawnProcess(child, str(REPLGAME), argv, env=self.env, path=str(self.root))
        self.running.append(child)
        return child

    async def run(self, *args: str) -> CliResult:
        """``replgame ARGS --config CONFIG``, to its end (killed after RUN_DEADLINE)."""
        child = self.spawn(*args)
        timer = reactor.callLater(RUN_DEADLINE, child.signal, "KILL")
        code = await child.ended
        if timer.active():
            timer.cancel()
        self.running.remove(child)
        return CliResult(args, code, child.stdout, child.stderr)

    async def stop(self) -> None:
        """End every command still running (SIGTERM, SIGKILL after 10 s) and reap it."""
        for child in self.running:
            child.signal("TERM")
        for child in self.running:
            if child.code is None:
                timer = reactor.callLater(10, child.signal, "KILL")
                await child.ended
                if timer.active():
                    timer.cancel()
        self.running = []

    def seats(self, game_id: str) -> dict[int, str]:
        """The seat tokens this user's ``replgame`` keeps for a game: ``{seat: token}``."""
        path = self.root / "xdg" / "replgame" / "seats.json"
        seats = json.loads(path.read_text())["seats"]
        return {s["seat"]: s["token"] for s in seats if s["game_id"] == game_id}


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` names a live process (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True
