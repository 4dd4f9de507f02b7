"""A live Connect Four game that the bot loses on time, in the real window on Xvfb.

``replgame bot --open --clock live:10+0 --flag-rate 1`` creates a timed game
and, once someone joins, never moves.  The person joins from the lobby by a
click; the bot (black) is to move at once, so its 10 s run from the join.
The window's game screen claims the win when the bot's clock runs out (the
servers would end the game themselves ``flag_grace`` later), and its title
shows "You win on time"; the three servers hold that result.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from game.client_gui.viewmodel import ListedEntry
from tests.gui_render.cluster import Cluster
from tests.gui_xvfb.conftest import TIME_TUNING, Display
from tests.gui_xvfb.play import (
    close_window,
    join_from_lobby,
    show,
    start_open_bot,
    start_window,
    wait_for,
)

CONTROL = "live:10+0"
#: Allowance past the servers' own timeout (deadline + flag_grace) for the
#: window to hear of the end and retitle itself.
MARGIN_S = 5


def test_the_bot_flags_and_the_window_shows_the_win_on_time(
    display: Display, timed_cluster: Cluster, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    bot, game_id = start_open_bot(
        timed_cluster, tmp_path, "--clock", CONTROL, "--flag-rate", "1", "--stall-timeout", "60"
    )
    game: subprocess.Popen[bytes] | None = None
    try:
        game = start_window(display, timed_cluster, home, (tmp_path / "play.err").open("w"))
        [window] = display.wait_windows(1)
        entry = ListedEntry(game_id, "connect4", "open", ("bot0", None), clock=CONTROL)
        join_from_lobby(display, window, entry)

        # Joined: the clock runs, and it is the bot's turn (black moves first),
        # so the person has nothing to play.
        joined = show(timed_cluster, game_id, home)["game"]
        assert joined["players"] == ["bot0", "human"]
        assert (joined["status"], joined["to_move"]) == ("active", 0), joined
        assert joined["clock"]["control"] == CONTROL
        deadline_ms = joined["clock"]["deadline"]
        assert joined["clock"]["remaining"][1] == 10_000

        # The window shows the end within the servers' own timeout plus a margin.
        wait_s = max(0.0, deadline_ms / 1000 - time.time()) + TIME_TUNING["flag_grace"] + MARGIN_S
        title = wait_for(
            lambda: "You win on time" in display.title(window) and display.title(window),
            wait_s,
            "the window's title to show the win on time",
            interval=0.2,
        )
        assert title.endswith("You win on time"), title

        # The majority's document: all three servers agree on the result.
        def agreed_by_all() -> dict[str, object] | None:
            answer = show(timed_cluster, game_id, home)
            return answer if sorted(answer["agreed"]) == [1, 2, 3] else None

        answer = wait_for(agreed_by_all, 10, "3 of 3 servers to agree", interval=0.3)
        final = answer["game"]
        assert answer["provisional"] is False
        assert final["status"] == "finished"
        assert final["result"] == {"winner": 1, "reason": "time"}
        assert final["moves"] == []
        assert final["clock"]["remaining"] == [0, 10_000]

        # The bot saw the same end: it flagged on purpose and made no move.
        out, _ = bot.communicate(timeout=30)
        assert bot.returncode == 0, (tmp_path / "bot.err").read_text()
        report = json.loads(out)
        assert (report["finished"], report["abandoned"]) == (1, [])
        assert (report["flagged"], report["moves"], report["on_time"]) == (1, 0, 1)
        [result] = report["results"]
        assert (result["game_id"], result["winner"]) == (game_id, 1)
    finally:
        if game is not None:
            close_window(display, game)
        if bot.poll() is None:
            bot.kill()
            bot.wait()
