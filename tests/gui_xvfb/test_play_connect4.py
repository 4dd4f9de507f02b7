"""A whole Connect Four game in the real window, on Xvfb, against ``replgame bot``.

The person's only input is xdotool clicks: Join in the lobby, then a column
on each turn.  Where to click comes from the view-model (the same layout the
window draws); when to click from the window title ("replgame — Your move").
The test reads the game with ``replgame show`` only to pick a legal column
and, at the end, to check the majority's final document.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from game.client_gui.replicas import Shown, game_replicas, lobby_replicas
from game.client_gui.viewmodel import (
    GameState,
    ListedEntry,
    LobbyState,
    clicks_for_move,
    game_scene,
    lobby_scene,
)
from game.rules import new_game
from tests.gui_render.cluster import Cluster
from tests.gui_xvfb.conftest import Display

BIN = Path(sys.executable).parent
WIDTH, HEIGHT = 900, 660
YOUR_MOVE = "replgame \u2014 Your move"


def show(cluster: Cluster, game_id: str, home: Path) -> dict[str, Any]:
    result = subprocess.run(
        [str(BIN / "replgame"), "show", game_id, "--json", "--config", str(cluster.config_path)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "XDG_CONFIG_HOME": str(home)},
    )
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def settled_title(title: str) -> str | None:
    """The title when it asks for a move or shows the end, else None."""
    if title == YOUR_MOVE or re.search(r"wins|Draw|cancelled", title):
        return title
    return None


def test_connect4_against_the_bot_by_clicks(
    display: Display, cluster: Cluster, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    bot_log = tmp_path / "bot.err"
    with bot_log.open("w") as errors:
        bot = subprocess.Popen(
            [
                str(BIN / "replgame"),
                "bot",
                "--games",
                "1",
                "--kind",
                "connect4",
                "--open",
                "--seed",
                "5",
                "--stall-timeout",
                "120",
                "--json",
                "--config",
                str(cluster.config_path),
            ],
            stdout=subprocess.PIPE,
            stderr=errors,
            env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "bothome")},
        )
    game: subprocess.Popen[bytes] | None = None
    try:
        created = wait_for(
            lambda: re.search(r"created connect4 game ([0-9a-f]{32})", bot_log.read_text()),
            60,
            "the bot's open game",
        )
        game_id = created.group(1)
        game = subprocess.Popen(
            [
                str(BIN / "replgame-play"),
                "--config",
                str(cluster.config_path),
                "--name",
                "human",
                "--size",
                f"{WIDTH}x{HEIGHT}",
            ],
            env={**display.env, "XDG_CONFIG_HOME": str(home)},
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "play.err").open("w"),
        )
        [window] = display.wait_windows(1)
        wait_for(lambda: display.title(window).startswith("replgame \u2014 Lobby"), 60, "the lobby")
        _, _, width, height = display.geometry(window)
        assert (width, height) == (WIDTH, HEIGHT)

        # The lobby lists the bot's game; its Join button is where the view-model puts it.
        lobby = LobbyState(
            "human",
            open_games=(ListedEntry(game_id, "connect4", "open", ("bot0", None)),),
            loaded=True,
        )
        replicas = lobby_replicas(dict.fromkeys((1, 2, 3), (True, True, "")))
        join = lobby_scene(lobby, replicas, WIDTH, HEIGHT).button("join", game_id)

        def joined() -> bool:
            if display.title(window).startswith("replgame \u2014 Lobby"):
                display.click(window, *join.rect.centre)
                time.sleep(0.5)
                return False
            return True

        wait_for(joined, 60, "the game screen after Join", interval=0.5)

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
        assert bot.returncode == 0, bot_log.read_text()
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
            for window in display.windows():
                display.xdotool("windowclose", window, check=False)
            try:
                game.wait(20)
            except subprocess.TimeoutExpired:
                game.kill()
                game.wait()
        if bot.poll() is None:
            bot.kill()
            bot.wait()
