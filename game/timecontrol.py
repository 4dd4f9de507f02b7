"""Time controls as the wire writes them (``CreateGame``'s ``clock``), parsed once.

Pure and shared: the server decides with it, the clients show and choose it.
``"live:B+I"`` is a base of ``B`` seconds (10-10800) and a Fischer increment
of ``I`` seconds (0-180); ``"corr:D"`` is ``D`` days per move (1-30);
integers are written without leading zeros, so every control has one text.
"""

from __future__ import annotations

import re
from typing import Final, Literal

import attrs

LIVE: Final = "live"
CORR: Final = "corr"

#: Bounds of PROTOCOL.md, in seconds or days.
BASE_SECONDS: Final = (10, 10800)
INCREMENT_SECONDS: Final = (0, 180)
CORR_DAYS: Final = (1, 30)

DAY_MS: Final = 86_400_000

_NUMBER: Final = "(0|[1-9][0-9]{0,5})"
_LIVE: Final = re.compile(f"live:{_NUMBER}\\+{_NUMBER}")
_CORR: Final = re.compile(f"corr:{_NUMBER}")


class InvalidTimeControl(ValueError):
    """A ``clock`` value that is not a time control of PROTOCOL.md."""


@attrs.frozen
class TimeControl:
    """One time control.

    :ivar kind: :data:`LIVE` or :data:`CORR`.
    :ivar base_ms: live: each side's starting time; corr: the time per move.
    :ivar increment_ms: live: added after each move; corr: 0.
    :ivar days: corr: days per move; live: 0.
    """

    kind: Literal["live", "corr"]
    base_ms: int
    increment_ms: int = 0
    days: int = 0

    @property
    def text(self) -> str:
        """The wire form, e.g. ``live:300+5`` or ``corr:3``."""
        if self.kind == LIVE:
            return f"live:{self.base_ms // 1000}+{self.increment_ms // 1000}"
        return f"corr:{self.days}"

    @property
    def live(self) -> bool:
        return self.kind == LIVE

    def __str__(self) -> str:
        return self.text


def parse_time_control(text: str) -> TimeControl:
    """The time control ``text`` names.

    :raises InvalidTimeControl: ``text`` is not one (empty included: the
        caller decides what an absent control means).
    """
    live = _LIVE.fullmatch(text)
    if live is not None:
        base, increment = int(live[1]), int(live[2])
        if not BASE_SECONDS[0] <= base <= BASE_SECONDS[1]:
            raise InvalidTimeControl(f"base must be {BASE_SECONDS[0]}-{BASE_SECONDS[1]} seconds")
        if not INCREMENT_SECONDS[0] <= increment <= INCREMENT_SECONDS[1]:
            raise InvalidTimeControl(
                f"increment must be {INCREMENT_SECONDS[0]}-{INCREMENT_SECONDS[1]} seconds"
            )
        return TimeControl(LIVE, base * 1000, increment * 1000)
    corr = _CORR.fullmatch(text)
    if corr is not None:
        days = int(corr[1])
        if not CORR_DAYS[0] <= days <= CORR_DAYS[1]:
            raise InvalidTimeControl(f"days must be {CORR_DAYS[0]}-{CORR_DAYS[1]}")
        return TimeControl(CORR, days * DAY_MS, days=days)
    raise InvalidTimeControl('clock must be empty, "live:B+I" or "corr:D"')
