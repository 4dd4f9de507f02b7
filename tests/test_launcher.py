"""Tests for the pure parts of game.launcher: command lines, exit descriptions,
start states, logs, and the retry-once-on-a-taken-port rule."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from game import launcher
from game.launcher import (
    AddressInUse,
    StartFailed,
    StartState,
    child_environment,
    describe_exit,
    describe_failure,
    describe_returncode,
    read_log,
    server_command,
    start_retrying,
    start_state,
    tail,
    twistd_command,
)


class WithDirectory(SynchronousTestCase):
    def directory(self) -> Path:
        made = tempfile.TemporaryDirectory()
        self.addCleanup(made.cleanup)
        return Path(made.name)


class TwistdCommandTests(WithDirectory):
    def test_the_twistd_script_beside_the_python(self) -> None:
        bin_dir = self.directory()
        (bin_dir / "twistd").write_text("")
        python = str(bin_dir / "python")
        self.assertEqual(twistd_command(python), [str(bin_dir / "twistd")])

    def test_without_the_script_the_python_runs_twistd(self) -> None:
        python = str(self.directory() / "python")
        command = twistd_command(python)
        self.assertEqual(command[:2], [python, "-c"])
        self.assertIn("twisted.scripts.twistd import run", command[2])

    def test_the_running_python_finds_twistd(self) -> None:
        # The one every caller uses: this virtualenv's twistd.
        self.assertEqual(twistd_command(), [str(Path(sys.executable).with_name("twistd"))])


class ServerCommandTests(SynchronousTestCase):
    def test_the_smallest_command_line(self) -> None:
        self.assertEqual(
            server_command(
                2, pidfile=Path("run/2.pid"), logfile=Path("run/2.log"), twistd=["twistd"]
            ),
            [
                "twistd",
                "--nodaemon",
                "--pidfile",
                "run/2.pid",
                "--logfile",
                "run/2.log",
                "replgame",
                "--id",
                "2",
            ],
        )

    def test_config_data_and_options_in_their_places(self) -> None:
        command = server_command(
            1,
            pidfile=Path("/r/server-1.pid"),
            logfile=Path("/r/logs/server-1.run-3.log"),
            config=Path("/r/cluster.toml"),
            data=Path("/r/data-1"),
            options=["--rebuild"],
            twistd_options=["--profile", "out.prof"],
            twistd=["python", "profiled_twistd.py", "stats"],
        )
        self.assertEqual(
            command,
            [
                "python",
                "profiled_twistd.py",
                "stats",
                "--nodaemon",
                "--pidfile",
                "/r/server-1.pid",
                "--logfile",
                "/r/logs/server-1.run-3.log",
                "--profile",
                "out.prof",
                "replgame",
                "--id",
                "1",
                "--config",
                "/r/cluster.toml",
                "--data",
                "/r/data-1",
                "--rebuild",
            ],
        )

    def test_the_default_twistd_is_this_environments(self) -> None:
        command = server_command(3, pidfile=Path("p"), logfile=Path("l"), config="c.toml")
        self.assertEqual(command[: len(twistd_command())], twistd_command())
        self.assertEqual(command[-4:], ["--id", "3", "--config", "c.toml"])


class ChildEnvironmentTests(SynchronousTestCase):
    def test_code_comes_first_on_the_python_path(self) -> None:
        env = child_environment({"PYTHONPATH": "/a", "HOME": "/h"}, Path("/snapshot"))
        self.assertEqual(env, {"PYTHONPATH": os.pathsep.join(["/snapshot", "/a"]), "HOME": "/h"})

    def test_without_code_the_environment_is_a_copy(self) -> None:
        base = {"HOME": "/h"}
        env = child_environment(base, XDG_CONFIG_HOME="/x")
        self.assertEqual(env, {"HOME": "/h", "XDG_CONFIG_HOME": "/x"})
        self.assertEqual(base, {"HOME": "/h"})

    def test_code_alone_without_an_old_python_path(self) -> None:
        self.assertEqual(child_environment({}, Path("/s")), {"PYTHONPATH": "/s"})


class DescribeExitTests(SynchronousTestCase):
    def test_exit_codes_and_signals(self) -> None:
        self.assertEqual(describe_exit(0, None), "exit code 0")
        self.assertEqual(describe_exit(2, None), "exit code 2")
        self.assertEqual(describe_exit(None, signal.SIGKILL), "killed by SIGKILL")
        self.assertEqual(describe_exit(None, signal.SIGTERM), "killed by SIGTERM")
        self.assertEqual(describe_exit(None, 200), "killed by signal 200")

    def test_popen_returncodes(self) -> None:
        self.assertEqual(describe_returncode(0), "exit code 0")
        self.assertEqual(describe_returncode(1), "exit code 1")
        self.assertEqual(describe_returncode(-signal.SIGKILL), "killed by SIGKILL")

    def test_twisted_process_ends(self) -> None:
        self.assertEqual(describe_failure(Failure(ProcessDone(0))), "exit code 0")
        self.assertEqual(describe_failure(Failure(ProcessTerminated(exitCode=1))), "exit code 1")
        self.assertEqual(
            describe_failure(Failure(ProcessTerminated(signal=signal.SIGTERM))),
            "killed by SIGTERM",
        )
        self.assertEqual(describe_failure(Failure(OSError("gone"))), "gone")


class StartStateTests(SynchronousTestCase):
    def test_listening(self) -> None:
        log = "... replgame server 1: listening on IPv4Address(port=7301)\n"
        self.assertIs(start_state(log, ""), StartState.LISTENING)

    def test_a_taken_port_in_the_log_or_the_output(self) -> None:
        self.assertIs(start_state("cannot listen on tcp:7301", ""), StartState.ADDRESS_IN_USE)
        self.assertIs(
            start_state("", "[Errno 98] Address already in use"), StartState.ADDRESS_IN_USE
        )

    def test_listening_wins_over_an_old_message(self) -> None:
        self.assertIs(start_state("cannot listen\nlistening on", ""), StartState.LISTENING)

    def test_nothing_yet(self) -> None:
        self.assertIs(start_state("starting", ""), StartState.STARTING)


class StartRetryingTests(SynchronousTestCase):
    """The rule: one more start after a taken port, and only after a taken port."""

    def run_starts(
        self, outcomes: list[BaseException | None], attempts: int = 2
    ) -> tuple[Deferred[Any], list[str]]:
        calls: list[str] = []

        async def start() -> str:
            calls.append("start")
            outcome = outcomes.pop(0)
            if outcome is not None:
                raise outcome
            return "started"

        async def before_retry() -> None:
            calls.append("before retry")
            await succeed(None)

        return Deferred.fromCoroutine(start_retrying(start, before_retry, attempts)), calls

    def test_a_start_that_works_is_not_repeated(self) -> None:
        started, calls = self.run_starts([None])
        self.assertEqual(self.successResultOf(started), "started")
        self.assertEqual(calls, ["start"])

    def test_a_taken_port_is_retried_once(self) -> None:
        started, calls = self.run_starts([AddressInUse("port 7301"), None])
        self.assertEqual(self.successResultOf(started), "started")
        self.assertEqual(calls, ["start", "before retry", "start"])

    def test_a_second_taken_port_fails(self) -> None:
        started, calls = self.run_starts([AddressInUse("first"), AddressInUse("second")])
        failure = self.failureResultOf(started, AddressInUse)
        self.assertEqual(str(failure.value), "second")
        self.assertEqual(calls, ["start", "before retry", "start"])

    def test_another_failure_is_not_retried(self) -> None:
        started, calls = self.run_starts([StartFailed("exited with 2"), None])
        self.failureResultOf(started, StartFailed)
        self.assertEqual(calls, ["start"])

    def test_more_attempts(self) -> None:
        taken = [AddressInUse(str(i)) for i in range(3)]
        started, calls = self.run_starts([*taken, None], attempts=4)
        self.assertEqual(self.successResultOf(started), "started")
        self.assertEqual(calls.count("start"), 4)

    def test_before_retry_runs_before_the_second_start(self) -> None:
        # The retry of a cluster picks new ports: the second start must see them.
        ports = [7301]
        seen: list[int] = []

        async def start() -> None:
            seen.append(ports[0])
            if len(seen) == 1:
                raise AddressInUse("taken")

        async def new_ports() -> None:
            ports[0] = 7401

        retry: Callable[[], Awaitable[None]] = new_ports
        self.successResultOf(Deferred.fromCoroutine(start_retrying(start, retry)))
        self.assertEqual(seen, [7301, 7401])


class LogTests(WithDirectory):
    def test_rotated_parts_come_first_oldest_first(self) -> None:
        directory = self.directory()
        log = directory / "server-1.run-1.log"
        (directory / "server-1.run-1.log.2").write_text("oldest\n")
        (directory / "server-1.run-1.log.1").write_text("older\n")
        log.write_text("newest\n")
        (directory / "server-1.run-10.log").write_text("another run\n")
        self.assertEqual(read_log(log), "oldest\nolder\nnewest\n")

    def test_a_missing_log_reads_empty(self) -> None:
        self.assertEqual(read_log(self.directory() / "nothing" / "x.log"), "")
        self.assertEqual(tail(self.directory() / "x.log"), [])

    def test_tail(self) -> None:
        path = self.directory() / "x.log"
        path.write_text("".join(f"line {i}\n" for i in range(100)))
        self.assertEqual(tail(path, 3), ["line 97", "line 98", "line 99"])


class DyingWithParentTests(SynchronousTestCase):
    def test_the_wrapper_execs_the_command_with_the_parent_and_signal(self) -> None:
        wrapped = launcher.dying_with_parent(["/bin/twistd", "-n"], signal.SIGTERM)
        self.assertEqual(wrapped[:3], [sys.executable, "-S", "-c"])
        self.assertEqual(
            wrapped[4:], [str(os.getpid()), str(int(signal.SIGTERM)), "/bin/twistd", "-n"]
        )
        compile(wrapped[3], "<wrapper>", "exec")  # it is valid Python
