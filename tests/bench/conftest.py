"""Smoke runs of the cluster benchmarks at tiny sizes (real servers, real etcd).

Run on their own (pytest-twisted needs its own pytest process)::

    .venv/bin/python -m pytest tests/bench -p no:cacheprovider -q

They check that every benchmark still runs end to end and reports what it
should, never how fast: performance is ``make bench``'s job.
"""

from __future__ import annotations

import faulthandler
import sys
from collections.abc import Iterator

import pytest

from bench.etcd import EtcdMissing, find_etcd

#: Seconds after which a hung smoke test aborts the run with every traceback.
HARD_DEADLINE = 300


@pytest.fixture(autouse=True)
def hard_deadline() -> Iterator[None]:
    faulthandler.dump_traceback_later(HARD_DEADLINE, exit=True, file=sys.stderr)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def etcd() -> str:
    """The etcd binary; a test that compares with etcd fails (never skips) without it."""
    try:
        return find_etcd()
    except EtcdMissing as error:
        pytest.fail(f"the etcd half of this benchmark cannot run: {error}", pytrace=False)
