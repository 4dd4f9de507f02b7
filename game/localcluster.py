"""A throwaway local cluster's configuration: free ports, a random secret.

Used by ``make demo`` (:mod:`game.client_gui.demo`), the screenshot script,
the benchmarks and the tests, which then run the servers with ``replgame cluster --config``
or ``twistd replgame --config``.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from game.launcher import spawn


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct TCP ports that were free a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def write_local_config(
    directory: Path,
    ports: list[int] | None = None,
    *,
    startup_wait: float = 1.0,
    heartbeat: float = 2.0,
    request_timeout: float = 3.0,
) -> Path:
    """Write ``cluster.toml`` for three servers on 127.0.0.1 into ``directory``.

    Data directories are absolute (``directory/data/N``), so the servers can
    run from any working directory.
    """
    directory.mkdir(parents=True, exist_ok=True)
    ports = ports or free_ports(3)
    lines = ["[cluster]", f'secret = "{secrets.token_hex(24)}"', ""]
    for server_id, port in enumerate(ports, start=1):
        data = (directory / "data" / str(server_id)).resolve()
        lines += [
            "[[servers]]",
            f"id = {server_id}",
            'host = "127.0.0.1"',
            f"port = {port}",
            f'data = "{data}"',
            "",
        ]
    lines += [
        "[tuning]",
        f"startup_wait = {startup_wait}",
        f"heartbeat = {heartbeat}",
        f"request_timeout = {request_timeout}",
        "",
    ]
    path = directory / "cluster.toml"
    path.write_text("\n".join(lines), "utf-8")
    return path


class ClusterProcess:
    """``replgame cluster --config PATH`` as a child process.

    :param directory: its working directory; the run directory (pid and log
        files) is ``directory/run`` and its output goes to ``directory/cluster.out``.
    """

    #: What ``replgame cluster`` prints once all three servers serve.
    READY = "press Ctrl-C to stop the servers"

    def __init__(self, directory: Path, config_path: Path) -> None:
        self.directory = directory
        self.config_path = config_path
        self.output = directory / "cluster.out"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        script = Path(sys.executable).with_name("replgame")
        start = [str(script)] if script.exists() else [sys.executable, "-c", _CLI]
        return [
            *start,
            "cluster",
            "--config",
            str(self.config_path),
            "--run-dir",
            str(self.directory / "run"),
        ]

    def start(self) -> None:
        # SIGTERM if we die: `replgame cluster` then stops its servers itself.
        self.process = spawn(
            self.command(),
            self.directory,
            self.output,
            death_signal=signal.SIGTERM,
            new_session=True,
        )

    def text(self) -> str:
        try:
            return self.output.read_text("utf-8", "replace")
        except OSError:
            return ""

    def wait_serving(self, timeout: float = 60.0) -> None:
        """Block until ``replgame cluster`` reports all three servers serving.

        :raises RuntimeError: it exited, or did not report within ``timeout``.
        """
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while self.READY not in self.text():
            if self.process.poll() is not None:
                raise RuntimeError(f"replgame cluster exited:\n{self.text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster did not serve within {timeout} s:\n{self.text()}")
            time.sleep(0.1)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM ``replgame cluster`` (which stops its servers) and wait for it."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            return process.wait(5)


_CLI = "import sys; from game.client.cli import main; main(sys.argv[1:])"
