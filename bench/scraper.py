"""A Prometheus stand-in: ``python -m bench.scraper [--interval 0.1] [--count N] URL...``.

GETs every URL once per interval (on a fixed schedule, so a slow scrape does
not make the next ones late), each over its own persistent HTTP/1.1
connection, as Prometheus does.  It prints ``ready`` once the first round
has answered, then runs until its standard input closes (or ``--count``
rounds are done), and prints one JSON line: per URL, each scrape's round
trip in milliseconds and its size in bytes, and the failures.

It is its own process, standard library only, so that its work is not done
in the reactor of the benchmark's clients (whose CPU bounds the moves per
second measured) and costs what a separate scraper would: its own CPU on the
same machine and one HTTP request per server per interval.
"""

from __future__ import annotations

import argparse
import http.client
import json
import select
import sys
import time
from urllib.parse import urlsplit


class Target:
    """One URL, over one persistent connection (reopened after a failure)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.url = url
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.path = parts.path or "/"
        self.connection: http.client.HTTPConnection | None = None
        self.round_trips_ms: list[float] = []
        self.sizes: list[int] = []
        self.failures: list[str] = []

    def scrape(self) -> bool:
        started = time.perf_counter()
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
            self.connection.request("GET", self.path)
            response = self.connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise OSError(f"HTTP {response.status}")
        except (OSError, http.client.HTTPException) as error:
            self.failures.append(f"{type(error).__name__}: {error}")
            if self.connection is not None:
                self.connection.close()
            self.connection = None
            return False
        self.round_trips_ms.append((time.perf_counter() - started) * 1000)
        self.sizes.append(len(body))
        return True

    def summary(self) -> dict[str, object]:
        return {
            "url": self.url,
            "round_trips_ms": self.round_trips_ms,
            "sizes": self.sizes,
            "failures": self.failures,
        }


def _stdin_closed(timeout: float) -> bool:
    """Wait up to ``timeout`` seconds; whether standard input closed meanwhile."""
    readable, _, _ = select.select([sys.stdin], [], [], max(timeout, 0.0))
    return bool(readable) and not sys.stdin.readline()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("urls", nargs="+")
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--count", type=int, default=0, help="rounds, then exit (0: until EOF)")
    args = parser.parse_args(argv)
    if args.interval <= 0:
        parser.error("--interval must be positive")
    targets = [Target(url) for url in args.urls]
    rounds = ticks = 0
    started = time.monotonic()
    while True:
        answered = all([target.scrape() for target in targets])
        rounds += 1
        if rounds == 1:
            print("ready" if answered else "failed", flush=True)
            if not answered:
                break
        if args.count and rounds >= args.count:
            break
        # The next tick of the schedule; ticks missed by a slow round are skipped.
        ticks = max(ticks + 1, int((time.monotonic() - started) / args.interval) + 1)
        delay = started + ticks * args.interval - time.monotonic()
        if args.count:
            time.sleep(max(delay, 0.0))
        elif _stdin_closed(delay):
            break
    print(json.dumps({"rounds": rounds, "targets": [t.summary() for t in targets]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
