"""SIGKILL a process while it commits, again and again; the database always reopens whole.

``commit_worker.py`` commits batches of game changes with the server's own
storage, group committer and replica, and logs each change only after its
commit.  We kill it at a random moment, then reopen its data directory as a
server would and check:

- the database opens (sqlite's quick check passes) and the replica loads
  (its bookkeeping matches the index);
- ``clock`` is the sum of the versions; the digest is the XOR of the SHA-256
  of every game's document, rebuilt by replaying every game's events through
  the rules; every index entry matches its game (version, head, document);
- every change acknowledged before the kill is there (the game has at least
  that version, with the same head at that version).

Half the kills land at random, half are aimed at a commit (a few
milliseconds after the worker says it starts one).  ``REPLGAME_KILL_RUNS``
sets the number of kills (30 by default; ``make chaos``
runs 500).  The seed is printed; ``REPLGAME_KILL_SEED`` replays a run.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

from twisted.internet.task import Clock

from game.launcher import die_with_parent
from game.server.commit import GroupCommitter
from game.server.replica import Replica
from game.server.storage import Storage

WORKER = Path(__file__).with_name("commit_worker.py")
ROOT = Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("REPLGAME_KILL_RUNS", "30"))
LANES = 2
#: Start a lane on a new data directory after this many kills (keeps checks fast).
RUNS_PER_DIRECTORY = 10


def acknowledged(ack_file: Path) -> tuple[dict[str, tuple[int, str]], bool]:
    """The last acknowledged (version, head) of every game, and whether the
    last thing the worker did was start a commit it did not finish."""
    acks: dict[str, tuple[int, str]] = {}
    last_marker = ""
    for line in ack_file.read_text().splitlines():
        if line.startswith("A "):
            _, game_id, version, head = line.split()
            acks[game_id] = (int(version), head)
        elif line[:2] in ("B ", "C "):
            last_marker = line[0]
    return acks, last_marker == "B"


def check_database(directory: Path, acks: dict[str, tuple[int, str]]) -> int:
    """Reopen the data directory as a server would and check it; the game count."""
    storage = Storage.open(directory)  # runs sqlite's quick_check
    try:
        replica = Replica(storage, GroupCommitter(storage, Clock()))  # checks clock, digest
        assert not replica.is_new, "the initialised database reads as new"
        assert replica.clock == sum(entry.version for entry in replica.index.values())
        digest = 0
        for game_id, entry in replica.index.items():
            game = replica.game(game_id)  # replays the stored events through the rules
            assert game is not None, game_id
            document_sha = hashlib.sha256(game.document().encode()).digest()
            assert (game.version, game.head, document_sha) == (
                entry.version,
                entry.head,
                entry.doc_sha,
            ), f"{game_id}: the index does not match the stored events"
            digest ^= int.from_bytes(document_sha, "big")
        assert f"{digest:064x}" == replica.digest_hex()
        for game_id, (version, head) in acks.items():
            game = replica.game(game_id)
            assert game is not None, f"acknowledged game {game_id} is missing"
            assert game.version >= version, (
                f"{game_id}: version {game.version} < acknowledged {version}"
            )
            assert game.heads[version].hex() == head, f"{game_id}: another history at {version}"
        return len(replica.index)
    finally:
        storage.close()


class Lane:
    """Kills one worker after another on its own data directory."""

    def __init__(self, root: Path, number: int, rng: random.Random) -> None:
        self.root = root
        self.number = number
        self.rng = rng
        self.runs = 0
        self.mid_commit = 0
        self.acks = 0
        self.games = 0
        self.failures: list[str] = []

    def directory(self) -> tuple[Path, Path]:
        generation = self.runs // RUNS_PER_DIRECTORY
        base = self.root / f"lane-{self.number}-{generation}"
        return base / "data", base / "acks.txt"

    def run_once(self) -> None:
        data, ack_file = self.directory()
        data.parent.mkdir(parents=True, exist_ok=True)
        seed = self.rng.randrange(2**31)
        before = ack_file.read_text().count("R\n") if ack_file.exists() else 0
        worker = subprocess.Popen(
            [sys.executable, str(WORKER), str(data), str(ack_file), str(seed)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=die_with_parent(),
        )
        try:
            deadline = time.monotonic() + 20
            while not (ack_file.exists() and ack_file.read_text().count("R\n") > before):
                if worker.poll() is not None or time.monotonic() > deadline:
                    _, err = worker.communicate(timeout=5)
                    raise AssertionError(f"the worker did not start: {err.decode()[-2000:]}")
                time.sleep(0.01)
            if self.rng.random() < 0.5:
                time.sleep(self.rng.uniform(0.02, 0.5))  # anywhere
            else:
                assert worker.stdout is not None
                for _ in range(self.rng.randint(1, 20)):  # aimed: just after a commit began
                    worker.stdout.readline()
                time.sleep(self.rng.uniform(0, 0.003))
        finally:
            worker.kill()
            worker.wait()
        self.runs += 1
        acks, in_commit = acknowledged(ack_file)
        self.mid_commit += in_commit
        self.acks = len(acks)
        try:
            self.games = check_database(data, acks)
        except Exception as error:
            self.failures.append(f"lane {self.number} run {self.runs} ({data}): {error!r}")


def test_kill_during_commit(tmp_path):
    seed = int(os.environ.get("REPLGAME_KILL_SEED", random.randrange(2**32)))
    print(f"\nkill seed {seed} (replay: REPLGAME_KILL_SEED={seed}), {RUNS} kills")
    lanes = [Lane(tmp_path, n, random.Random(seed + n)) for n in range(LANES)]
    share = [RUNS // LANES + (n < RUNS % LANES) for n in range(LANES)]

    def drive(lane: Lane, runs: int) -> None:
        for _ in range(runs):
            lane.run_once()

    threads = [threading.Thread(target=drive, args=pair) for pair in zip(lanes, share, strict=True)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    runs = sum(lane.runs for lane in lanes)
    mid_commit = sum(lane.mid_commit for lane in lanes)
    failures = [failure for lane in lanes for failure in lane.failures]
    print(
        f"{runs} kills in {time.monotonic() - started:.1f} s, {mid_commit} of them inside a "
        f"commit; every reopen checked ({len(failures)} failures)"
    )
    assert runs == RUNS
    assert not failures, "\n".join(failures[:10])
    assert mid_commit > 0, "no kill landed inside a commit"


# The suite's hard deadline (conftest.hard_deadline) reads this: ~1 s a kill, generously.
test_kill_during_commit.deadline = max(60, 2 * RUNS)  # type: ignore[attr-defined]
