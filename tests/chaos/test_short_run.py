"""A short seeded chaos run (about a minute): every fault kind at least once,
timed games among the bots' (some ended on time), each server on its own
clock offset, zero violations.

It runs ``python -m tests.chaos.run`` as a child process, exactly as
``make chaos`` does (only shorter), and reads the report it writes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.chaos.schedule import KINDS

SEED = 20240611
DURATION = 40
GAMES = 12
FAULTS_PER_MINUTE = 36
#: Half the games timed: clocks run out within the short run.
TIMED_SHARE = 0.5


def test_short_chaos_run(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    command = [
        sys.executable,
        "-m",
        "tests.chaos.run",
        "--seed",
        str(SEED),
        "--duration",
        str(DURATION),
        "--games",
        str(GAMES),
        "--faults-per-minute",
        str(FAULTS_PER_MINUTE),
        "--timed-share",
        str(TIMED_SHARE),
        "--dir",
        str(tmp_path / "run"),
        "--report-json",
        str(report_path),
    ]
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        command,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=DURATION + 240,
    )
    print(run.stdout)
    assert run.stdout.startswith(f"chaos seed: {SEED}\n")
    assert report_path.exists(), "the run wrote no report"
    report = json.loads(report_path.read_text())
    assert report["violations"] == [], f"violations; run directory {report['directory']}"
    assert run.returncode == 0
    missing = [kind for kind in KINDS if report["faults"].get(kind, 0) < 1]
    assert not missing, f"fault kinds never injected: {missing}"
    counts = report["counts"]
    assert counts["acknowledged"] > 100
    assert counts["time_to_converge"] is not None
    assert counts["timed_games"] >= 3
    assert counts["acknowledged_timed"] > 10
    assert counts["ended_on_time"] >= 1
    assert counts["overdue_active"] == 0
    assert "server clock offsets: server 1 " in run.stdout
    assert len(set(report["offsets"].values())) > 1
