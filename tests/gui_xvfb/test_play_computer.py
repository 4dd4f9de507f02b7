"""A whole Connect Four game against the level-1 computer, by clicks on Xvfb.

The person clicks "Play the computer" in the lobby, keeps Connect Four,
level 1 and black (moves first), clicks Play, then a column on each turn
until the game ends (a win, a loss or a draw), and then "Rematch".  The
computer runs inside the window's process on its own client (and searches
in a worker process).  Where to click comes from the view-model (the same
layout the window draws); when, from the window title.  The test reads the
game with ``replgame show`` (a ReplicatedClient: the majority's answer)
only to pick a legal column and to check the final document and the
rematch offer, which the computer accepts.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from game.client.computer import computer_name
from game.client.tokens import TokenStore
from game.client_gui.computer_panel import ComputerChoice, computer_panel
from game.client_gui.replicas import Shown, game_replicas, lobby_replicas
from game.client_gui.scene import Button
from game.client_gui.viewmodel import (
    GameState,
    LobbyState,
    game_scene,
    lobby_scene,
)
from game.rules import new_game
from tests.gui_render.cluster import Cluster
from tests.gui_xvfb.conftest import Display
from tests.gui_xvfb.play import (
    HEIGHT,
    LOBBY,
    WIDTH,
    close_window,
    play_connect4_by_clicks,
    show,
    start_window,
    wait_for,
)

LEVEL = 1


def panel_button(name: str, value: str = "") -> Button:
    """A button of the "Play the computer" panel, where the window draws it."""
    layer = computer_panel(ComputerChoice(), "", WIDTH, HEIGHT)
    return next(
        button
        for button in layer.buttons
        if button.action.name == name and (not value or button.action.value == value)
    )


def test_connect4_against_the_level_1_computer_then_rematch(
    display: Display, cluster: Cluster, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    game = start_window(display, cluster, home, (tmp_path / "play.err").open("w"))
    try:
        [window] = display.wait_windows(1)
        wait_for(lambda: display.title(window).startswith(LOBBY), 60, "the lobby")
        replicas = lobby_replicas(dict.fromkeys((1, 2, 3), (True, True, "")))
        lobby = lobby_scene(LobbyState("human", loaded=True), replicas, WIDTH, HEIGHT)
        opener = lobby.button("computer")
        assert opener.text == "Play the computer"
        store = TokenStore(home / "replgame" / "seats.json")

        def started() -> bool:
            if store.seats():
                return True
            if display.title(window).startswith(LOBBY):
                display.click(window, *opener.rect.centre)
                for name, value in (
                    ("computer-kind", "connect4"),
                    ("computer-level", str(LEVEL)),
                    ("computer-colour", "black"),
                    ("computer-play", ""),
                ):
                    display.click(window, *panel_button(name, value).rect.centre)
                    time.sleep(0.15)
            return bool(store.seats())

        wait_for(started, 60, "the game against the computer", interval=1.0)
        [seat] = store.seats()
        game_id = seat.game_id
        assert (seat.kind, seat.seat, seat.player) == ("connect4", 0, "human")

        players = ["human", computer_name(LEVEL)]
        clicks = play_connect4_by_clicks(
            display, window, cluster, home, game_id, 0, players, random.Random(7), timeout=60
        )

        answer = show(cluster, game_id, home)
        final = answer["game"]
        assert answer["provisional"] is False
        assert final["status"] == "finished"
        assert final["players"] == players
        assert final["result"]["reason"] in ("four in a row", "board full")
        position = new_game("connect4")
        for move in final["moves"]:
            position = position.play(move)  # the computer's moves are legal too
        assert position.to_text() == final["position"]
        assert final["moves"][0::2] and len(final["moves"][0::2]) == clicks
        assert len(final["moves"][1::2]) in (clicks - 1, clicks)  # the computer answered each

        # Rematch: the game screen's button, found through the view model.
        state = GameState(
            game_id, 0, seat.token, "human", Shown.of(json.dumps(final), False, (1, 2, 3))
        )
        rematch = game_scene(state, game_replicas({}, {}, state.shown), WIDTH, HEIGHT).button(
            "rematch"
        )
        assert rematch.text.startswith("Rematch"), rematch.text

        def offered() -> bool:
            document = show(cluster, game_id, home)["game"]
            if document.get("rematch") is None:
                display.click(window, *rematch.rect.centre)
                return False
            return True

        wait_for(offered, 30, "the rematch offer", interval=1.0)

        def accepted() -> bool:
            return show(cluster, game_id, home)["game"]["rematch"]["state"] == "accepted"

        wait_for(accepted, 30, "the computer accepting the rematch", interval=0.5)
        offer = show(cluster, game_id, home)["game"]["rematch"]
        assert offer["by"] == 0
        rematch_game = show(cluster, offer["game"], home)["game"]
        assert rematch_game["status"] == "active"
        assert rematch_game["players"] == players[::-1]  # colours swapped
        assert rematch_game["rematch_of"] == game_id
    finally:
        close_window(display, game)
