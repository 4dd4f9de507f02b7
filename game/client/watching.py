"""Watched games on the client: the latest document each server pushed,
and what the watch shows from them (two identical documents, or the most
advanced one, provisional).  :meth:`game.client.client.ReplicatedClient.watch`
keeps one :class:`GameWatch` per game."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from game.client.document import GameDocument
from game.client.majority import agreed


@attrs.frozen
class WatchUpdate:
    """The document a watch shows now, and the servers behind it.

    ``provisional`` is true when no two servers hold the same document;
    ``versions`` maps each watching server to the version it holds.
    """

    game_id: str
    document: str
    provisional: bool
    agreed: tuple[int, ...]
    versions: dict[int, int]

    def game_document(self) -> GameDocument:
        """The document shown, typed."""
        return GameDocument.from_json(self.document)


class GameWatch:
    """One watched game: the latest document of every linked server."""

    def __init__(self, game_id: str, listener: Callable[[WatchUpdate], None]) -> None:
        self.game_id = game_id
        self.listener = listener
        self.documents: dict[int, tuple[int, str]] = {}
        self.shown: WatchUpdate | None = None

    def offer(self, server_id: int, document: str) -> None:
        # Answers on one connection arrive in order, so the latest is what the
        # server holds, even when a fork resolution moved it back.
        self.documents[server_id] = (GameDocument.from_json(document).version, document)
        self.refresh()

    def forget(self, server_id: int) -> None:
        if self.documents.pop(server_id, None) is not None:
            self.refresh()

    def current(self) -> WatchUpdate | None:
        if not self.documents:
            return None
        versions = {server_id: version for server_id, (version, _) in self.documents.items()}
        # Documents are compared as text, byte for byte.
        held = [(server_id, text) for server_id, (_, text) in sorted(self.documents.items())]
        majority = agreed(held, key=lambda holding: holding[1])
        if majority:
            ids = tuple(server_id for server_id, _ in majority)
            return WatchUpdate(self.game_id, majority[0][1], False, ids, versions)
        # No two agree: show the most advanced document, marked provisional.
        server_id, (_, document) = max(self.documents.items(), key=lambda item: item[1][0])
        return WatchUpdate(self.game_id, document, True, (server_id,), versions)

    def refresh(self) -> None:
        update = self.current()
        if update is not None and update != self.shown:
            self.shown = update
            self.listener(update)
