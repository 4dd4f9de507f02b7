"""``replgame watch``: draw a game on every change of what the servers hold.

The client watches the game on every server (:meth:`ReplicatedClient.watch`)
and calls back with the document two servers hold, or the most advanced one
marked provisional.  :class:`GameWatcher` decides which of those updates to
draw: none until every linked server has answered once (or
:data:`WATCH_SETTLE` has passed), and none that would draw the same frame
again.  It ends the command once a majority holds the game finished.
"""

from __future__ import annotations

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorCore

from game.client import reports
from game.client.cli.session import Session
from game.client.client import WatchUpdate

#: How long ``watch`` waits for every linked server's first answer before drawing.
WATCH_SETTLE = 1.0


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
        self.draw(update)
        if reports.is_over(update) and not self.keep and not self.done.called:
            self.done.callback(None)

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
            self.session.emit(reports.watch_frame(update, unreachable, self.clear), {})


async def cmd_watch(session: Session) -> None:
    """Draw the game on every change of what the servers hold, until it ends."""
    await session.connect()
    game_id = session.game_id()
    await session.read_game(game_id)  # an unknown game fails here, not silently later
    watcher = GameWatcher(
        session,
        keep=session.args.keep,
        clear=not session.json and session.out.isatty(),
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
        if timer.active():
            timer.cancel()
