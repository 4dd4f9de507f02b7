"""Show that the whole harness fails a run that loses acknowledged data.

    python -m tests.chaos.selftest

One fault only, on purpose outside the fault model: server 3 is paused, the
bots play on servers 1 and 2 (acknowledged by those two), then both are killed
and their data directories emptied *without telling the checker*, and they
restart (serving alone after ``startup_wait``) before server 3 resumes.  The
run must end with lost acknowledged changes; the script exits 0 only if the
checker reported them.  Not part of ``make test`` (it takes about 30 s).
"""

from __future__ import annotations

import collections
import shutil
import sys
from typing import Any

from twisted.internet import defer, task

from tests.chaos import schedule as s
from tests.chaos.harness import ChaosRun, Options

SELFTEST = "selftest_unrecorded_double_wipe"


class LosingRun(ChaosRun):
    def make_plan(self) -> list[s.PlannedFault]:
        return [s.PlannedFault(1, 6.0, SELFTEST, (1, 2, 3), 6.5)]

    async def _inject(self, fault: s.PlannedFault) -> None:
        self.servers[3].pause()
        await self.ending.hold(3.0)
        for sid in (1, 2):
            self.wanted[sid] = False
            self.servers[sid].kill()
            self.servers[sid].wipe()  # not recorded: the checker counts on them
        await self.ending.hold(0.5)
        for sid in (1, 2):
            self.wanted[sid] = True
        await defer.gatherResults([defer.ensureDeferred(self.start_server(sid)) for sid in (1, 2)])
        await self.ending.hold(3.0)
        self.servers[3].resume()


async def main(reactor: Any) -> None:
    options = Options(seed=1, duration=20, games=8)
    run = LosingRun(options, reactor, sys.stdout)
    report = await run.run()
    print(report.table)
    kinds = collections.Counter(v.kind for v in report.result.violations)
    print(f"violations by kind: {dict(kinds)}")
    if report.result.lost == 0:
        print("SELFTEST FAILED: the checker did not report the lost acknowledged changes")
        raise SystemExit(1)
    print(f"selftest passed: {report.result.lost} lost acknowledged changes reported")
    shutil.rmtree(report.directory, ignore_errors=True)


if __name__ == "__main__":
    task.react(lambda reactor: defer.ensureDeferred(main(reactor)))
