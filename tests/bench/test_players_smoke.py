"""The players benchmark at a tiny size (real servers, real load processes).

It asserts what a run reports (tables, the JSON, that moves were
acknowledged and every push arrived), never a speed: that is
``make bench``'s to print.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest_twisted  # type: ignore[import-untyped]

from bench import players, report
from bench.common import write_result

SEED = 7


@pytest_twisted.ensureDeferred
async def test_players_smoke(tmp_path: Path) -> None:
    result = await players.run_command(quick=True, seed=SEED)
    (row,) = result["rows"]
    assert row["per_server"] == players.QUICK_SIZES[0]
    assert row["refused"] == row["failed"] == row["links_lost"] == 0
    assert row["acks"] > 0 and row["failed_moves"] == 0
    assert row["fanout_n"] > 0 and row["pushes_expected"] > 0
    assert row["pushes_lost"] == 0
    assert set(row["cpu"]) == {"1", "2", "3"}
    assert row["rss_max_mb"] > 0
    text = players.render(result)
    assert "fan-out p99 ms" in text and "pushes lost" in text
    path = write_result("players", result, tmp_path)
    assert json.loads(path.read_text())["rows"][0]["pushes_lost"] == 0
    assert "## Players" in report.render(tmp_path)


def test_split() -> None:
    assert players.split(10, 4) == [3, 3, 2, 2]
    assert players.split(10, 4, 2) == [4, 2, 2, 2]
    assert sum(players.split(2_500, 4, 2)) == 2_500
