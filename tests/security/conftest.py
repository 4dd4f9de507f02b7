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
    clusters_made,
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

    def build(certificates: Path, **options: object) -> TLSCluster:
        return TLSCluster(tmp_path_factory.mktemp("tls-cluster"), certificates, **options)  # type: ignore[arg-type]

    yield from clusters_made(request, build)
