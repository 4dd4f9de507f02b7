"""One launcher for ``twistd replgame`` children: ``replgame cluster``, the tests, the benchmarks.

The parts every caller shares are pure: a server's command line
(:func:`server_command`), its environment (:func:`child_environment`), the
description of how a child ended (:func:`describe_exit`), what its log says
about a start (:func:`start_state`), the tail of a log (:func:`tail`) and the
"retry a start once on a taken port" rule (:func:`start_retrying`).

Two flavours spawn children:

- blocking (:func:`spawn`; :class:`game.serverprocess.ServerProcess` on top):
  ``subprocess.Popen``, reaped with ``poll``/``wait``, for the tests and
  benchmarks, which kill, pause and restart servers between two awaits;
- Twisted (:func:`spawn_on_reactor`, :class:`ChildProcess`):
  ``reactor.spawnProcess``, for ``replgame cluster``
  (:mod:`game.clusterrunner`), which watches its children from the reactor.

Either way a child dies with its parent: on Linux the kernel sends it a
signal when the parent dies (``PR_SET_PDEATHSIG``, see :func:`die_with_parent`),
and an :mod:`atexit` hook SIGKILLs every child still running when the
parent exits without stopping it (:func:`kill_remaining`).

This module imports neither the server nor the client.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import ctypes
import enum
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Final, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.interfaces import IReactorCore, IReactorProcess
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

T = TypeVar("T")

#: Lines of a log shown when a child fails.
TAIL_LINES: Final = 12

# -- pure parts ------------------------------------------------------------------


def twistd_command(python: str = sys.executable) -> list[str]:
    """How to run ``twistd`` with this Python: the ``twistd`` script beside it
    (the same virtualenv), or that Python running twistd's ``run`` when the
    script is missing (``python -m twisted`` is ``twist``, which has no pidfile)."""
    script = Path(python).with_name("twistd")
    if script.exists():
        return [str(script)]
    return [python, "-c", "from twisted.scripts.twistd import run; run()"]


def clock_offset_options(offset_ms: int) -> list[str]:
    """The ``replgame`` options that shift a server's wall clock by
    ``offset_ms`` (``--clock-offset-ms``, for tests only); none for 0."""
    return [f"--clock-offset-ms={offset_ms}"] if offset_ms else []


def server_command(
    server_id: int,
    *,
    pidfile: Path,
    logfile: Path,
    config: Path | str | None = None,
    data: Path | None = None,
    options: Sequence[str] = (),
    twistd_options: Sequence[str] = (),
    twistd: Sequence[str] | None = None,
) -> list[str]:
    """The command line of one server: ``twistd -n --pidfile P --logfile L
    [TWISTD_OPTIONS] replgame --id N [--config C] [--data D] [OPTIONS]``.

    Each server needs its own pidfile: ``twistd`` writes ``twistd.pid`` in its
    working directory otherwise, and refuses to start beside a live one.

    :param twistd: what runs twistd (default :func:`twistd_command`), e.g. a profiler.
    """
    command = [*(twistd or twistd_command()), "--nodaemon"]
    command += ["--pidfile", str(pidfile), "--logfile", str(logfile), *twistd_options]
    command += ["replgame", "--id", str(server_id)]
    if config is not None:
        command += ["--config", str(config)]
    if data is not None:
        command += ["--data", str(data)]
    return [*command, *options]


def child_environment(
    base: Mapping[str, str], code: Path | None = None, **extra: str
) -> dict[str, str]:
    """A child's environment: ``base``, with ``code`` first on ``PYTHONPATH``
    (a snapshot of the code to import instead of the working tree) and ``extra``."""
    env = {**base, **extra}
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code), *filter(None, [base.get("PYTHONPATH")])])
    return env


def describe_exit(exit_code: int | None, signal_number: int | None) -> str:
    """How a child ended, in words: ``exit code 2``, ``killed by SIGKILL``."""
    if signal_number:
        try:
            return f"killed by {signal.Signals(signal_number).name}"
        except ValueError:
            return f"killed by signal {signal_number}"
    return f"exit code {exit_code or 0}"


def describe_returncode(returncode: int) -> str:
    """:func:`describe_exit` of a ``Popen.returncode`` (``-N`` for signal N)."""
    return describe_exit(None, -returncode) if returncode < 0 else describe_exit(returncode, None)


def describe_failure(reason: Failure) -> str:
    """:func:`describe_exit` of the reason a ``ProcessProtocol`` ended with."""
    value = reason.value
    if not hasattr(value, "exitCode"):
        return str(value)
    return describe_exit(getattr(value, "exitCode", None), getattr(value, "signal", None))


class StartState(enum.Enum):
    """What a server's log and output say about its start so far."""

    STARTING = "starting"
    LISTENING = "listening"
    ADDRESS_IN_USE = "address in use"


