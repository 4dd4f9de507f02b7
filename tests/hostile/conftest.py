"""Fixtures of the hostile-input suite: the integration suite's real clusters.

Run on its own (pytest-twisted needs its own pytest process)::

    .venv/bin/python -m pytest tests/hostile -p no:cacheprovider -q
"""

from tests.integration.conftest import (  # noqa: F401
    clients_for,
    hard_deadline,
    make_cluster,
    pytest_runtest_makereport,
)
