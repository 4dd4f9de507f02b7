"""The server's own timeouts: one timer for the earliest deadline it holds.

A timed game whose side to move stops playing would stay active forever if
nobody sent ``ClaimTimeout``; so once a server's own clock passes a game's
``deadline + flag_grace``, the server appends the game's timeout event
itself, through the same write path as a client's change (group commit,
``GameChanged`` to watchers).  The event follows from the game's events
alone (:meth:`~game.server.gamelog.GameLog.timeout_event`), so replicas that
end a game on their own hold byte-identical events.

Deadlines come from the replica's index entries, so a starting server finds
them without replaying a game.  They sit in a heap, one entry per change of
deadline; an entry whose game's deadline moved since is skipped when it
comes up.  The timer runs only while the node serves, so after a restart
every overdue game is ended once the server serves.

Games whose flags fall together (a restart after downtime, a tournament's
round) are ended :data:`BATCH` per reactor turn, the rest in the turns
after (``callLater(0)``): the answers, pushes and heartbeats of the other
connections run in between, and each turn's endings share one commit.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from game.server.replica import DamagedGame, Replica

log = Logger(namespace="replgame.timeouts")

#: At most this many games ended per reactor turn (each ~0.1-0.3 ms).
BATCH = 100


class TimeoutKeeper:
    """Ends the games of one replica whose time ran out more than the grace ago.

    :param now_ms: the server's wall clock in ms (the node's).
    :param grace_ms: ``flag_grace`` in ms.
    :param batch: at most this many games ended per reactor turn.
    """

    def __init__(
        self,
        replica: Replica,
        clock: IReactorTime,
        now_ms: Callable[[], int],
        grace_ms: int,
        batch: int = BATCH,
    ) -> None:
        self.replica = replica
        self.batch = batch
        self.clock = clock
        self.now_ms = now_ms
        self.grace_ms = grace_ms
        self.running = False
        #: Games this server ended itself (a count for logs and tests).
        self.ended = 0
        self._heap: list[tuple[int, str]] = [
            (entry.deadline, game_id)
            for game_id, entry in replica.index.items()
            if entry.deadline is not None
        ]
        heapq.heapify(self._heap)
        self._timer: IDelayedCall | None = None
        self._timer_at: int | None = None
        replica.on_deadline = self.deadline_changed

    def start(self) -> None:
        """The server serves: end what is overdue, then keep watching."""
        self.running = True
        self._schedule()

    def stop(self) -> None:
        self.running = False
        self._cancel()

    def deadline_changed(self, game_id: str, deadline: int) -> None:
        """A game's index entry now holds ``deadline`` (the replica's hook)."""
        heapq.heappush(self._heap, (deadline, game_id))
        if len(self._heap) > 2 * len(self.replica.index) + 1024:
            self._compact()  # mostly stale entries (correspondence games keep them for days)
        if self.running and (self._timer_at is None or deadline < self._timer_at):
            self._schedule()

    def _compact(self) -> None:
        """Keep only the entries that are the current deadline of their game."""
        current = {(d, g) for d, g in self._heap if self.replica.deadline_of(g) == d}
        self._heap = sorted(current)  # a sorted list is a heap

    def _cancel(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        self._timer_at = None

    def _schedule(self) -> None:
        """Set the one timer for the earliest deadline still current."""
        self._cancel()
        heap = self._heap
        while heap and self.replica.deadline_of(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)  # the game moved on, or ended
        if not heap or not self.running:
            return
        deadline = heap[0][0]
        delay_ms = max(0, deadline + self.grace_ms - self.now_ms())
        # One ms late rather than early: the deadline must have passed by the grace.
        self._timer = self.clock.callLater((delay_ms + 1) / 1000, self._fire)
        self._timer_at = deadline

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = None
        now = self.now_ms()
        heap = self._heap
        ended = 0
        while heap and heap[0][0] + self.grace_ms < now:
            if ended == self.batch:  # the rest next turn, after other connections' work
                self._timer = self.clock.callLater(0, self._fire)
                self._timer_at = heap[0][0]
                return
            deadline, game_id = heapq.heappop(heap)
            if self.replica.deadline_of(game_id) != deadline:
                continue
            self._end(game_id, deadline)
            ended += 1
        self._schedule()

    def _end(self, game_id: str, deadline: int) -> None:
        try:
            ended = self.replica.expire(game_id)
        except DamagedGame as error:
            log.warn("cannot end game {game_id} on time: {error}", game_id=game_id, error=error)
            return
        if ended is None:
            return
        self.ended += 1
        log.info(
            "game {game_id}: the side to move ran out of time at {deadline}; "
            "ended by this server after flag_grace",
            game_id=game_id,
            deadline=deadline,
        )
        ended.addErrback(self._not_stored, game_id)

    def _not_stored(self, failure: Failure, game_id: str) -> None:
        # The committer's failure stops the server; nothing more to do here.
        log.warn(
            "ending game {game_id} on time was not stored: {error}",
            game_id=game_id,
            error=failure.getErrorMessage(),
        )
