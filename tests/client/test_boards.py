"""Terminal rendering of game documents, from documents a server would answer."""

from __future__ import annotations

import random

from twisted.trial.unittest import SynchronousTestCase

from game.client import boards
from game.client.document import GameDocument
from game.server.gamelog import (
    ACCEPT_DRAW,
    JOIN,
    MOVE,
    OFFER_DRAW,
    RESIGN,
    Command,
    GameLog,
    create_event,
    decide,
)

TOKENS = ("alice-token-0123456789", "bobby-token-0123456789")


class Game:
    """A game played through the server's own decision logic, so that its
    documents are exactly what a replica answers."""

    def __init__(self, kind: str, game_id: str = "g1", players: tuple[str, ...] = ("alice",)):
        self.log = GameLog(game_id, create_event(kind, players[0], 0, TOKENS[0], game_id))
        if len(players) > 1:
            self.act(JOIN, 1, player=players[1])

    def act(self, kind: str, seat: int, player: str | None = None, move: str | None = None) -> None:
        event = decide(self.log, Command(kind, self.log.version, TOKENS[seat], player, move))
        self.log.append(event)  # type: ignore[arg-type]

    def play(self, *moves: str) -> Game:
        for move in moves:
            self.act(MOVE, self.log.position.to_move, move=move)
        return self

    def document(self) -> GameDocument:
        return GameDocument.from_json(self.log.document())


def lines(text: str) -> list[str]:
    return text.splitlines()


class Connect4Tests(SynchronousTestCase):
    def test_start(self) -> None:
        board = boards.render_board(Game("connect4", players=("alice", "bob")).document())
        rows = lines(board)
        self.assertEqual(rows[0], " 1 2 3 4 5 6 7")
        self.assertEqual(rows[-1], " 1 2 3 4 5 6 7")
        self.assertEqual(rows[1:7], ["|. . . . . . .|"] * 6)
        self.assertEqual(rows[7], "+-------------+")

    def test_discs_fall_to_the_bottom(self) -> None:
        board = boards.render_board(
            Game("connect4", players=("a", "b")).play("4", "4", "3").document()
        )
        rows = lines(board)
        self.assertEqual(rows[6], "|. . X X . . .|")
        self.assertEqual(rows[5], "|. . . O . . .|")
        self.assertEqual(rows[4], "|. . . . . . .|")

    def test_finished_game_header(self) -> None:
        game = Game("connect4", players=("alice", "bob")).play("1", "2", "1", "2", "1", "2", "1")
        text = boards.render_game(game.document())
        self.assertIn("status: finished", text)
        self.assertIn("result: alice (black) wins: four in a row", text)
        self.assertIn("last move: 1 (move 7)", text)
        self.assertNotIn("legal moves", text)
        self.assertEqual(lines(boards.render_board(game.document()))[3], "|X . . . . . .|")


class ReversiTests(SynchronousTestCase):
    def test_start_marks_legal_squares(self) -> None:
        document = Game("reversi", players=("alice", "bob")).document()
        rows = lines(boards.render_board(document))
        self.assertEqual(rows[0], "   a b c d e f g h")
        self.assertEqual(rows[3], " 3 . . . * . . . . 3")
        self.assertEqual(rows[4], " 4 . . * O X . . . 4")
        self.assertEqual(rows[5], " 5 . . . X O * . . 5")
        self.assertEqual(rows[6], " 6 . . . . * . . . 6")
        self.assertEqual(rows[9], "   a b c d e f g h")
        self.assertIn("discs: X black 2, O white 2", rows[10])
        self.assertIn("legal moves: c4 d3 e6 f5", boards.render_header(document))

    def test_a_move_flips(self) -> None:
        document = Game("reversi", players=("a", "b")).play("d3").document()
        rows = lines(boards.render_board(document))
        # d3 turns d4 over; white may answer c3, e3 or c5.
        self.assertEqual(rows[3], " 3 . . * X * . . . 3")
        self.assertEqual(rows[4], " 4 . . . X X . . . 4")
        self.assertEqual(rows[5], " 5 . . * X O . . . 5")
        self.assertIn("discs: X black 4, O white 1", rows[10])

    def test_no_marks_while_open(self) -> None:
        document = Game("reversi").document()
        self.assertNotIn("*", boards.render_board(document))
        self.assertIn("status: open, waiting for a second player", boards.render_header(document))


