"""The computers the desktop game runs for "Play the computer".

Each computer is a player like any other: it has its own
:class:`~game.client.client.ReplicatedClient` (its own links to the three
servers, its own watch, its own token), joins the game the person created
and plays it (:func:`game.client.computer.join_and_play`).  Searches run
in one worker process shared by the window's computers
(:class:`~game.client.searchpool.PoolSearch`), started with the first.
A computer stops when the window leaves its game or closes.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from game.client.bots import Abandoned, GameResult
from game.client.client import NoAnswer, NoServers, ReplicatedClient
from game.client.computer import ComputerPlayer, join_and_play
from game.client.searchpool import MoveSearch, PoolSearch
from game.config import ClusterConfig

log = Logger(namespace="replgame.gui")


class ComputerOpponents:
    """The window's computer players, by game id.

    :param make_client: a new, unstarted client for one computer.
    :param make_search: the search every computer shares (made once).
    :param think: passed to each :class:`ComputerPlayer` (None: by level).
    """

    def __init__(
        self,
        config: ClusterConfig,
        clock: IReactorTime,
        *,
        make_client: Callable[[], ReplicatedClient] | None = None,
        make_search: Callable[[], MoveSearch] | None = None,
        think: float | None = None,
    ) -> None:
        self.clock = clock
        self.make_client = make_client or (lambda: ReplicatedClient(config, clock))
        self.make_search = make_search or self._pool
        self.think = think
        self.search: MoveSearch | None = None
        #: Each game's computer: its client, and its player once seated.
        self.clients: dict[str, ReplicatedClient] = {}
        self.players: dict[str, ComputerPlayer] = {}

    def _pool(self) -> MoveSearch:
        pool = PoolSearch(self.clock)
        pool.start()
        return pool

    def start(self, game_id: str, level: int) -> Deferred[GameResult | Abandoned]:
        """A computer at ``level`` joins the open game ``game_id`` and plays it."""
        if self.search is None:
            self.search = self.make_search()
        client = self.make_client()
        self.clients[game_id] = client
        return Deferred.fromCoroutine(self._play(client, game_id, level, self.search))

    async def _play(
        self, client: ReplicatedClient, game_id: str, level: int, search: MoveSearch
    ) -> GameResult | Abandoned:
        client.start()
        try:
            await client.settled()
            if game_id not in self.clients:
                return Abandoned(game_id, "", 0, "stopped")

            def seated(player: ComputerPlayer) -> None:
                self.players[game_id] = player
                if game_id not in self.clients:
                    player.stop()  # the window left the game while the computer joined

            try:
                outcome = await join_and_play(
                    client, game_id, level, search, self.clock, think=self.think, started=seated
                )
            except (NoServers, NoAnswer) as error:
                outcome = Abandoned(game_id, "", 0, str(error))
            if isinstance(outcome, Abandoned) and outcome.reason != "stopped":
                log.warn("the computer left game {game}: {why}", game=game_id, why=outcome.reason)
            return outcome
        finally:
            self.players.pop(game_id, None)
            if self.clients.pop(game_id, None) is not None:
                client.stop()

    def playing(self) -> list[str]:
        """The games a computer plays (or is joining)."""
        return sorted(self.clients)

    def stop(self) -> None:
        """Stop every computer (the window left their games)."""
        for game_id in list(self.clients):
            client = self.clients.pop(game_id)
            player = self.players.pop(game_id, None)
            if player is not None:
                player.stop()
            client.stop()

    def close(self) -> None:
        """Stop every computer and the search worker (the window closes)."""
        self.stop()
        search, self.search = self.search, None
        if isinstance(search, PoolSearch):
            search.stop()
