"""``replgame watch``: draw a game on every change of what the servers hold.

The client watches the game on every server (:meth:`ReplicatedClient.watch`)
and calls back with the document two servers hold, or the most advanced one
marked provisional.  :class:`GameWatcher` decides which of those updates to
draw: none until every linked server has answered once (or
:data:`WATCH_SETTLE` has passed), and none that would draw the same frame
again.  It ends the command once a majority holds the game finished.

In a timed game the running clock ticks once a second between frames (the
whole frame again on a terminal, else one clock line; not with ``--json``),
read on the servers' time scale (:meth:`ReplicatedClient.server_now`).  A
watcher who holds a seat claims the game by itself when the opponent runs
out of time (:class:`~game.client.flagwatch.TimeoutClaimer`).
"""

from __future__ import annotations

import attrs
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorCore
from twisted.internet.task import LoopingCall

from game.client import reports
from game.client.cli.choices import CliError, claim_seat
from game.client.cli.session import Session
from game.client.client import Outcome
from game.client.document import GameDocument
from game.client.flagwatch import TimeoutClaimer
from game.client.tokens import Seat
from game.client.watching import WatchUpdate

#: How long ``watch`` waits for every linked server's first answer before drawing.
WATCH_SETTLE = 1.0
#: Seconds between two readings of a running clock.
TICK = 1.0


@attrs.define
class GameWatcher:
    """Which watch updates to draw, and when the watch is over.

    :ivar keep: keep watching after the game is over (``--keep``).
    :ivar clear: clear the terminal before each frame instead of a separator.
    :ivar done: fires when the game is over (never with ``keep``).
    """

    session: Session
    keep: bool
    clear: bool
    done: Deferred[None] = attrs.field(factory=Deferred)
    #: Whether every linked server has answered, or the settle time passed.
    settled: bool = False
    #: What the last frame drawn showed, to skip drawing it again.
    last_frame: tuple[str, bool, tuple[int, ...]] | None = None
    #: The user's seats in the game: a watcher holding one claims on time.
    seats: list[Seat] = attrs.Factory(list)
    #: The last update drawn.
    shown: WatchUpdate | None = None
    claimer: TimeoutClaimer | None = None
    ticker: LoopingCall | None = None

    def __attrs_post_init__(self) -> None:
        if self.seats:
            self.claimer = TimeoutClaimer(
                self.session.client, self.session.reactor, on_claim=self.claimed
            )

    def show(self, update: WatchUpdate) -> None:
        """The client's listener: draw ``update`` if it changes the frame."""
        if self.session.closing:
            return
        client = self.session.client
        if not self.settled:
            # The first answers arrive one by one: wait for every linked server.
            if len(update.versions) < len(client.active):
                return
            self.settled = True
        frame = (update.document, update.provisional, tuple(client.inactive))
        if frame == self.last_frame:
            return  # only a version behind the shown one changed
        self.last_frame = frame
        self.shown = update
        self.draw(update)
        self.follow_clock(update)
        if reports.is_over(update) and not self.keep and not self.done.called:
            self.stop()
            # A claim of ours may have ended it: say how it was answered first.
            claim = self.claimer.answered() if self.claimer is not None else succeed(None)
            claim.addCallback(lambda _: None if self.done.called else self.done.callback(None))

    def follow_clock(self, update: WatchUpdate) -> None:
        """Tick while the game's clock runs; claim when the opponent flags."""
        running = reports.clock_running(update)
        if running and not self.session.json and self.ticker is None:
            self.ticker = LoopingCall(self.tick)
            self.ticker.clock = self.session.reactor
            self.ticker.start(TICK, now=False)
        elif not running and self.ticker is not None:
            self.ticker.stop()
            self.ticker = None
        if self.claimer is not None and not update.provisional:
            document = update.game_document()
            seat = claim_seat(self.seats, document)
            if seat is not None:
                self.claimer.update(document, seat.seat, seat.token)

    def tick(self) -> None:
        """A running clock's second: the frame again on a terminal, else its clock line."""
        update = self.shown
        if update is None or self.session.closing:
            return
        now = self.session.client.server_now()
        if self.clear:
            self.session.emit(
                reports.watch_frame(update, self.session.client.inactive, True, now), {}
            )
        else:
            self.session.emit(reports.clock_tick(update, now), {})

    def claimed(self, document: GameDocument, answer: Outcome | BaseException) -> None:
        """Say how the servers answered the claim sent on the user's behalf."""
        if self.session.closing:
            return
        seat = claim_seat(self.seats, document)
        assert seat is not None
        self.session.emit(*reports.watch_claim(document, seat.seat, answer))

    def stop(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()
            self.ticker = None
        if self.claimer is not None:
            self.claimer.stop()

    def settle(self, current: WatchUpdate | None) -> None:
        """Stop waiting for the servers that have not answered yet: draw
        ``current``, what the watch holds now."""
        if not self.settled:
            self.settled = True
            if current is not None:
                self.show(current)

    def draw(self, update: WatchUpdate) -> None:
        unreachable = self.session.client.inactive
        if self.session.json:
            self.session.emit("", reports.watch_json(update, unreachable))
        else:
            now = self.session.client.server_now()
            self.session.emit(reports.watch_frame(update, unreachable, self.clear, now), {})


def _seats(session: Session, game_id: str) -> list[Seat]:
    """The user's seats in the game; none if the seat store cannot be read
    (watching needs no seat)."""
    try:
        return session.seats(game_id)
    except CliError:
        return []


async def cmd_watch(session: Session) -> None:
    """Draw the game on every change of what the servers hold, until it ends."""
    await session.connect()
    game_id = session.game_id()
    await session.read_game(game_id)  # an unknown game fails here, not silently later
    watcher = GameWatcher(
        session,
        keep=session.args.keep,
        clear=not session.json and session.out.isatty(),
        seats=_seats(session, game_id),
    )

    def closing() -> None:
        session.closing = True

    # Links dropping at Ctrl-C must not draw a last, misleading frame.
    IReactorCore(session.reactor).addSystemEventTrigger("before", "shutdown", closing)
    watch = session.client.watch(game_id, watcher.show)
    timer = session.reactor.callLater(WATCH_SETTLE, lambda: watcher.settle(watch.current()))
    try:
        await watcher.done
    finally:
        watcher.stop()
        if timer.active():
            timer.cancel()
