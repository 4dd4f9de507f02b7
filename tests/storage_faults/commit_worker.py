"""A process that commits game changes continuously, to be killed mid-commit.

Run as ``python commit_worker.py DATA_DIR ACK_FILE SEED``.  It opens the data
directory with the server's own storage and replica (``Storage``,
``GroupCommitter``, ``Replica``) and loops: stage a batch of changes (new
games, legal moves by the right seat, resignations), commit it as the server
does, then append one line per acknowledged change to ``ACK_FILE``:
``A <game_id> <version> <head hex>``.  Only committed changes are written
there, so after a SIGKILL every line must still be in the database.  Around
each commit it writes ``B <n>`` and ``C <n>`` so that the killer can tell a
kill inside a commit from one between commits; ``B`` also goes to standard
output, for a killer that aims at commits.
"""

from __future__ import annotations

import hashlib
import os
import random
import sys

from twisted.internet.task import Clock

from game.server.commit import GroupCommitter
from game.server.gamelog import JOIN, MOVE, RESIGN, Command
from game.server.replica import Replica
from game.server.storage import Storage


def token_for(game_id: str, seat: int) -> str:
    """Each seat's token, derived from the id: any run can play any game on."""
    return "tok-" + hashlib.sha256(f"{game_id}/{seat}".encode()).hexdigest()[:24]


def main() -> int:
    directory, ack_path, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = random.Random(seed)
    ack = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def note(line: str) -> None:
        os.write(ack, (line + "\n").encode())  # in the page cache: survives SIGKILL

    clock = Clock()
    storage = Storage.open(directory)
    committer = GroupCommitter(storage, clock)
    replica = Replica(storage, committer)
    if replica.is_new:
        replica.mark_initialized()
        committer.flush()
    note("R")
    batch = 0
    while True:
        batch += 1
        changed = [
            stage_change(replica, rng, f"w{seed}-{batch}-{n}") for n in range(rng.randint(1, 60))
        ]
        acks = []
        for game_id in changed:
            game = replica.game(game_id)
            assert game is not None
            acks.append(f"A {game_id} {game.version} {game.head.hex()}")
        note(f"B {batch}")
        os.write(1, b"B\n")  # for a killer that aims at commits
        committer.flush()
        note(f"C {batch}")
        note("\n".join(acks))


def stage_change(replica: Replica, rng: random.Random, new_id: str) -> str:
    """Stage one change (a new game, a move, a resignation); the game's id."""
    active = [i for i in replica.sorted_ids[-60:] if replica.index[i].status == "active"]
    if not active or rng.random() < 0.1:
        kind = rng.choice(("connect4", "reversi", "checkers"))
        replica.create(new_id, kind, "alice", 0, token_for(new_id, 0))
        replica.apply(new_id, Command(JOIN, 1, token_for(new_id, 1), player="bob"))
        return new_id
    game_id = rng.choice(active)
    game = replica.game(game_id)
    assert game is not None
    seat = game.position.to_move
    token = token_for(game_id, seat)
    if rng.random() < 0.01:
        replica.apply(game_id, Command(RESIGN, game.version, token))
    else:
        move = rng.choice(game.position.legal_moves())
        replica.apply(game_id, Command(MOVE, game.version, token, move=move))
    return game_id


if __name__ == "__main__":
    raise SystemExit(main())
