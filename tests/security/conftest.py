"""Fixtures of the security suite: the integration suite's real clusters, and TLS ones.

Run on its own (pytest-twisted needs its own pytest process)::

    .venv/bin/python -m pytest tests/security -p no:cacheprovider -q
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import (  # noqa: F401
    clients_for,
    hard_deadline,
    make_cluster,
    pytest_runtest_makereport,
)
from tests.security.tls import TLSCluster


@pytest.fixture
def make_tls_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., TLSCluster]]:
    """Like ``make_cluster``, for :class:`TLSCluster` (killed at teardown, logs on failure)."""
    clusters: list[TLSCluster] = []

    def make(certificates: Path, **options: object) -> TLSCluster:
        cluster = TLSCluster(tmp_path_factory.mktemp("tls-cluster"), certificates, **options)  # type: ignore[arg-type]
        clusters.append(cluster)
        return cluster

    yield make
    for cluster in clusters:
        cluster.cleanup()
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        for cluster in clusters:
            print(f"\n===== TLS cluster in {cluster.root} =====")
            print(cluster.tails())
