"""Time in a chaos run: the servers' clock offsets, the bots' time controls,
and the bounds the checker holds timed games to.

Pure functions of the seed and the tuning, so that a run's header can print
them and the checker and its tests can use the same numbers.

- Each server runs with its own clock offset (``--clock-offset-ms``), drawn
  from the seed in ``[-clock_skew / 2, +clock_skew / 2]``: any two servers
  differ by at most ``clock_skew``, as PROTOCOL.md allows.
- A share of the bots' games are timed, with short live controls
  (:data:`CONTROLS`), so that clocks run out during a run; in some of them
  one seat stops moving on purpose (:class:`TimedPlay`).
- The bots start no timed game and stop moving in their timed games
  :func:`timed_lead` seconds before the end, so that every deadline has
  passed, and every flagged game has had its ``flag_grace``, shortly after
  the bots stop (:func:`timed_settle`): the servers then make no more
  changes of their own, and convergence can be measured.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Final

import attrs

from game.timecontrol import parse_time_control

#: The controls of the timed games: short, so that clocks run out in a run.
CONTROLS: Final = ("live:10+0", "live:15+2")
#: Milliseconds after the opponent's deadline at which a bot claims (the
#: client's :data:`~game.client.flagwatch.CLAIM_MARGIN_MS`).
CLAIM_MARGIN_MS: Final = 250
#: A bot that plays a timed game stops after at most this many moves of its own.
FLAG_AFTER_MOVES: Final = 8


@attrs.frozen
class TimedPlay:
    """How the bots play timed games.

    :ivar share: the fraction of games that are timed.
    :ivar flag_rate: the fraction of timed games in which one seat stops
        moving on purpose (after a few moves) and lets its time run out.
    :ivar claim_rate: the fraction of flagged games whose opponent claims the
        win (``ClaimTimeout``); the others are left to the servers' own timeout.
    :ivar controls: the time controls, taken in turn at random.
    """

    share: float = 0.35
    flag_rate: float = 0.5
    claim_rate: float = 0.5
    controls: Sequence[str] = CONTROLS

    @property
    def longest_ms(self) -> int:
        """The most time a seat can hold after a move: base plus increment (the
        bots think longer when they hold more than the base, see
        :meth:`tests.chaos.bots.ChaosBot.play_game`)."""
        if not self.controls:
            return 0
        longest = 0
        for text in self.controls:
            control = parse_time_control(text)
            longest = max(longest, control.base_ms + control.increment_ms)
        return longest


def server_offsets(seed: int, clock_skew: float, ids: Sequence[int] = (1, 2, 3)) -> dict[int, int]:
    """Each server's clock offset in ms, drawn from ``seed``: within
    ``clock_skew / 2`` of the true time, so any two differ by at most ``clock_skew``."""
    rng = random.Random(f"{seed}-clock-offsets")
    half = int(clock_skew * 1000) // 2
    return {sid: rng.randint(-half, half) for sid in ids}


def describe_offsets(offsets: Mapping[int, int]) -> str:
    return ", ".join(f"server {sid} {offset:+d} ms" for sid, offset in sorted(offsets.items()))


def timed_lead(play: TimedPlay, clock_skew: float) -> float:
    """Seconds before the end of the run at which the bots stop timed play: a
    seat holds at most :attr:`TimedPlay.longest_ms` after its last move, and a
    request stamped before the stop lands at most ``clock_skew`` later."""
    return play.longest_ms / 1000 + clock_skew


def timed_settle(flag_grace: float, clock_skew: float) -> float:
    """Seconds after the end of the run by which every timed game of the bots
    is past its deadline by ``flag_grace`` on every server's clock (offsets
    of up to ``clock_skew / 2``), plus a second for the timer and the commit."""
    return flag_grace + clock_skew / 2 + 1.0


def catch_up_bound(tuning: Mapping[str, float]) -> float:
    """The catch-up time of the overdue check, in seconds.

    After the deadline plus ``flag_grace`` on its clock, a serving server
    ends the game at once (its one timer); one that was down or cut off
    first waits for a peer (``startup_wait``) and catches up
    (``catchup_timeout``) before it serves and ends what is overdue, and the
    others take the event at the latest at their next anti-entropy pass
    (``anti_entropy_interval``).  A game still active on every converged
    server this long after its deadline plus the grace is a violation.
    """
    return (
        float(tuning["startup_wait"])
        + float(tuning["catchup_timeout"])
        + float(tuning["anti_entropy_interval"])
    )
