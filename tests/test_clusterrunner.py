"""Tests for game.clusterrunner: what ``replgame cluster`` spawns, reports and
signals, on a fake process reactor (no process is started)."""

from __future__ import annotations

import io
import os
import signal
import tempfile
from pathlib import Path
from typing import Any

from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from game import launcher
from game.clusterrunner import ClusterError, ClusterRunner
from game.config import default_config


class FakeTransport:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.signals: list[str] = []

    def signalProcess(self, name: str) -> None:
        self.signals.append(name)


class ProcessReactor(MemoryReactorClock):
    """A MemoryReactorClock that records spawnProcess calls."""

    def __init__(self) -> None:
        super().__init__()
        self.spawned: list[dict[str, Any]] = []

    def spawnProcess(self, protocol: Any, executable: str, args: list[str], **kwargs: Any) -> Any:
        transport = FakeTransport(4000 + len(self.spawned))
        self.spawned.append(
            {"protocol": protocol, "executable": executable, "args": args, **kwargs}
        )
        protocol.makeConnection(transport)
        return transport


class ClusterRunnerTests(SynchronousTestCase):
    def setUp(self) -> None:
        made = tempfile.TemporaryDirectory()
        self.addCleanup(made.cleanup)
        self.run_dir = Path(made.name) / "run"
        self.reactor = ProcessReactor()
        self.out = io.StringIO()
        self.err = io.StringIO()
        self.runner = ClusterRunner(
            self.reactor,
            default_config(),
            "/etc/replgame/cluster.toml",
            self.run_dir,
            out=self.out,
            err=self.err,
            kill_after=5,
        )
        # The runner's children are fakes: keep them away from the atexit hook.
        self.addCleanup(launcher._CHILDREN.clear)

    def end(self, server_id: int, reason: BaseException) -> None:
        self.runner.children[server_id].processEnded(Failure(reason))

    def signals(self, server_id: int) -> list[str]:
        transport = self.reactor.spawned[server_id - 1]["protocol"].transport
        return list(transport.signals)

    def test_three_servers_each_with_its_pid_and_log_file(self) -> None:
        self.runner.start()
        self.assertEqual(len(self.reactor.spawned), 3)
        for server_id, spawned in enumerate(self.reactor.spawned, start=1):
            args = spawned["args"]
            self.assertEqual(args[0], spawned["executable"])
            command = args[args.index(str(int(signal.SIGTERM))) + 1 :]
            self.assertEqual(
                command,
                launcher.server_command(
                    server_id,
                    pidfile=self.run_dir / f"{server_id}.pid",
                    logfile=self.run_dir / f"{server_id}.log",
                    config="/etc/replgame/cluster.toml",
                ),
            )
        self.assertIn("server 2: pid 4001", self.out.getvalue())
        self.assertTrue(self.run_dir.is_dir())

    def test_a_live_pidfile_refuses_the_start(self) -> None:
        self.run_dir.mkdir()
        (self.run_dir / "2.pid").write_text(f"{os.getpid()}\n")
        with self.assertRaises(ClusterError) as raised:
            self.runner.check()
        self.assertIn("server 2 already runs", str(raised.exception))

    def test_a_server_that_dies_is_reported_and_the_code_is_1(self) -> None:
        self.runner.start()
        self.run_dir.joinpath("2.log").write_text("first\nthe last line\n")
        self.end(2, ProcessTerminated(signal=signal.SIGKILL))
        message = self.err.getvalue()
        self.assertIn("server 2 (pid 4001) exited unexpectedly (killed by SIGKILL)", message)
        self.assertIn("  the last line", message)
        self.assertNoResult(self.runner.finished)
        stopped = self.runner.stop("got SIGTERM")
        self.assertEqual(self.signals(1), ["TERM"])
        self.assertEqual(self.signals(2), [])
        self.end(1, ProcessDone(0))
        self.end(3, ProcessTerminated(signal=signal.SIGTERM))
        self.successResultOf(stopped)
        self.assertEqual(self.successResultOf(self.runner.finished), 1)
        self.assertIn("replgame: server(s) 2 exited unexpectedly", self.err.getvalue())

    def test_stop_terms_then_kills_those_still_running(self) -> None:
        self.runner.start()
        calls: list[str] = []
        self.runner.when_stopping(lambda: calls.append("stopping"))
        stopped = self.runner.stop()
        self.assertEqual(calls, ["stopping"])
        self.assertEqual([self.signals(i) for i in (1, 2, 3)], [["TERM"]] * 3)
        self.end(1, ProcessDone(0))
        self.end(2, ProcessTerminated(signal=signal.SIGTERM))
        self.reactor.advance(5)
        self.assertEqual(self.signals(3), ["TERM", "KILL"])
        self.assertIn("server 3 (pid 4002) still running; SIGKILL", self.err.getvalue())
        self.assertNoResult(stopped)
        self.end(3, ProcessTerminated(signal=signal.SIGKILL))
        self.successResultOf(stopped)
        self.assertEqual(self.successResultOf(self.runner.finished), 0)
        out = self.out.getvalue()
        self.assertIn("server 1 stopped\n", out)
        self.assertIn("server 3 stopped (killed by SIGKILL)", out)

    def test_a_second_signal_kills_at_once(self) -> None:
        self.runner.start()
        self.runner.on_signal(signal.SIGINT)
        self.assertIn("got SIGINT: sending SIGTERM", self.out.getvalue())
        self.runner.on_signal(signal.SIGINT)
        self.assertEqual(self.signals(1), ["TERM", "KILL"])

    def test_stop_before_start_fires_at_once(self) -> None:
        self.successResultOf(self.runner.stop())
        self.assertEqual(self.successResultOf(self.runner.finished), 0)
