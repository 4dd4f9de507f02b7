"""What a server sends its peers about its games, a page at a time (pure).

The serving side of :mod:`game.server.sync`: each function answers one peer
command from the replica, synchronously, and returns the answer's values.
AMP caps a value at 65,535 bytes, so every answer that lists games or
events stops at :data:`~game.protocol.LIST_BUDGET` bytes and says where
the next page starts.  A game whose stored copy is damaged is never sent.

:raises BadRequest: from the functions whose arguments AMP's types cannot
    check (tree prefixes, buckets, history lines).
"""

from __future__ import annotations

import bisect
import re
from typing import Any

import attrs
from twisted.logger import Logger

from game import errors as wire
from game import protocol as p
from game.server import dumps
from game.server.gamelog import GameLog, canonical_json
from game.server.histories import heads_of
from game.server.index import TREE_DEPTH, format_children
from game.server.replica import DamagedGame, Replica

log = Logger(namespace="replgame.paging")

#: Bytes of one PeerDump page: half a value, so that a server feeding a
#: rebuild never holds its reactor for long (its own clients wait at most
#: one page's work, about a millisecond).
DUMP_BUDGET = p.LIST_BUDGET // 2
#: Tree nodes one PeerTree may ask for.
MAX_TREE_PREFIXES = 256
#: Room left in a PeerHistories page for an answer's own fields (id, kind,
#: heads, index entry).
_RECORD_FIELDS = 500

_TREE_PREFIX = re.compile(f"[0-9a-f]{{0,{TREE_DEPTH - 1}}}")
_BUCKET = re.compile(f"[0-9a-f]{{{TREE_DEPTH}}}")


@attrs.frozen
class Page:
    """Lines of one answer, and where the next page starts (``""``: none)."""

    lines: list[str]
    next: str = ""


@attrs.frozen
class HistoryRequest:
    """One game of a PeerHistories request: the caller holds ``since``
    events of it, whose head is ``head``."""

    game_id: str
    since: int
    head: str


def tree_page(replica: Replica, prefixes: list[str]) -> list[str]:
    """PeerTree: the 16 child digests of each tree node named."""
    if len(prefixes) > MAX_TREE_PREFIXES or not all(_TREE_PREFIX.fullmatch(x) for x in prefixes):
        raise wire.BadRequest(
            f"at most {MAX_TREE_PREFIXES} tree prefixes of 0-{TREE_DEPTH - 1} hex digits"
        )
    return [format_children(replica.tree_children(prefix)) for prefix in prefixes]


def bucket_page(replica: Replica, prefix: str, after: str) -> Page:
    """PeerBucket: ``"id version head"`` of the games in one leaf bucket, after ``after``."""
    if not _BUCKET.fullmatch(prefix):
        raise wire.BadRequest(f"a bucket is {TREE_DEPTH} hex digits")
    lines: list[str] = []
    size = 0
    for game_id, entry in replica.bucket_heads(prefix):
        if after and game_id <= after:
            continue
        line = f"{game_id} {entry.version} {entry.head.hex()}"
        if size + len(line) + 2 > p.LIST_BUDGET:
            return Page(lines, lines[-1].split(" ")[0])
        lines.append(line)
        size += len(line) + 2
    return Page(lines)


class StoredHistory:
    """What a peer command sends of a game: its kind and event texts as
    stored, and the heads along them (hashed, not replayed)."""

    def __init__(self, kind: str, event_json: list[str]) -> None:
        self.kind = kind
        self.event_json = event_json
        self.heads = heads_of(event_json)

    @property
    def version(self) -> int:
        return len(self.event_json)

    @property
    def head(self) -> bytes:
        return self.heads[-1]


def stored_history(replica: Replica, game_id: str) -> GameLog | StoredHistory | None:
    """A game as the peer commands send it: the cached game, or its stored
    events checked against its index entry (version and head), not replayed.

    :returns: ``None`` if this replica lacks the game.
    :raises DamagedGame: the stored events do not match the index entry.
    """
    cached = replica.cached_game(game_id)
    if cached is not None:
        return cached
    entry = replica.index.get(game_id)
    if entry is None:
        return None
    events = replica.stored_history(game_id)
    if events is None:
        raise DamagedGame(game_id, "its events do not match its index entry")
    return StoredHistory(entry.kind, events)


def buckets_page(replica: Replica, prefixes: list[str]) -> tuple[list[str], int]:
    """PeerBuckets: the lines of :func:`bucket_page` for as many whole
    buckets as fit one page, and how many buckets that is."""
    if len(prefixes) > p.MAX_BUCKETS or not all(_BUCKET.fullmatch(x) for x in prefixes):
        raise wire.BadRequest(f"at most {p.MAX_BUCKETS} buckets of {TREE_DEPTH} hex digits")
    lines: list[str] = []
    size = 0
    for answered, prefix in enumerate(prefixes):
        bucket = [
            f"{game_id} {entry.version} {entry.head.hex()}"
            for game_id, entry in replica.bucket_heads(prefix)
        ]
        cost = sum(len(line) + 2 for line in bucket)
        if size + cost > p.LIST_BUDGET:
            return lines, answered
        lines += bucket
        size += cost
    return lines, len(prefixes)


