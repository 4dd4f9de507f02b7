"""One server's replica of every game: decisions over the store, no network.

The replica keeps in memory a small index entry per game (what ``ListGames``,
``Status`` and anti-entropy need) and a cache of recently used games; the
events themselves live in the shelve database, one row per event
(``g/<id>/<n>``), each written once.  Every change stages the game's new
events, its index entry and (once per commit) the sums that check them
(games, clock, digest, tree root) into the same transaction, and is
answered only once the group commit made it durable.
"""

from __future__ import annotations

import bisect
import json
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Final

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from game import errors as wire
from game.protocol import LIST_BUDGET
from game.server import gamelog
from game.server.commit import GroupCommitter
from game.server.events import head_of
from game.server.gamelog import Command, Event, GameLog, InvalidEvent
from game.server.index import (
    TREE_DEPTH,
    UNTIMED_FIELDS,
    IndexEntry,
    bookkeeping,
    root_of,
    tree_of,
)
from game.server.moveclocks import clocks_json, move_clocks
from game.server.storage import DELETE, FORMAT, Storage, StorageError

#: A game copied from a peer: id, index entry, event texts, events stored already.
Copy = tuple[str, IndexEntry, Sequence[str], int]
CACHE_SIZE: Final = 4096

_GAME_KEY: Final = "g/"
#: Digits of an event's number in its key (``g/<id>/<n>``): game ids hold no
#: "/", so ``g/<id>/`` is exactly one game's events, and they sort in order.
_EVENT_DIGITS: Final = 8
_INDEX_KEY: Final = "i/"
_META_KEY: Final = "meta"

log = Logger(namespace="replgame.replica")


class DamagedGame(Exception):
    """A stored game that does not read back as the index describes it."""

    def __init__(self, game_id: str, reason: str) -> None:
        super().__init__(f"stored game {game_id!r} is damaged: {reason}")
        self.game_id = game_id


