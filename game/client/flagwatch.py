"""Claiming the win on time as soon as the opponent's clock runs out.

A seated player's client follows the game's documents; when the opponent is
to move in a timed game, :class:`TimeoutClaimer` schedules one
``ClaimTimeout`` for a little after the opponent's ``deadline`` on the
servers' time scale (:meth:`ReplicatedClient.server_now`).  Every newer
document reschedules it: a move stops the opponent's clock, and the end of
the game or the player's own turn cancels the claim.  One version of a game
is claimed at most once: if the servers answer ``TIME_LEFT`` (their clocks
are behind ours), the servers' own timeout, ``flag_grace`` after the
deadline, ends the game anyway.

Used by ``replgame watch``, the bots and the desktop game; tested on
``Clock``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Protocol

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure

from game.client.client import Outcome
from game.client.document import GameDocument

#: How long after the opponent's deadline the claim is sent (ms): the
#: servers accept it only once ``at`` is past the deadline on their clocks.
CLAIM_MARGIN_MS: Final = 250


class ClaimingClient(Protocol):
    """What the claimer needs of a :class:`~game.client.client.ReplicatedClient`."""

    def server_now(self) -> int: ...

    def claim_timeout(self, game_id: str, version: int, token: str) -> Deferred[Outcome]: ...


def claim_due(document: GameDocument, seat: int, margin_ms: int = CLAIM_MARGIN_MS) -> int | None:
    """When ``seat`` may claim the game on time (ms, the servers' scale):
    ``margin_ms`` after the deadline of an active timed game whose opponent
    is to move; None otherwise."""
    clock = document.clock
    if (
        clock is None
        or clock.deadline is None
        or document.status != "active"
        or document.to_move != 1 - seat
    ):
        return None
    return clock.deadline + margin_ms


class TimeoutClaimer:
    """Sends ``ClaimTimeout`` for one seat of one game once the opponent flags.

    :param client: the replicated client (its ``server_now`` and ``claim_timeout``).
    :param clock: what schedules the claim (the client's reactor, or a ``Clock``).
    :param margin_ms: how long after the deadline to claim.
    :param on_claim: told the document claimed from and the servers' answer
        (an :class:`~game.client.client.Outcome`, or the exception when none came).
    """

    def __init__(
        self,
        client: ClaimingClient,
        clock: IReactorTime,
        *,
        margin_ms: int = CLAIM_MARGIN_MS,
        on_claim: Callable[[GameDocument, Outcome | BaseException], None] | None = None,
    ) -> None:
        self.client = client
        self.clock = clock
        self.margin_ms = margin_ms
        self.on_claim = on_claim
        self.document: GameDocument | None = None
        self.seat = 0
        self.token = ""
        #: ``(game id, version)`` of every claim sent, so none is sent twice.
        self.claimed: set[tuple[str, int]] = set()
        self._timer: IDelayedCall | None = None
        # Waiters for the claim in flight (see answered()); None: no claim in flight.
        self._waiting: list[Deferred[None]] | None = None

    @property
    def scheduled(self) -> bool:
        """Whether a claim waits for the opponent's deadline."""
        return self._timer is not None and self._timer.active()

    def update(self, document: GameDocument, seat: int, token: str) -> None:
        """Follow the latest document of a game where the player holds ``seat``
        (with ``token``).  An older version of the same game is ignored."""
        held = self.document
        if (
            held is not None
            and held.game_id == document.game_id
            and document.version < held.version
        ):
            return
        self.document, self.seat, self.token = document, seat, token
        self._schedule()

    def answered(self) -> Deferred[None]:
        """Fires once the claim in flight, if any, is answered and reported
        (at once when none is): the game can end, by the claim's own push,
        before its answer arrives."""
        if self._waiting is None:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._waiting.append(waiter)
        return waiter

    def stop(self) -> None:
        """Cancel the scheduled claim, if any."""
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _schedule(self) -> None:
        self.stop()
        document = self.document
        if document is None or (document.game_id, document.version) in self.claimed:
            return
        due = claim_due(document, self.seat, self.margin_ms)
        if due is None:
            return
        delay = max(0, due - self.client.server_now()) / 1000
        self._timer = self.clock.callLater(delay, self._due)

    def _due(self) -> None:
        self._timer = None
        document = self.document
        assert document is not None
        due = claim_due(document, self.seat, self.margin_ms)
        if due is None:  # pragma: no cover - every update reschedules
            return
        if self.client.server_now() < due:
            # The offset to the servers moved (a heartbeat) since we scheduled.
            self._schedule()
            return
        self.claimed.add((document.game_id, document.version))
        self._waiting = []
        claim = self.client.claim_timeout(document.game_id, document.version, self.token)

        def answered(result: Outcome | Failure) -> None:
            waiting, self._waiting = self._waiting or [], None
            try:
                if self.on_claim is not None:
                    if isinstance(result, Failure):
                        self.on_claim(document, result.value or Exception("no answer"))
                    else:
                        self.on_claim(document, result)
            finally:
                for waiter in waiting:
                    waiter.callback(None)

        claim.addBoth(answered)
