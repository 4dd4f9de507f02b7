"""Play through the real window against three real servers, and check pixels.

Alice's moves are mouse events dispatched to her headless window.  After
each, every cell the view-model says changed, and a sample of the cells that
did not, must show the view-model's colours in the framebuffer.
"""

from __future__ import annotations

from typing import Any

import pytest_twisted

from game.client_gui import palette as colour
from game.client_gui.headless import close_enough, grab, until
from game.client_gui.scene import Scene, changed_cells
from game.client_gui.viewmodel import game_title
from tests.client_gui.helpers import CHECKERS_DOUBLE_JUMP_AND_CROWN
from tests.gui_render.cluster import Cluster
from tests.gui_render.conftest import Table, assert_cells


def unchanged_sample(before: Scene, after: Scene, every: int = 5) -> list[str]:
    changed = set(changed_cells(before, after))
    keys = [cell.key for cell in after.cells if cell.key not in changed]
    return keys[::every]


async def move_and_check(table: Table, move: str, expected: set[str] | None = None) -> Scene:
    """Alice plays ``move`` by clicks; check changed and sample cells; return the scene."""
    game = table.alice.game
    assert game is not None and game.document is not None
    version = game.document.version
    before = await table.settled(version)
    assert_cells(grab(table.window), before, [cell.key for cell in before.cells])
    await table.alice_plays(move)
    after = await table.settled(version + 1)
    assert table.moves()[-1] == move
    changed = changed_cells(before, after)
    assert changed, "a move changes cells"
    if expected is not None:
        assert set(changed) == expected
    frame = grab(table.window)
    assert assert_cells(frame, after, changed) >= 2 * len(changed)
    assert_cells(frame, after, unchanged_sample(before, after))
    return after


@pytest_twisted.ensureDeferred
async def test_connect4_drop(table: Table) -> None:
    await table.start()
    try:
        await table.new_game("connect4")
        scene = await table.settled(2)
        assert table.window.title == "replgame \u2014 Your move"
        assert scene.cell("c4r1").piece == colour.C4_HOLE
        after = await move_and_check(table, "4", {"c4r1"})
        cell = after.cell("c4r1")
        assert (cell.piece, cell.background) == (colour.SEAT_COLOURS[0], colour.C4_LAST)
        assert table.window.title.startswith("replgame \u2014 Connect Four")
        # Bob's answer arrives by the watch stream, with no action of Alice's.
        table.bob_plays("4")
        after = await table.settled(4)
        frame = grab(table.window)
        assert after.cell("c4r2").piece == colour.SEAT_COLOURS[1]
        assert_cells(frame, after, ["c4r1", "c4r2"])
        assert table.window.title == "replgame \u2014 Your move"
    finally:
        await table.stop()


@pytest_twisted.ensureDeferred
async def test_reversi_place_and_flip(table: Table) -> None:
    await table.start()
    try:
        await table.new_game("reversi")
        before = await table.settled(2)
        hinted = {cell.key for cell in before.cells if cell.mark == colour.RV_HINT}
        assert hinted == {"c4", "d3", "e6", "f5"}
        after = await move_and_check(table, "d3", {"d3", "d4", "c4", "e6", "f5"})
        assert after.cell("d3").background == colour.RV_LAST
        assert after.cell("d4").background == colour.RV_FLIPPED
        assert after.cell("d4").centre_colour == colour.SEAT_COLOURS[0]
        assert after.cell("c4").mark is None
    finally:
        await table.stop()


