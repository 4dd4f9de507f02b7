"""Takebacks and rematches, drawn by the real window and read back.

As in test_replay.py, the window shows a controller over the unit tests'
fake client (with the offers' requests), so no servers are needed: the
documents are the test's own, and clicks go through pyglet's event queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyglet
import pytest

pyglet.options["headless"] = True


from game.client_gui import palette as colour  # noqa: E402
from game.client_gui.headless import Frame, close_enough, grab  # noqa: E402
from game.client_gui.replicas import BAR_HEIGHT  # noqa: E402
from game.client_gui.scene import Box, Rect, Scene  # noqa: E402
from game.client_gui.viewmodel import NOTICE_HEIGHT  # noqa: E402
from tests.client_gui.helpers import document, ok  # noqa: E402
from tests.client_gui.offer_helpers import (  # noqa: E402
    NEW_GAME,
    OfferClient,
    finished_game,
    rematch_game,
    taken_back,
    with_rematch,
    with_takeback,
)
from tests.gui_render.conftest import assert_cells  # noqa: E402
from tests.gui_render.screen import Screen, opened  # noqa: E402


@pytest.fixture
def screen(tmp_path: Path) -> Iterator[Screen]:
    yield from opened(Screen(tmp_path, OfferClient))


def corner(frame: Frame, rect: Rect) -> tuple[int, int, int]:
    """A pixel near a box's lower left corner, clear of any text."""
    return frame.pixel(int(rect.x + 2), int(rect.y + 2))


def inked(frame: Frame, x0: float, x1: float, y: float, ground: tuple[int, int, int]) -> bool:
    """Whether text is drawn on the row ``y`` between ``x0`` and ``x1``."""
    return any(
        not close_enough(frame.pixel(x, int(y)), ground, 40) for x in range(int(x0), int(x1))
    )


def card(scene: Scene) -> Box:
    [box] = [box for box in scene.base.boxes if box.colour == colour.OFFER_CARD]
    return box


def card_lines(scene: Scene) -> list[str]:
    rect = card(scene).rect
    return [label.text for label in scene.base.labels if rect.contains(label.x, label.y)]


def check_card(frame: Frame, scene: Scene, buttons: dict[str, tuple[int, int, int]]) -> None:
    """The card, its text and its buttons are drawn in their colours."""
    box = card(scene)
    assert close_enough(corner(frame, box.rect), colour.OFFER_CARD)
    first = next(label for label in scene.base.labels if box.rect.contains(label.x, label.y))
    assert inked(frame, box.rect.x + 4, box.rect.right - 4, first.y + 3, colour.OFFER_CARD)
    for name, fill in buttons.items():
        button = scene.button(name)
        assert box.rect.contains(*button.rect.centre), name
        assert close_enough(corner(frame, button.rect), fill), name
        assert inked(frame, button.rect.x + 2, button.rect.right - 2, button.rect.centre[1], fill)


