"""Takebacks and rematches on the in-process grid: a server down between the
offer and the accept catches up; a provisional accept that loses a fork
leaves its new game, which spreads as an ordinary game (docs/protocol.md,
"Takebacks and rematches")."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.server.grid import SERVERS, Grid, Match, parsed
from tests.server.helpers import TOKEN_A, TOKEN_B

R_A = "alice-rematch-token-0123"
R_B = "bobby-rematch-token-0123"


class GridOfferTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.grid = Grid(self, anti_entropy_interval=2)
        self.grid.start()

    def restart(self, server_id: int) -> None:
        node = self.grid.start_server(server_id)
        self.grid.run_until(lambda: node.serving, limit=10)
        self.grid.run_until(lambda: server_id in self.grid.client.active, limit=10)

    def finished(self) -> Match:
        game = Match(self.grid, "g1")
        game.start()
        game.moves("4", "3")
        game.acknowledged(self.grid.client.resign("g1", game.version, TOKEN_B))
        return game

    def test_takeback_with_a_server_down(self) -> None:
        game = Match(self.grid, "g1")
        game.start()
        game.moves("4", "3", "5")
        game.acknowledged(self.grid.client.offer_takeback("g1", game.version, TOKEN_A))
        self.grid.stop(3)
        doc = game.acknowledged(self.grid.client.accept_takeback("g1", game.version, TOKEN_B))
        self.assertEqual((doc["moves"], doc["version"]), (["4", "3"], 7))
        self.restart(3)
        documents = self.grid.assert_converged(self)
        self.assertEqual(parsed(documents["g1"]), doc)
        # Play goes on through all three, from the position after the undo.
        doc = game.move("1")
        self.assertEqual((doc["position"], doc["version"]), ("431", 8))
        self.grid.assert_converged(self)

    def test_rematch_with_a_server_down(self) -> None:
        game = self.finished()
        client = self.grid.client
        game.acknowledged(client.offer_rematch("g1", game.version, TOKEN_A, "g2", R_A))
        self.grid.stop(3)
        outcome = self.grid.answer(client.accept_rematch("g1", game.version, TOKEN_B, R_B))
        self.assertFalse(outcome.provisional)
        new = parsed(outcome.document)
        self.assertEqual(
            (new["id"], new["players"], new["rematch_of"]), ("g2", ["bobby", "alice"], "g1")
        )
        self.restart(3)
        documents = self.grid.assert_converged(self)
        self.assertEqual(parsed(documents["g1"])["rematch"]["state"], "accepted")
        self.assertEqual(parsed(documents["g2"]), new)
        self.assertEqual(
            parsed(self.grid.answer(client.make_move("g2", 2, "4", R_B)).document)["moves"], ["4"]
        )
        self.grid.assert_converged(self)

    def test_a_provisional_accept_that_loses_a_fork(self) -> None:
        game = self.finished()
        client = self.grid.client
        game.acknowledged(client.offer_rematch("g1", game.version, TOKEN_A, "g2", R_A))
        version = game.version
        self.grid.stop(2)
        self.grid.stop(3)
        outcome = self.grid.answer(client.accept_rematch("g1", version, TOKEN_B, R_B))
        self.assertTrue(outcome.provisional)  # server 1 alone
        self.grid.stop(1)
        self.restart(2)
        self.restart(3)
        declined = game.acknowledged(client.decline_rematch("g1", version, TOKEN_A))
        self.assertEqual(declined["rematch"]["state"], "declined")
        self.restart(1)
        self.grid.run(5)  # anti-entropy spreads the new game
        documents = self.grid.assert_converged(self)
        self.assertEqual(parsed(documents["g1"]), declined)
        self.assertIn("discarded 1 local event(s)", self.grid.log.text())
        new = parsed(documents["g2"])
        self.assertEqual((new["status"], new["rematch_of"]), ("active", "g1"))
        self.assertEqual(sorted(documents), ["g1", "g2"])
        self.assertEqual(self.grid.serving(), list(SERVERS))
