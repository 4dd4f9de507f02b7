"""``replgame takeback`` and ``replgame rematch``, the documents' new fields,
and the client's methods for them."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from game import protocol as p
from game.client.cli.choices import CliError
from game.client.cli.commands import COMMANDS
from game.client.cli.offers import rematch_action, takeback_action
from game.client.cli.parser import build_parser
from game.client.cli.session import Session
from game.client.document import DocumentError, GameDocument, Rematch
from game.client.tokens import TokenStore
from game.config import default_config
from tests.client.cli_fakes import CLUSTER, FakeClient, doc, typed_doc


class CommandTests(SynchronousTestCase):
    def setUp(self) -> None:
        directory = Path(tempfile.mkdtemp(prefix="replgame-cli-offers-"))
        self.addCleanup(shutil.rmtree, directory, True)
        self.store = TokenStore(directory / "seats.json")
        self.client = FakeClient()

    def session(self, *argv: str) -> Session:
        args = build_parser().parse_args(list(argv))
        return Session(
            Clock(), args, default_config(), out=io.StringIO(), store=self.store, client=self.client
        )

    def run_command(self, *argv: str) -> str:
        session = self.session(*argv)
        command = COMMANDS[session.args.command](session)
        self.successResultOf(Deferred.fromCoroutine(command))
        out = session.out
        assert isinstance(out, io.StringIO)
        return out.getvalue()

    def run_json(self, *argv: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.run_command(*argv, "--json"))
        return data

    def failing(self, *argv: str) -> CliError:
        session = self.session(*argv)
        command = COMMANDS[session.args.command](session)
        error: CliError = self.failureResultOf(Deferred.fromCoroutine(command), CliError).value
        return error

    def game(self, *moves: str) -> str:
        """Alice against Bob, both seats in this user's store."""
        game_id: str = self.run_json("new", "connect4", "--as", "alice")["game"]["id"]
        self.run_command("join", game_id, "--as", "bob")
        for move in moves:
            self.run_command("move", game_id, move)
        return game_id

    def test_takeback_offer_then_accept(self) -> None:
        game_id = self.game("4", "3")
        text = self.run_command("takeback", game_id, "--seat", "1")
        self.assertIn("bob (white) asked to take back their last move", text)
        self.assertIn("takeback requested by bob (white)", self.run_command("show", game_id))
        self.assertIn("already stands", self.failing("takeback", game_id, "--seat", "1").message)
        data = self.run_json("takeback", game_id)  # both seats held: the other one accepts
        self.assertEqual((data["action"], data["seat"]), ("accept", 0))
        self.assertEqual(data["game"]["moves"], ["4"])
        self.assertNotIn("takeback", data["game"])
        self.assertEqual(
            [name for name, _ in self.client.requests[-2:]], ["GetGame", "AcceptTakeback"]
        )

    def test_takeback_decline_and_refusals(self) -> None:
        game_id = self.game()
        self.assertIn("no takeback offer", self.failing("takeback", game_id, "--decline").message)
        refused = self.failing("takeback", game_id, "--seat", "0")
        self.assertEqual(refused.tag, "NOTHING_TO_TAKE_BACK")
        self.run_command("move", game_id, "4")
        self.run_command("takeback", game_id, "--seat", "0")
        text = self.run_command("takeback", game_id, "--decline", "--seat", "0")
        self.assertIn("withdrew the takeback offer", text)
        self.run_command("takeback", game_id, "--seat", "0")
        text = self.run_command("takeback", game_id, "--decline", "--seat", "1")
        self.assertIn("declined the takeback offer", text)

    def test_rematch_offer_then_accept(self) -> None:
        game_id = self.game("4")
        self.assertEqual(self.failing("rematch", game_id).tag, "GAME_NOT_OVER")
        self.run_command("resign", game_id, "--seat", "1")
        offered = self.run_json("rematch", game_id, "--seat", "0")
        new_id = offered["rematch_game"]
        self.assertEqual(offered["game"]["rematch"], {"by": 0, "game": new_id, "state": "offered"})
        self.assertEqual(offered["rematch_seat"], 1)
        self.assertIn(f"rematch offered (offered by alice (black)): game {new_id}",
                      self.run_command("show", game_id))  # fmt: skip
        accepted = self.run_json("rematch", game_id)
        self.assertEqual((accepted["action"], accepted["seat"]), ("accept", 1))
        self.assertEqual(accepted["game"]["id"], new_id)
        self.assertEqual(accepted["game"]["players"], ["bob", "alice"])
        self.assertEqual(accepted["game"]["rematch_of"], game_id)
        seats = {seat.seat: seat for seat in self.store.find(CLUSTER, new_id)}
        self.assertEqual((seats[0].player, seats[1].player), ("bob", "alice"))
        # The stored tokens hold the new game's seats: play on with `move`.
        self.assertEqual(self.run_json("move", new_id, "4")["seat"], 0)
        self.assertEqual(self.run_json("move", new_id, "5")["seat"], 1)
        message = self.failing("rematch", game_id).message
        self.assertEqual(
            message, f"the rematch of game {game_id} was accepted: it is game {new_id}"
        )

    def test_rematch_decline(self) -> None:
        game_id = self.game()
        self.run_command("resign", game_id, "--seat", "1")
        self.run_command("rematch", game_id, "--seat", "1")
        text = self.run_command("rematch", game_id, "--decline", "--seat", "0")
        self.assertIn("alice (black) declined the rematch offer", text)
        data = self.run_json("rematch", game_id, "--seat", "0")
        self.assertEqual((data["action"], data["game"]["rematch"]["by"]), ("offer", 0))

    def test_parser(self) -> None:
        args = build_parser().parse_args(["rematch", "g1", "--decline"])
        self.assertEqual(
            (args.command, args.game, args.decline, args.seat), ("rematch", "g1", True, None)
        )
        args = build_parser().parse_args(["takeback", "g1", "--seat", "1"])
        self.assertEqual((args.decline, args.seat), (False, 1))


