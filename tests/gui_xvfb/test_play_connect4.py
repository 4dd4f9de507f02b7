"""A whole Connect Four game in the real window, on Xvfb, against ``replgame bot``.

The person's only input is xdotool clicks: Join in the lobby, then a column
on each turn.  Where to click comes from the view-model (the same layout the
window draws); when to click from the window title ("replgame — Your move").
The test reads the game with ``replgame show`` only to pick a legal column
and, at the end, to check the majority's final document.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
from pathlib import Path

from game.client_gui.replicas import Shown, game_replicas
from game.client_gui.viewmodel import GameState, ListedEntry, clicks_for_move, game_scene
from game.rules import new_game
from tests.gui_render.cluster import Cluster
from tests.gui_xvfb.conftest import Display
from tests.gui_xvfb.play import (
    HEIGHT,
    WIDTH,
    close_window,
    join_from_lobby,
    show,
    start_open_bot,
    start_window,
    wait_for,
)

YOUR_MOVE = "replgame \u2014 Your move"


def settled_title(title: str) -> str | None:
    """The title when it asks for a move or shows the end, else None."""
    if title == YOUR_MOVE or re.search(r"wins|Draw|cancelled", title):
        return title
    return None


def test_connect4_against_the_bot_by_clicks(
    display: Display, cluster: Cluster, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    bot, game_id = start_open_bot(cluster, tmp_path, "--seed", "5", "--stall-timeout", "120")
    game: subprocess.Popen[bytes] | None = None
    try:
        game = start_window(display, cluster, home, (tmp_path / "play.err").open("w"))
        [window] = display.wait_windows(1)
        # The lobby lists the bot's game; its Join button is where the view-model puts it.
        join_from_lobby(display, window, ListedEntry(game_id, "connect4", "open", ("bot0", None)))

        rng = random.Random(11)
        clicks = 0
        while True:
            title = wait_for(
                lambda: settled_title(display.title(window)), 120, "my move or the end"
            )
            if title != YOUR_MOVE:
                break
            document = show(cluster, game_id, home)["game"]
            assert document["to_move"] == 1 and document["players"] == ["bot0", "human"]
            move = rng.choice(document["legal"])
            state = GameState(
                game_id, 1, "x" * 16, "human", Shown.of(json.dumps(document), False, (1, 2, 3))
            )
            scene = game_scene(state, game_replicas({}, {}, state.shown), WIDTH, HEIGHT)
            [(x, y)] = clicks_for_move(scene, "connect4", move)
            display.click(window, x, y)
            clicks += 1
            version = document["version"]
            wait_for(
                lambda version=version: (
                    display.title(window) != YOUR_MOVE
                    or show(cluster, game_id, home)["game"]["version"] > version
                ),
                30,
                f"move {move} to be taken",
                interval=0.2,
            )

        # The final document, as the majority of the three servers holds it.
        answer = show(cluster, game_id, home)
        final = answer["game"]
        assert answer["provisional"] is False
        assert sorted(answer["agreed"]) == [1, 2, 3]
        assert final["status"] == "finished"
        assert final["players"] == ["bot0", "human"]
        assert final["result"]["reason"] in ("four in a row", "board full")
        position = new_game("connect4")
        for move in final["moves"]:
            position = position.play(move)
        assert position.to_text() == final["position"]
        outcome = position.outcome()
        assert outcome is not None
        assert (outcome.winner, outcome.reason) == (
            final["result"]["winner"],
            final["result"]["reason"],
        )
        human_moves = final["moves"][1::2]
        assert len(human_moves) == clicks
        assert final["version"] == 2 + len(final["moves"])
        # The bot saw the same end and exits.
        out, _ = bot.communicate(timeout=60)
        report = json.loads(out)
        assert bot.returncode == 0, (tmp_path / "bot.err").read_text()
        assert (report["finished"], report["abandoned"]) == (1, [])
        [result] = report["results"]
        assert (result["game_id"], result["winner"]) == (game_id, final["result"]["winner"])
        # The window shows the result too.
        banner = display.title(window)
        if final["result"]["winner"] == 1:
            assert "You win: four in a row" in banner
        elif final["result"]["winner"] == 0:
            assert "bot0 (black) wins" in banner
    finally:
        if game is not None:
            close_window(display, game)
        if bot.poll() is None:
            bot.kill()
            bot.wait()
