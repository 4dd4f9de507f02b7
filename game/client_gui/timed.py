"""The client library's calls for timed games, as the screens use them.

Protocol version 2 gives :class:`~game.client.client.ReplicatedClient` the
servers' time (``server_now``), ``create_game``'s ``clock`` and
``claim_timeout``.  The screens reach them only through :func:`timed`, so
that the two controllers name these calls in one typed place.
"""

from __future__ import annotations

from typing import Protocol, cast

from twisted.internet.defer import Deferred

from game.client.client import Outcome, ReplicatedClient


class TimedClient(Protocol):
    """What the screens call for timed games."""

    def server_now(self) -> int:
        """Now, in ms since the epoch on the servers' time scale."""

    def create_game(
        self,
        game_id: str,
        kind: str,
        player: str,
        token: str,
        seat: int = 0,
        clock: str | None = None,
    ) -> Deferred[Outcome]:
        """``CreateGame`` with a time control (None: untimed)."""

    def claim_timeout(self, game_id: str, version: int, token: str) -> Deferred[Outcome]:
        """``ClaimTimeout``: the side to move ran out of time."""


def timed(client: ReplicatedClient) -> TimedClient:
    """``client`` seen through the calls of :class:`TimedClient`."""
    return cast(TimedClient, client)
