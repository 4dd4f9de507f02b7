"""What a timed game's clocks read at a moment: pure, shared by the command
line, the desktop game and the bots.

A document's ``clock`` gives each seat's time as of ``at`` (the last event)
and the side to move's ``deadline``; between events only the side to move's
time runs, so its time now is ``deadline - now``.
"""

from __future__ import annotations

import attrs

from game.client.document import Clock, GameDocument
from game.timecontrol import TimeControl, parse_time_control

#: Below this a live clock shows tenths of a second, and the screen turns it red.
LOW_TIME_MS = 10_000


@attrs.frozen
class ClockReading:
    """Both clocks at one moment.

    :ivar remaining: each seat's time left, in ms (never below 0).
    :ivar running: the seat whose time runs, or None (not started, or over).
    :ivar control: the game's time control.
    """

    remaining: tuple[int, int]
    running: int | None
    control: TimeControl

    def flagged(self) -> bool:
        """The running side has no time left."""
        return self.running is not None and self.remaining[self.running] == 0

    def low(self, seat: int) -> bool:
        """Seat ``seat`` is a live clock under :data:`LOW_TIME_MS`."""
        return self.control.live and self.remaining[seat] < LOW_TIME_MS


def read_clocks(document: GameDocument, now_ms: int) -> ClockReading | None:
    """The clocks of ``document`` at ``now_ms`` (the servers' time scale), or
    None for an untimed game."""
    clock: Clock | None = document.clock
    if clock is None:
        return None
    control = parse_time_control(clock.control)
    if clock.deadline is None or document.to_move is None or document.status != "active":
        return ClockReading(clock.remaining, None, control)
    remaining = list(clock.remaining)
    remaining[document.to_move] = max(0, clock.deadline - now_ms)
    return ClockReading((remaining[0], remaining[1]), document.to_move, control)


def format_time(ms: int, control: TimeControl) -> str:
    """A clock face: ``4:59`` or ``1:02:03`` live (``9.4`` under ten
    seconds), ``2d 03h`` or ``5:07:00`` for correspondence."""
    ms = max(0, ms)
    if control.live and ms < LOW_TIME_MS:
        return f"{ms // 1000}.{ms % 1000 // 100}"
    seconds = ms // 1000
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{minutes}:{seconds:02d}"


def describe_control(text: str | None) -> str:
    """A control as players name it: ``5+3`` (minutes + seconds),
    ``3 days per move``, or ``untimed``."""
    if not text:
        return "untimed"
    control = parse_time_control(text)
    if control.live:
        base = control.base_ms / 60_000
        minutes = f"{base:g}" if base >= 1 else f"{control.base_ms // 1000}s"
        return f"{minutes}+{control.increment_ms // 1000}"
    return f"{control.days} day{'s' if control.days != 1 else ''} per move"