@pytest_twisted.ensureDeferred
async def test_checkers_double_jump_by_three_clicks_and_crowning(table: Table) -> None:
    await table.start()
    try:
        await table.new_game("checkers")
        moves = list(CHECKERS_DOUBLE_JUMP_AND_CROWN)
        for index, move in enumerate(moves):
            version = 2 + index
            await table.settled(version)
            if index % 2 == 1:
                table.bob_plays(move)
                continue
            if move == "12x19x28":
                scene = await table.settled(version)
                assert scene.cell("12").background == colour.CK_CAPTURE
                assert_cells(grab(table.window), scene, ["12"])
                # Three clicks: the piece, then each landing square; one request.
                points = [(scene.cell(s).rect.centre) for s in ("12", "19", "28")]
                await table.click(*points[0])
                selected = table.window.refresh()
                assert selected.cell("12").background == colour.CK_SELECTED
                assert selected.cell("19").centre_colour == colour.CK_HINT
                assert_cells(grab(table.window), selected, ["12", "19"])
                await table.click(*points[1])
                midway = table.window.refresh()
                assert midway.cell("28").centre_colour == colour.CK_HINT
                assert_cells(grab(table.window), midway, ["12", "19", "28"])
                assert len(table.moves()) == index
                before = scene
                await table.click(*points[2])
                after = await table.settled(version + 1)
                assert table.moves()[-1] == "12x19x28"
                changed = changed_cells(before, after)
                assert {"12", "16", "19", "24", "28"} <= set(changed)
                frame = grab(table.window)
                assert_cells(frame, after, changed)
                assert after.cell("16").piece is None and after.cell("24").piece is None
                assert after.cell("28").piece == colour.SEAT_COLOURS[0]
                continue
            after = await move_and_check(table, move)
            if move == "28-32":
                king = after.cell("32")
                assert (king.piece, king.mark) == (colour.SEAT_COLOURS[0], colour.CK_KING)
                frame = grab(table.window)
                x, y, _ = king.probes()[0]
                assert close_enough(frame.pixel(x, y), colour.CK_KING)
        assert table.moves() == moves
    finally:
        await table.stop()


@pytest_twisted.ensureDeferred
async def test_refused_move_keeps_the_majority_board(table: Table) -> None:
    """A move the servers refuse shows their reason; the board stays as they hold it."""
    await table.start()
    try:
        await table.new_game("connect4")
        table.bob_plays("4")  # not Bob's turn: refused on his screen, before sending
        assert table.bob.game is not None
        assert table.bob.game.notice == "It is not your move."
        before = await table.settled(2)
        table.alice.move("8")  # sent as is: the servers refuse it
        await until(table.reactor, lambda: table.alice.idle, what="the refusal")
        await table.ticks()
        after = table.window.refresh()
        notice = table.alice.game.notice  # type: ignore[union-attr]
        assert notice.startswith("Move 8 refused by the servers: ILLEGAL_MOVE"), notice
        assert notice in after.texts()
        assert changed_cells(before, after) == []
        assert table.moves() == []
        assert_cells(grab(table.window), after, [cell.key for cell in after.cells])
    finally:
        await table.stop()


@pytest_twisted.ensureDeferred
async def test_killed_server_light(reactor: Any, tmp_path: Any) -> None:
    own = Cluster(tmp_path / "cluster")
    own.start()
    try:
        own.wait_serving()
        table = Table(reactor, own, tmp_path / "seats")
        await table.start()
        try:
            await table.new_game("reversi")
            scene = await table.settled(2)
            light = scene.light(3)
            x, y, expected = light.probe()
            assert expected == colour.LIGHT_AGREE
            assert close_enough(grab(table.window).pixel(x, y), colour.LIGHT_AGREE)
            own.kill(3)
            await until(
                reactor, lambda: table.window.refresh().light(3).state == "down", what="red light"
            )
            await table.ticks()
            scene = table.window.refresh()
            assert "agreement: 2 of 3" in scene.texts()
            assert close_enough(grab(table.window).pixel(x, y), colour.LIGHT_DOWN)
            assert close_enough(
                grab(table.window).pixel(*scene.light(1).probe()[:2]), colour.LIGHT_AGREE
            )
            # Play on with two servers; then the third comes back and catches up.
            await table.alice_plays("d3")
            await until(reactor, lambda: len(table.moves()) == 1 and table.alice.idle)
            own.start_server(3)
            await until(
                reactor,
                lambda: table.window.refresh().light(3).state == "agree",
                timeout=40,
                what="server 3 back and agreeing",
            )
            await table.ticks()
            assert close_enough(grab(table.window).pixel(x, y), colour.LIGHT_AGREE)
            assert "agreement: 3 of 3" in table.window.refresh().texts()
            assert game_title(table.alice.game).startswith("replgame")  # type: ignore[arg-type]
        finally:
            await table.stop()
    finally:
        own.stop()