def start_state(log: str, output: str) -> StartState:
    """Whether a server listens, could not listen because its port was taken,
    or neither yet (from its log file and its stdout/stderr)."""
    if "listening on" in log:
        return StartState.LISTENING
    if "cannot listen" in log or "Address already in use" in output:
        return StartState.ADDRESS_IN_USE
    return StartState.STARTING


class StartFailed(Exception):
    """A server exited, or did not reach a state in time, while starting."""


class AddressInUse(StartFailed):
    """A server could not listen: its port was taken."""


async def start_retrying(
    start: Callable[[], Awaitable[T]],
    before_retry: Callable[[], Awaitable[object]],
    attempts: int = 2,
) -> T:
    """Run ``start``; if it fails with :class:`AddressInUse`, run ``before_retry``
    and start again, ``attempts`` times in all.

    A port found free by binding port 0 can be taken before the server binds
    it (by another program, or as an outgoing connection's ephemeral port):
    that is no bug of the server, so a test starts once more (``before_retry``
    waits, or picks new ports) instead of failing.  Any other failure, and
    the last :class:`AddressInUse`, propagate.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await start()
        except AddressInUse:
            if attempt == attempts:
                raise
        await before_retry()
    raise ValueError(f"attempts must be at least 1, not {attempts}")


def read_log(path: Path) -> str:
    """A log file with its rotated parts (``NAME.2``, ``NAME.1``, then ``NAME``),
    oldest first; "" if there is none."""
    parts = (
        sorted(path.parent.glob(path.name + ".*"), key=lambda p: -int(p.suffix[1:] or 0))
        if path.parent.exists()
        else []
    )
    text = ""
    for part in [*parts, path]:
        with contextlib.suppress(FileNotFoundError, ValueError):
            text += part.read_text(errors="replace")
    return text


def tail(path: Path, lines: int = TAIL_LINES) -> list[str]:
    """The last ``lines`` lines of a text file ([] if it cannot be read)."""
    try:
        with path.open("rb") as file:
            file.seek(0, os.SEEK_END)
            file.seek(max(0, file.tell() - 64 * 1024))
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


# -- dying with the parent ------------------------------------------------------
#
# Why PR_SET_PDEATHSIG rather than a pipe the child watches: the kernel sends
# the signal however the parent dies, SIGKILL included, and twistd needs no
# code of ours to watch anything (a pipe would need a reader inside every
# server, or a watcher process beside it).  It is Linux only (elsewhere the
# atexit hook below is all there is) and survives the exec of twistd.  The
# signal comes when the *thread* that forked the child ends: spawn from the
# main (reactor) thread.  A parent that dies between the fork and the prctl
# is caught by comparing getppid() with the parent's pid afterwards.

_PR_SET_PDEATHSIG: Final = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def die_with_parent(
    death_signal: int = signal.SIGKILL, new_session: bool = False
) -> Callable[[], None]:
    """A ``preexec_fn`` for ``subprocess.Popen``: the child gets ``death_signal``
    when this process dies; with ``new_session``, it leads a session of its own
    (so a terminal's Ctrl-C does not reach it)."""
    parent = os.getpid()

    def preexec() -> None:
        if new_session:
            os.setsid()
        if _libc is not None:
            _libc.prctl(_PR_SET_PDEATHSIG, int(death_signal), 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), death_signal)

    return preexec


# reactor.spawnProcess has no preexec hook, so a Twisted child starts as this
# short script (standard library only, no site: it costs a few milliseconds),
# which does what die_with_parent does and execs the real command line.
# argv: the parent's pid, the signal, the command line.
_EXEC_DYING_WITH_PARENT: Final = """\
import os, sys
os.setpgid(0, 0)
try:
    import ctypes
    ctypes.CDLL(None).prctl(1, int(sys.argv[2]), 0, 0, 0)
except (AttributeError, OSError):
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)
os.execv(sys.argv[3], sys.argv[3:])
"""


