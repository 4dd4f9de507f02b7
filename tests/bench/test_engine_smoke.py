"""``python -m bench.engine`` at a tiny size (2 games per pair, levels 1-2), so
that it does not rot.  It checks what a run reports, never a strength."""

from __future__ import annotations

from pathlib import Path

from bench import engine
from game.rules import KINDS


def test_engine_strength_smoke(tmp_path: Path) -> None:
    result = engine.run(games=2, seed=3, kinds=KINDS, levels=[1, 2], workers=1)
    names = [(row["kind"], row["pair"]) for row in result["rows"]]
    assert names == [
        (kind, pair) for kind in KINDS for pair in ("1 vs random", "2 vs random", "2 vs 1")
    ]
    for row in result["rows"]:
        assert row["games"] == 2
        assert row["wins"] + row["draws"] + row["losses"] == 2
        assert 0 <= row["score"] <= 1
    # Same opening for both colours of a game pair.
    assert engine.opening("reversi", 3, 0) == engine.opening("reversi", 3, 1)
    text = engine.render(result)
    assert "| connect4 | 2 vs 1" in text
    doc = tmp_path / "engine.md"
    doc.write_text(f"before\n{engine.BEGIN}\nold\n{engine.END}\nafter\n")
    engine.write_doc(text, doc)
    written = doc.read_text()
    assert written.startswith("before\n") and written.endswith("after\n")
    assert "old" not in written and "2 vs random" in written


def test_engine_timing_smoke() -> None:
    found = engine.timing(seed=3, kinds=["connect4"], games=1)
    entry = found["connect4"]
    assert entry["moves"] > 0
    assert entry["cpu"]["median_s"] <= entry["cpu"]["max_s"]
    assert "| connect4 | wall" in engine.render_timing(found, "0.0 0.0 0.0")
