"""Run the checker again on a kept run directory.

    python -m tests.chaos.recheck RUN_DIRECTORY

Reads ``history.json.gz``, ``final.json``, ``report.json`` and ``logs/``, and
prints the summary table and the violations (exit 1 if there are any).  The
checker is a pure function, so this gives what the run itself decided, or
what a changed checker decides on the same history.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

from tests.chaos.checker import FinalServer, FinalState, check, summary_table
from tests.chaos.history import History


def load(directory: Path) -> tuple[History, FinalState, dict[str, int]]:
    with gzip.open(directory / "history.json.gz", "rt") as source:
        history = History.from_json(json.load(source))
    report = json.loads((directory / "report.json").read_text())
    servers = json.loads((directory / "final.json").read_text())
    logs = {
        path.name: path.read_text(errors="replace")
        for path in sorted((directory / "logs").iterdir())
        if path.is_file()
    }
    heal_at = report.get("heal_at")
    converged_at = report.get("converged_at")
    if heal_at is None and report["counts"].get("time_to_converge") is not None:
        heal_at, converged_at = 0.0, report["counts"]["time_to_converge"]
    final = FinalState(
        tuple(
            FinalServer(int(sid), data["status"], data["documents"])
            for sid, data in sorted(servers.items())
        ),
        logs,
        heal_at,
        converged_at,
        incidents=tuple(report.get("incidents", ())),
        overdue_after=report.get("overdue_after"),
    )
    return history, final, dict(report["faults"])


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    history, final, faults = load(Path(argv[0]))
    result = check(history, final)
    for violation in result.violations:
        print(f"VIOLATION (check {violation.check}, {violation.kind}): {violation.message}")
    print(summary_table(result, faults))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
