"""A timed game's two clocks: Fischer (live) and correspondence arithmetic.

Pure and deterministic: every time here comes from the game's events (the
``at`` each one carries), never from a clock, so that every replica holding
the same events holds the same remaining times and deadline.  The server's
own clock appears only in :func:`check_stamp`, which decides whether a new
command's ``at`` may be accepted at all (``CLOCK_SKEW``).

The rules (PROTOCOL.md, "Time controls"): the clock starts at the ``at`` of
the ``JoinGame`` that makes the game active; the side to move spends time
from the ``at`` of the game's previous event to the ``at`` of the next; a
live move then adds the increment, a correspondence move resets the mover's
time to the days per move.  Other events (draw offers, their acceptance, a
resignation) spend the side to move's time too, and stop nothing.
"""

from __future__ import annotations

import attrs

from game import errors as wire
from game.timecontrol import TimeControl


@attrs.define
class GameClock:
    """Both seats' time as of :attr:`at`, the time of the last event.

    :ivar remaining: each seat's time in ms as of :attr:`at`.
    :ivar at: the last event's time while the clock runs, else ``None``.
    :ivar last_at: the time of the last event that carried one (kept after
        the end: a request stamped before it is ``CLOCK_SKEW``).
    """

    control: TimeControl
    remaining: list[int]
    at: int | None = None
    last_at: int | None = None

    @classmethod
    def new(cls, control: TimeControl) -> GameClock:
        """A game's clock at its creation: full time, not running."""
        return cls(control, [control.base_ms, control.base_ms])

    @property
    def running(self) -> bool:
        return self.at is not None

    def deadline(self, to_move: int) -> int | None:
        """When the side to move runs out (ms), or ``None`` unless running."""
        if self.at is None:
            return None
        return self.at + self.remaining[to_move]

    def start(self, at: int) -> None:
        """The game became active (its ``JoinGame``) at ``at``."""
        self.at = self.last_at = at

    def spend(self, to_move: int, at: int) -> None:
        """An event at ``at``: the side to move spent the time since the last one."""
        if self.at is not None:
            self.remaining[to_move] -= at - self.at
            self.at = at
        self.last_at = at

    def moved(self, seat: int, at: int) -> None:
        """``seat`` moved at ``at``: spend, then the increment (live) or a new
        period of days (correspondence)."""
        self.spend(seat, at)
        if self.control.live:
            self.remaining[seat] += self.control.increment_ms
        else:
            self.remaining[seat] = self.control.base_ms

    def flagged(self, to_move: int) -> None:
        """The side to move ran out: the game ends at its deadline."""
        deadline = self.deadline(to_move)
        assert deadline is not None
        self.spend(to_move, deadline)
        self.stop()

    def stop(self) -> None:
        """The game ended: the clock no longer runs."""
        self.at = None

    def to_json(self, to_move: int | None) -> str:
        """The document's ``clock`` field, as canonical JSON."""
        deadline = None if to_move is None else self.deadline(to_move)
        at = "null" if self.at is None or deadline is None else str(self.at)
        return (
            f'{{"at":{at},"control":"{self.control.text}",'
            f'"deadline":{"null" if deadline is None else deadline},'
            f'"remaining":[{self.remaining[0]},{self.remaining[1]}]}}'
        )

    def fields(self, to_move: int | None) -> dict[str, object]:
        """The ``clock`` field as a dict (tests compare it with :meth:`to_json`)."""
        deadline = None if to_move is None else self.deadline(to_move)
        return {
            "control": self.control.text,
            "remaining": list(self.remaining),
            "at": None if deadline is None else self.at,
            "deadline": deadline,
        }


def check_stamp(at: int, last_at: int | None, now: int | None, skew_ms: int) -> None:
    """Whether a timed command's ``at`` may be accepted.

    :param last_at: the ``at`` of the game's last event (``None``: none yet).
    :param now: the server's clock in ms, or ``None`` when replaying stored
        or peer events (their stamps were checked when they were accepted).
    :raises ClockSkew: ``at`` is more than ``skew_ms`` from ``now``, or
        earlier than ``last_at``.
    """
    if now is not None and abs(at - now) > skew_ms:
        raise wire.ClockSkew(f"at {at} is {at - now:+d} ms from the server's clock")
    if last_at is not None and at < last_at:
        raise wire.ClockSkew(f"at {at} is earlier than the game's last event at {last_at}")


def check_time_left(at: int, deadline: int | None) -> None:
    """A command (not ClaimTimeout) stamped ``at``, against the side to move's deadline.

    :raises Flagged: ``at`` is past ``deadline``.
    """
    if deadline is not None and at > deadline:
        raise wire.Flagged.at(deadline)


def check_timed_out(at: int, deadline: int | None) -> int:
    """ClaimTimeout stamped ``at``: the deadline that ran out.

    :raises TimeLeft: the clock does not run, or ``at`` is not past ``deadline``.
    """
    if deadline is None:
        raise wire.TimeLeft("no clock is running in this game")
    if at <= deadline:
        raise wire.TimeLeft(f"the side to move has time until {deadline}")
    return deadline


def check_request(
    clock: GameClock,
    deadline: int | None,
    at: int | None,
    now: int | None,
    skew_ms: int,
    *,
    claim: bool,
    replay: bool,
) -> int | None:
    """A timed game's checks of a request, in their place in PROTOCOL.md's
    order (after ``GAME_OVER``): ``CLOCK_SKEW``, then ``FLAGGED``
    (``TIME_LEFT`` for ClaimTimeout, ``claim``).

    :param deadline: the side to move's deadline (``None`` unless active).
    :param replay: checking a stored or peer event, whose timeout carries
        the deadline itself as its time.
    :return: for a claim, the deadline that ran out.
    :raises BadRequest: no ``at``, or a replayed timeout not at the deadline.
    """
    if at is None:
        raise wire.BadRequest("at is required in a timed game")
    if claim and replay:
        if deadline is None or at != deadline:
            raise wire.BadRequest("a timeout event's time is the deadline")
        return deadline
    check_stamp(at, clock.last_at, now, skew_ms)
    if claim:
        return check_timed_out(at, deadline)
    check_time_left(at, deadline)
    return None
