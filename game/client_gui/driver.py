"""Pyglet driven by the Twisted reactor: a ``LoopingCall`` at about 60 Hz.

Each tick dispatches the windows' pending events, runs pyglet's clock, and
draws each window whose scene changed.  Nothing in a tick waits on the
network: requests are Deferreds that the reactor answers between ticks.
Stop the loop before closing a window (STYLE.md).
"""

from __future__ import annotations

from typing import Any, Final

import pyglet
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from game.client_gui.window import GameWindow

log = Logger(namespace="replgame.gui")

#: Seconds between two ticks.
TICK: Final = 1 / 60


class WindowDriver:
    """Runs pyglet's event handling and drawing from the reactor."""

    def __init__(self, clock: IReactorTime, interval: float = TICK) -> None:
        self.windows: list[GameWindow] = []
        self.interval = interval
        self.loop = LoopingCall(self.tick)
        self.loop.clock = clock
        self.ticks = 0
        self._done: Deferred[Any] | None = None

    def add(self, window: GameWindow) -> None:
        self.windows.append(window)

    def start(self) -> None:
        if not self.loop.running:
            self._done = self.loop.start(self.interval, now=True)
            self._done.addErrback(lambda failure: log.failure("the pyglet loop died", failure))

    def stop(self) -> None:
        if self.loop.running:
            self.loop.stop()

    @property
    def running(self) -> bool:
        return bool(self.loop.running)

    def tick(self) -> None:
        self.ticks += 1
        pyglet.clock.tick(poll=True)
        for window in list(self.windows):
            if window.gone:
                self.windows.remove(window)
                continue
            try:
                window.dispatch_events()
                if not window.gone:
                    window.draw_frame()
            except Exception:
                # A window the window system took away fails here; any other
                # error is logged, and the loop goes on.
                log.failure("drawing a window failed")
                if window.gone or getattr(window, "_context", True) is None:
                    self.windows.remove(window)
