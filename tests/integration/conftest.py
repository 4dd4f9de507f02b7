"""Fixtures of the integration suite: real ``twistd`` servers on 127.0.0.1.

Run on their own (pytest-twisted needs its own pytest process)::

    .venv/bin/python -m pytest tests/integration -p no:cacheprovider -q

``make_cluster(**tuning)`` gives an unstarted :class:`Cluster` in a temporary
directory; ``clients_for(cluster)`` gives AMP clients to it.  Whatever a test
does, every server process is killed and reaped at teardown, and a failed
test prints the tail of every server's log.
"""

from __future__ import annotations

import faulthandler
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest

from tests.integration.cluster import Clients, Cluster

#: Seconds past a test's own deadline before the whole run is aborted (the
#: reactor may be stuck, so the soft deadline of ``timed_test`` cannot fire).
HARD_MARGIN = 30
DEFAULT_DEADLINE = 60


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def hard_deadline(request: pytest.FixtureRequest) -> Iterator[None]:
    """Abort the run with every thread's traceback if a test hangs for good."""
    deadline = getattr(request.function, "deadline", DEFAULT_DEADLINE)
    faulthandler.dump_traceback_later(deadline + HARD_MARGIN, exit=True, file=sys.stderr)
    yield
    faulthandler.cancel_dump_traceback_later()


class _Cleaned(Protocol):
    root: Path

    def cleanup(self) -> None: ...

    def tails(self) -> str: ...


C = TypeVar("C", bound=_Cleaned)


def clusters_made(
    request: pytest.FixtureRequest, build: Callable[..., C]
) -> Iterator[Callable[..., C]]:
    """The body of a cluster fixture: ``build`` clusters on demand; at
    teardown, clean every one up and, if the test failed, print its logs."""
    clusters: list[C] = []

    def make(*args: Any, **kwargs: Any) -> C:
        cluster = build(*args, **kwargs)
        clusters.append(cluster)
        return cluster

    yield make
    for cluster in clusters:
        cluster.cleanup()
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        for cluster in clusters:
            print(f"\n===== {type(cluster).__name__} in {cluster.root} =====")
            print(cluster.tails())


@pytest.fixture
def make_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Cluster]]:
    def build(**tuning: float | int) -> Cluster:
        return Cluster(tmp_path_factory.mktemp("cluster"), **tuning)

    yield from clusters_made(request, build)


@pytest.fixture
def clients_for() -> Iterator[Callable[..., Clients]]:
    made: list[Clients] = []

    def make(cluster: Cluster, **options: Any) -> Clients:
        clients = Clients(cluster, **options)
        made.append(clients)
        return clients

    yield make
    for clients in made:
        clients.close()
