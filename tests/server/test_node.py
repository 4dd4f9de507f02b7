"""When a starting server has heard enough from its peers to catch up and serve."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from game.server.node import may_catch_up
from game.server.peers import PeerState


def state(server_id: int, *, fresh: bool, games: int) -> PeerState:
    return PeerState(server_id, games, games, False, "0" * 64, "", fresh)


SEEDED = state(2, fresh=False, games=10)
NEW = state(2, fresh=True, games=0)
REBUILDING = state(3, fresh=True, games=4)


class MayCatchUpTests(SynchronousTestCase):
    def decide(self, *answered: PeerState, new: bool, holds: bool = False, over: bool) -> bool:
        return may_catch_up(
            new_database=new, holds_games=holds, answered=list(answered), peers=2, wait_over=over
        )

    def test_an_initialised_database_waits_for_every_peer_or_the_wait(self) -> None:
        self.assertFalse(self.decide(SEEDED, new=False, over=False))
        self.assertTrue(self.decide(SEEDED, state(3, fresh=False, games=1), new=False, over=False))
        self.assertTrue(self.decide(new=False, over=True))  # serves alone after startup_wait

    def test_a_new_database_copies_from_a_seeded_peer_at_once(self) -> None:
        self.assertTrue(self.decide(SEEDED, new=True, over=False))
        self.assertTrue(self.decide(SEEDED, new=True, holds=True, over=False))

    def test_a_new_cluster_starts_empty(self) -> None:
        self.assertTrue(self.decide(NEW, state(3, fresh=True, games=0), new=True, over=False))
        self.assertTrue(self.decide(NEW, new=True, over=True))
        self.assertFalse(self.decide(NEW, new=True, over=False))
        self.assertFalse(self.decide(new=True, over=True))  # nobody answered: wait

    def test_a_rebuild_in_progress_is_not_a_new_cluster(self) -> None:
        # A new peer holding games, or games of our own, come from a seeded
        # server that is down: serving without them would lose its changes.
        self.assertFalse(self.decide(NEW, REBUILDING, new=True, over=True))
        self.assertFalse(self.decide(REBUILDING, new=True, over=True))
        self.assertFalse(self.decide(NEW, new=True, holds=True, over=True))
