"""Bringing this replica in line with its peers: catch-up, repair, forks.

Three ways in, one mechanism:

- :meth:`Synchronizer.differing_games` finds the games that differ from a
  peer without listing them all: both sides keep a 16-ary tree of XOR
  digests over SHA-256 prefixes of the game ids, and the caller descends
  only into nodes whose digests differ, down to the leaf buckets.
- :meth:`Synchronizer.reconcile` brings one game in line: it asks both peers
  for their history relative to this replica's head (only the missing events
  travel when one history extends the other), lets :func:`forks.resolve`
  decide, and adopts the winner.
- :meth:`Synchronizer.rebuild_from` copies every game from one peer, for an
  empty database.

Only state from authenticated peers is accepted.  Every history adopted
game by game is replayed through the rules before it is stored; the games
of a rebuild are stored as the peer's index describes them and replayed
when first read (:mod:`game.server.dumps`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

import attrs
from twisted.internet import defer, error
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from game import errors as wire
from game.link import LinkDown
from game.protocol import (
    MAX_BUCKETS,
    MAX_HISTORIES,
    PeerBucket,
    PeerBuckets,
    PeerEvents,
    PeerHistories,
    PeerTree,
)
from game.server import dumps, forks, rebuild
from game.server.gamelog import InvalidEvent
from game.server.histories import (
    History,
    Unsettled,
    common_prefix,
    head_hex,
    heads_of,
    history_from,
)
from game.server.index import TREE_DEPTH, parse_children
from game.server.peers import PeerLink
from game.server.replica import DamagedGame, Replica

log = Logger(namespace="replgame.sync")

_T = TypeVar("_T")

#: Tree nodes asked for in one PeerTree request (16 children each).
TREE_BATCH = 200
#: PeerTree (of one level), and PeerBuckets, requests in flight at the same time.
TREE_PARALLEL = BUCKETS_PARALLEL = 4
#: Batches of games (PeerHistories) reconciled at the same time.
BATCHES_PARALLEL = 3
#: Pages fetched for one game before giving up on a history that keeps moving.
MAX_PAGES = 100


class Unreachable(Exception):
    """A peer did not answer about a game in time."""


#: Failures that only mean a peer cannot answer now: no warning for these.
PEER_DOWN = (
    Unreachable,
    LinkDown,
    wire.NotServing,
    defer.TimeoutError,
    defer.CancelledError,
    error.ConnectionLost,
    error.ConnectionDone,
)


@attrs.define
class SyncStats:
    """What one catch-up moved, for the logs and ``ServerInfo``'s last catch-up."""

    games: int = 0
    events: int = 0
    forks: int = 0
    waiting: int = 0
    #: Bytes received from the peers meanwhile, and how long it took
    #: (a whole catch-up, a rebuild, or one game's reconcile).
    bytes: int = 0
    seconds: float = 0.0
    #: The peers that held the histories adopted.
    sources: set[int] = attrs.field(factory=set)

    def add(self, other: SyncStats) -> None:
        self.games += other.games
        self.events += other.events
        self.forks += other.forks
        self.waiting += other.waiting
        self.bytes += other.bytes
        self.seconds += other.seconds
        self.sources |= other.sources


