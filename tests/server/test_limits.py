"""The open-file limit raised for max_connections (game/server/limits.py)."""

from __future__ import annotations

import resource

from twisted.trial.unittest import SynchronousTestCase

from game.server.limits import SPARE_DESCRIPTORS, FileLimitTooLow, needed, raise_file_limit


class RaiseFileLimitTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.set: list[tuple[int, int]] = []

    def raise_with(self, soft: int, hard: int, max_connections: int = 10_000) -> tuple[int, int]:
        return raise_file_limit(max_connections, lambda: (soft, hard), self.set.append)

    def test_needed(self) -> None:
        self.assertEqual(needed(10_000), 10_000 + SPARE_DESCRIPTORS)

    def test_a_low_soft_limit_is_raised_to_what_is_needed(self) -> None:
        self.assertEqual(self.raise_with(1024, 1_048_576), (1024, needed(10_000)))
        self.assertEqual(self.set, [(needed(10_000), 1_048_576)])

    def test_an_unlimited_hard_limit_allows_it(self) -> None:
        self.raise_with(1024, resource.RLIM_INFINITY)
        self.assertEqual(self.set, [(needed(10_000), resource.RLIM_INFINITY)])

    def test_enough_already_changes_nothing(self) -> None:
        self.assertEqual(self.raise_with(20_000, 20_000), (20_000, 20_000))
        self.assertEqual(self.raise_with(resource.RLIM_INFINITY, resource.RLIM_INFINITY)[0], -1)
        self.assertEqual(self.set, [])

    def test_a_hard_limit_too_low_says_what_to_raise(self) -> None:
        with self.assertRaises(FileLimitTooLow) as caught:
            self.raise_with(1024, 4096)
        message = str(caught.exception)
        for fragment in (
            "max_connections = 10000 needs 10064 open files",
            "at most 4096",
            "LimitNOFILE=10064",
            "lower max_connections",
        ):
            self.assertIn(fragment, message)
        self.assertEqual(self.set, [])

    def test_a_small_max_connections_fits_a_low_hard_limit(self) -> None:
        self.assertEqual(self.raise_with(256, 1024, max_connections=512), (256, 576))
