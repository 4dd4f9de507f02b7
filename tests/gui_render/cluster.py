"""Three real ``twistd replgame`` servers in a temporary directory, for the
GUI's real-server tests (free ports, a temporary config, a pid and log file
per server).  Each server can be killed and started again; the processes
come from :mod:`game.launcher` and die with the test process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from game.launcher import kill_and_reap, server_command, spawn
from game.localcluster import write_local_config

BIN = Path(sys.executable).parent


class Cluster:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.config_path = write_local_config(directory)
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        for server_id in (1, 2, 3):
            self.start_server(server_id)

    def start_server(self, server_id: int) -> None:
        command = server_command(
            server_id,
            pidfile=self.directory / f"{server_id}.pid",
            logfile=self.directory / f"{server_id}.log",
            config=self.config_path,
        )
        self.processes[server_id] = spawn(
            command, self.directory, self.directory / f"{server_id}.out", new_session=True
        )

    def kill(self, server_id: int) -> None:
        kill_and_reap(self.processes.pop(server_id))

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self.processes.clear()

    def status(self) -> dict[str, object]:
        result = subprocess.run(
            [str(BIN / "replgame"), "status", "--json", "--config", str(self.config_path)],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "XDG_CONFIG_HOME": str(self.directory / "xdg")},
        )
        try:
            parsed: dict[str, object] = json.loads(result.stdout)
        except ValueError:
            return {}
        return parsed

    def wait_serving(self, timeout: float = 30.0, servers: tuple[int, ...] = (1, 2, 3)) -> None:
        """Block until the given servers answer ``Status`` and serve."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.status().get("servers") or []
            serving = {
                entry["id"]
                for entry in found  # type: ignore[attr-defined]
                if entry.get("reachable") and entry.get("serving")
            }
            if set(servers) <= serving:
                return
            if time.monotonic() > deadline:
                logs = {
                    server_id: (self.directory / f"{server_id}.log").read_text("utf-8")[-2000:]
                    for server_id in servers
                    if (self.directory / f"{server_id}.log").exists()
                }
                raise AssertionError(f"servers not serving after {timeout} s: {found}\n{logs}")
            time.sleep(0.2)
