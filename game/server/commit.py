"""Group commit: the writes of one reactor turn share one durable commit.

A committed sqlite write costs about 0.6 ms and blocks the reactor; batched,
100 writes cost about one.  The answers to the writes of a batch are held
back until its commit has made them durable.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable

import attrs
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure

from game.server.storage import CommitFailed, Storage, StorageError

__all__ = ["GroupCommitter"]


def _current_failure() -> Failure:
    """The exception being handled, as a Failure with its traceback."""
    return Failure()  # type: ignore[no-untyped-call]  # Failure.__init__ is unannotated


@attrs.define(eq=False)
class GroupCommitter:
    """Batch the writes of one reactor turn into one commit.

    Each :meth:`write` is staged at once (reads see it) and answered by a
    Deferred that fires only after the commit that made it durable, so a
    client never hears about a move a crash could still lose.  A commit costs
    about as much for 100 writes as for one, and it blocks the reactor, so
    sharing it is what keeps the server responsive.

    After a failed commit every later write fails: the replica's in-memory
    state is ahead of the disk and the server must stop.

    :ivar batches: commits made so far.
    :ivar last_batch_size: :meth:`write` calls in the last committed batch.
    """

    storage: Storage
    clock: IReactorTime
    on_failure: Callable[[Failure], object] | None = attrs.field(default=None, kw_only=True)
    #: Called after each commit with its duration in seconds (fsync
    #: included) and its number of writes (the metrics).
    on_commit: Callable[[float, int], object] | None = attrs.field(default=None, kw_only=True)
    batches: int = attrs.field(default=0, init=False)
    last_batch_size: int = attrs.field(default=0, init=False)
    # Deferreds of the current batch (writes and after_pending waiters), in order.
    _waiting: list[Deferred[None]] = attrs.field(factory=list, init=False)
    _writes: int = attrs.field(default=0, init=False)
    _call: IDelayedCall | None = attrs.field(default=None, init=False)
    _failure: CommitFailed | None = attrs.field(default=None, init=False)
    _closed: bool = attrs.field(default=False, init=False)
    # Records staged once per batch, just before its commit, from their latest value.
    _at_commit: dict[str, Callable[[], object]] = attrs.field(factory=dict, init=False)

    def write(
        self,
        changes: Iterable[tuple[str, object]],
        at_commit: tuple[str, Callable[[], object]] | None = None,
    ) -> Deferred[None]:
        """Stage ``changes`` now; fire after the commit that makes them durable.

        :param changes: ``(key, value)`` pairs, all committed together; the
            value :data:`DELETE` deletes the key.
        :param at_commit: ``(key, value_of)``: a record that every write of a
            batch changes (bookkeeping), staged once per batch with the value
            ``value_of()`` has just before the commit.
        :returns: a Deferred that fails with :class:`CommitFailed` if that
            commit fails (or has failed before), or with
            :class:`StorageError` once :meth:`close` was called.
        """
        if self._failure is not None:
            return fail(self._failure)
        if self._closed:
            return fail(StorageError("the group committer is closed; write refused"))
        try:
            self.storage.stage_many(changes)
        except Exception as e:
            # Part of this write is in the transaction and cannot be taken
            # out alone: as untrustworthy as a failed commit.
            self._fail(e, _current_failure())
            assert self._failure is not None
            return fail(self._failure)
        if at_commit is not None:
            self._at_commit[at_commit[0]] = at_commit[1]
        self._writes += 1
        return self._join()

    def after_pending(self) -> Deferred[None]:
        """Fire once everything staged so far is committed.

        :returns: an already fired Deferred if nothing is pending.
        """
        if self._failure is not None:
            return fail(self._failure)
        if not self._waiting:
            return succeed(None)
        return self._join()

    def _join(self) -> Deferred[None]:
        if self._call is None:
            # callLater(0) runs after everything already queued for this
            # turn, so the turn's other writes join the batch.
            self._call = self.clock.callLater(0, self.flush)
        waiter: Deferred[None] = Deferred()
        self._waiting.append(waiter)
        return waiter

    def flush(self) -> None:
        """Commit the batch now, then fire its Deferreds in order."""
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        if not self._waiting:
            return
        # Swap the batch out first: a callback that writes starts a new one.
        waiting, writes = self._waiting, self._writes
        at_commit, self._at_commit = self._at_commit, {}
        self._waiting, self._writes = [], 0
        started = time.perf_counter()
        try:
            for key, value_of in at_commit.items():
                self.storage.stage(key, value_of())
            self.storage.commit()
        except Exception as e:
            self._fail(e, _current_failure(), waiting)
            return
        if self.on_commit is not None:
            self.on_commit(time.perf_counter() - started, writes)
        self.batches += 1
        self.last_batch_size = writes
        for waiter in waiting:
            waiter.callback(None)

    def _fail(
        self, cause: Exception, reason: Failure, waiting: list[Deferred[None]] | None = None
    ) -> None:
        """Enter the failed state, errback every pending Deferred, call ``on_failure``."""
        waiting = [*(waiting or []), *self._waiting]
        self._waiting = []
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        self._writes = 0
        self._at_commit = {}
        self._failure = CommitFailed(cause)
        # Reads of the storage must not show writes that will never be durable.
        with contextlib.suppress(Exception):
            self.storage.rollback()
        for waiter in waiting:
            waiter.errback(self._failure)
        if self.on_failure is not None:
            self.on_failure(reason)

    def close(self) -> None:
        """Commit and answer anything pending now, then refuse further writes."""
        self.flush()
        self._closed = True
