"""The last catch-up a server made, as ``ServerInfo`` reports it.

Kept in memory only, by the node: it is not replicated state, and a
restarted server has made none yet (its start-up catch-up is the first).
"""

from __future__ import annotations

from typing import Any

import attrs

from game.server.sync import SyncStats


@attrs.frozen
class CatchUp:
    """One finished catch-up: when (the server's clock, ms), why, from whom, how much."""

    at: int
    #: One of :data:`game.server.metrics.CATCH_UP_TRIGGERS`.
    trigger: str
    peers: tuple[int, ...]
    games: int
    events: int
    bytes: int
    seconds: float

    @classmethod
    def of(cls, at: int, trigger: str, peers: set[int], stats: SyncStats) -> CatchUp:
        return cls(
            at, trigger, tuple(sorted(peers)), stats.games, stats.events, stats.bytes,
            round(stats.seconds, 3),
        )  # fmt: skip

    def as_json(self) -> dict[str, Any]:
        """The ``last_catch_up`` object of ``ServerInfo``."""
        return {
            "at": self.at,
            "trigger": self.trigger,
            "peers": list(self.peers),
            "games": self.games,
            "events": self.events,
            "bytes": self.bytes,
            "seconds": self.seconds,
        }
