"""The computer's searches, off the reactor thread: one worker process.

A pure-Python search holds the GIL for as long as it runs, so in a thread
it starves the reactor (and a window's frames): each time the reactor's
thread lets the GIL go (a system call, a ctypes call into OpenGL) it waits
a whole switch interval (5 ms) to get it back.  Measured with ``python -m
bench.computer_lag`` on this project's 2-core machine during level-5
searches: a 10 ms ``LoopingCall`` whose tick makes 20 GIL-releasing calls
took 127 ms a tick (median; 139 ms worst) and ran 4 ms late (median, 15 ms
worst) with the search in a thread, and 1.3 ms a tick, 0 ms late (3 ms
worst) with it in a worker process.  So :class:`PoolSearch` runs each search
in a ``ProcessPoolExecutor`` of one worker (started by ``spawn``: forking a
process that runs threads and a GL context is unsafe), and falls back to
one thread only when a worker process cannot be started.  The answer comes
back to the reactor thread as a Deferred.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import Logger
from twisted.python.failure import Failure

from game.client.enginejob import ready, search_move

log = Logger(namespace="replgame.computer")

T = TypeVar("T")

#: What starting or using a worker process can raise when processes are not available.
NO_PROCESSES = (BrokenProcessPool, OSError, NotImplementedError, PermissionError)


class MoveSearch(Protocol):
    """Searches a position for the computer's move without blocking the caller."""

    def search(self, kind: str, position: str, level: int, budget: float | None) -> Deferred[str]:
        """The move at ``level`` in the ``kind`` position text ``position``."""
        ...


class PoolSearch:
    """Searches in one worker process, or one thread if processes cannot start.

    :param reactor: where answers are delivered (``callFromThread``).
    :param processes: False: use a thread from the start (tests, measurements).
    """

    def __init__(self, reactor: Any, *, processes: bool = True) -> None:
        self._from_thread = IReactorFromThreads(reactor)
        self._processes = processes
        self._executor: Executor | None = None
        self.in_thread = not processes

    def start(self) -> None:
        """Start the worker now (it takes a moment to import the engine) so
        the first move does not wait for it."""
        if self._executor is None:
            self._executor = self._new_executor()
            self._submit(ready).addErrback(lambda _: None)

    def _new_executor(self) -> Executor:
        if self._processes and not self.in_thread:
            try:
                return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            except NO_PROCESSES as error:
                self._fall_back(error)
        return ThreadPoolExecutor(1, thread_name_prefix="replgame-search")

    def _fall_back(self, error: BaseException) -> None:
        log.warn("no worker process for the computer ({error}); searching in a thread", error=error)
        self.in_thread = True

    def search(self, kind: str, position: str, level: int, budget: float | None) -> Deferred[str]:
        return self._submit(search_move, kind, position, level, budget)

    def _submit(self, job: Callable[..., T], *arguments: Any) -> Deferred[T]:
        if self._executor is None:
            self._executor = self._new_executor()
        try:
            future = self._executor.submit(job, *arguments)
        except NO_PROCESSES as error:
            if self.in_thread:
                raise
            self._replace_with_thread(error)
            return self._submit(job, *arguments)

        def cancel(_: Deferred[T]) -> None:
            future.cancel()

        answer: Deferred[T] = Deferred(cancel)

        def done(finished: Future[T]) -> None:
            # In the executor's own thread: hand the answer to the reactor's.
            self._from_thread.callFromThread(self._settle, answer, finished, job, arguments)

        future.add_done_callback(done)
        return answer

    def _settle(
        self, answer: Deferred[T], finished: Future[T], job: Callable[..., T], arguments: Any
    ) -> None:
        if answer.called or finished.cancelled():
            return  # cancelled by the caller: nobody waits for it
        error = finished.exception()
        if isinstance(error, BrokenProcessPool) and not self.in_thread:
            self._replace_with_thread(error)
            self._submit(job, *arguments).chainDeferred(answer)
        elif error is not None:
            answer.errback(Failure(error))  # type: ignore[no-untyped-call]
        else:
            answer.callback(finished.result())

    def _replace_with_thread(self, error: BaseException) -> None:
        self._fall_back(error)
        old, self._executor = self._executor, None
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)
        self._executor = self._new_executor()

    def stop(self) -> None:
        """Stop the worker; a search in progress is dropped (its answer is never delivered)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
