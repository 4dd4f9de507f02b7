"""``replgame-play``: the desktop game.

Talks to the three servers of a cluster (``--config PATH``, ``--servers
HOST:PORT,HOST:PORT,HOST:PORT``, or the built-in local cluster) through
:class:`~game.client.client.ReplicatedClient`, keeps seat tokens in
:class:`~game.client.tokens.TokenStore` (per cluster), and shows a pyglet
window driven by the reactor (:mod:`game.client_gui.driver`).
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from game import protocol as p
from game.client.client import ReplicatedClient
from game.client.options import add_cluster_options, cluster_options_text, resolve_config
from game.client.tokens import TokenStore
from game.config import ConfigError

PROG = "replgame-play"

NO_DISPLAY = """\
{prog}: there is no display to open a window on (DISPLAY is not set).
Play from the terminal instead, with the same cluster options:
  replgame status{options}                    # are the three servers up?
  replgame new connect4 --as NAME{options}    # create a game (or reversi, checkers)
  replgame games --status open{options}       # games waiting for a second player
  replgame join GAME --as NAME{options}       # take the free seat
  replgame move GAME 4{options}               # play a move (reversi: d3; checkers: 11-15)
  replgame watch GAME{options}                # follow a game as it is played
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Play replgame games in a window, on a cluster of three replicated servers.",
    )
    add_cluster_options(parser)
    parser.add_argument("--name", help="your player name (default: your login name)")
    parser.add_argument(
        "--seats",
        metavar="PATH",
        help="the seat token file (default $XDG_CONFIG_HOME/replgame/seats.json)",
    )
    parser.add_argument("--size", default="980x700", metavar="WxH", help="the window size")
    parser.add_argument("--position", metavar="X,Y", help="where to put the window")
    parser.add_argument(
        "--headless",
        action="store_true",
        help="render without a display (EGL), for tests and screenshots",
    )
    return parser


def default_name() -> str:
    try:
        name = os.environ.get("USER") or getpass.getuser()
        return p.check_player(name.strip()[:32])
    except Exception:
        return "player"


def has_display() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def fail(message: str, code: int = 2) -> NoReturn:
    sys.stderr.write(f"{PROG}: {message}\n")
    raise SystemExit(code)


def _pair(text: str, separator: str, what: str) -> tuple[int, int]:
    try:
        first, second = text.lower().split(separator)
        return int(first), int(second)
    except ValueError:
        fail(f"{what} is {separator.join(['N', 'N'])!r}, not {text!r}")


def run(args: argparse.Namespace) -> int:
    """Open the window and run the reactor until the window closes."""
    try:
        config = resolve_config(args)
    except ConfigError as error:
        fail(str(error))
    name = default_name()
    if args.name is not None:
        try:
            name = p.check_player(args.name)
        except p.InvalidArgument as error:
            fail(f"--name: {error}")
    width, height = _pair(args.size, "x", "--size")
    if not args.headless and not has_display():
        sys.stderr.write(NO_DISPLAY.format(prog=PROG, options=cluster_options_text(args)))
        return 3

    import pyglet

    pyglet.options["headless"] = bool(args.headless)
    # Typed by Twisted as the reactor's common interfaces (core, time, TCP, ...).
    from twisted.internet import reactor

    from game.client_gui.controller import Controller
    from game.client_gui.driver import WindowDriver
    from game.client_gui.window import GameWindow

    client = ReplicatedClient(config, reactor)
    store = TokenStore(Path(args.seats) if args.seats else None)
    controller = Controller(client, store, name, reactor)
    window = GameWindow(controller, width, height)
    if args.position and not args.headless:
        window.set_location(*_pair(args.position, ",", "--position"))
    driver = WindowDriver(reactor)
    driver.add(window)
    closing: list[bool] = []

    def quit_game() -> None:
        if closing:
            return
        closing.append(True)
        driver.stop()  # before window.close(): the loop must not draw a closed window
        controller.stop()
        if not window.gone:
            window.gone = True
        with contextlib.suppress(Exception):
            window.close()
        stopped = client.stop()
        stopped.addBoth(lambda _: reactor.stop() if reactor.running else None)
        reactor.callLater(3, lambda: reactor.stop() if reactor.running else None)

    def before_shutdown() -> None:
        # Ctrl-C or SIGTERM: the reactor stops; close the window on the way out.
        if not closing:
            closing.append(True)
            driver.stop()
            controller.stop()
            with contextlib.suppress(Exception):
                window.close()

    controller.on_quit = quit_game
    window.on_gone = quit_game
    reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)
    client.start()
    reactor.callWhenRunning(controller.start)
    reactor.callWhenRunning(driver.start)
    reactor.run()
    return 0


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """The ``replgame-play`` console script."""
    args = build_parser().parse_args(argv)
    raise SystemExit(run(args))
