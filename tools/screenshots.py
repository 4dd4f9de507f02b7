#!/usr/bin/env python3
"""Make the README's screenshots: docs/screenshots/{connect4,reversi,checkers}.png,
connect4-clock.png (a live 5+3 game: both clocks beside the board), and
connect4-computer.png (alice against the level-3 computer, "Play the computer").

Starts a local three-server cluster (``replgame cluster`` on free ports in a
temporary directory), opens the game headless (pyglet with EGL: no display
needed) for the player alice, plays a few moves of each kind against bob
(a second controller), and saves alice's window after each game::

    .venv/bin/python tools/screenshots.py [--out docs/screenshots] [--only NAME]

Alice's moves are mouse clicks dispatched to her window, at the points the
view-model says the move's cells are.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import pyglet

pyglet.options["headless"] = True

from twisted.internet.defer import Deferred  # noqa: E402
from twisted.internet.task import react  # noqa: E402

from game.client.client import ReplicatedClient  # noqa: E402
from game.client.tokens import TokenStore  # noqa: E402
from game.client_gui.clockview import CHOOSE_CONTROL  # noqa: E402
from game.client_gui.controller import Controller  # noqa: E402
from game.client_gui.driver import WindowDriver  # noqa: E402
from game.client_gui.headless import press, save, until  # noqa: E402
from game.client_gui.viewmodel import clicks_for_move  # noqa: E402
from game.client_gui.window import GameWindow  # noqa: E402
from game.config import load_config  # noqa: E402
from game.localcluster import ClusterProcess, write_local_config  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

#: The moves of each game, alternately alice's (black) and bob's (white);
#: the screenshot is taken after the last, with alice to move.
GAMES = {
    "connect4": ["4", "4", "3", "5", "5", "3", "2", "6", "4", "3"],
    "reversi": ["d3", "c3", "c4", "e3", "f3", "c5", "b3", "f4", "f5", "g4"],
    # White's last capture leaves black a forced capture (6x15), hinted in red.
    "checkers": [
        *("11-15", "22-17", "9-13", "17-14", "10x17", "21x14"),
        *("8-11", "24-19", "15x24", "28x19", "11-15", "19x10"),
    ],
}
#: The shots: file name -> (kind, time control ("" untimed), moves).
SHOTS: dict[str, tuple[str, str, list[str]]] = {
    **{kind: (kind, "", moves) for kind, moves in GAMES.items()},
    # A live game: the clocks show what each side spent, alice's running.
    "connect4-clock": ("connect4", "live:300+3", ["4", "3", "4", "4", "5", "6"]),
}
#: Alice's moves against the computer (level 3; it answers each).
COMPUTER_MOVES = ["4", "3", "5", "2"]


async def play(
    reactor: Any, out: Path, config_path: Path, seats: Path, only: str | None = None
) -> None:
    config = load_config(str(config_path))
    clients = [ReplicatedClient(config, reactor) for _ in range(2)]
    for client in clients:
        client.start()
        await client.settled()
    alice = Controller(clients[0], TokenStore(seats / "alice.json"), "alice", reactor)
    bob = Controller(clients[1], TokenStore(seats / "bob.json"), "bob", reactor)
    window = GameWindow(alice, 900, 640)
    driver = WindowDriver(reactor)
    driver.add(window)
    driver.start()
    alice.start()
    bob.start()
    try:
        for name, (kind, control, moves) in SHOTS.items():
            if only is not None and name != only:
                continue
            alice.show_lobby()
            await until(reactor, lambda: alice.game is None and alice.lobby.loaded, what="lobby")
            window.refresh()
            scene = window.refresh()
            if alice.lobby.time_control != control:
                press(window, *scene.button(CHOOSE_CONTROL, control).rect.centre)
                await until(
                    reactor,
                    lambda c=control: alice.lobby.time_control == c,
                    what=f"time control {control or 'untimed'}",
                )
                scene = window.refresh()
            x, y = scene.button("create", kind).rect.centre
            press(window, x, y)
            await until(reactor, lambda: alice.game is not None and alice.game.shown is not None)
            assert alice.game is not None
            game_id = alice.game.game_id
            await bob.join_game(game_id)
            await until(reactor, lambda: alice.game.document.status == "active", what="join")
            for index, move in enumerate(moves):
                player = alice if index % 2 == 0 else bob
                version = len(player.game.document.moves)
                await until(
                    reactor,
                    lambda p=player, v=version: (
                        p.game.document is not None
                        and len(p.game.document.moves) == v
                        and p.game.my_turn
                        and p.idle
                    ),
                    what=f"{kind}: the turn for {move}",
                )
                if player is alice:
                    for x, y in clicks_for_move(window.refresh(), kind, move):
                        press(window, x, y)
                        await until(reactor, lambda: driver.ticks > 0)
                        await _ticks(reactor, driver, 2)
                else:
                    scene = bob.scene(900, 640)
                    for x, y in clicks_for_move(scene, kind, move):
                        bob.click(x, y, 900, 640)
                await until(
                    reactor,
                    lambda i=index: len(alice.game.document.moves) == i + 1 and alice.idle,
                    what=f"{kind}: {move} on alice's screen",
                )
            await until(
                reactor,
                lambda: "agreement: 3 of 3" in window.refresh().texts(),
                what="3 of 3",
            )
            await _ticks(reactor, driver, 3)
            target = out / f"{name}.png"
            save(window, target)
            print(f"saved {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
        if only in (None, "connect4-computer"):
            await against_the_computer(reactor, alice, window, driver, out)
    except Exception:
        print("alice:", alice.game, "\nbob:", bob.game, file=sys.stderr)
        raise
    finally:
        driver.stop()
        alice.stop()
        bob.stop()
        window.close()
        for client in clients:
            await client.stop()


async def against_the_computer(
    reactor: Any, alice: Controller, window: GameWindow, driver: WindowDriver, out: Path
) -> None:
    """Alice clicks "Play the computer" (Connect Four, level 3, black) and
    plays :data:`COMPUTER_MOVES`; the computer runs in this process."""
    alice.show_lobby()
    await until(reactor, lambda: alice.game is None and alice.lobby.loaded, what="lobby")
    if alice.lobby.time_control:
        press(window, *window.refresh().button(CHOOSE_CONTROL, "").rect.centre)
        await until(reactor, lambda: not alice.lobby.time_control, what="untimed")
    press(window, *window.refresh().button("computer").rect.centre)
    await until(reactor, lambda: window.refresh().overlay is not None, what="the panel")
    for name, value in (("computer-level", "3"), ("computer-play", "")):
        press(window, *window.refresh().button(name, value).rect.centre)
        await _ticks(reactor, driver, 2)
    await until(reactor, lambda: alice.game is not None and alice.game.shown is not None)
    for index, move in enumerate(COMPUTER_MOVES):
        await until(
            reactor,
            lambda i=index: (
                alice.game.document is not None
                and len(alice.game.document.moves) == 2 * i
                and alice.game.my_turn
                and alice.idle
            ),
            timeout=30,
            what=f"alice's move {move}",
        )
        for x, y in clicks_for_move(window.refresh(), "connect4", move):
            press(window, x, y)
            await _ticks(reactor, driver, 2)
    await until(
        reactor,
        lambda: (
            len(alice.game.document.moves) == 2 * len(COMPUTER_MOVES)
            and alice.idle
            and "agreement: 3 of 3" in window.refresh().texts()
        ),
        timeout=30,
        what="the computer's last answer",
    )
    await _ticks(reactor, driver, 3)
    target = out / "connect4-computer.png"
    save(window, target)
    print(f"saved {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")


async def _ticks(reactor: Any, driver: WindowDriver, count: int) -> None:
    start = driver.ticks
    await until(reactor, lambda: driver.ticks >= start + count)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument(
        "--only", metavar="NAME", help="make only this one (e.g. connect4-computer)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="replgame-shots-") as temporary:
        directory = Path(temporary)
        config_path = write_local_config(directory)
        cluster = ClusterProcess(directory, config_path)
        cluster.start()
        try:
            cluster.wait_serving()
            seats = directory / "seats"
            react(
                lambda reactor: Deferred.fromCoroutine(
                    play(reactor, args.out, config_path, seats, args.only)
                )
            )
        except SystemExit as exit:
            if exit.code:
                print(cluster.text(), file=sys.stderr)
                return int(exit.code)
        finally:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
