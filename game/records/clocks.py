"""A timed game's clocks move by move, as the record formats write them (pure).

The servers answer the mover's time right after each move, its increment
added (``MoveClocks``, :class:`~game.records.record.RecordClock`'s
``move_clocks``).  PDN writes both clocks after every move; GGF writes the
time each move took.  Both follow from the mover's clocks and the time
control alone, with the clock arithmetic of PROTOCOL.md: a seat's clock
stands still while the other seat thinks, a live move adds the increment.
"""

from __future__ import annotations

from collections.abc import Sequence

from game.timecontrol import parse_time_control


def clocks_after_moves(
    control: str, first_seat: int, move_clocks: Sequence[int]
) -> list[tuple[int, int]]:
    """Both seats' clocks (ms) right after each move: the mover's as
    ``move_clocks`` says, the other's as its own last move left it (its
    starting time before its first move).

    :param first_seat: the seat that made the first move.
    """
    base = parse_time_control(control).base_ms
    both = [base, base]
    after = []
    for ply, clock in enumerate(move_clocks):
        both[(first_seat + ply) % 2] = clock
        after.append((both[0], both[1]))
    return after


def move_times(control: str, first_seat: int, move_clocks: Sequence[int]) -> list[int]:
    """The time (ms) each move of a live game took: its mover's clock before
    it, plus the increment, less its clock after it."""
    parsed = parse_time_control(control)
    before = [parsed.base_ms, parsed.base_ms]
    times = []
    for ply, clock in enumerate(move_clocks):
        seat = (first_seat + ply) % 2
        times.append(before[seat] + parsed.increment_ms - clock)
        before[seat] = clock
    return times


def clocks_from_times(control: str, first_seat: int, times: Sequence[int]) -> tuple[int, ...]:
    """The mover's clock after each move of a live game, from the time each
    took (:func:`move_times` undone)."""
    parsed = parse_time_control(control)
    before = [parsed.base_ms, parsed.base_ms]
    clocks = []
    for ply, spent in enumerate(times):
        seat = (first_seat + ply) % 2
        before[seat] += parsed.increment_ms - spent
        clocks.append(before[seat])
    return tuple(clocks)
