"""What the Xvfb game tests share: ``replgame`` and ``replgame-play`` as
child processes, waiting for a condition, and joining a game from the lobby
by a click where the view-model puts its Join button."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from game.client_gui.replicas import Shown, game_replicas, lobby_replicas
from game.client_gui.viewmodel import (
    GameState,
    ListedEntry,
    LobbyState,
    clicks_for_move,
    game_scene,
    lobby_scene,
)
from tests.gui_render.cluster import Cluster
from tests.gui_xvfb.conftest import Display

BIN = Path(sys.executable).parent
WIDTH, HEIGHT = 900, 660
LOBBY = "replgame \u2014 Lobby"
YOUR_MOVE = "replgame \u2014 Your move"


def show(cluster: Cluster, game_id: str, home: Path) -> dict[str, Any]:
    """``replgame show GAME --json``: the majority's document and who agreed."""
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


def start_open_bot(
    cluster: Cluster, tmp_path: Path, *options: str
) -> tuple[subprocess.Popen[bytes], str]:
    """``replgame bot --open --games 1 --kind connect4 OPTIONS --json``, and
    the id of the open game it created (from its announcement on stderr)."""
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
                *options,
                "--json",
                "--config",
                str(cluster.config_path),
            ],
            stdout=subprocess.PIPE,
            stderr=errors,
            env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "bothome")},
        )
    try:
        created = wait_for(
            lambda: re.search(r"created connect4 game ([0-9a-f]{32})", bot_log.read_text()),
            60,
            "the bot's open game",
        )
    except BaseException:
        bot.kill()
        bot.wait()
        raise
    return bot, created.group(1)


def start_window(
    display: Display, cluster: Cluster, home: Path, errors: IO[str]
) -> subprocess.Popen[bytes]:
    """``replgame-play --name human`` at WIDTH x HEIGHT on ``display``."""
    return subprocess.Popen(
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
        stderr=errors,
    )


def join_from_lobby(display: Display, window: str, entry: ListedEntry) -> None:
    """Wait for the lobby, then click Join on ``entry`` until the game screen shows."""
    wait_for(lambda: display.title(window).startswith(LOBBY), 60, "the lobby")
    _, _, width, height = display.geometry(window)
    assert (width, height) == (WIDTH, HEIGHT)
    lobby = LobbyState("human", open_games=(entry,), loaded=True)
    replicas = lobby_replicas(dict.fromkeys((1, 2, 3), (True, True, "")))
    join = lobby_scene(lobby, replicas, WIDTH, HEIGHT).button("join", entry.game_id)

    def joined() -> bool:
        if display.title(window).startswith(LOBBY):
            display.click(window, *join.rect.centre)
            time.sleep(0.5)
            return False
        return True

    wait_for(joined, 60, "the game screen after Join", interval=0.5)


def close_window(display: Display, game: subprocess.Popen[bytes]) -> None:
    for window in display.windows():
        display.xdotool("windowclose", window, check=False)
    try:
        game.wait(20)
    except subprocess.TimeoutExpired:
        game.kill()
        game.wait()


def settled_title(title: str) -> str | None:
    """The title when it asks for a move or shows the end, else None."""
    if title == YOUR_MOVE or re.search(r"You win|wins|Draw|cancelled", title):
        return title
    return None


def play_connect4_by_clicks(
    display: Display,
    window: str,
    cluster: Cluster,
    home: Path,
    game_id: str,
    seat: int,
    players: list[str],
    rng: random.Random,
    timeout: float = 120,
) -> int:
    """On each of the person's turns (the title says so) click a random legal
    column where the view-model draws it, until the game ends; the number of
    clicks.  Each turn checks the majority's document: ``seat`` to move,
    ``players`` seated."""
    clicks = 0
    while True:
        title = wait_for(
            lambda: settled_title(display.title(window)), timeout, "my move or the end"
        )
        if title != YOUR_MOVE:
            return clicks
        document = show(cluster, game_id, home)["game"]
        assert document["to_move"] == seat and document["players"] == players
        move = rng.choice(document["legal"])
        state = GameState(
            game_id, seat, "x" * 16, "human", Shown.of(json.dumps(document), False, (1, 2, 3))
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
