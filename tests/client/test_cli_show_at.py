"""``replgame show GAME --at N`` over the in-memory fake client."""

from __future__ import annotations

import io
import json
from pathlib import Path

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from game.client.boards import render_board
from game.client.cli.choices import CliError
from game.client.cli.commands import COMMANDS
from game.client.cli.parser import build_parser
from game.client.cli.session import Session
from game.client.document import GameDocument
from game.client.tokens import TokenStore
from game.config import default_config
from game.rules import new_game
from tests.client.cli_fakes import FakeClient


class ShowAtTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.store = TokenStore(Path(self.mktemp()) / "seats.json")
        self.client = FakeClient()
        data = json.loads(self.run_command("new", "connect4", "--as", "alice", "--json"))
        self.game_id: str = data["game"]["id"]
        self.run_command("join", self.game_id, "--as", "bob")
        for column in "4433221":  # black wins on the bottom row with its 4th disc
            self.run_command("move", self.game_id, column)

    def session(self, *argv: str) -> tuple[Session, io.StringIO]:
        args = build_parser().parse_args(list(argv))
        out = io.StringIO()
        return Session(
            Clock(), args, default_config(), out=out, store=self.store, client=self.client
        ), out

    def run_command(self, *argv: str) -> str:
        session, out = self.session(*argv)
        command = COMMANDS[session.args.command]
        self.successResultOf(Deferred.fromCoroutine(command(session)))
        return out.getvalue()

    def failing(self, *argv: str) -> CliError:
        session, _ = self.session(*argv)
        command = COMMANDS[session.args.command]
        failure = self.failureResultOf(Deferred.fromCoroutine(command(session)), CliError)
        error: CliError = failure.value
        return error

    def board_after(self, moves: str) -> str:
        """The board the ``show`` printer draws for this position."""
        position = new_game("connect4")
        for move in moves:
            position = position.play(move)
        document = GameDocument.from_mapping(
            {
                "id": "x",
                "kind": "connect4",
                "version": 1,
                "status": "active",
                "players": ["a", "b"],
                "to_move": position.to_move,
                "moves": list(moves),
                "position": position.to_text(),
                "legal": [],
                "draw_offer": None,
                "result": None,
            }
        )
        return render_board(document)

    def test_the_board_after_n_moves(self) -> None:
        text = self.run_command("show", self.game_id, "--at", "3")
        self.assertIn(self.board_after("443"), text)
        self.assertIn("position: after move 3 of 7 (3, black); white to move", text)
        self.assertIn("game now: finished, alice (black) wins: four in a row", text)
        self.assertIn("moves: 1. 4  4   2. [3]  3   3. 2  2   4. 1", text)
        self.assertTrue(text.startswith(f"game {self.game_id}  Connect Four (connect4)"))

    def test_the_start_the_end_and_from_the_end(self) -> None:
        start = self.run_command("show", self.game_id, "--at", "0")
        self.assertIn(self.board_after(""), start)
        self.assertIn("position: the start, before move 1 of 7; black to move", start)
        self.assertIn("moves: 1. 4  4   2. 3  3   3. 2  2   4. 1", start)
        end = self.run_command("show", self.game_id, "--at", "7")
        self.assertIn(self.board_after("4433221"), end)
        self.assertIn("(1, black); the game is over", end)
        self.assertIn("4. [1]", end)
        before_last = self.run_command("show", self.game_id, "--at", "-1")
        self.assertIn(self.board_after("443322"), before_last)
        self.assertIn("3. 2  [2]", before_last)
        self.assertEqual(self.run_command("show", self.game_id, "--at", "-7"), start)

    def test_beyond_the_moves(self) -> None:
        for at in ("8", "-8"):
            self.assertEqual(
                self.failing("show", self.game_id, "--at", at).message,
                f"game {self.game_id}: the game has 7 moves: --at takes 0 (the start) to 7, "
                f"or -1 to -7 counting back from the end, not {at}",
            )

    def test_json(self) -> None:
        data = json.loads(self.run_command("show", self.game_id, "--at", "2", "--json"))
        self.assertEqual((data["at"], data["moves"], data["position"]), (2, ["4", "4"], "44"))
        self.assertEqual(data["game"]["moves"], list("4433221"))
        self.assertEqual((data["agreed"], data["repaired"]), ([1, 2, 3], []))

    def test_without_at_show_is_unchanged(self) -> None:
        text = self.run_command("show", self.game_id)
        self.assertNotIn("position:", text)
        self.assertIn("last move: 1 (move 7)", text)

    def test_at_must_be_a_number(self) -> None:
        with self.assertRaises(SystemExit):
            build_parser().parse_args(["show", self.game_id, "--at", "three"])
