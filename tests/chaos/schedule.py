"""The fault schedule of a chaos run: a pure function of a seed.

:func:`make_plan` lays out every fault of a run before it starts (when, what,
which servers, for how long), so that the same seed replays the same
schedule.  The first faults are one of every kind, in a random order; the
rest are drawn by weight.  Faults overlap in time, but never two on the same
resource (a server's process, one proxy), and at most one server is wiped at
a time; the plan keeps a margin after each process fault for the restart.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Final

import attrs

KILL_RESTART: Final = "kill_restart"  # SIGKILL one server, restart it
STOP_CONT: Final = "stop_cont"  # SIGSTOP one server, SIGCONT it
CUT_CLIENT: Final = "cut_client"  # cut a server's client-side proxy (one direction)
CUT_PEER: Final = "cut_peer"  # cut a server's peer-side proxy (one direction)
BLACKHOLE_CLIENT: Final = "blackhole_client"
BLACKHOLE_PEER: Final = "blackhole_peer"
DELAY_CLIENT: Final = "delay_client"
DELAY_PEER: Final = "delay_peer"
WIPE_RESTART: Final = "wipe_restart"  # SIGKILL, empty the data directory, restart
TWO_DOWN: Final = "two_down"  # SIGKILL two servers, restart both
ALL_KILLED: Final = "all_killed"  # SIGKILL all three, restart all

KINDS: Final = (
    KILL_RESTART,
    STOP_CONT,
    CUT_CLIENT,
    CUT_PEER,
    BLACKHOLE_CLIENT,
    BLACKHOLE_PEER,
    DELAY_CLIENT,
    DELAY_PEER,
    WIPE_RESTART,
    TWO_DOWN,
    ALL_KILLED,
)
PROCESS_KINDS: Final = (KILL_RESTART, STOP_CONT, WIPE_RESTART, TWO_DOWN, ALL_KILLED)
LINK_KINDS: Final = tuple(kind for kind in KINDS if kind not in PROCESS_KINDS)

#: Relative frequency of each kind after the first round.
WEIGHTS: Final = {
    KILL_RESTART: 14,
    STOP_CONT: 12,
    CUT_CLIENT: 10,
    CUT_PEER: 10,
    BLACKHOLE_CLIENT: 7,
    BLACKHOLE_PEER: 7,
    DELAY_CLIENT: 7,
    DELAY_PEER: 7,
    WIPE_RESTART: 6,
    TWO_DOWN: 8,
    ALL_KILLED: 4,
}

#: How long (s) a fault holds, by kind.
HOLD: Final = {
    KILL_RESTART: (0.3, 4.0),
    STOP_CONT: (0.5, 5.0),
    CUT_CLIENT: (0.5, 6.0),
    CUT_PEER: (0.5, 6.0),
    BLACKHOLE_CLIENT: (0.5, 5.0),
    BLACKHOLE_PEER: (0.5, 5.0),
    DELAY_CLIENT: (1.0, 6.0),
    DELAY_PEER: (1.0, 6.0),
    WIPE_RESTART: (0.3, 2.0),
    TWO_DOWN: (0.5, 4.0),
    ALL_KILLED: (0.3, 3.0),
}

#: No wipe after this fraction of the duration.
WIPES_UNTIL: Final = 0.8

#: Seconds a process fault keeps its servers after the hold: the restart.
RESTART_MARGIN: Final = 3.0
#: Seconds the wipe token stays taken after a wipe's restart: the rebuild.
REBUILD_MARGIN: Final = 6.0


@attrs.frozen
class PlannedFault:
    """One fault of the plan.

    :ivar at: seconds after the bots started.
    :ivar servers: the servers it acts on (all three for ``all_killed``).
    :ivar direction: ``up`` or ``down`` for link faults.
    :ivar delay_ms: for ``delay_*``.
    """

    number: int
    at: float
    kind: str
    servers: tuple[int, ...]
    hold: float
    direction: str | None = None
    delay_ms: int | None = None

    def resources(self) -> tuple[str, ...]:
        if self.kind in PROCESS_KINDS:
            extra = ("wipe",) if self.kind == WIPE_RESTART else ()
            return tuple(f"process-{s}" for s in self.servers) + extra
        side = "client" if self.kind.endswith("_client") else "peer"
        return tuple(f"{side}-{s}" for s in self.servers)

    def describe(self) -> str:
        servers = ",".join(str(s) for s in self.servers)
        what = f"#{self.number} {self.kind} server{'s' if len(self.servers) > 1 else ''} {servers}"
        if self.direction is not None:
            what += f" {self.direction}"
        if self.delay_ms is not None:
            what += f" {self.delay_ms} ms"
        return f"{what} for {self.hold:.1f} s"

    def to_json(self) -> dict[str, object]:
        return attrs.asdict(self)


def make_plan(
    seed: int,
    duration: float,
    faults_per_minute: float,
    *,
    start: float = 3.0,
    quiet_tail: float = 2.0,
    kinds: Sequence[str] = KINDS,
) -> list[PlannedFault]:
    """Every fault of a run of ``duration`` seconds, in start order.

    One of each of ``kinds`` comes first (in a random order), however long
    it must wait for free servers; then faults arrive at random with a mean of
    ``faults_per_minute``.  No fault starts after ``duration - quiet_tail``,
    and no wipe after :data:`WIPES_UNTIL` of the duration.
    """
    rng = random.Random(seed)
    first_round = list(kinds)
    rng.shuffle(first_round)
    busy_until: dict[str, float] = {}
    plan: list[PlannedFault] = []
    mean_gap = 60.0 / faults_per_minute if faults_per_minute > 0 else float("inf")
    t = start
    last = duration - quiet_tail
    # Wipes stop early enough for the auditor to read every game after the
    # last one (see tests.chaos.harness).
    last_wipe = WIPES_UNTIL * duration
    while t < last and mean_gap != float("inf"):
        if first_round:
            # The first of the kinds still owed that fits now.
            fault = None
            for kind in first_round:
                fault = _place(rng, kind, t, len(plan) + 1, busy_until, last_wipe)
                if fault is not None:
                    first_round.remove(kind)
                    break
        else:
            allowed = [k for k in kinds if k != WIPE_RESTART or t <= last_wipe]
            kind = _weighted(rng, allowed)
            fault = _place(rng, kind, t, len(plan) + 1, busy_until, last_wipe)
        if fault is None:
            t += 0.25  # wait for the servers or links it needs
            continue
        plan.append(fault)
        end = fault.at + fault.hold
        for resource in fault.resources():
            margin = 0.2
            if resource.startswith("process-"):
                margin = RESTART_MARGIN
            elif resource == "wipe":
                margin = RESTART_MARGIN + REBUILD_MARGIN
            busy_until[resource] = end + margin
        t += max(0.2, rng.expovariate(1.0 / mean_gap))
    return plan


def _weighted(rng: random.Random, kinds: Sequence[str]) -> str:
    return rng.choices(list(kinds), weights=[WEIGHTS[kind] for kind in kinds])[0]


def _place(
    rng: random.Random,
    kind: str,
    t: float,
    number: int,
    busy_until: dict[str, float],
    last_wipe: float,
) -> PlannedFault | None:
    def free(resource: str) -> bool:
        return busy_until.get(resource, 0.0) <= t

    hold = round(rng.uniform(*HOLD[kind]), 2)
    if kind == WIPE_RESTART and t > last_wipe:
        return None
    if kind in PROCESS_KINDS:
        count = {TWO_DOWN: 2, ALL_KILLED: 3}.get(kind, 1)
        candidates = [s for s in (1, 2, 3) if free(f"process-{s}")]
        if len(candidates) < count or (kind == WIPE_RESTART and not free("wipe")):
            return None
        servers = tuple(sorted(rng.sample(candidates, count)))
        return PlannedFault(number, round(t, 2), kind, servers, hold)
    side = "client" if kind.endswith("_client") else "peer"
    candidates = [s for s in (1, 2, 3) if free(f"{side}-{s}")]
    if not candidates:
        return None
    server = rng.choice(candidates)
    direction = rng.choice(("up", "down"))
    delay_ms = rng.choice((50, 200, 500, 1000, 2500)) if kind.startswith("delay") else None
    return PlannedFault(number, round(t, 2), kind, (server,), hold, direction, delay_ms)