class CheckersTests(SynchronousTestCase):
    def test_start_black_on_top(self) -> None:
        rows = lines(boards.render_board(Game("checkers", players=("a", "b")).document()))
        self.assertEqual(rows[0], "     a  b  c  d  e  f  g  h")
        self.assertEqual(rows[1], " 8 |    b     b     b     b | 8   1-4")
        self.assertEqual(rows[2], " 7 | b     b     b     b    | 7   5-8")
        self.assertEqual(rows[4], " 5 |13    14    15    16    | 5   13-16")
        self.assertEqual(rows[5], " 4 |   17    18    19    20 | 4   17-20")
        self.assertEqual(rows[8], " 1 | w     w     w     w    | 1   29-32")

    def test_empty_squares_show_numbers_after_a_move(self) -> None:
        rows = lines(
            boards.render_board(Game("checkers", players=("a", "b")).play("11-15").document())
        )
        self.assertEqual(rows[3], " 6 |    b     b    11     b | 6   9-12")
        self.assertEqual(rows[4], " 5 |13    14     b    16    | 5   13-16")

    def test_kings_are_capitals(self) -> None:
        document = {
            "id": "k",
            "kind": "checkers",
            "version": 9,
            "status": "active",
            "players": ["a", "b"],
            "to_move": 0,
            "moves": ["1-5"],
            "position": "B:WK4,21:B1,K32",
            "legal": [],
            "draw_offer": None,
            "result": None,
        }
        rows = lines(boards.render_board(GameDocument.from_mapping(document)))
        self.assertEqual(rows[1], " 8 |    b     2     3     W | 8   1-4")
        self.assertEqual(rows[8], " 1 |29    30    31     B    | 1   29-32")
        self.assertEqual(rows[6], " 3 | w    22    23    24    | 3   21-24")


class HeaderTests(SynchronousTestCase):
    def test_open_game(self) -> None:
        text = boards.render_header(Game("connect4", game_id="abc").document())
        self.assertEqual(
            lines(text),
            [
                "game abc  Connect Four (connect4)  version 1",
                "players: X alice (black), seat 0  vs  O (open seat) (white), seat 1",
                "status: open, waiting for a second player",
                "last move: none yet",
            ],
        )

    def test_turn_and_draw_offer(self) -> None:
        game = Game("checkers", players=("alice", "bob")).play("11-15")
        game.act(OFFER_DRAW, 1)
        text = boards.render_header(game.document())
        self.assertIn("players: b alice (black), seat 0  vs  w bob (white), seat 1", text)
        self.assertIn("status: active, bob (white) to move", text)
        self.assertIn("draw offered by bob (white)", text)
        self.assertIn("last move: 11-15 (move 1)", text)
        self.assertIn("legal moves: 21-17 22-17 22-18 23-18 23-19 24-19 24-20", text)

    def test_results(self) -> None:
        game = Game("reversi", players=("alice", "bob"))
        game.act(RESIGN, 0)
        self.assertIn("result: bob (white) wins: resigned", boards.render_header(game.document()))
        drawn = Game("connect4", players=("alice", "bob"))
        drawn.act(OFFER_DRAW, 0)
        drawn.play("4")
        drawn.act(ACCEPT_DRAW, 1)
        self.assertIn("result: draw: draw agreed", boards.render_header(drawn.document()))
        cancelled = Game("connect4")
        cancelled.act(RESIGN, 0)
        self.assertIn("result: cancelled", boards.render_header(cancelled.document()))


class PlayoutTests(SynchronousTestCase):
    def test_every_document_of_random_games_renders(self) -> None:
        """Random playouts of each kind: every document draws, with the
        board's size, and a finished game has a result line."""
        rng = random.Random(7)
        heights = {"connect4": 9, "reversi": 11, "checkers": 11}
        for kind in ("connect4", "reversi", "checkers"):
            for _ in range(3):
                game = Game(kind, players=("a", "b"))
                while game.log.status == "active":
                    document = game.document()
                    board = boards.render_board(document)
                    self.assertEqual(len(lines(board)), heights[kind], board)
                    game.play(rng.choice(document.legal))
                self.assertIn("result: ", boards.render_game(game.document()))
