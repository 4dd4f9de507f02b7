"""Run the chaos harness from the command line.

    python -m tests.chaos.run --seed S --duration SECONDS --games N --faults-per-minute F
        [--timed-share R] [--flag-rate R] [--claim-rate R]

Prints the seed first and the summary table at the end; exits 1 on any
violation (the run directory is kept and named), 0 otherwise.  The same seed
replays the same fault schedule.
"""

from __future__ import annotations

import argparse
import faulthandler
import secrets
import sys
from pathlib import Path
from typing import Any

from twisted.internet import defer
from twisted.python.failure import Failure

from tests.chaos.harness import ChaosRun, Options
from tests.chaos.timed import TimedPlay

#: Violations printed in full on the console (all are in violations.txt).
SHOWN = 20


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.run", description=__doc__)
    parser.add_argument("--seed", type=int, default=None, help="default: random (printed)")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of faults")
    parser.add_argument("--games", type=int, default=50, help="concurrent bot games")
    parser.add_argument("--faults-per-minute", type=float, default=24.0)
    parser.add_argument("--dir", type=Path, default=None, help="run directory (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the run directory on success")
    parser.add_argument(
        "--think-ms", default="100,400", help="a bot's pause between requests: MIN,MAX ms"
    )
    parser.add_argument(
        "--timed-share",
        type=float,
        default=TimedPlay().share,
        help="the fraction of timed games (live:10+0, live:15+2); 0 for none",
    )
    parser.add_argument(
        "--flag-rate",
        type=float,
        default=TimedPlay().flag_rate,
        help="the fraction of timed games in which a seat lets its time run out",
    )
    parser.add_argument(
        "--claim-rate",
        type=float,
        default=TimedPlay().claim_rate,
        help="the fraction of those in which the opponent claims (else the servers end it)",
    )
    parser.add_argument("--report-json", type=Path, default=None, help="also write report here")
    parser.add_argument("--verbose", action="store_true", help="print every fault as it lands")
    return parser.parse_args(argv)


async def main(reactor: Any, args: argparse.Namespace) -> None:
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    low, high = (float(x) / 1000 for x in args.think_ms.split(","))
    options = Options(
        seed=seed,
        duration=args.duration,
        games=args.games,
        faults_per_minute=args.faults_per_minute,
        directory=args.dir,
        keep=args.keep,
        think=(low, high),
        verbose=args.verbose,
        timed=(
            TimedPlay(args.timed_share, args.flag_rate, args.claim_rate)
            if args.timed_share > 0
            else None
        ),
    )
    run = ChaosRun(options, reactor, sys.stdout)
    report = await run.run()
    result = report.result
    for violation in result.violations[:SHOWN]:
        print(f"VIOLATION (check {violation.check}, {violation.kind}): {violation.message}")
    if len(result.violations) > SHOWN:
        print(f"... and {len(result.violations) - SHOWN} more in {report.directory}/violations.txt")
    print(report.table)
    if args.report_json is not None:
        args.report_json.write_text((report.directory / "report.json").read_text())
    if report.ok:
        run.cleanup(report)
        where = f" (kept in {report.directory})" if args.keep else ""
        print(f"chaos seed {seed}: PASS{where}")
    else:
        print(f"chaos seed {seed}: FAIL; run directory kept: {report.directory}")
        print(
            f"replay: python -m tests.chaos.run --seed {seed} --duration {args.duration:g} "
            f"--games {args.games} --faults-per-minute {args.faults_per_minute:g}"
        )
        raise SystemExit(1)


def run(argv: list[str] | None = None) -> None:
    args = parse(sys.argv[1:] if argv is None else argv)
    # A hard stop in case the reactor itself hangs: every wait has its own
    # deadline, so this only fires on a harness bug.
    faulthandler.dump_traceback_later(args.duration + 900, exit=True)
    from twisted.internet import reactor

    # Not task.react: a run stopped from outside (SIGTERM, SIGINT) must not
    # exit 0.  The servers die with us either way (atexit, PR_SET_PDEATHSIG).
    status = {"code": 3}

    def finished(result: object) -> None:
        if isinstance(result, Failure):
            if result.check(SystemExit):
                status["code"] = int(result.value.code or 0)
            else:
                result.printTraceback()
                status["code"] = 2
        else:
            status["code"] = 0
        reactor.stop()

    def start() -> None:
        defer.ensureDeferred(main(reactor, args)).addBoth(finished)

    reactor.callWhenRunning(start)
    reactor.run()
    if status["code"] == 3:
        print("chaos run interrupted before it finished", file=sys.stderr)
    sys.exit(status["code"])


if __name__ == "__main__":
    run()
