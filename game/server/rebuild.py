"""Rebuilding an empty database from one peer: PeerDump page after page.

The fetching side of a rebuild (:meth:`game.server.sync.Synchronizer.rebuild_from`
runs it; :func:`game.server.paging.dump_page` serves it).  The next page is
on its way while this one is checked and staged, and the pages of about a
megabyte share one commit (one fsync).  Games are committed in id order,
batch after batch, so a rebuild cut short holds a prefix of the peer's
games and resumes after the last one; nothing is answered meanwhile (the
server serves no client until it has caught up).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from game.protocol import PeerDump
from game.server import dumps
from game.server.dumps import CopiedGame
from game.server.gamelog import InvalidEvent
from game.server.peers import PeerLink
from game.server.replica import Replica

log = Logger(namespace="replgame.sync")

#: PeerDump pages (about 30 kB each) stored in one commit.
COPY_PAGES_PER_COMMIT = 32


class OutOfOrder(Exception):
    """A peer sent PeerDump games out of id order: the rebuild stops (and is retried)."""


class Rebuild:
    """One rebuild from one peer.

    :param fetch_history: a game's whole history from the peer (PeerEvents),
        for a game too big for a PeerDump line.
    :ivar games: games copied so far.
    :ivar events: their events.
    """

    def __init__(
        self,
        replica: Replica,
        link: PeerLink,
        timeout: float,
        fetch_history: Callable[[str], Awaitable[tuple[str, ...]]],
    ) -> None:
        self.replica = replica
        self.link = link
        self.timeout = timeout
        self.fetch_history = fetch_history
        self.games = 0
        self.events = 0

    async def run(self, after: str) -> None:
        """Copy every game after ``after``, page after page."""
        request: Deferred[dict[str, Any]] | None = self._dump(after)
        batch: list[CopiedGame] = []
        pages = 0
        written: Deferred[None] = defer.succeed(None)
        while request is not None:
            answer = await request
            previous, after = after, answer["next"]
            request = self._dump(after) if after else None  # in flight while this one is stored
            for line in answer["games"]:
                copied, game_id = await self._copied_or_fetched(line, batch)
                if game_id is None:
                    continue
                if game_id <= previous:
                    raise OutOfOrder(f"server {self.link.peer_id} sent PeerDump out of order")
                previous = game_id
                if copied is not None:
                    batch.append(copied)
                    self.events += len(copied.events)
                else:
                    self.events += self.replica.index[game_id].version
                self.games += 1
            pages += 1
            if pages % COPY_PAGES_PER_COMMIT == 0 or request is None:
                await written  # the commit before: fails here if it failed
                written = self.replica.adopt_copied([copied.as_copy() for copied in batch])
                batch = []
        await written

    def _dump(self, after: str) -> Deferred[dict[str, Any]]:
        answer: Deferred[dict[str, Any]] = self.link.call(
            PeerDump, timeout=self.timeout, after=after
        )
        return answer

    async def _copied_or_fetched(
        self, line: str, batch: list[CopiedGame]
    ) -> tuple[CopiedGame | None, str | None]:
        """One PeerDump line: the checked game to store, or (a game too big
        for a line) the game fetched with PeerEvents, replayed and stored
        after the games before it.

        :returns: ``(copied, game_id)``; ``(None, game_id)`` for a fetched
            game; ``(None, None)`` for a line refused (logged).
        """
        try:
            if not dumps.is_more(line):
                copied = dumps.copied_game(line)
                return copied, copied.game_id
            game_id = str(json.loads(line)["id"])
            events = await self.fetch_history(game_id)
            # Stored after the games before it, so that the ids stay in order on disk.
            earlier, batch[:] = [copied.as_copy() for copied in batch], []
            await self.replica.adopt_copied(earlier)
            await self.replica.adopt(game_id, events)
            return None, game_id
        except (InvalidEvent, ValueError, KeyError, TypeError) as error:
            log.error(
                "server {peer_id} sent a game that does not replay ({line:.80}): {error}",
                peer_id=self.link.peer_id,
                line=line,
                error=str(error),
            )
            return None, None
