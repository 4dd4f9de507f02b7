"""The fault plan: replayable from its seed, every kind early, no two faults on
one server or link at once."""

from __future__ import annotations

from tests.chaos.schedule import KINDS, RESTART_MARGIN, make_plan
from tests.chaos.test_short_run import DURATION, FAULTS_PER_MINUTE, SEED


def test_the_same_seed_gives_the_same_plan() -> None:
    assert make_plan(7, 120, 20) == make_plan(7, 120, 20)
    assert make_plan(7, 120, 20) != make_plan(8, 120, 20)


def test_the_short_run_plans_every_kind() -> None:
    plan = make_plan(SEED, DURATION, FAULTS_PER_MINUTE)
    assert {fault.kind for fault in plan} == set(KINDS)


def test_every_kind_comes_early_in_many_seeds() -> None:
    for seed in range(30):
        plan = make_plan(seed, 45, 40)
        assert {fault.kind for fault in plan} == set(KINDS), seed


def test_faults_never_share_a_server_or_a_link() -> None:
    for seed in range(10):
        plan = make_plan(seed, 300, 30)
        taken: dict[str, float] = {}
        for fault in plan:
            for resource in fault.resources():
                assert taken.get(resource, 0.0) <= fault.at, (seed, fault)
                taken[resource] = (
                    fault.at
                    + fault.hold
                    + (RESTART_MARGIN if resource.startswith("process") else 0)
                )


def test_the_long_run_plans_enough_faults() -> None:
    plan = make_plan(1, 600, 24)
    assert len(plan) >= 220
    assert all(fault.at < 600 for fault in plan)
