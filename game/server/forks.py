"""Which history of a game wins when replicas disagree: a pure decision.

Three replicas may hold histories of one game that differ from some version
on (a fork).  The rule, walking the histories from the start:

- where every replica that holds an event at this version holds the same
  one, it is kept (a replica that holds no event there is only behind);
- at a fork, the event that two of the three replicas hold wins, whatever
  the lengths of the branches after it; replicas on a losing branch hold no
  event from there on;
- at a fork with no such majority, if a replica is unreachable we wait for
  it (it may hold the majority's event); otherwise (the third holds no event
  at that version, or all three differ) the event whose SHA-256 of its
  canonical text is lowest wins: arbitrary, but the same on every replica.

An acknowledged change is held by two replicas, so it never loses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

import attrs

AGREED: Final = "agreed"  # no fork: the longest history extends the others
MAJORITY: Final = "majority"
TIE_BREAK: Final = "tie-break"
WAIT: Final = "wait"


@attrs.frozen
class Decision:
    """``history`` is the winning history, or None to wait for a replica.

    ``fork_at`` is the index (the version minus one) of the first fork
    decided, ``rule`` how the last fork was decided (or :data:`AGREED`).
    """

    history: tuple[str, ...] | None
    rule: str
    fork_at: int | None = None


def tie_break_key(event: str) -> bytes:
    return hashlib.sha256(event.encode()).digest()


def resolve(own: Sequence[str], peers: Sequence[Sequence[str] | None]) -> Decision:
    """Decide the history this replica should hold.

    :param own: this replica's events (canonical texts), possibly empty.
    :param peers: the two other replicas' events, None where unreachable.
    """
    replicas: list[Sequence[str] | None] = [own, *peers]
    alive = {index for index, history in enumerate(replicas) if history is not None}
    unreachable = len(replicas) - len(alive)
    rule = AGREED
    fork_at: int | None = None
    version = 0
    while True:
        holders: dict[str, set[int]] = {}
        for index in alive:
            history = replicas[index]
            assert history is not None
            if len(history) > version:
                holders.setdefault(history[version], set()).add(index)
        if not holders:
            break
        if len(holders) > 1:
            majority = [event for event, held in holders.items() if len(held) >= 2]
            if majority:
                winner, rule = majority[0], MAJORITY
            elif unreachable:
                return Decision(None, WAIT, version)
            else:
                winner, rule = min(holders, key=tie_break_key), TIE_BREAK
            if fork_at is None:
                fork_at = version
            losers = {index for event, held in holders.items() if event != winner for index in held}
            alive -= losers
        version += 1
    longest = max((replicas[index] for index in alive), key=lambda h: len(h or ()))
    assert longest is not None
    return Decision(tuple(longest), rule, fork_at)
