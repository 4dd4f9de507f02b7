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
import subprocess
from pathlib import Path

from game.client_gui.viewmodel import ListedEntry
from game.rules import new_game
from tests.gui_render.cluster import Cluster
from tests.gui_xvfb.conftest import Display
from tests.gui_xvfb.play import (
    close_window,
    join_from_lobby,
    play_connect4_by_clicks,
    show,
    start_open_bot,
    start_window,
)


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

        clicks = play_connect4_by_clicks(
            display,
            window,
            cluster,
            game_id=game_id,
            home=home,
            seat=1,
            players=["bot0", "human"],
            rng=random.Random(11),
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
