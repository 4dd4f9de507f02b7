"""The lines of ``PeerDump``: a whole game and the index entry its sender holds (pure).

A rebuild copies every game from one authenticated peer.  Replaying every
event through the rules on both sides was most of its time (a profile of
100,000 games: about 60 % on each side), so a dump line carries, beside the
event texts, what the sender's index entry says about the game: kind,
status, players, the SHA-256 of its document, its head, time control and
deadline.  The sender checks the stored events against its entry's
version and head (a damaged copy is never sent) without replaying them;
the receiver checks the header's shape and types, computes the head itself
from the event texts (so the history and the anti-entropy tree are its own
sums), and stores the games without replaying them.  Every game read back from the
database is replayed and compared with its index entry
(:meth:`~game.server.replica.Replica.game`), so a game whose events do not
replay to what its entry says is found damaged on first use and repaired
from the peers, as a damaged row would be.

Nothing here is unpickled: a line is text, its header JSON checked field by field.
"""

from __future__ import annotations

import json
import re
from typing import Any

import attrs

from game.protocol import STATUSES, check_game_id
from game.rules import KINDS
from game.server.events import canonical_json, head_of
from game.server.index import IndexEntry, bucket_of, leaf_value
from game.server.replica import Copy

_HEX64 = re.compile(r"[0-9a-f]{64}")


class BadDumpLine(ValueError):
    """A PeerDump line that is not a well-formed copied game."""


@attrs.frozen
class CopiedGame:
    """One game of a PeerDump page, checked: its events and its index entry's fields.

    ``head`` is computed here from ``events``, never taken from the sender.
    """

    game_id: str
    events: tuple[str, ...]
    kind: str
    status: str
    players: tuple[str | None, str | None]
    doc_sha: bytes
    head: bytes
    clock: str
    deadline: int | None
    #: Events this replica stores already (a catch-up): not written again.
    unchanged: int = 0

    def as_copy(self) -> Copy:
        """What :meth:`Replica.adopt_copied` stores: the peer's entry, with
        the head, bucket and leaf computed here."""
        entry = IndexEntry(
            self.kind, self.status, self.players, len(self.events), self.doc_sha, self.head,
            bucket_of(self.game_id), leaf_value(self.game_id, self.head), self.clock,
            self.deadline,
        )  # fmt: skip
        return (self.game_id, entry, self.events, self.unchanged)


def dump_line(game_id: str, events: list[str], entry: IndexEntry) -> str:
    """The PeerDump line of one game: a header, then one event text a line.

    The header is the canonical JSON array ``[id, kind, status, players,
    doc, clock, deadline]`` (``doc``: the hex SHA-256 of the game's
    document).  Canonical JSON never holds a raw newline, so the event
    texts travel as they are stored, neither escaped nor parsed.
    """
    return "\n".join([canonical_json([game_id, *entry_fields(entry)]), *events])


def is_more(line: str) -> bool:
    """Whether a PeerDump line only names a game too big for a line."""
    return line.startswith("{")


def entry_fields(entry: IndexEntry) -> list[Any]:
    """An index entry as JSON values: ``[kind, status, players, doc, clock, deadline]``."""
    return [
        entry.kind, entry.status, list(entry.players), entry.doc_sha.hex(), entry.clock,
        entry.deadline,
    ]  # fmt: skip


def copied_game(line: str) -> CopiedGame:
    """Check one PeerDump line (not a :func:`is_more` one).

    :raises BadDumpLine: the header is not one, or a field is of the wrong
        type or value.
    """
    header, *events = line.split("\n")
    try:
        fields = json.loads(header)
    except ValueError:
        raise BadDumpLine(f"not a dump line header: {header[:80]!r}") from None
    if type(fields) is not list or len(fields) != 7:
        raise BadDumpLine(f"not a dump line header: {header[:80]!r}")
    game_id = fields[0]
    try:
        check_game_id(game_id)
    except (TypeError, ValueError) as error:
        raise BadDumpLine(f"not a game id: {error}") from None
    return with_entry(game_id, events, fields[1:])


def with_entry(
    game_id: str, events: list[str] | tuple[str, ...], fields: Any, unchanged: int = 0
) -> CopiedGame:
    """A game's history and a peer's index entry for it (:func:`entry_fields`), checked.

    :param unchanged: how many of the events this replica stores already.
    :raises BadDumpLine: a field is missing, or of the wrong type or value.
    """
    if type(fields) is not list or len(fields) != 6:
        raise BadDumpLine(f"game {game_id}: not an index entry")
    kind, status, players, doc, clock, deadline = fields
    if (
        not events
        or kind not in KINDS
        or status not in STATUSES
        or type(players) is not list
        or len(players) != 2
        or not all(player is None or type(player) is str for player in players)
        or type(doc) is not str
        or not _HEX64.fullmatch(doc)
        or type(clock) is not str
        or not (deadline is None or (type(deadline) is int and clock))
    ):
        raise BadDumpLine(f"game {game_id}: a field of the wrong type or value")
    return CopiedGame(
        game_id,
        tuple(events),
        kind,
        status,
        (players[0], players[1]),
        bytes.fromhex(doc),
        head_of(events),
        clock,
        deadline,
        unchanged,
    )
