"""Each benchmark of ``make bench`` at tiny sizes, so that none of them rots.

These assert what a run reports (rounds, counts, byte totals, tables,
files), never a speed or a ratio: those depend on the machine and are
``make bench``'s to print.
"""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import pytest
import pytest_twisted  # type: ignore[import-untyped]
from twisted.internet.task import Clock

from bench import (
    ampparse,
    catchup,
    latency,
    metrics_overhead,
    plot,
    profiling,
    report,
    scale,
    throughput,
)
from bench.common import percentile, write_result
from bench.workload import PlanSource, StoredGame, write_dataset
from game.server.commit import GroupCommitter
from game.server.replica import Replica
from game.server.storage import Storage

SEED = 7


def _finite(value: float) -> bool:
    return isinstance(value, float | int) and math.isfinite(value) and value > 0


def test_dataset_is_what_a_replica_loads(tmp_path: Path) -> None:
    games = write_dataset(tmp_path / "data", 90, SEED)
    storage = Storage.open(tmp_path / "data")
    try:
        # Replica refuses a database whose meta record disagrees with its games.
        replica = Replica(storage, GroupCommitter(storage, Clock()))
        assert len(replica.index) == 90
        assert not replica.is_new
        assert replica.clock == sum(g.version for g in games)
        for game in games:
            assert replica.game(game.game_id).version == game.version  # type: ignore[union-attr]
        statuses = {g.status for g in games}
        assert "active" in statuses
    finally:
        storage.close()


def test_plans_are_seeded_and_legal() -> None:
    first = PlanSource(SEED, "x").plans_with_moves(50)
    again = PlanSource(SEED, "x").plans_with_moves(50)
    assert first == again
    for plan in first:
        assert [s.command for s in plan.steps[:2]] == ["create", "join"]
        versions = [s.version for s in plan.steps]
        assert versions == list(range(len(versions)))
        # What a change stores: its own event's row, not the whole history.
        events = [json.loads(pickle.loads(s.record)) for s in plan.steps]
        assert [e["type"] for e in events[:2]] == ["create", "join"]
        assert [e.get("move") for e in events[2:]] == [s.move for s in plan.steps[2:]]


def test_percentile() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert math.isnan(percentile([], 0.5))


@pytest_twisted.ensureDeferred
async def test_latency_smoke(etcd: str, tmp_path: Path) -> None:
    result = await latency.run(rounds=2, moves=8, seed=SEED)
    for side in latency.SIDES:
        assert result["pooled"][side]["n"] == 16
        assert len(result["samples_ms"][side]) == 16
    assert len(result["per_round"]) == 2
    assert all(_finite(v) for v in result["ratios"].values())
    assert set(result["targets"]) == {"p50 <= 0.8x etcd", "p99 <= etcd"}
    assert "ours p50 / etcd p50" in latency.render(result)
    write_result("latency", result, tmp_path)


@pytest_twisted.ensureDeferred
async def test_throughput_smoke(etcd: str, tmp_path: Path) -> None:
    result = await throughput.run(rounds=2, seconds=0.5, seed=SEED, concurrency=(2, 4))
    for c in (2, 4):
        rows = result["per_round"][str(c)]
        assert len(rows) == 2
        for row in rows:
            assert row["ours_moves_per_s"] > 0 and row["etcd_moves_per_s"] > 0
            assert row["ours_failures"] == row["etcd_failures"] == 0
    assert "ours / etcd moves per second, C=2" in throughput.render(result)
    write_result("throughput", result, tmp_path)


@pytest_twisted.ensureDeferred
async def test_metrics_overhead_smoke(tmp_path: Path) -> None:
    # One round: off, on (a restart with the endpoints), scraped.
    result = await metrics_overhead.run(rounds=1, seconds=0.2, seed=SEED, games=2)
    for config in metrics_overhead.CONFIGS:
        summary = result["configs"][config]
        assert summary["n"] > 0 and summary["failures"] == 0
    assert set(result["ratios"]) == {"on/off", "scraped/on", "scraped/off"}
    assert set(result["targets"]) == set(metrics_overhead.TARGETS)
    for when in ("under_load", "idle"):
        scrape = result["scrape"][when]
        assert scrape["n"] > 0 and scrape["failures"] == 0
        assert scrape["bytes"] > 1000  # every family, in Prometheus' text format
    assert result["scrape"]["idle"]["n"] == 3 * metrics_overhead.IDLE_SCRAPES
    assert _finite(result["counting_us_per_request"])
    text = metrics_overhead.render(result)
    assert "scraped every 100 ms vs not" in text
    write_result("metrics", result, tmp_path)
    assert "## Metrics overhead" in report.render(tmp_path)
    # A missed target is explained from the run's own figures.
    missed = {**result, "targets": dict.fromkeys(result["targets"], False)}
    write_result("metrics", missed, tmp_path)
    assert "- **Metrics overhead** (on/off" in report.render(tmp_path)


