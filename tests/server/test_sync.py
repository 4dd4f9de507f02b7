"""Synchronizer.rebuild_from against a fake peer link: a cut-short rebuild resumes."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import attrs
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from game import protocol as p
from game.server.gamelog import canonical_json
from game.server.replica import Replica
from game.server.storage import GroupCommitter, Storage
from game.server.sync import Synchronizer
from tests.server.test_replica import branch

IDS = [f"game-{n}" for n in range(6)]


@attrs.define
class DumpingPeer:
    """A peer link that answers PeerDump two games a page, and counts pages."""

    games: dict[str, list[str]]
    peer_id: int = 2
    bytes_received: int = 0
    asked_after: list[str] = attrs.Factory(list)

    def call(self, command: type, timeout: float | None = None, **kwargs: Any) -> Deferred[Any]:
        assert command is p.PeerDump
        after = kwargs["after"]
        self.asked_after.append(after)
        rest = [game_id for game_id in sorted(self.games) if game_id > after]
        page, more = rest[:2], rest[2:]
        lines = [canonical_json({"events": self.games[i], "id": i}) for i in page]
        return succeed({"games": lines, "next": page[-1] if more else ""})


class RebuildTests(SynchronousTestCase):
    def setUp(self) -> None:
        directory = Path(tempfile.mkdtemp(prefix="test_sync-"))
        self.addCleanup(shutil.rmtree, directory, True)
        self.clock = Clock()
        self.storage = Storage.open(directory)
        self.addCleanup(self.storage.close)
        self.replica = Replica(self.storage, GroupCommitter(self.storage, self.clock))
        self.peer = DumpingPeer({i: list(branch(i, ["4", "4"]).event_json) for i in IDS})
        self.sync = Synchronizer(self.replica, {2: self.peer}, self.clock, 5.0)  # type: ignore[dict-item]

    def rebuild(self) -> None:
        done = self.sync.rebuild_from(self.peer)  # type: ignore[arg-type]
        self.clock.advance(0)  # the group commits
        self.successResultOf(done)

    def test_an_empty_database_copies_every_page(self) -> None:
        self.rebuild()
        self.assertEqual(self.peer.asked_after, ["", "game-1", "game-3"])
        self.assertEqual(self.replica.sorted_ids, IDS)

    def test_a_rebuild_cut_short_resumes_after_the_last_game_copied(self) -> None:
        for game_id in IDS[:3]:  # what a killed rebuild left behind
            self.replica.adopt(game_id, tuple(self.peer.games[game_id]))
        self.clock.advance(0)
        self.rebuild()
        self.assertEqual(self.peer.asked_after, ["game-2", "game-4"])
        self.assertEqual(self.replica.sorted_ids, IDS)
        for game_id in IDS:
            self.assertEqual(self.replica.game(game_id).event_json, self.peer.games[game_id])
