"""A replica's index entry per game, and the anti-entropy tree over them.

Pure values and arithmetic: what :class:`~game.server.replica.Replica`
keeps in memory and stores at ``i/<id>`` for every game, where a game sits
in the tree (its bucket) and what it adds to the digests (its leaf).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from typing import Any, Final, NamedTuple

from game.server import gamelog
from game.server.gamelog import GameLog

#: Depth (hex digits of SHA-256 of the game id) of the anti-entropy tree's leaves.
TREE_DEPTH: Final = 4


@functools.lru_cache(maxsize=4096)
def bucket_of(game_id: str) -> str:
    """The leaf prefix of a game in the anti-entropy tree (remembered for
    the games in use: every change of a game needs it)."""
    return hashlib.sha256(game_id.encode()).hexdigest()[:TREE_DEPTH]


def leaf_value(game_id: str, head: bytes) -> int:
    """A game's contribution to the tree digests: changes with any event."""
    return int.from_bytes(hashlib.sha256(game_id.encode() + head).digest()[:8], "big")


class IndexEntry(NamedTuple):
    """What the replica keeps in memory about every game, stored at ``i/<id>``.

    Stored as the plain tuple of its fields (database format
    :data:`~game.server.storage.FORMAT`), and read back with one unpickle:
    ``bucket`` and ``leaf`` are the game's place and value in the
    anti-entropy tree, hashed once when the game changes so that start-up
    hashes nothing.  A game read from the database is checked against them
    (:meth:`Replica._read_game`), and the load checks their sums against
    the meta record (:meth:`Replica._load`).
    """

    kind: str
    status: str
    players: tuple[str | None, str | None]
    version: int
    doc_sha: bytes
    head: bytes
    bucket: str
    leaf: int
    #: Timed games only: the time control, and the side to move's deadline
    #: (ms) while active, so that start-up finds every deadline without
    #: replaying a game.  An untimed game's record leaves both out, as a
    #: database written before time controls does.
    clock: str = ""
    deadline: int | None = None

    @classmethod
    def of(cls, game: GameLog) -> IndexEntry:
        return cls(
            game.kind,
            game.status,
            (game.players[0], game.players[1]),
            game.version,
            hashlib.sha256(game.encoded_document()).digest(),
            game.head,
            bucket_of(game.game_id),
            leaf_value(game.game_id, game.head),
            game.control,
            game.deadline(),
        )

    def to_record(self) -> tuple[Any, ...]:
        record = tuple(self)
        return record if self.clock else record[:UNTIMED_FIELDS]

    def summary(self, game_id: str) -> str:
        """The game's ``ListGames`` summary (``GameLog.summary`` as canonical JSON)."""
        return gamelog.summary_json(
            game_id, self.kind, self.status, self.players, self.version, self.clock
        )


#: The fields of an untimed game's stored record (the whole entry before time controls).
UNTIMED_FIELDS: Final = 8


def bookkeeping(games: int, clock: int, digest: int, root: int) -> dict[str, Any]:
    """What the meta record holds about the index entries, to check them at load.

    :param root: the anti-entropy tree's root, the XOR of every entry's leaf.
    """
    return {"games": games, "clock": clock, "digest": f"{digest:064x}", "tree": f"{root:016x}"}


def root_of(leaves: dict[str, int]) -> int:
    root = 0
    for value in leaves.values():
        root ^= value
    return root


def tree_of(leaves: dict[str, int]) -> dict[str, int]:
    """Every node of the anti-entropy tree, from the digests of its leaf buckets."""
    tree = dict(leaves)
    level = leaves
    for _ in range(TREE_DEPTH):
        parents: dict[str, int] = {}
        for node, value in level.items():
            parent = node[:-1]
            parents[parent] = parents.get(parent, 0) ^ value
        tree.update(parents)
        level = parents
    return tree


def parse_children(text: str) -> list[int]:
    """A tree node's sixteen children digests, from ``PeerTree``'s text."""
    values = text.split(",")
    if len(values) != 16:
        raise ValueError("a tree node has 16 children")
    return [int(value, 16) if value else 0 for value in values]


def format_children(values: Iterable[int]) -> str:
    """A tree node's children digests as ``PeerTree`` sends them (hex, empty for 0)."""
    return ",".join(f"{value:x}" if value else "" for value in values)