def dying_with_parent(argv: Sequence[str], death_signal: int = signal.SIGTERM) -> list[str]:
    """``argv`` wrapped so that the child leads its own process group and gets
    ``death_signal`` when this process dies (``argv[0]`` must be a path)."""
    return [
        sys.executable,
        "-S",
        "-c",
        _EXEC_DYING_WITH_PARENT,
        str(os.getpid()),
        str(int(death_signal)),
        *argv,
    ]


# -- the atexit fallback ------------------------------------------------------------

#: Every child started and not yet seen to end, so that none outlives us.
_CHILDREN: list[subprocess.Popen[bytes] | ChildProcess] = []


def _track(child: subprocess.Popen[bytes] | ChildProcess) -> None:
    _CHILDREN[:] = [c for c in _CHILDREN if not _ended(c)]
    _CHILDREN.append(child)


def _ended(child: subprocess.Popen[bytes] | ChildProcess) -> bool:
    if isinstance(child, subprocess.Popen):
        return child.returncode is not None
    return not child.running


@atexit.register
def kill_remaining() -> None:
    """SIGKILL and reap every child still running (at exit).

    Beside ``PR_SET_PDEATHSIG``: it works on any platform, on a stopped
    (SIGSTOP) child, and on a child whose death signal is SIGTERM, and it
    reaps what it kills.
    """
    for child in _CHILDREN:
        if isinstance(child, subprocess.Popen):
            kill_and_reap(child)
        elif child.running and child.pid is not None:
            with contextlib.suppress(OSError):
                os.kill(child.pid, signal.SIGKILL)
    _CHILDREN.clear()


# -- the blocking flavour ---------------------------------------------------------


def spawn(
    argv: Sequence[str],
    cwd: Path,
    output: Path,
    *,
    env: Mapping[str, str] | None = None,
    death_signal: int = signal.SIGKILL,
    new_session: bool = False,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in ``cwd``, stdout and stderr into the file ``output``;
    it dies with this process (``death_signal``) and at the latest at exit."""
    with open(output, "wb") as out:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(death_signal, new_session),
        )
    _track(process)
    return process


def kill_and_reap(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGKILL (it works on a stopped process too) and wait for the end."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=timeout)


def terminate_and_reap(process: subprocess.Popen[bytes], timeout: float = 10) -> int | None:
    """SIGTERM, SIGKILL if it has not ended after ``timeout``; its exit status."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_and_reap(process)
    return process.returncode


# -- the Twisted flavour -------------------------------------------------------------


class ChildProcess(ProcessProtocol):
    """A child spawned on the reactor: its pid, its last output lines, how it ended.

    :param on_ended: called with this child once it has ended (and been reaped).
    """

    def __init__(self, on_ended: Callable[[ChildProcess], object] = lambda child: None) -> None:
        self.on_ended = on_ended
        self.output: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self.pid: int | None = None
        #: How it ended (:func:`describe_exit`), None while it runs.
        self.ended: str | None = None

    @property
    def running(self) -> bool:
        return self.ended is None

    def connectionMade(self) -> None:
        if self.transport is not None:
            self.pid = self.transport.pid

    def outReceived(self, data: bytes) -> None:
        self.output.extend(data.decode("utf-8", "replace").splitlines())

    errReceived = outReceived

    def signal(self, name: str) -> None:
        """Send ``name`` ("TERM", "KILL") if it still runs."""
        if self.running and self.transport is not None:
            with contextlib.suppress(ProcessExitedAlready, OSError):
                self.transport.signalProcess(name)

    def processEnded(self, reason: Failure) -> None:
        self.ended = describe_failure(reason)
        self.on_ended(self)


def spawn_on_reactor(
    reactor: IReactorProcess,
    child: ChildProcess,
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    death_signal: int = signal.SIGTERM,
) -> ChildProcess:
    """Spawn ``argv`` (``argv[0]`` a path) as ``child``, in a process group of
    its own, dying with this process (``death_signal``) and at exit."""
    command = dying_with_parent(argv, death_signal)
    transport = reactor.spawnProcess(
        child,
        command[0],
        command,
        env=dict(os.environ if env is None else env),
        path=str(cwd or os.getcwd()),
    )
    child.pid = transport.pid
    _track(child)
    return child


def fires_when_running(reactor: IReactorCore) -> Deferred[None]:
    """A Deferred that fires once ``reactor`` runs."""
    started: Deferred[None] = Deferred()
    reactor.callWhenRunning(started.callback, None)
    return started
