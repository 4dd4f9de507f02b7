"""The server's lifecycle: when a starting server has heard enough from its
peers to catch up and serve, and the logged changes of its state."""

from __future__ import annotations

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionDone
from twisted.logger import LogEvent, capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from game import errors as wire
from game.lifecycle import InvalidTransition
from game.server.node import ServerState, may_catch_up
from game.server.peers import PeerState
from game.server.sync import SyncStats
from tests.server.helpers import ServerHarness


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


class FakePeerLink:
    """A ready link whose peer reports ``answer`` (what ServerNode reads)."""

    def __init__(self, answer: PeerState) -> None:
        self.peer_id = answer.server_id
        self.answer = answer
        self.ready = True
        self.state: PeerState | None = None

    def poll_status(self) -> Deferred[PeerState]:
        self.state = self.answer
        return succeed(self.answer)


class FakeSync:
    """Catch-up and rebuild that succeed at once, recording whom they used."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def rebuild_from(self, link: FakePeerLink) -> Deferred[SyncStats]:
        self.calls.append(("rebuild", link.peer_id))
        return succeed(SyncStats())

    def catch_up_with(self, link: FakePeerLink) -> Deferred[SyncStats]:
        self.calls.append(("catch up", link.peer_id))
        return succeed(SyncStats())


def transitions(events: list[LogEvent]) -> list[tuple[str, str]]:
    return [(e["old"], e["new"]) for e in events if e.get("log_namespace") == "replgame.node"
            and "new" in e]  # fmt: skip


class LifecycleTests(SynchronousTestCase):
    """The server's state: one Enum, changed only by allowed, logged transitions."""

    def setUp(self) -> None:
        self.harness = ServerHarness(self, serving=False)
        self.node = self.harness.node

    def not_serving(self) -> str:
        with self.assertRaises(wire.NotServing) as error:
            self.node.require_serving()
        return str(error.exception)

    def test_values_are_what_not_serving_says(self) -> None:
        self.assertEqual(
            [state.value for state in ServerState],
            ["starting", "waiting for a seeded peer", "catching up", "serving", "stopping",
             "failed"],
        )  # fmt: skip
        self.assertEqual(self.node.state, ServerState.STARTING)
        self.assertEqual(self.not_serving(), "server 1 is starting")

    def test_without_peers_it_serves_at_once_and_logs_each_change(self) -> None:
        self.harness.replica.mark_initialized()
        self.harness.clock.advance(0)
        with capturedLogs() as events:
            self.node.start()
        self.assertTrue(self.node.serving)
        self.assertEqual(self.harness.clock.getDelayedCalls(), [])  # no startup_wait timer
        self.assertEqual(
            transitions(events), [("starting", "catching up"), ("catching up", "serving")]
        )
        (event,) = [e for e in events if e.get("new") == "serving"]
        self.assertEqual(event["reason"], "caught up with 0 seeded peer(s)")
        self.assertEqual(
            formatEvent(event), "server 1: catching up -> serving (" + event["reason"] + ")"
        )
        with capturedLogs() as events:
            self.node.stop()
            self.node.stop()  # once
        self.assertEqual(transitions(events), [("serving", "stopping")])
        self.assertEqual(self.not_serving(), "server 1 is stopping")

    def test_failed_is_final(self) -> None:
        self.node.fail("a commit failed: disk full")
        self.node.stop()
        self.node.fail()
        self.assertEqual(self.node.state, ServerState.FAILED)
        self.assertTrue(self.node.failed)
        self.assertEqual(self.not_serving(), "server 1 is failed")
        with self.assertRaises(InvalidTransition):
            self.node.lifecycle.enter(ServerState.SERVING, "a bug")

    def test_a_new_database_waits_for_a_seeded_peer(self) -> None:
        rebuilding = FakePeerLink(PeerState(2, 4, 4, False, "0" * 64, "", True))
        seeded = FakePeerLink(PeerState(3, 9, 9, True, "0" * 64, "", False))
        self.node.links[2] = rebuilding  # type: ignore[assignment]
        self.node.sync = sync = FakeSync()  # type: ignore[assignment]
        self.node.start()
        self.node.peer_ready(rebuilding)  # type: ignore[arg-type]
        self.assertEqual(self.node.state, ServerState.STARTING)
        with capturedLogs() as events:
            self.harness.clock.advance(self.node.tuning.startup_wait)
        self.assertEqual(self.node.state, ServerState.WAITING_FOR_SEED)
        self.assertEqual(transitions(events), [("starting", "waiting for a seeded peer")])
        # What clients are told did not change when waiting became a state.
        self.assertEqual(self.not_serving(), "server 1 is starting")
        self.node.links[3] = seeded  # type: ignore[assignment]
        with capturedLogs() as events:
            self.node.peer_ready(seeded)  # type: ignore[arg-type]
            self.harness.clock.advance(0)
        self.assertEqual(
            transitions(events),
            [("waiting for a seeded peer", "catching up"), ("catching up", "serving")],
        )
        self.assertEqual(sync.calls, [("rebuild", 3), ("catch up", 3)])

    def test_a_failed_catch_up_starts_again(self) -> None:
        seeded = FakePeerLink(PeerState(2, 9, 9, True, "0" * 64, "", False))
        self.harness.replica.mark_initialized()
        self.harness.clock.advance(0)
        self.node.links[2] = seeded  # type: ignore[assignment]
        self.node.sync = sync = FakeSync()  # type: ignore[assignment]
        sync.catch_up_with = lambda link: fail(ConnectionDone("gone"))  # type: ignore[method-assign]
        self.node.start()
        with capturedLogs() as events:
            self.node.peer_ready(seeded)  # type: ignore[arg-type]
        self.assertEqual(
            transitions(events), [("starting", "catching up"), ("catching up", "starting")]
        )
        sync.catch_up_with = FakeSync().catch_up_with  # type: ignore[method-assign]
        self.harness.clock.advance(1.0)
        self.assertTrue(self.node.serving)