def events_page(replica: Replica, game_id: str, since: int, head: str) -> dict[str, Any]:
    """PeerEvents: one game's events relative to the caller's head (see
    :func:`history_answer`).

    :raises UnknownGame: this replica lacks the game.
    :raises NotServing: its copy is damaged.
    """
    try:
        game = stored_history(replica, game_id)
    except DamagedGame as error:
        raise wire.NotServing(str(error)) from None  # never spread a damaged copy
    if game is None:
        raise wire.UnknownGame()
    return history_answer(game, since, head, p.LIST_BUDGET)


def histories_page(replica: Replica, requests: list[HistoryRequest]) -> list[str]:
    """PeerHistories: one canonical JSON record per game asked, in order,
    as many as fit in one value (the caller asks again for the rest)."""
    lines: list[str] = []
    size = 0
    for request in requests:
        game_id = request.game_id
        try:
            game = stored_history(replica, game_id)
        except DamagedGame as error:
            log.error("PeerHistories: leaving out {error}", error=str(error))
            record: dict[str, Any] = {"id": game_id, "unavailable": True}
        else:
            if game is None:
                record = {"id": game_id, "unknown": True}
            else:
                budget = p.LIST_BUDGET - size - _RECORD_FIELDS
                history = history_answer(game, request.since, request.head, budget, embedded=True)
                record = {"id": game_id, **history}
                if record["complete"]:
                    # What this replica's index says of it: a catch-up that
                    # adopts this history may store it without replaying it.
                    record["entry"] = dumps.entry_fields(replica.index[game_id])
                if not record["complete"] and lines:
                    break  # the rest of the page is too small: asked again
        line = canonical_json(record)
        cost = len(line.encode()) + 2
        if size + cost > p.LIST_BUDGET:
            break
        lines.append(line)
        size += cost
    return lines


def dump_page(replica: Replica, after: str) -> Page:
    """PeerDump: whole games in id order after ``after``, each with what its
    index entry says (:func:`game.server.dumps.dump_line`); a game too big
    for a quarter page as ``{"id", "more": true}`` (fetched with PeerEvents).

    The stored events are checked against the entry's version and head,
    not replayed: a page costs a few milliseconds of the reactor, so the
    clients of a server that feeds a rebuild keep their latency.
    """
    lines: list[str] = []
    size = 0
    last_id = ""
    ids = replica.sorted_ids
    for position in range(bisect.bisect_right(ids, after), len(ids)):
        game_id = ids[position]
        events = replica.stored_history(game_id)
        if events is None:
            log.error(
                "PeerDump: leaving out stored game {game_id!r}: its events do not match "
                "its index entry",
                game_id=game_id,
            )
            continue
        line = dumps.dump_line(game_id, events, replica.index[game_id])
        if len(line.encode()) > p.LIST_BUDGET // 4:
            line = canonical_json({"id": game_id, "more": True})
        cost = len(line.encode()) + 2
        if size + cost > DUMP_BUDGET:
            return Page(lines, last_id)
        lines.append(line)
        size += cost
        last_id = game_id
    return Page(lines)


def history_requests(lines: list[str]) -> list[HistoryRequest]:
    """The games of a PeerHistories request.

    :raises BadRequest: too many, or a line that is not ``"game_id since head"``.
    """
    if len(lines) > p.MAX_HISTORIES:
        raise wire.BadRequest(f"at most {p.MAX_HISTORIES} games in one PeerHistories")
    return [history_request(line) for line in lines]


def history_request(line: str) -> HistoryRequest:
    """One ``"game_id since head"`` line of a PeerHistories request.

    :raises BadRequest: it is not one.
    """
    try:
        game_id, since_text, head = line.split(" ")
        since = p.BoundedInteger(0, p.MAX_VERSION).fromString(since_text.encode())
        return HistoryRequest(p.check_game_id(game_id), since, p.Hex64().check(head))
    except ValueError:
        raise wire.BadRequest(f"not a 'game_id since head' line: {line[:80]!r}") from None


def history_answer(
    game: GameLog | StoredHistory, since: int, head: str, budget: int, embedded: bool = False
) -> dict[str, Any]:
    """A game's events from ``since`` if the caller's ``head`` there is ours,
    else from the start (PeerEvents), at most ``budget`` bytes of them.

    :param embedded: the answer goes out as JSON (PeerHistories), where each
        event costs its JSON string form, not its length-prefixed bytes.
    """
    version = game.version
    if since <= version and game.heads[since].hex() == head:
        start = since
    elif since > version:
        start = version
    else:
        start = 0
    events: list[str] = []
    size = 0
    for text in game.event_json[start:]:
        cost = len(canonical_json(text).encode()) + 1 if embedded else len(text.encode()) + 2
        if size + cost > budget:
            break
        events.append(text)
        size += cost
    return {
        "kind": game.kind,
        "version": version,
        "head": game.head.hex(),
        "start": start,
        "events": events,
        "complete": start + len(events) == version,
    }
