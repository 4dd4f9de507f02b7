"""Tests for :mod:`game.client.tokens`: the per-user seat token file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from game import protocol as p
from game.client import tokens
from game.client.tokens import Seat, TokenStore, default_path, new_token

TOKEN_A = "alice-token-0123456789"
TOKEN_B = "bobby-token-0123456789"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class TokenStoreCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.home = Path(self.mktemp()).absolute()
        self.home.mkdir()
        self.path = self.home / "config" / "replgame" / "seats.json"
        self.store = TokenStore(self.path)
        old = os.umask(0o022)
        self.addCleanup(os.umask, old)


class AddAndFindTests(TokenStoreCase):
    def test_empty_store(self) -> None:
        self.assertEqual(self.store.seats(), [])
        self.assertEqual(self.store.find("c1", "g1"), [])
        self.assertFalse(self.path.exists())

    def test_add_and_find(self) -> None:
        seat = Seat("c1", "g1", 0, "alice", TOKEN_A, "connect4")
        self.store.add(seat)
        self.assertEqual(self.store.seats(), [seat])
        self.assertEqual(self.store.seats("c1"), [seat])
        self.assertEqual(self.store.find("c1", "g1"), [seat])
        self.assertEqual(self.store.find("c1", "g1", 0), [seat])
        self.assertEqual(self.store.find("c1", "g1", 1), [])
        self.assertEqual(self.store.find("c1", "g2"), [])

    def test_seats_per_cluster(self) -> None:
        one = Seat("c1", "g1", 0, "alice", TOKEN_A)
        other = Seat("c2", "g1", 0, "alice", TOKEN_B)
        self.store.add(one)
        self.store.add(other)
        self.assertEqual(self.store.seats("c1"), [one])
        self.assertEqual(self.store.seats("c2"), [other])
        self.assertEqual(self.store.find("c2", "g1"), [other])
        self.assertEqual(self.store.seats(), [one, other])
        self.assertEqual(self.store.seats("c3"), [])

    def test_both_seats_of_a_game(self) -> None:
        first = Seat("c1", "g1", 0, "alice", TOKEN_A)
        second = Seat("c1", "g1", 1, "bobby", TOKEN_B)
        self.store.add(first)
        self.store.add(second)
        self.assertEqual(self.store.find("c1", "g1"), [first, second])
        self.assertEqual(self.store.find("c1", "g1", 1), [second])

    def test_a_seat_is_replaced_not_duplicated(self) -> None:
        self.store.add(Seat("c1", "g1", 0, "alice", TOKEN_A))
        newer = Seat("c1", "g1", 0, "alice", TOKEN_B)
        self.store.add(newer)
        self.assertEqual(self.store.seats(), [newer])

    def test_survives_a_new_store_object(self) -> None:
        seat = Seat("c1", "g1", 1, "bobby", TOKEN_B, "reversi")
        self.store.add(seat)
        self.assertEqual(TokenStore(self.path).seats(), [seat])

    def test_file_is_json(self) -> None:
        self.store.add(Seat("c1", "g1", 0, "alice", TOKEN_A, "checkers"))
        data = json.loads(self.path.read_text("utf-8"))
        self.assertEqual(
            data,
            {
                "seats": [
                    {
                        "cluster": "c1",
                        "game_id": "g1",
                        "seat": 0,
                        "player": "alice",
                        "token": TOKEN_A,
                        "kind": "checkers",
                    }
                ]
            },
        )

    def test_entries_it_cannot_read_are_skipped(self) -> None:
        self.path.parent.mkdir(parents=True)
        good = {"cluster": "c1", "game_id": "g1", "seat": 0, "player": "a", "token": TOKEN_A}
        self.path.write_text(
            json.dumps({"seats": [{"cluster": "c1", "nonsense": 1}, good]}), "utf-8"
        )
        self.assertEqual(self.store.seats(), [Seat(**good)])


class PermissionTests(TokenStoreCase):
    def test_file_is_0600_and_directory_0700(self) -> None:
        self.store.add(Seat("c1", "g1", 0, "alice", TOKEN_A))
        self.assertEqual(mode(self.path), 0o600)
        self.assertEqual(mode(self.path.parent), 0o700)

    def test_permissive_umask(self) -> None:
        os.umask(0)
        self.store.add(Seat("c1", "g1", 0, "alice", TOKEN_A))
        self.assertEqual(mode(self.path), 0o600)
        self.assertEqual(mode(self.path.parent), 0o700)

    def test_rewrites_stay_0600(self) -> None:
        self.store.add(Seat("c1", "g1", 0, "alice", TOKEN_A))
        self.path.chmod(0o644)
        self.store.add(Seat("c1", "g2", 0, "alice", TOKEN_B))
        self.assertEqual(mode(self.path), 0o600)

    def test_no_temporary_file_left(self) -> None:
        self.store.add(Seat("c1", "g1", 0, "alice", TOKEN_A))
        self.store.add(Seat("c1", "g2", 0, "alice", TOKEN_B))
        self.assertEqual(os.listdir(self.path.parent), ["seats.json"])


class AtomicWriteTests(TokenStoreCase):
    def setUp(self) -> None:
        super().setUp()
        self.first = Seat("c1", "g1", 0, "alice", TOKEN_A)
        self.store.add(self.first)
        self.before = self.path.read_bytes()

    def assertUnchanged(self) -> None:
        self.assertEqual(self.path.read_bytes(), self.before)
        self.assertEqual(os.listdir(self.path.parent), ["seats.json"])
        self.assertEqual(self.store.seats(), [self.first])

    def crash(self, *args: Any, **kwargs: Any) -> Any:
        raise OSError("simulated crash")

    def test_crash_while_encoding(self) -> None:
        self.patch(tokens.json, "dumps", self.crash)
        self.assertRaises(OSError, self.store.add, Seat("c1", "g2", 0, "alice", TOKEN_B))
        self.assertUnchanged()

    def test_crash_while_syncing(self) -> None:
        self.patch(tokens.os, "fsync", self.crash)
        self.assertRaises(OSError, self.store.add, Seat("c1", "g2", 0, "alice", TOKEN_B))
        self.assertUnchanged()

    def test_crash_before_the_rename(self) -> None:
        self.patch(tokens.os, "replace", self.crash)
        self.assertRaises(OSError, self.store.add, Seat("c1", "g2", 0, "alice", TOKEN_B))
        self.assertUnchanged()

    def test_interrupted_write(self) -> None:
        def interrupted(*args: Any, **kwargs: Any) -> Any:
            raise KeyboardInterrupt()

        self.patch(tokens.os, "replace", interrupted)
        self.assertRaises(KeyboardInterrupt, self.store.add, Seat("c1", "g2", 0, "alice", TOKEN_B))
        self.assertUnchanged()

    def test_temporary_file_is_in_the_same_directory(self) -> None:
        """``os.replace`` is atomic only within one file system."""
        renames: list[tuple[str, str]] = []
        real = os.replace

        def spy(source: Any, target: Any) -> None:
            renames.append((str(source), str(target)))
            real(source, target)

        self.patch(tokens.os, "replace", spy)
        self.store.add(Seat("c1", "g2", 0, "alice", TOKEN_B))
        ((source, target),) = renames
        self.assertEqual(Path(source).parent, self.path.parent)
        self.assertEqual(Path(target), self.path)


class LocationTests(SynchronousTestCase):
    def test_xdg_config_home(self) -> None:
        base = self.mktemp()
        self.patch(os, "environ", {"XDG_CONFIG_HOME": base, "HOME": "/nonexistent"})
        self.assertEqual(default_path(), Path(base) / "replgame" / "seats.json")
        store = TokenStore()
        store.add(Seat("c1", "g1", 0, "alice", TOKEN_A))
        self.assertTrue((Path(base) / "replgame" / "seats.json").exists())

    def test_home_config_by_default(self) -> None:
        home = self.mktemp()
        self.patch(os, "environ", {"HOME": home})
        self.assertEqual(default_path(), Path(home) / ".config" / "replgame" / "seats.json")

    def test_empty_xdg_config_home_is_ignored(self) -> None:
        home = self.mktemp()
        self.patch(os, "environ", {"HOME": home, "XDG_CONFIG_HOME": ""})
        self.assertEqual(default_path(), Path(home) / ".config" / "replgame" / "seats.json")


class CorruptFileTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.path = Path(self.mktemp()) / "seats.json"
        self.path.parent.mkdir()
        self.store = TokenStore(self.path)

    def assertNamesPath(self, error: OSError) -> None:
        self.assertIn(str(self.path), str(error))

    def test_not_json(self) -> None:
        self.path.write_text("{not json", "utf-8")
        self.assertNamesPath(self.assertRaises(OSError, self.store.seats))

    def test_not_utf8(self) -> None:
        self.path.write_bytes(b'{"seats": ["\xff"]}')
        self.assertNamesPath(self.assertRaises(OSError, self.store.seats))

    def test_wrong_shape(self) -> None:
        for text in ("[]", '{"seats": 3}', "{}", "null"):
            self.path.write_text(text, "utf-8")
            self.assertNamesPath(self.assertRaises(OSError, self.store.seats))

    def test_a_directory_in_its_place(self) -> None:
        self.path.mkdir()
        self.assertNamesPath(self.assertRaises(OSError, self.store.find, "c1", "g1"))

    def test_add_does_not_overwrite_a_corrupt_file(self) -> None:
        self.path.write_text("{not json", "utf-8")
        error = self.assertRaises(OSError, self.store.add, Seat("c1", "g1", 0, "a", TOKEN_A))
        self.assertNamesPath(error)
        self.assertEqual(self.path.read_text("utf-8"), "{not json")


class NewTokenTests(SynchronousTestCase):
    def test_tokens_are_valid_on_the_wire(self) -> None:
        seen = set()
        for _ in range(200):
            token = new_token()
            self.assertTrue(16 <= len(token) <= 128, token)
            self.assertTrue(all(0x21 <= ord(c) <= 0x7E for c in token), token)
            self.assertEqual(p.check_token(token), token)
            seen.add(token)
        self.assertEqual(len(seen), 200)