@pytest_twisted.ensureDeferred
async def test_catchup_smoke(tmp_path: Path) -> None:
    result = await catchup.run(sizes=(150,), missed=(2, 20), rounds=1, seed=SEED, idle_seconds=0.5)
    cell = result["sizes"]["150"]
    assert len(cell["per_round"]) == 1
    for k in ("2", "20"):
        assert cell["missed"][k]["played"] == int(k)
        assert _finite(cell["missed"][k]["seconds"])
        assert cell["missed"][k]["bytes"] > 0
    # The whole copy moved every game, and its log says so.
    assert (
        cell["copy"]["logged_bytes"] > 0 and cell["copy"]["bytes"] >= cell["copy"]["logged_bytes"]
    )
    for peer in ("peer_1", "peer_2"):  # the serving peers' clients, idle and during a copy
        for when in ("idle", "during"):
            assert _finite(cell["peer_latency"][peer][when]["p99_ms"])
    assert cell["profile"]["copy"]["seconds_profiled"] > 0
    assert cell["profile"]["catch_up"]["seconds_profiled"] > 0
    assert "whole copy" in catchup.render(result)
    write_result("catchup", result, tmp_path)


@pytest_twisted.ensureDeferred
async def test_scale_smoke(tmp_path: Path) -> None:
    result = await scale.run(games=150, rounds=1, seed=SEED)
    assert len(result["starts"]) == 4  # three together, then one restart
    assert all(s["rss_mb"] > 0 for s in result["starts"])
    assert all(v["n"] > 0 for v in result["listings"].values())
    assert "ListGames page" in scale.render(result)
    write_result("scale", result, tmp_path)


@pytest_twisted.ensureDeferred
async def test_profiling_smoke(etcd: str, tmp_path: Path) -> None:
    result = await profiling.run(games=150, seed=SEED, seconds=0.5, moves=12)
    for mode in ("sequential", "16 at once"):
        for side in ("ours", "etcd"):
            assert result["cpu"][mode][side]["total_cpu_ms_per_change"] > 0
        assert result["floor"][mode]["requests_per_s"] > 0
    assert set(result["storage"]) == {
        "default checkpoints",
        "no checkpoints",
        "bare fdatasync of 4 KB",
    }
    for scenario in ("commit", "concurrent"):
        assert set(result[scenario]["servers"]) == {"1", "2", "3"}
        for server in result[scenario]["servers"].values():
            assert server["commits"] > 0
    assert result["startup"]["phases_s"]["loading the index (Replica._load)"] > 0
    assert "Restart with 150 stored games" in profiling.render(result)
    write_result("profiling", result, tmp_path)


def _fake_latency(directory: Path) -> None:
    """Results shaped like a run's (made up, small), and its captured output."""
    samples = {"ours": [2.0, 2.5, 3.0], "single": [1.0, 1.2, 1.4], "etcd": [1.5, 1.6, 2.0]}
    fake = latency.summarize(
        {side: [[v / 1000 for v in values]] for side, values in samples.items()}, 1, 3, SEED
    )
    write_result("latency", fake, directory)
    (directory / "output.txt").write_text("== 1. commit latency ...\n")


def test_report(tmp_path: Path) -> None:
    _fake_latency(tmp_path)
    page = report.render(tmp_path)
    assert "## 1. Commit latency" in page and "Not run" in page
    assert "| latency | p50 <= 0.8x etcd | **no** |" in page
    assert "== 1. commit latency ..." in page
    assert json.loads((tmp_path / "latency.json").read_text())["seed"] == SEED


def test_plot(tmp_path: Path) -> None:
    _fake_latency(tmp_path)
    out = plot.plot(plot.load("latency", tmp_path), None, tmp_path / "plot.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stored_game_version() -> None:
    game = StoredGame("g", "connect4", ("a" * 16, "b" * 16), ["4", "4"], "active")
    assert game.version == 4
    assert game.position().to_text() == "44"


def test_missing_etcd_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import bench.etcd

    monkeypatch.setattr(bench.etcd.shutil, "which", lambda name: None)
    monkeypatch.setattr(bench.etcd.Path, "exists", lambda self: False)
    with pytest.raises(bench.etcd.EtcdMissing, match="apt-get install -y etcd-server"):
        bench.etcd.find_etcd()


def test_ampparse_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    assert ampparse.main(["--repeat", "1"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert "speed-up" in rows[0]
    assert len(rows) == 5 and all(row.endswith("x") for row in rows[1:])


def test_targets_table() -> None:
    from bench.__main__ import targets_table

    results = {
        "latency": {"targets": {"p50 <= 0.8x etcd": True}},
        "throughput": {"targets": {"16 games >= 1.5x etcd": False}},
    }
    text, rows = targets_table(results)
    assert rows == [
        {"benchmark": "latency", "target": "p50 <= 0.8x etcd", "holds": True},
        {"benchmark": "throughput", "target": "16 games >= 1.5x etcd", "holds": False},
    ]
    assert text.splitlines()[2:] == [
        "| latency    | p50 <= 0.8x etcd      | yes   |",
        "| throughput | 16 games >= 1.5x etcd | NO    |",
    ]