class Synchronizer:
    """Catch-up, read repair, anti-entropy and rebuild for one replica."""

    def __init__(
        self,
        replica: Replica,
        links: dict[int, PeerLink],
        clock: IReactorTime,
        catchup_timeout: float,
        serving: Callable[[], bool] = lambda: True,
    ) -> None:
        self.replica = replica
        #: Until the server serves, no game has a watcher: a catch-up stores
        #: the winners as the peers' index entries say, unreplayed till read.
        self.serving = serving
        self.links = links
        self.clock = clock
        self.catchup_timeout = catchup_timeout
        self._reconciling: dict[str, list[Deferred[SyncStats]]] = {}
        #: Events adopted from peers so far (``replgame_events_adopted_total``).
        self.events_adopted = 0

    # -- one game ------------------------------------------------------------

    def reconcile(self, game_id: str) -> Deferred[SyncStats]:
        """Compare one game with the reachable peers and repair it here.

        Concurrent calls for one game share the work.
        """
        result: Deferred[SyncStats] = Deferred()
        waiters = self._reconciling.get(game_id)
        if waiters is not None:
            waiters.append(result)
            return result
        self._reconciling[game_id] = [result]
        # The waiters have the outcome, failure included: nothing more to handle.
        _deferred(self._reconcile(game_id)).addBoth(self._finish, game_id).addErrback(
            lambda _: None
        )
        return result

    def _finish(self, outcome: SyncStats | Failure, game_id: str) -> SyncStats | Failure:
        """Answer everyone waiting for the reconcile of one game; pass ``outcome`` on."""
        for waiter in self._reconciling.pop(game_id):
            if isinstance(outcome, Failure):
                waiter.errback(outcome)
            else:
                waiter.callback(outcome)
        return outcome

    async def _reconcile(self, game_id: str) -> SyncStats:
        started, received = time.monotonic(), self._bytes_received()
        own = self._own_history(game_id)
        fetches = [
            _deferred(self._fetch_history(link, game_id, own)) for link in self.links.values()
        ]
        outcomes = await _each(fetches)
        peers: list[History] = []
        for outcome, link in zip(outcomes, self.links.values(), strict=True):
            if isinstance(outcome, Failure):
                _log_unreachable(outcome.value, link, game_id)
                peers.append(None)
            else:
                peers.append(outcome)
        stats = await self._settle(game_id, peers)
        stats.bytes = self._bytes_received() - received
        stats.seconds = time.monotonic() - started
        return stats

    def _bytes_received(self) -> int:
        return sum(link.bytes_received for link in self.links.values())

    async def _settle(
        self,
        game_id: str,
        peers: list[History],
        entries: list[list[Any] | None] | None = None,
        known: tuple[bytes, tuple[str, ...]] | None = None,
    ) -> SyncStats:
        """Decide between our history of a game and the peers' ones, and adopt the winner.

        :param peers: each peer's history, ``()`` if it lacks the game,
            ``None`` if it could not answer.
        :param entries: each peer's index entry for its history, if sent
            (:func:`dumps.entry_fields`): the winner is stored unreplayed.
        :param known: our head and history when the peers were asked.
        """
        # The local history may have moved while we asked: decide on the current one.
        if entries is not None:
            stored = self._stored_history(game_id, known)
            own, damaged = stored or (), stored is None and game_id in self.replica.index
        else:
            own, damaged = self._own_history(game_id), False
        decision = forks.resolve(own, peers)
        stats = SyncStats()
        if decision.history is None:
            stats.waiting = 1
            log.info(
                "game {game_id} forks at version {version} and the third replica is "
                "unreachable; waiting for it",
                game_id=game_id,
                version=(decision.fork_at or 0) + 1,
            )
            return stats
        unchanged = decision.history == own and not damaged
        if unchanged and (entries is not None or not self.replica.is_damaged(game_id)):
            return stats
        common = common_prefix(own, decision.history)
        entry = next(
            (
                fields
                for history, fields in zip(peers, entries or [], strict=False)
                if fields is not None and history == decision.history
            ),
            None,
        )
        try:
            if entry is not None and not damaged:
                copied = dumps.with_entry(game_id, decision.history, entry, common)
                await self.replica.adopt_copied([copied.as_copy()])
            else:
                await self.replica.adopt(game_id, decision.history)
        except (InvalidEvent, dumps.BadDumpLine) as error:
            log.error(
                "refusing a history of game {game_id} that does not replay: {error}",
                game_id=game_id,
                error=str(error),
            )
            return stats
        stats.games = 1
        stats.events = len(decision.history) - common
        # ``peers`` is in the order of ``self.links``.
        stats.sources = {
            peer_id
            for peer_id, history in zip(self.links, peers, strict=False)
            if history == decision.history
        }
        self.events_adopted += stats.events
        if common < len(own):
            stats.forks = 1
            log.warn(
                "game {game_id}: adopted the branch that won by {rule} at version "
                "{version}; discarded {count} local event(s): {discarded}",
                game_id=game_id,
                rule=decision.rule,
                version=common + 1,
                count=len(own) - common,
                discarded=json.dumps([json.loads(event) for event in own[common:]]),
            )
        return stats

    def _stored_history(
        self, game_id: str, known: tuple[bytes, tuple[str, ...]] | None = None
    ) -> tuple[str, ...] | None:
        """Our event texts of a game, checked against its entry's head, not
        replayed (``known``: ``(head, texts)`` read before, if still current);
        ``()`` if we lack it, ``None`` if damaged."""
        entry = self.replica.index.get(game_id)
        if entry is None:
            return ()
        if known is not None and known[0] == entry.head:
            return known[1]
        events = self.replica.stored_history(game_id)
        if events is None:
            log.error("stored game {game_id!r} is damaged; repairing it from the peers",
                      game_id=game_id)  # fmt: skip
            return None
        return tuple(events)

    def _own_history(self, game_id: str) -> tuple[str, ...]:
        try:
            game = self.replica.game(game_id)
        except DamagedGame as error:
            # Count our copy as missing: the peers' copies decide, and the
            # winner replaces it.
            log.error("{error}; repairing it from the peers", error=str(error))
            return ()
        return tuple(game.event_json) if game is not None else ()

    async def _fetch_history(
        self, link: PeerLink, game_id: str, own: tuple[str, ...]
    ) -> tuple[str, ...]:
        """A peer's history of the game, fetching only what ``own`` lacks
        when the peer's history extends it.  ``()`` if the peer lacks it."""
        if not link.ready:
            raise Unreachable(link.peer_id)
        history = list(own)
        heads = heads_of(history)
        since = len(history)
        for _ in range(MAX_PAGES):
            try:
                answer = await link.call(
                    PeerEvents,
                    timeout=self.catchup_timeout,
                    game_id=game_id,
                    since=since,
                    head=heads[since].hex(),
                )
            except wire.UnknownGame:
                return ()
            start: int = answer["start"]
            version: int = answer["version"]
            events: list[str] = answer["events"]
            if start == since:  # the peer's history extends what we sent
                del history[since:]
                history.extend(events)
            elif start == version < since:  # the peer is behind, perhaps on our line
                if heads[start].hex() == answer["head"]:
                    return tuple(history[:start])
                history, since = [], 0
                heads = heads_of(history)
                continue
            elif start == 0:  # the peer's history differs early: it sent it all
                history = list(events)
            else:
                raise Unreachable(f"server {link.peer_id} answered start {start} for {since}")
            if answer["complete"]:
                return tuple(history)
            heads = heads_of(history)
            since = len(history)
        raise Unreachable(f"server {link.peer_id}: game {game_id} did not settle")

    # -- many games ------------------------------------------------------------

    async def _reconcile_batch(self, game_ids: list[str]) -> SyncStats:
        """Reconcile many games with one PeerHistories round trip per peer.

        Games already being reconciled (a client's catch-up) are joined, not
        redone; concurrent :meth:`reconcile` calls for ours join this.  The
        winners are adopted in one reactor turn, so they share one commit.

        :returns: the :class:`SyncStats` of all of them; a game whose
            reconcile failed counts as waiting.
        """
        joined = [self.reconcile(game_id) for game_id in game_ids if game_id in self._reconciling]
        mine = [game_id for game_id in game_ids if game_id not in self._reconciling]
        for game_id in mine:
            self._reconciling[game_id] = []
        try:
            trusted = not self.serving()
            owns = {
                game_id: (self._stored_history(game_id) or ())
                if trusted
                else self._own_history(game_id)
                for game_id in mine
            }
            known = {
                game_id: (self.replica.index[game_id].head, owns[game_id])
                for game_id in mine
                if trusted and owns[game_id]
            }
            links = list(self.links.values())
            fetched = await _each(
                [_deferred(self._fetch_histories(link, mine, owns)) for link in links]
            )
            found: list[dict[str, History]] = []
            entries: list[dict[str, list[Any]]] = []
            for outcome, link in zip(fetched, links, strict=True):
                if isinstance(outcome, Failure):
                    _log_unreachable(outcome.value, link, f"{len(mine)} games")
                    found.append({})
                    entries.append({})
                else:
                    found.append(outcome[0])
                    entries.append(outcome[1])
            settling = [
                _deferred(
                    self._settle(
                        game_id,
                        [histories.get(game_id) for histories in found],
                        [sent.get(game_id) for sent in entries] if trusted else None,
                        known.get(game_id),
                    )
                )
                for game_id in mine
            ]
        except Exception:
            failure = Failure()  # type: ignore[no-untyped-call]
            for game_id in mine:
                self._finish(failure, game_id)
            raise
        for game_id, deferred in zip(mine, settling, strict=True):
            deferred.addBoth(self._finish, game_id)
        total = SyncStats()
        results = await _each([*settling, *joined])
        for result, game_id in zip(results, [*mine, *["?"] * len(joined)], strict=True):
            if isinstance(result, Failure):
                total.waiting += 1
                log.warn(
                    "reconciling game {game_id} failed: {error}",
                    game_id=game_id,
                    error=result.getErrorMessage(),
                )
            else:
                total.add(result)
        return total

    async def _fetch_histories(
        self, link: PeerLink, game_ids: list[str], owns: dict[str, tuple[str, ...]]
    ) -> tuple[dict[str, History], dict[str, list[Any]]]:
        """A peer's histories of many games (PeerHistories, then PeerEvents for
        the few a batch answer does not settle).

        :returns: ``{game_id: history}``: ``()`` if the peer lacks the game,
            ``None`` if it cannot send it; and the peer's index entries of
            the histories its PeerHistories answer held whole.
        """
        if not link.ready:
            raise Unreachable(link.peer_id)
        found: dict[str, History] = {}
        entries: dict[str, list[Any]] = {}
        one_by_one: list[str] = []
        remaining = list(game_ids)
        while remaining:
            asked = remaining[:MAX_HISTORIES]
            lines = [
                f"{game_id} {len(owns[game_id])} {head_hex(owns[game_id])}" for game_id in asked
            ]
            try:
                answer = await link.call(PeerHistories, timeout=self.catchup_timeout, games=lines)
            except PEER_DOWN:
                raise
            except Exception as error:  # e.g. a peer without PeerHistories
                log.info(
                    "server {peer_id} did not answer PeerHistories ({error}); asking game by game",
                    peer_id=link.peer_id,
                    error=error,
                )
                one_by_one.extend(remaining)
                break
            answered = 0
            for line in answer["games"]:
                record = json.loads(line)
                game_id = asked[answered]
                if record.get("id") != game_id:
                    raise Unreachable(f"server {link.peer_id} answered PeerHistories out of order")
                answered += 1
                history = history_from(record, owns[game_id])
                if isinstance(history, Unsettled):
                    one_by_one.append(game_id)
                else:
                    found[game_id] = history
                    if history and "entry" in record:
                        entries[game_id] = record["entry"]
            if not answered:
                raise Unreachable(f"server {link.peer_id} answered an empty PeerHistories")
            remaining = remaining[answered:]
        for game_id in one_by_one:
            try:
                found[game_id] = await self._fetch_history(link, game_id, owns[game_id])
            except Exception as error:
                _log_unreachable(error, link, game_id)
                found[game_id] = None
        return found, entries

    # -- finding what differs ------------------------------------------------

    def differing_games(self, link: PeerLink) -> Deferred[set[str]]:
        """The ids of the games whose history differs between us and the peer."""
        return _deferred(self._differing_games(link))

    async def _differing_games(self, link: PeerLink) -> set[str]:
        differing: set[str] = set()
        frontier = [""]
        while frontier:
            deeper = await self._differing_children(link, frontier)
            if deeper and len(deeper[0]) == TREE_DEPTH:
                await self._differing_in_buckets(link, deeper, differing)
                break
            frontier = deeper
        return differing

    async def _differing_children(self, link: PeerLink, nodes: list[str]) -> list[str]:
        """The children of these tree nodes whose digests differ from the
        peer's: a few PeerTree requests in flight, not one at a time."""
        batches = [nodes[start : start + TREE_BATCH] for start in range(0, len(nodes), TREE_BATCH)]
        answers: list[list[str]] = [[] for _ in batches]
        pending = iter(enumerate(batches))

        async def ask() -> None:
            for n, batch in pending:
                answer = await link.call(PeerTree, timeout=self.catchup_timeout, prefixes=batch)
                answers[n] = answer["children"]

        await _all_or_first_failure([_deferred(ask()) for _ in batches[:TREE_PARALLEL]])
        deeper: list[str] = []
        for prefix, children in zip(nodes, (c for a in answers for c in a), strict=True):
            ours = self.replica.tree_children(prefix)
            for digit, (mine, other) in enumerate(zip(ours, parse_children(children), strict=True)):
                if mine != other:
                    deeper.append(prefix + "0123456789abcdef"[digit])
        return deeper

    async def _differing_in_buckets(
        self, link: PeerLink, buckets: list[str], differing: set[str]
    ) -> None:
        """Add to ``differing`` the games whose heads differ in these leaf buckets.

        Many buckets a request (PeerBuckets), a few requests in flight; a
        bucket too big for a page alone is read with PeerBucket.
        """
        batches = iter(range(0, len(buckets), MAX_BUCKETS))

        async def worker() -> None:
            for start in batches:
                remaining = buckets[start : start + MAX_BUCKETS]
                while remaining:
                    answer = await link.call(
                        PeerBuckets, timeout=self.catchup_timeout, prefixes=remaining
                    )
                    answered: int = answer["answered"]
                    if not 0 <= answered <= len(remaining):
                        raise Unreachable(f"server {link.peer_id} answered {answered} buckets")
                    theirs: dict[str, str] = {}
                    for line in answer["games"]:
                        game_id, _, head = line.split(" ")
                        theirs[game_id] = head
                    if answered == 0:  # one bucket bigger than a page
                        theirs = await self._bucket(link, remaining[0])
                        answered = 1
                    self._compare(remaining[:answered], theirs, differing)
                    remaining = remaining[answered:]

        count = -(-len(buckets) // MAX_BUCKETS)
        workers = [_deferred(worker()) for _ in range(min(BUCKETS_PARALLEL, count))]
        await _all_or_first_failure(workers)

    def _compare(self, buckets: list[str], theirs: dict[str, str], differing: set[str]) -> None:
        """Add the games of these buckets whose heads differ here and in ``theirs``."""
        ours = {
            game_id: entry.head.hex()
            for bucket in buckets
            for game_id, entry in self.replica.bucket_heads(bucket)
        }
        differing.update(
            game_id
            for game_id in set(ours) | set(theirs)
            if ours.get(game_id) != theirs.get(game_id)
        )

    async def _bucket(self, link: PeerLink, bucket: str) -> dict[str, str]:
        heads: dict[str, str] = {}
        after = ""
        while True:
            answer = await link.call(
                PeerBucket, timeout=self.catchup_timeout, prefix=bucket, after=after
            )
            for line in answer["games"]:
                game_id, _, head = line.split(" ")
                heads[game_id] = head
            after = answer["next"]
            if not after:
                return heads

    def catch_up_with(self, link: PeerLink) -> Deferred[SyncStats]:
        """Find and repair every game that differs from one peer."""
        return _deferred(self._catch_up_with(link))

    async def _catch_up_with(self, link: PeerLink) -> SyncStats:
        started = time.monotonic()
        received = link.bytes_received
        differing = await self._differing_games(link)
        stats = await self._reconcile_all(differing)
        stats.bytes = link.bytes_received - received
        stats.seconds = time.monotonic() - started
        log.info(
            "caught up with server {peer_id}: {games} game(s) and {events} event(s) "
            "adopted, {forks} fork(s) resolved, {waiting} waiting, out of {differing} "
            "differing; {bytes} bytes received in {seconds:.3f} s",
            peer_id=link.peer_id,
            games=stats.games,
            events=stats.events,
            forks=stats.forks,
            waiting=stats.waiting,
            differing=len(differing),
            bytes=stats.bytes,
            seconds=stats.seconds,
        )
        return stats

    def reconcile_all(self, game_ids: Iterable[str]) -> Deferred[SyncStats]:
        """Reconcile many games: batches of :data:`MAX_HISTORIES`, a few at a time.

        A few workers each await one batch after another: while one batch is
        adopted, the next one's histories are on their way.
        """
        return _deferred(self._reconcile_all(game_ids))

    async def _reconcile_all(self, game_ids: Iterable[str]) -> SyncStats:
        total = SyncStats()
        ordered = sorted(game_ids)
        batches = iter(range(0, len(ordered), MAX_HISTORIES))

        async def worker() -> None:
            for start in batches:
                stats = await self._reconcile_batch(ordered[start : start + MAX_HISTORIES])
                total.add(stats)

        await DeferredList([_deferred(worker()) for _ in range(BATCHES_PARALLEL)])
        return total

    # -- a whole database ----------------------------------------------------

    def rebuild_from(self, link: PeerLink) -> Deferred[SyncStats]:
        """Copy every game a peer holds into a new database.

        A rebuild cut short (the server killed) resumes after the last game
        it copied; games that changed meanwhile are the catch-up's to fix.
        """
        return _deferred(self._rebuild_from(link))

    async def _rebuild_from(self, link: PeerLink) -> SyncStats:
        started = time.monotonic()
        received = link.bytes_received
        after = self.replica.sorted_ids[-1] if self.replica.sorted_ids else ""
        if after:
            log.info(
                "resuming the rebuild from server {peer_id} after game {after} "
                "({games} game(s) copied before)",
                peer_id=link.peer_id,
                after=after,
                games=len(self.replica.sorted_ids),
            )
        copy = rebuild.Rebuild(
            self.replica,
            link,
            self.catchup_timeout,
            lambda game_id: self._fetch_history(link, game_id, ()),
        )
        try:
            await copy.run(after)
        finally:
            self.events_adopted += copy.events
        stats = SyncStats(games=copy.games, events=copy.events, sources={link.peer_id})
        stats.bytes = link.bytes_received - received
        stats.seconds = time.monotonic() - started
        log.info(
            "rebuilt {games} game(s) ({events} events) from server {peer_id}: "
            "{bytes} bytes received in {seconds:.3f} s",
            games=stats.games,
            events=stats.events,
            peer_id=link.peer_id,
            bytes=stats.bytes,
            seconds=stats.seconds,
        )
        return stats


def _deferred(coroutine: Coroutine[Deferred[Any], Any, _T]) -> Deferred[_T]:
    """Run a coroutine of ours as a Deferred (what node.py and DeferredList take)."""
    return Deferred.fromCoroutine(coroutine)


async def _each(deferreds: list[Deferred[_T]]) -> list[_T | Failure]:
    """Wait for all; each one's result or failure, in order."""
    results = await DeferredList(deferreds, consumeErrors=True)
    return [outcome for _, outcome in results]


async def _all_or_first_failure(deferreds: list[Deferred[None]]) -> None:
    """Wait for all, or fail with the first failure (the others' are consumed)."""
    try:
        await DeferredList(deferreds, fireOnOneErrback=True, consumeErrors=True)
    except defer.FirstError as error:
        error.subFailure.raiseException()


def _log_unreachable(error: BaseException | None, link: PeerLink, what: str) -> None:
    if not isinstance(error, PEER_DOWN):
        log.warn(
            "could not read {what} from server {peer_id}: {error}",
            what=f"game {what}" if " " not in what else what,
            peer_id=link.peer_id,
            error=str(error),
        )