def check_notice(frame: Frame, scene: Scene, notice: str) -> None:
    """The notice line says ``notice``, drawn in the notices' colour."""
    assert notice in scene.texts()
    row = [frame.pixel(x, BAR_HEIGHT + NOTICE_HEIGHT // 2) for x in range(10, 400)]
    assert any(close_enough(pixel, colour.NOTICE_TEXT, 50) for pixel in row)


def test_the_takeback_offer_notice_and_buttons(screen: Screen) -> None:
    doc = document("connect4", ("4", "4", "3"))
    screen.show(doc, seat=0)
    before = screen.scene()
    frame = grab(screen.window)
    assert close_enough(corner(frame, before.button("takeback").rect), colour.BUTTON)
    # Bob asks: a notice, and the card with its two answers in place of "Take back".
    offered = with_takeback(doc, 1)
    screen.offer(offered)
    scene = screen.scene()
    frame = grab(screen.window)
    check_notice(frame, scene, "bob asks to take back their last move")
    assert " ".join(card_lines(scene)) == "bob asks to take back their last move"
    check_card(
        frame, scene, {"accept-takeback": colour.BUTTON_ACCEPT, "decline-takeback": colour.BUTTON}
    )
    assert [b.text for b in scene.base.buttons if "takeback" in b.action.name] == [
        "Accept take back",
        "Decline",
    ]
    # Accepting takes back bob's last move and alice's reply: the board goes back.
    screen.click(scene.button("accept-takeback"))
    arguments, answer = screen.client.pop("accept_takeback")
    assert arguments["version"] == offered["version"]
    answer.callback(ok(taken_back(offered, 2, 1)))
    back = screen.scene()
    frame = grab(screen.window)
    assert back.cell("c4r2").piece == back.cell("c3r1").piece == colour.C4_HOLE
    assert_cells(frame, back, ["c4r1", "c4r2", "c3r1"])
    check_notice(frame, back, "You accepted: bob took back 2 moves.")
    assert not close_enough(corner(frame, card(scene).rect), colour.OFFER_CARD)
    assert not [box for box in back.base.boxes if box.colour == colour.OFFER_CARD]


def test_one_s_own_takeback_offer_waits(screen: Screen) -> None:
    doc = document("checkers", ("11-15", "23-19"))
    screen.show(doc, seat=1)
    screen.click(screen.scene().button("takeback"))
    _, answer = screen.client.pop("offer_takeback")
    answer.callback(ok(with_takeback(doc, 1)))
    scene = screen.scene()
    frame = grab(screen.window)
    assert card_lines(scene) == ["Take back offered \u2014 waiting"]
    check_card(frame, scene, {"decline-takeback": colour.BUTTON})
    assert scene.button("decline-takeback").text == "Withdraw"


def test_the_rematch_offer_notice_and_the_switch_to_the_new_game(screen: Screen) -> None:
    old = finished_game()
    screen.show(old, seat=0)
    offered = with_rematch(old, 1)
    screen.offer(offered)
    scene = screen.scene()
    frame = grab(screen.window)
    check_notice(frame, scene, "bob offers a rematch: you play white")
    assert " ".join(card_lines(scene)) == "bob offers a rematch: you play white"
    check_card(
        frame, scene, {"accept-rematch": colour.BUTTON_ACCEPT, "decline-rematch": colour.BUTTON}
    )
    # Alice accepts: the answer is the new game, drawn in place of the old one.
    screen.click(scene.button("accept-rematch"))
    arguments, answer = screen.client.pop("accept_rematch")
    answer.callback(ok(rematch_game(old)))
    new = screen.scene()
    frame = grab(screen.window)
    assert new.texts()[0] == "Connect Four  \u00b7  You: white"
    assert "bob (black) to move" in new.texts()
    assert {cell.piece for cell in new.cells} == {colour.C4_HOLE}
    assert_cells(frame, new, [cell.key for cell in new.cells])
    check_notice(frame, new, "Rematch accepted: you play white in this new game.")
    [stored] = screen.store.find(screen.client.config.cluster_id, NEW_GAME)
    assert (stored.seat, stored.token) == (1, arguments["rematch_token"])
    assert list(screen.client.watches) == [NEW_GAME]


def test_the_offerer_follows_the_accept_to_the_new_game(screen: Screen) -> None:
    old = finished_game()
    screen.show(old, seat=0)
    scene = screen.scene()
    frame = grab(screen.window)
    rematch = scene.button("rematch")
    assert rematch.text == "Rematch"
    assert close_enough(corner(frame, rematch.rect), colour.BUTTON)
    screen.click(rematch)
    arguments, answer = screen.client.pop("offer_rematch")
    new_id = arguments["rematch_id"]
    answer.callback(ok(with_rematch(old, 0, game=new_id)))
    waiting = screen.scene()
    frame = grab(screen.window)
    assert card_lines(waiting) == ["Rematch offered \u2014 waiting"]
    check_card(frame, waiting, {"decline-rematch": colour.BUTTON})
    # The opponent accepts: the watched old game says so, and the new game opens.
    screen.offer(with_rematch(old, 0, "accepted", 2, game=new_id))
    _, read = screen.client.pop("get_game")
    read.callback(ok(rematch_game(old, new_id)))
    screen.clock.advance(1)
    new = screen.scene()
    frame = grab(screen.window)
    assert new.texts()[0] == "Connect Four  \u00b7  You: white"
    assert {cell.piece for cell in new.cells} == {colour.C4_HOLE}
    assert_cells(frame, new, [cell.key for cell in new.cells])
    check_notice(frame, new, "Rematch: you play white in this new game.")
    game = screen.controller.game
    assert game is not None
    assert (game.game_id, game.seat, game.token) == (new_id, 1, arguments["rematch_token"])
