"""Playing one seat of one game through the cluster, whatever chooses the moves.

:class:`SeatPlayer` is what ``replgame bot --open`` (random moves,
:mod:`game.client.opponent`) and the computer (:mod:`game.client.computer`)
share: it follows the game, asks its chooser for a move on its turn and
sends it with the version it saw, claims the win once the opponent's time
has run out on the servers' clocks, and stops when the game ends, when it
is told to, or when nothing happens for ``stall_timeout`` seconds.  On any
refusal (``STALE_VERSION``, ``BEHIND``, ...) it reads the game again
(``GetGame``, then ``SyncGame`` when the servers differ) and goes on from
what they hold.

It follows the game by reading it every ``poll`` seconds, or, with
``watch``, by the client's watch (:meth:`ReplicatedClient.watch`) with a
read every ``poll`` seconds only as a fallback.  :func:`create_open_game`
is the creation both share: a game with one seat taken, left open for
whoever joins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from game.client.bots import Abandoned, GameResult
from game.client.client import NoAnswer, NoServers, Outcome, ReplicatedClient
from game.client.document import DocumentError, GameDocument
from game.client.flagwatch import claim_due
from game.client.offers import THEIRS, takeback_stance
from game.client.watching import WatchUpdate

#: Seconds between two reads of a game while the player waits for the other side.
POLL: Final = 0.25

#: Chooses the move of a document where the seat is to move; None: do not
#: move now (wait, and ask again on the next document or poll).
MoveChooser = Callable[[GameDocument], Deferred[str | None]]


class SeatPlayer:
    """One seat of one game, played until the game ends.

    :param choose: the move of a document (a Deferred: it may take time).
    :param stall_timeout: give up after this long without progress (None: never).
    :param poll: seconds between two reads of the game while waiting.
    :param watch: follow the game by the client's watch (reads only as a fallback).
    :param on_document: told every newer document adopted.
    :param accept_takebacks: accept the opponent's takeback offers (the
        computer does: a friendly opponent), before moving.
    """

    def __init__(
        self,
        client: ReplicatedClient,
        game_id: str,
        seat: int,
        token: str,
        clock: IReactorTime,
        choose: MoveChooser,
        *,
        stall_timeout: float | None,
        poll: float = POLL,
        watch: bool = False,
        on_document: Callable[[GameDocument], None] | None = None,
        accept_takebacks: bool = False,
    ) -> None:
        self.client = client
        self.game_id = game_id
        self.seat = seat
        self.token = token
        self.clock = clock
        self.choose = choose
        self.stall_timeout = stall_timeout
        self.poll = poll
        self.watch = watch
        self.on_document = on_document
        self.accept_takebacks = accept_takebacks
        self.document: GameDocument | None = None
        self.moves = 0
        self.last_progress = clock.seconds()
        self.problem = "no answer yet"
        #: Versions the player claimed the win on time at (never twice).
        self.claimed: set[int] = set()
        #: Whether the chooser declined to move when it was the seat's turn.
        self.declined = False
        self.stopped = False
        self._waiting: Deferred[object] | None = None
        self._timer: IDelayedCall | None = None
        self._pushed = False
        self._choosing: Deferred[str | None] | None = None

    @property
    def version(self) -> int:
        return self.document.version if self.document is not None else 0

    # -- answers -----------------------------------------------------------------------

    def adopt(self, outcome: Outcome | None) -> bool:
        """Take a successful answer's document; True if it is newer."""
        if outcome is None or outcome.decision.chosen is None:
            return False
        if outcome.error is not None:
            self.problem = f"{outcome.error.tag.decode()} ({outcome.error.description})"
            return False
        return self._take(outcome.game_document())

    def accepted(self, outcome: Outcome | None) -> bool:
        """Whether the servers took the request; its document is adopted.
        (The watch may have brought the same version first.)"""
        self.adopt(outcome)
        return (
            outcome is not None and outcome.decision.chosen is not None and (outcome.error is None)
        )

    def _take(self, document: GameDocument) -> bool:
        newer = self.document is None or document.version > self.version
        if newer:
            self.last_progress = self.clock.seconds()
        self.document = document
        if newer and self.on_document is not None:
            self.on_document(document)
        return newer

    async def ask(self, send: Callable[[], Deferred[Outcome]]) -> Outcome | None:
        try:
            return await send()
        except (NoServers, NoAnswer) as error:
            self.problem = str(error)
            return None

    async def reread(self) -> None:
        """Read the game again: ``GetGame``, or ``SyncGame`` when the servers differ."""
        outcome = await self.ask(lambda: self.client.get_game(self.game_id))
        if (
            outcome is not None
            and outcome.error is None
            and (outcome.provisional or outcome.differed)
        ):
            synced = await self.ask(lambda: self.client.sync_game(self.game_id))
            if synced is not None and synced.error is None:
                outcome = synced
        self.adopt(outcome)

    # -- time ----------------------------------------------------------------------------

    def _claimable(self, document: GameDocument) -> bool:
        """The opponent's time ran out (servers' clocks) and this version is unclaimed."""
        due = claim_due(document, self.seat)
        return (
            due is not None
            and self.client.server_now() >= due
            and document.version not in self.claimed
        )

    def _overdue(self) -> float | None:
        """Seconds past the servers' own timeout of the seat's running clock
        (negative before it), while the chooser lets its time run out."""
        document = self.document
        if not self.declined or document is None or not document.my_turn(self.seat):
            return None
        deadline = document.clock.deadline if document.clock is not None else None
        if deadline is None:
            return None
        late_ms = self.client.server_now() - deadline
        return late_ms / 1000 - self.client.config.tuning.flag_grace

    def stalled(self) -> str | None:
        if self.stall_timeout is None:
            return None
        idle = self.clock.seconds() - self.last_progress
        overdue = self._overdue()
        if overdue is not None:
            # Nothing happens on purpose until the servers end the game.
            idle = min(idle, overdue)
        if idle > self.stall_timeout:
            return f"nothing happened for {idle:.0f} s; last problem: {self.problem}"
        return None

    # -- waiting -------------------------------------------------------------------------

    def _pushed_update(self, update: WatchUpdate) -> None:
        """The watch's listener: a document two servers hold wakes the loop."""
        if self.stopped or update.provisional:
            return
        try:
            document = update.game_document()
        except DocumentError:
            return
        if self._take(document) or document.status == "finished":
            self._pushed = True
            self._wake()

    def _wake(self) -> None:
        waiting, self._waiting = self._waiting, None
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if waiting is not None and not waiting.called:
            waiting.callback(None)

    async def wait(self) -> None:
        """``poll`` seconds (less if a claim on time falls due sooner), or
        until a watched document wakes the loop."""
        delay = self.poll
        due = claim_due(self.document, self.seat) if self.document is not None else None
        if due is not None:
            delay = min(delay, max(0.0, (due - self.client.server_now()) / 1000))
        waiting: Deferred[object] = Deferred()
        self._waiting = waiting
        self._timer = self.clock.callLater(delay, self._wake)
        await waiting

    async def _await(self, pending: Deferred[str | None]) -> str | None:
        """The chooser's answer; stop() cancels the wait for it."""
        self._choosing = pending
        try:
            return await pending
        finally:
            self._choosing = None

    def stop(self) -> None:
        """Stop playing: the loop ends at once (a move being chosen is dropped)."""
        if self.stopped:
            return
        self.stopped = True
        if self.watch:
            self.client.unwatch(self.game_id)
        choosing = self._choosing
        if choosing is not None and not choosing.called:
            choosing.cancel()
        self._wake()

    # -- the game ------------------------------------------------------------------------

    def _move_sender(self, version: int, move: str) -> Callable[[], Deferred[Outcome]]:
        return lambda: self.client.make_move(self.game_id, version, move, self.token)

    def _takeback_accepter(self, version: int) -> Callable[[], Deferred[Outcome]]:
        return lambda: self.client.accept_takeback(self.game_id, version, self.token)

    def _claim_sender(self, version: int) -> Callable[[], Deferred[Outcome]]:
        return lambda: self.client.claim_timeout(self.game_id, version, self.token)

    def _abandoned(self, reason: str) -> Abandoned:
        kind = self.document.kind if self.document is not None else ""
        return Abandoned(self.game_id, kind, self.version, reason)

    async def play(self) -> GameResult | Abandoned:
        """Play the seat until the game ends (its :class:`GameResult`), or
        until it stalls or is stopped (:class:`Abandoned`)."""
        if self.watch and not self.stopped:
            self.client.watch(self.game_id, self._pushed_update)
        try:
            return await self._loop()
        except CancelledError:
            return self._abandoned("stopped")
        finally:
            if self.watch and not self.stopped:
                self.client.unwatch(self.game_id)

    async def _loop(self) -> GameResult | Abandoned:
        if self.document is None:
            await self.reread()
        while True:
            if self.stopped:
                return self._abandoned("stopped")
            document = self.document
            if document is not None and document.status == "finished":
                return GameResult.of(document)
            self._pushed = False
            if (
                self.accept_takebacks
                and document is not None
                and takeback_stance(document, self.seat) == THEIRS
            ):
                if self.accepted(await self.ask(self._takeback_accepter(document.version))):
                    continue
            elif document is not None and document.my_turn(self.seat) and document.legal:
                version = document.version
                move = await self._await(self.choose(document))
                if self.stopped:
                    return self._abandoned("stopped")
                if move is None:
                    self.declined = True
                    await self.wait()
                else:
                    if self.accepted(await self.ask(self._move_sender(version, move))):
                        self.moves += 1
                        continue
            elif document is not None and self._claimable(document):
                self.claimed.add(document.version)
                if self.accepted(await self.ask(self._claim_sender(document.version))):
                    continue
            else:
                await self.wait()
                if self._pushed:
                    continue  # the watch brought the news: no read needed
            if self.stopped:
                return self._abandoned("stopped")
            await self.reread()
            reason = self.stalled()
            if reason is not None:
                return self._abandoned(reason)


async def create_open_game(
    player: SeatPlayer,
    kind: str,
    name: str,
    time_control: str | None,
) -> Abandoned | None:
    """Create ``player``'s game with its seat taken by ``name``, left open;
    retried every ``poll`` seconds until the servers answer (None), the
    player stalls or is stopped (the :class:`Abandoned`)."""
    timed = {"clock": time_control} if time_control else {}
    client = player.client
    while player.document is None:
        if player.stopped:
            return Abandoned(player.game_id, kind, 0, "stopped")
        outcome = await player.ask(
            lambda: client.create_game(
                player.game_id, kind, name, player.token, player.seat, **timed
            )
        )
        if not player.adopt(outcome):
            reason = player.stalled()
            if reason is not None:
                return Abandoned(player.game_id, kind, player.version, reason)
            await player.wait()
    return None