class Replica:
    """The games of one server.

    :param on_change: called with ``(game_id, document)`` after every durable
        change, local or adopted from a peer (the server sends GameChanged).
    """

    def __init__(
        self,
        storage: Storage,
        committer: GroupCommitter,
        on_change: Callable[[str, str], None] = lambda game_id, document: None,
    ) -> None:
        self.storage = storage
        self.committer = committer
        self.on_change = on_change
        #: Called with ``(game_id, deadline)`` when a game's entry gets a
        #: deadline (the server's own timeouts, :mod:`game.server.timeouts`).
        self.on_deadline: Callable[[str, int], None] = lambda game_id, deadline: None
        self.index: dict[str, IndexEntry] = {}
        self.sorted_ids: list[str] = []
        self.buckets: dict[str, set[str]] = {}
        self.tree: dict[str, int] = {}
        self.clock = 0
        self.digest = 0
        # Games by (kind, status), counted on the first call of census() and
        # kept from then on: start-up does not pay for it, a scrape does not
        # walk the index.
        self._census: Counter[tuple[str, str]] | None = None
        #: A write failed to commit: this replica must serve nothing more.
        self.failed = False
        self._cache: OrderedDict[str, GameLog] = OrderedDict()
        # The meta record, staged once per commit from its latest value.
        self._at_commit = (_META_KEY, self._meta)
        self._load()

    # -- loading -------------------------------------------------------------

    def _load(self) -> None:
        """Read every index entry (one query) and check their sums against the meta record.

        Nothing is hashed: games, clock, digest and tree are sums of what
        the entries hold.  The meta record, written in the same transaction
        as every entry, holds the same sums; a mismatch means the index does
        not describe what was committed.

        :raises ValueError: an entry is malformed, or the sums disagree.
        """
        meta = self.storage.get_meta()
        self.meta = meta or {}
        # (The server builds this with the cyclic collector off: see tap.makeService.)
        self._build(self.storage.load(_INDEX_KEY), meta)

    def _build(self, records: Iterable[tuple[str, object]], meta: dict[str, Any] | None) -> None:
        """Build index, buckets, clock, digest and tree from ``(id, entry)`` pairs.

        :raises ValueError: an entry is malformed, or the sums disagree with ``meta``.
        """
        index: dict[str, IndexEntry] = {}
        buckets: dict[str, set[str]] = {}
        leaves: dict[str, int] = {}
        clock = 0
        digest = 0
        from_bytes = int.from_bytes
        make = tuple.__new__  # IndexEntry._make without its Python-level call
        fields = len(IndexEntry._fields)
        untimed = (*IndexEntry._field_defaults.values(),)
        game_id = ""
        try:
            for game_id, record in records:
                if type(record) is not tuple:
                    raise TypeError(f"{record!r:.80}")
                if len(record) == UNTIMED_FIELDS:
                    record += untimed
                elif len(record) != fields:
                    raise TypeError(f"{record!r:.80}")
                entry = index[game_id] = make(IndexEntry, record)
                _, _, _, version, doc_sha, _, bucket, leaf, _, _ = entry
                clock += version
                digest ^= from_bytes(doc_sha, "big")
                leaves[bucket] = leaves.get(bucket, 0) ^ leaf
                ids = buckets.get(bucket)
                if ids is None:
                    buckets[bucket] = {game_id}
                else:
                    ids.add(game_id)
        except TypeError as error:  # a field of the wrong type, or another shape
            raise ValueError(f"the index entry of game {game_id!r} is not one: {error}") from None
        found = bookkeeping(len(index), clock, digest, root_of(leaves))
        if meta is None:
            if index:
                raise ValueError(f"{len(index)} index entries but no meta record")
        else:
            stored = {name: meta.get(name) for name in found}
            if stored != found:
                raise ValueError(
                    "the bookkeeping in the meta record does not match the index entries: "
                    + ", ".join(
                        f"{name} {stored[name]!r:.70} recorded, {found[name]!r:.70} found"
                        for name in found
                        if stored[name] != found[name]
                    )
                )
        self.index = index
        # Entries come in key order: UTF-8 byte order is code point order.
        self.sorted_ids = list(index)
        self.buckets = buckets
        self.clock = clock
        self.digest = digest
        self.tree = tree_of(leaves)
        self._census = None

    @property
    def is_new(self) -> bool:
        """True until this database has been initialised (from peers or alone)."""
        return not self.meta.get("initialized", False)

    def mark_initialized(self) -> Deferred[None]:
        self.meta["initialized"] = True
        return self.committer.write([(_META_KEY, self._meta())])

    # -- bookkeeping -----------------------------------------------------------

    def digest_hex(self) -> str:
        return f"{self.digest:064x}"

    def tree_children(self, prefix: str) -> list[int]:
        """The digests of the 16 children of a tree node."""
        return [self.tree.get(prefix + digit, 0) for digit in "0123456789abcdef"]

    def bucket_heads(self, prefix: str) -> Iterator[tuple[str, IndexEntry]]:
        for game_id in sorted(self.buckets.get(prefix, ())):
            yield game_id, self.index[game_id]

    def _account(self, game_id: str, old: IndexEntry | None, new: IndexEntry) -> None:
        """Update clock, digest, buckets and tree for one game's change of entry."""
        digest = int.from_bytes(new.doc_sha, "big")
        value = new.leaf
        if old is None:
            self.buckets.setdefault(new.bucket, set()).add(game_id)
        else:
            self.clock -= old.version
            digest ^= int.from_bytes(old.doc_sha, "big")
            if old.bucket == new.bucket:
                value ^= old.leaf
            else:  # the old entry was damaged: it named the wrong bucket
                self.buckets[old.bucket].discard(game_id)
                self.buckets.setdefault(new.bucket, set()).add(game_id)
                self._toggle_leaf(old.bucket, old.leaf)
        self._toggle_leaf(new.bucket, value)
        self.clock += new.version
        self.digest ^= digest
        census = self._census
        if census is not None:
            if old is not None:
                census[old.kind, old.status] -= 1
            census[new.kind, new.status] += 1

    def census(self) -> Counter[tuple[str, str]]:
        """How many games this replica holds, by ``(kind, status)``."""
        if self._census is None:
            self._census = Counter((entry.kind, entry.status) for entry in self.index.values())
        return +self._census  # without the zero counts of kinds no longer held

    def _toggle_leaf(self, bucket: str, value: int) -> None:
        tree = self.tree
        for depth in range(TREE_DEPTH + 1):
            node = bucket[:depth]
            tree[node] = tree.get(node, 0) ^ value

    def _sums(self) -> dict[str, Any]:
        return bookkeeping(len(self.index), self.clock, self.digest, self.tree.get("", 0))

    def _meta(self) -> dict[str, Any]:
        self.meta.update(self._sums(), format=FORMAT)
        return dict(self.meta)

    # -- reading ---------------------------------------------------------------

    def game(self, game_id: str) -> GameLog | None:
        """The game, from the cache or the database; None if unknown."""
        game = self._cache.get(game_id)
        if game is not None:
            self._cache.move_to_end(game_id)
            return game
        entry = self.index.get(game_id)
        if entry is None:
            return None
        game = self._read_game(game_id, entry)
        self._remember(game)
        return game

    def _read_game(self, game_id: str, entry: IndexEntry) -> GameLog:
        """Read a game from the database, checked against its index entry.

        :raises DamagedGame: the record does not read back, does not replay,
            or is not the history the index (and so the digests peers see)
            describes: it is neither served nor sent to peers.
        """
        try:
            events = self._stored_events(game_id)
            if len(events) != entry.version:
                raise InvalidEvent(f"{len(events)} events stored for version {entry.version}")
            game = GameLog.from_events(game_id, events)
        except InvalidEvent as error:
            raise DamagedGame(game_id, str(error)) from None
        # Every field, the tree's bucket and leaf included: start-up took them
        # on trust (checked only in sum against the meta record).
        if IndexEntry.of(game) != entry:
            raise DamagedGame(game_id, "its events do not match its index entry")
        return game

    def _stored_events(self, game_id: str) -> list[str]:
        """A game's stored event texts, one row per event (``g/<id>/<n>``).

        :raises InvalidEvent: rows out of place, or not event texts.
        """
        events: list[str] = []
        for key, text in self.storage.scan(f"{_GAME_KEY}{game_id}/"):
            if key != event_key(game_id, len(events)) or not isinstance(text, str):
                raise InvalidEvent(f"unexpected event row {key!r}")
            events.append(text)
        return events

    def cached_game(self, game_id: str) -> GameLog | None:
        return self._cache.get(game_id)  # checked when it was read

    def stored_history(self, game_id: str) -> list[str] | None:
        """A known game's event texts, checked against its index entry's
        version and head, not replayed; ``None`` if they do not match."""
        game = self._cache.get(game_id)
        if game is not None:
            return game.event_json
        entry = self.index[game_id]
        try:
            events = self._stored_events(game_id)
        except InvalidEvent:
            return None
        matches = len(events) == entry.version and head_of(events) == entry.head
        return events if matches else None

    def is_damaged(self, game_id: str) -> bool:
        """Whether the stored copy of a known game fails its check."""
        try:
            self.game(game_id)
        except DamagedGame:
            return True
        return False

    def _remember(self, game: GameLog) -> None:
        self._cache[game.game_id] = game
        self._cache.move_to_end(game.game_id)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def document(self, game_id: str) -> Deferred[str]:
        """The durable document of a game.

        :raises UnknownGame: this replica does not hold it.
        """
        game = self.game(game_id)
        if game is None:
            raise wire.UnknownGame()
        document = game.document()
        # Never show a change before it is on disk.
        return self.committer.after_pending().addCallback(lambda _: document)

    def move_clocks(self, game_id: str) -> Deferred[str]:
        """``MoveClocks``' answer for a durable game: the mover's clock after
        each move, as canonical JSON (:mod:`game.server.moveclocks`).

        :raises UnknownGame: this replica does not hold it.
        """
        game = self.game(game_id)
        if game is None:
            raise wire.UnknownGame()
        clocks = clocks_json(move_clocks(game))
        return self.committer.after_pending().addCallback(lambda _: clocks)

    def ids_after(self, after: str) -> list[str]:
        """Every game id after ``after``, in order."""
        return self.sorted_ids[bisect.bisect_right(self.sorted_ids, after) :]

    def list_games(
        self, status: str, kind: str, player: str, limit: int, after: str
    ) -> tuple[list[str], str]:
        """One page of summaries matching the filters, and the cursor."""
        page: list[str] = []
        size = 0
        position = bisect.bisect_right(self.sorted_ids, after) if after else 0
        for game_id in self.sorted_ids[position:]:
            entry = self.index[game_id]
            if (status and entry.status != status) or (kind and entry.kind != kind):
                continue
            if player and player not in entry.players:
                continue
            summary = entry.summary(game_id)
            cost = len(summary.encode()) + 2
            if len(page) == limit or size + cost > LIST_BUDGET:
                return page, json.loads(page[-1])["id"] if page else ""
            page.append(summary)
            size += cost
        return page, ""

    # -- changing --------------------------------------------------------------

    def create(
        self, game_id: str, kind: str, player: str, seat: int, token: str, clock: str = ""
    ) -> Deferred[str]:
        """Create a game, or answer the existing one if this repeats its creation.

        :param clock: the game's time control (empty: untimed).
        :raises GameExists: a different game holds this id.
        """
        event = gamelog.create_event(kind, player, seat, token, game_id, clock)
        existing = self.game(game_id)
        if existing is not None:
            if existing.events[0] != event:
                raise wire.GameExists()
            return self.document(game_id)
        return self._store(GameLog(game_id, event))

    def apply(
        self,
        game_id: str,
        command: Command,
        now: int | None = None,
        clock_skew_ms: int = gamelog.DEFAULT_CLOCK_SKEW_MS,
    ) -> Deferred[str]:
        """Decide and apply a client command; the Deferred fires once durable.

        :param now: the server's clock (ms) for timed games' checks.
        :raises WireError: what the command answers (``UnknownGame`` and
            ``Behind`` ask the server to catch the game up first).
        """
        game = self.game(game_id)
        if game is None:
            raise wire.UnknownGame()
        outcome = gamelog.decide(game, command, now, clock_skew_ms)
        if isinstance(outcome, gamelog.Repeat):
            held = game.events[command.version]
            if held.type == gamelog.ACCEPT_REMATCH:
                return self._rematch_repeated(game, held)
            return self.document(game_id)
        if outcome.type == gamelog.OFFER_REMATCH and outcome.rematch in self.index:
            raise wire.GameExists("a game with the rematch's id exists")
        if outcome.type == gamelog.ACCEPT_REMATCH:
            return self._accept_rematch(game, outcome)
        game.append(outcome)
        return self._store(game, unchanged=game.version - 1)

    def _accept_rematch(self, game: GameLog, accept: Event) -> Deferred[str]:
        """Append an accepted rematch to the old game and create the new one
        (both seated) in the same commit; answer the new game's document.

        :raises GameExists: a different game holds the new game's id.
        """
        create, join = game.rematch_events(accept)
        existing = self._rematch_game(create, join, accept)
        # Built before the old game changes, so that nothing is half done.
        new = existing or self._new_game(create, join, accept)
        game.append(accept)
        changes, changed = self._stage(game, unchanged=game.version - 1)
        if existing is not None:  # it came first, from a peer: answer it as it is
            return self._write(changes, changed).addCallback(lambda _: existing.document())
        more, created = self._stage(new)
        return self._write(changes + more, changed + created)

    def _rematch_repeated(self, game: GameLog, accept: Event) -> Deferred[str]:
        """A repeated AcceptRematch: the new game's current document.  A
        replica that holds the accept but not yet the new game (it adopted
        the accept from a peer) creates it as the accept did: the same two
        events, which the other replicas' copies extend."""
        create, join = game.rematch_events(accept)
        existing = self._rematch_game(create, join, accept)
        if existing is not None:
            return self.document(existing.game_id)
        return self._write(*self._stage(self._new_game(create, join, accept)))

    def _rematch_game(self, create: Event, join: Event, accept: Event) -> GameLog | None:
        """The game an accepted rematch creates, if this replica holds it.

        :raises GameExists: a different game holds its id.
        """
        assert accept.rematch is not None
        existing = self.game(accept.rematch)
        if existing is not None and existing.events[:2] != [create, join]:
            raise wire.GameExists("a different game holds the rematch's id")
        return existing

    @staticmethod
    def _new_game(create: Event, join: Event, accept: Event) -> GameLog:
        assert accept.rematch is not None
        new = GameLog(accept.rematch, create)
        new.append_checked(join)
        return new

    def deadline_of(self, game_id: str) -> int | None:
        """The deadline a game's index entry holds (``None``: untimed, not active, unknown)."""
        entry = self.index.get(game_id)
        return None if entry is None else entry.deadline

    def expire(self, game_id: str) -> Deferred[str] | None:
        """Append a game's timeout event (the server's own timeout); ``None``
        if its clock does not run.  The caller decides that the time is up.

        :raises DamagedGame: the stored game does not read back.
        """
        game = self.game(game_id)
        event = None if game is None else game.timeout_event()
        if game is None or event is None:
            return None
        game.append(event)
        return self._store(game, unchanged=game.version - 1)

    def adopt(self, game_id: str, events: tuple[str, ...]) -> Deferred[str]:
        """Replace this replica's history of a game (catch-up or fork).

        :raises InvalidEvent: the history is malformed or illegal.
        """
        game = self._extended(game_id, events)
        if game is not None:
            return self._store(game, unchanged=self.index[game_id].version)
        return self._store(GameLog.from_events(game_id, list(events)))

    def adopt_copied(self, copies: list[Copy]) -> Deferred[None]:
        """Store games copied from a peer in one commit, unreplayed (see
        :mod:`game.server.dumps`; :meth:`game` checks them when read).  No
        ``on_change``: only a server that serves no client yet copies games.
        """
        changes: list[tuple[str, object]] = []
        for game_id, entry, events, unchanged in copies:
            self._cache.pop(game_id, None)
            changes += self._stage_entry(game_id, entry, events, unchanged)
        if not changes:
            return self.committer.after_pending()

        def not_durable(failure: Failure) -> Failure:
            failure.trap(StorageError)  # type: ignore[no-untyped-call]  # unannotated in Twisted
            self.failed = True
            return failure

        return self.committer.write(changes, (_META_KEY, self._meta)).addErrback(not_durable)

    def _extended(self, game_id: str, events: tuple[str, ...]) -> GameLog | None:
        """Our game, with the events of ``events`` beyond it checked and
        appended, if ``events`` extends our history (the usual catch-up):
        only the new events are replayed.  ``None`` if it does not.

        :raises InvalidEvent: a new event is malformed or illegal (the game
            is as before).
        """
        try:
            game = self.game(game_id)
        except DamagedGame:
            return None
        if game is None or len(events) <= game.version:
            return None
        if game.event_json != list(events[: game.version]):
            return None
        version = game.version
        try:
            for text in events[version:]:
                game.append_checked(Event.from_json(text))
        except InvalidEvent:
            if game.version != version:  # partly extended: read it again from the disk
                self._cache.pop(game_id, None)
            raise
        return game

    def _store(self, game: GameLog, unchanged: int = 0) -> Deferred[str]:
        """Stage a game's change: its event rows from ``unchanged`` on (the
        events before it are stored already), its index entry, and the
        bookkeeping, staged once per commit."""
        return self._write(*self._stage(game, unchanged))

    def _stage(
        self, game: GameLog, unchanged: int = 0
    ) -> tuple[list[tuple[str, object]], list[tuple[str, str]]]:
        """A game's change in memory (index, sums, cache), and its rows to
        write: ``(changes, [(game id, document)])``."""
        changes = self._stage_entry(game.game_id, IndexEntry.of(game), game.event_json, unchanged)
        self._remember(game)
        return changes, [(game.game_id, game.document())]

    def _stage_entry(
        self, game_id: str, entry: IndexEntry, event_json: Sequence[str], unchanged: int
    ) -> list[tuple[str, object]]:
        """A game's new entry in memory (index, sums), and its rows to write."""
        old = self.index.get(game_id)
        self.index[game_id] = entry
        if old is None:
            if not self.sorted_ids or game_id > self.sorted_ids[-1]:
                self.sorted_ids.append(game_id)  # a rebuild copies in id order
            else:
                bisect.insort(self.sorted_ids, game_id)
        self._account(game_id, old, entry)
        if entry.deadline is not None:
            self.on_deadline(game_id, entry.deadline)
        changes: list[tuple[str, object]] = [
            (event_key(game_id, n), event_json[n]) for n in range(unchanged, len(event_json))
        ]
        # A shorter branch adopted: its old events past the end go.
        changes += [
            (event_key(game_id, n), DELETE)
            for n in range(len(event_json), old.version if old is not None else 0)
        ]
        changes.append((_INDEX_KEY + game_id, entry.to_record()))
        return changes

    def _write(
        self, changes: list[tuple[str, object]], changed: list[tuple[str, str]]
    ) -> Deferred[str]:
        """Write staged changes in one commit; once durable, tell ``on_change``
        of every changed game and answer the last one's document."""
        # Bound methods and arguments, not two closures made per change.
        return self.committer.write(changes, self._at_commit).addCallbacks(
            self._durable, self._not_durable, callbackArgs=(changed,)
        )

    def _durable(self, _: object, changed: list[tuple[str, str]]) -> str:
        for game_id, document in changed:
            self.on_change(game_id, document)
        return changed[-1][1]

    def _not_durable(self, failure: Failure) -> Failure:
        failure.trap(StorageError)  # type: ignore[no-untyped-call]  # unannotated in Twisted
        self.failed = True  # memory now holds what the disk does not
        # Not an opinion on the game: the client should count no vote here.
        raise wire.NotServing("this server failed to write its database and is stopping")


def event_key(game_id: str, number: int) -> str:
    """The key of a game's event ``number`` (0 is its creation)."""
    return f"{_GAME_KEY}{game_id}/{number:0{_EVENT_DIGITS}d}"


__all__ = ["DamagedGame", "Event", "InvalidEvent", "Replica", "event_key"]