class ActionTests(SynchronousTestCase):
    def test_takeback_action(self) -> None:
        self.assertEqual(takeback_action(typed_doc(), 0, False), "offer")
        self.assertEqual(takeback_action(typed_doc(takeback=1), 0, False), "accept")
        self.assertEqual(takeback_action(typed_doc(takeback=1), 0, True), "decline")
        self.assertEqual(takeback_action(typed_doc(takeback=1), 1, True), "decline")
        self.assertIn("already stands", str(self.assertRaises(
            CliError, takeback_action, typed_doc(takeback=0), 0, False)))  # fmt: skip
        self.assertRaises(CliError, takeback_action, typed_doc(), 0, True)

    def test_rematch_action(self) -> None:
        def with_rematch(state: str, by: int = 1) -> GameDocument:
            return typed_doc(status="finished", rematch={"by": by, "game": "g2", "state": state})

        self.assertEqual(rematch_action(typed_doc(status="finished"), 0, False), "offer")
        self.assertEqual(rematch_action(with_rematch("offered"), 0, False), "accept")
        self.assertEqual(rematch_action(with_rematch("declined"), 0, False), "offer")
        self.assertEqual(rematch_action(with_rematch("offered"), 1, True), "decline")
        self.assertRaises(CliError, rematch_action, with_rematch("offered"), 1, False)
        self.assertRaises(CliError, rematch_action, with_rematch("accepted"), 0, False)
        self.assertRaises(CliError, rematch_action, with_rematch("declined"), 0, True)


class DocumentTests(SynchronousTestCase):
    def test_without_the_new_fields(self) -> None:
        document = GameDocument.from_mapping(doc())
        self.assertEqual((document.takeback, document.rematch, document.rematch_of), (None,) * 3)
        self.assertNotIn("takeback", document.to_mapping())
        self.assertEqual(
            document.to_json(), json.dumps(doc(), sort_keys=True, separators=(",", ":"))
        )

    def test_with_the_new_fields(self) -> None:
        fields = doc(
            takeback=1, rematch={"by": 0, "game": "g2", "state": "accepted"}, rematch_of="g0"
        )
        document = GameDocument.from_mapping(fields)
        self.assertEqual(document.takeback, 1)
        self.assertEqual(document.rematch, Rematch(0, "g2", "accepted"))
        self.assertEqual(document.rematch_of, "g0")
        self.assertEqual(GameDocument.from_json(document.to_json()), document)
        self.assertEqual(document.to_mapping(), fields)

    def test_malformed(self) -> None:
        for bad in (
            {"takeback": 2},
            {"rematch": {"by": 0, "game": "g2", "state": "maybe"}},
            {"rematch": {"by": None, "game": "g2", "state": "offered"}},
            {"rematch": "g2"},
            {"rematch_of": ""},
        ):
            self.assertRaises(DocumentError, GameDocument.from_mapping, doc(**bad))


class ClientMethodTests(SynchronousTestCase):
    """The client sends what PROTOCOL.md's style asks: AcceptRematch with `at`."""

    def test_arguments(self) -> None:
        from game.client.client import ReplicatedClient

        sent: list[tuple[type[p.Command], dict[str, Any]]] = []
        client = ReplicatedClient(default_config(), MemoryReactorClock())

        def request(command: type[p.Command], **arguments: Any) -> Deferred[Any]:
            sent.append((command, arguments))
            return Deferred()

        client.request = request  # type: ignore[method-assign]
        client.offer_takeback("g", 3, "t" * 16)
        client.accept_takeback("g", 4, "t" * 16)
        client.decline_takeback("g", 4, "t" * 16)
        client.offer_rematch("g", 5, "t" * 16, "g2", "r" * 16)
        client.accept_rematch("g", 6, "t" * 16, "r" * 16)
        client.decline_rematch("g", 6, "t" * 16)
        self.assertEqual(
            [command for command, _ in sent],
            [p.OfferTakeback, p.AcceptTakeback, p.DeclineTakeback, p.OfferRematch,
             p.AcceptRematch, p.DeclineRematch],
        )  # fmt: skip
        self.assertEqual(sent[3][1]["rematch_id"], "g2")
        self.assertEqual(sorted(sent[4][1]), ["at", "game_id", "rematch_token", "token", "version"])
        self.assertNotIn("at", sent[0][1])
