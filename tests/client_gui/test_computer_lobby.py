"""The lobby's "Play the computer" (lobby_controller.py, computer_panel.py,
computer_opponents.py) against a fake client: the panel's choices, the game
created with the person's seat, the computer started on its own client and
stopped when the window leaves the game or closes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from game.client.bots import Abandoned
from game.client.computer import ComputerPlayer
from game.client.tokens import TokenStore
from game.client_gui.computer_opponents import ComputerOpponents
from game.client_gui.computer_panel import human_seat
from game.client_gui.controller import Controller
from game.client_gui.scene import Action
from tests.client_gui.helpers import HEIGHT, WIDTH, FakeClient, document, ok, timed


class FakeComputers:
    """Records the computers the lobby starts and stops."""

    def __init__(self) -> None:
        self.started: list[tuple[str, int]] = []
        self.stops = 0
        self.closed = False

    def start(self, game_id: str, level: int) -> Deferred[Any]:
        self.started.append((game_id, level))
        return Deferred()

    def stop(self) -> None:
        self.stops += 1

    def close(self) -> None:
        self.closed = True


class PlayComputerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.client = FakeClient(self.clock)
        self.store = TokenStore(Path(self.mktemp()) / "seats.json")
        self.controller = Controller(self.client, self.store, "alice", self.clock)  # type: ignore[arg-type]
        self.computers = FakeComputers()
        self.controller.lobby_screen.computers = self.computers  # type: ignore[assignment]
        self.controller.start()

    def click(self, name: str, value: str = "") -> None:
        button = self.controller.scene(WIDTH, HEIGHT).button(name, value)
        self.assertTrue(button.enabled, name)
        self.assertEqual(self.controller.click(*button.rect.centre, WIDTH, HEIGHT), button.action)

    def test_the_lobby_has_the_button_and_it_opens_the_panel(self) -> None:
        scene = self.controller.scene(WIDTH, HEIGHT)
        self.assertEqual(scene.button("computer").text, "Play the computer")
        self.assertIsNone(scene.overlay)
        self.click("computer")
        texts = self.controller.scene(WIDTH, HEIGHT).texts()
        for shown in ("Play the computer", "Connect Four", "Checkers", "5", "Random", "untimed"):
            self.assertIn(shown, texts)
        self.click("computer-cancel")
        self.assertIsNone(self.controller.scene(WIDTH, HEIGHT).overlay)
        self.assertEqual(self.client.names(), ["list_games"])  # nothing created

    def test_escape_closes_the_panel_and_enter_plays(self) -> None:
        self.click("computer")
        self.controller.key("escape")
        self.assertIsNone(self.controller.scene(WIDTH, HEIGHT).overlay)
        self.controller.key("enter")  # no panel: nothing to play
        self.assertEqual(self.client.names(), ["list_games"])
        self.click("computer")
        self.controller.key("enter")
        arguments, _ = self.client.pop("create_game")
        self.assertEqual((arguments["kind"], arguments["seat"]), ("connect4", 0))

    def test_play_creates_the_game_as_the_person_and_starts_the_computer(self) -> None:
        self.click("computer")
        self.click("computer-kind", "reversi")
        self.click("computer-level", "4")
        self.click("computer-colour", "white")
        self.click("time-control", "live:300+3")
        self.click("computer-play")
        arguments, answer = self.client.pop("create_game")
        self.assertEqual(
            (arguments["kind"], arguments["player"], arguments["seat"], arguments["clock"]),
            ("reversi", "alice", 1, "live:300+3"),
        )
        self.assertEqual(self.computers.started, [])  # not before the game exists
        game_id = arguments["game_id"]
        doc = timed(document("reversi", players=(None, "alice"), game_id=game_id))
        answer.callback(ok(doc))
        self.assertEqual(self.computers.started, [(game_id, 4)])
        game = self.controller.game
        assert game is not None
        self.assertEqual((game.game_id, game.seat), (game_id, 1))
        [seat] = self.store.seats(self.client.config.cluster_id)
        self.assertEqual((seat.game_id, seat.seat, seat.player), (game_id, 1, "alice"))

    def test_random_colour_follows_the_game_id(self) -> None:
        self.click("computer")
        self.click("computer-colour", "random")
        self.click("computer-play")
        arguments, _ = self.client.pop("create_game")
        self.assertEqual(arguments["seat"], human_seat("random", arguments["game_id"]))
        self.assertEqual(arguments["clock"], None)  # untimed: no clock sent
        seats = {human_seat("random", f"{n:032x}") for n in range(20)}
        self.assertEqual(seats, {0, 1})
        self.assertEqual(human_seat("black", "x"), 0)
        self.assertEqual(human_seat("white", "x"), 1)

    def test_the_choices_are_kept_for_the_next_time(self) -> None:
        self.click("computer")
        self.click("computer-level", "3")
        self.click("computer-cancel")
        self.click("computer")
        self.assertEqual(self.controller.lobby_screen.computer_choice.level, 3)  # type: ignore[union-attr]

    def test_leaving_the_game_stops_the_computer_and_closing_the_window_closes(self) -> None:
        self.click("computer")
        self.click("computer-play")
        arguments, answer = self.client.pop("create_game")
        answer.callback(
            ok(document("connect4", players=("alice", None), game_id=arguments["game_id"]))
        )
        stops = self.computers.stops
        self.controller.perform(Action("lobby"))
        self.assertEqual(self.computers.stops, stops + 1)
        self.controller.stop()
        self.assertTrue(self.computers.closed)


class ComputerOpponentsTests(SynchronousTestCase):
    """Each computer on its own client; all stopped by stop()."""

    def test_each_computer_has_its_own_client_stopped_with_it(self) -> None:
        clock = Clock()
        made: list[FakeClient] = []

        def make_client() -> Any:
            client = FakeClient(clock)
            client.started = False  # type: ignore[attr-defined]
            client.stopped = False  # type: ignore[attr-defined]
            client.start = lambda: setattr(client, "started", True)  # type: ignore[attr-defined]
            client.settled = lambda: succeed([1, 2, 3])  # type: ignore[attr-defined]
            client.stop = lambda: setattr(client, "stopped", True) or succeed(None)  # type: ignore[attr-defined]
            made.append(client)
            return client

        class Search:
            def search(self, *args: Any) -> Deferred[str]:
                return Deferred()

        computers = ComputerOpponents(
            FakeClient().config, clock, make_client=make_client, make_search=Search, think=0
        )
        done = computers.start("g1", 2)
        [client] = made
        self.assertTrue(client.started)  # type: ignore[attr-defined]
        open_doc = document("connect4", players=("alice", None), game_id="g1")
        client.pop("get_game")[1].callback(ok(open_doc))
        arguments, answer = client.pop("join_game")
        self.assertEqual(arguments["player"], "computer (level 2)")
        answer.callback(
            ok(document("connect4", ["4"], players=("alice", "computer (level 2)"), game_id="g1"))
        )
        self.assertIsInstance(computers.players["g1"], ComputerPlayer)
        self.assertEqual(computers.playing(), ["g1"])
        computers.stop()
        self.assertTrue(client.stopped)  # type: ignore[attr-defined]
        result = self.successResultOf(done)
        self.assertIsInstance(result, Abandoned)
        self.assertEqual(computers.playing(), [])
        # A second game gets a client of its own.
        computers.start("g2", 1)
        self.assertEqual(len(made), 2)
        self.assertIsNot(made[0], made[1])
