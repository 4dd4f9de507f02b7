"""What the benchmarks play and store: seeded games, their stored records, whole datasets.

A :class:`GamePlan` is one game played out in advance from a seeded RNG:
the commands a client sends (create, join, the moves with each mover's
token) and, for each change, the bytes our server stores for the game's
history with it (the new event's ``g/<id>/<n>`` row, pickled as the shelf
pickles it).  The etcd baseline puts exactly those bytes, so both sides
write the same payload.

:func:`write_dataset` writes D stored games through the storage module
(``Storage.stage`` and ``commit``; records, index entries and the meta
record as the replica keeps them) into one data directory, and
:func:`copy_dataset` copies that database into the three data directories,
so that the servers start identical and converged.
"""

from __future__ import annotations

import hashlib
import pickle
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from game.rules import KINDS, Position, new_game
from game.server import gamelog
from game.server.gamelog import Event, GameLog
from game.server.index import IndexEntry, bookkeeping
from game.server.replica import event_key
from game.server.storage import DATABASE_NAME, FORMAT, Storage

#: The pickle protocol of our shelf (storage.Storage).
SHELF_PROTOCOL = 5


def token_for(seed: int, label: str, seat: int) -> str:
    """A seat token (16-128 printable ASCII), derived from the seed."""
    return f"bench-{seed}-{label}-seat{seat}-token"


def stored_record(events: list[str]) -> bytes:
    """The bytes our shelf stores for the last of these events (its ``g/<id>/<n>`` row):
    a change writes only its own event."""
    return pickle.dumps(events[-1], SHELF_PROTOCOL)


@attrs.frozen
class Step:
    """One state change of a plan: what the client sends, and what is stored after it."""

    command: str  # "create", "join" or "move"
    version: int  # the version the command carries (create: 0)
    token: str
    move: str | None
    record: bytes


@attrs.frozen
class GamePlan:
    game_id: str
    kind: str
    players: tuple[str, str]
    tokens: tuple[str, str]
    steps: tuple[Step, ...]

    @property
    def moves(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.command == "move")


def _event(kind_or_none: str | None, etype: str, seat: int, token_hash: str, **extra: Any) -> str:
    return Event(etype, seat, token_hash, kind=kind_or_none, **extra).to_json()


def plan_game(game_id: str, kind: str, rng: random.Random, seed: int, max_moves: int) -> GamePlan:
    """A game played with random legal moves until it ends or ``max_moves``."""
    players = ("alice", "bob")
    tokens = (token_for(seed, game_id, 0), token_for(seed, game_id, 1))
    hashes = [gamelog.token_hash(game_id, seat, tokens[seat]) for seat in (0, 1)]
    events = [_event(kind, gamelog.CREATE, 0, hashes[0], player=players[0])]
    steps = [Step("create", 0, tokens[0], None, stored_record(events))]
    events.append(_event(None, gamelog.JOIN, 1, hashes[1], player=players[1]))
    steps.append(Step("join", 1, tokens[1], None, stored_record(events)))
    position: Position = new_game(kind)
    while position.outcome() is None and len(steps) - 2 < max_moves:
        seat = position.to_move
        move = rng.choice(position.legal_moves())
        version = len(events)
        events.append(_event(None, gamelog.MOVE, seat, hashes[seat], move=move))
        steps.append(Step("move", version, tokens[seat], move, stored_record(events)))
        position = position.play(move)
    return GamePlan(game_id, kind, players, tokens, tuple(steps))


class PlanSource:
    """An endless, seeded supply of game plans, the kinds taken in turn."""

    def __init__(self, seed: int, label: str, max_moves: int = 200) -> None:
        self.seed = seed
        self.label = label
        self.max_moves = max_moves
        self.rng = random.Random(f"{seed}-{label}")
        self.count = 0

    def next(self) -> GamePlan:
        kind = KINDS[self.count % len(KINDS)]
        game_id = f"{self.label}-{self.count:06d}"
        self.count += 1
        return plan_game(game_id, kind, self.rng, self.seed, self.max_moves)

    def plans_with_moves(self, moves: int) -> list[GamePlan]:
        """Whole games, in order, until they hold at least ``moves`` moves."""
        plans: list[GamePlan] = []
        total = 0
        while total < moves:
            plans.append(self.next())
            total += len(plans[-1].moves)
        return plans


# -- stored datasets ---------------------------------------------------------------


@attrs.define
class StoredGame:
    """What the benchmark remembers of one stored game, to play on in it."""

    game_id: str
    kind: str
    tokens: tuple[str, str]
    moves: list[str]
    status: str  # open, active, finished
    resigned: bool = False

    @property
    def version(self) -> int:
        created_and_joined = 1 if self.status == "open" else 2
        return created_and_joined + len(self.moves) + (1 if self.resigned else 0)

    def position(self) -> Position:
        position = new_game(self.kind)
        for move in self.moves:
            position = position.play(move)
        return position


def dataset_games(count: int, seed: int) -> Iterator[tuple[StoredGame, GameLog]]:
    """``count`` stored games: 90% active (0-4 random moves), 5% open, 5% resigned."""
    rng = random.Random(f"{seed}-dataset")
    for n in range(count):
        kind = KINDS[n % len(KINDS)]
        game_id = f"stored-{n:06d}"
        tokens = (token_for(seed, game_id, 0), token_for(seed, game_id, 1))
        player = f"player-{n % 997}"
        game = GameLog(game_id, gamelog.create_event(kind, player, 0, tokens[0], game_id))
        roll = rng.random()
        stored = StoredGame(game_id, kind, tokens, [], "open")
        if roll >= 0.05:
            join = gamelog.Command(gamelog.JOIN, 1, tokens[1], player=f"player-{(n + 1) % 997}")
            game.append(_decided(gamelog.decide(game, join)))
            stored.status = "active"
            for _ in range(rng.randrange(5)):
                seat = game.position.to_move
                move = rng.choice(game.position.legal_moves())
                command = gamelog.Command(gamelog.MOVE, game.version, tokens[seat], move=move)
                game.append(_decided(gamelog.decide(game, command)))
                stored.moves.append(move)
            if roll >= 0.95:
                resign = gamelog.Command(gamelog.RESIGN, game.version, tokens[0])
                game.append(_decided(gamelog.decide(game, resign)))
                stored.status = "finished"
                stored.resigned = True
        yield stored, game


def _decided(outcome: object) -> Event:
    assert isinstance(outcome, Event), outcome
    return outcome


def write_dataset(directory: Path, count: int, seed: int) -> list[StoredGame]:
    """Write ``count`` games through the storage module into ``directory``.

    The records, index entries and meta record are those the replica writes
    (checked: a :class:`~game.server.replica.Replica` opened on the result
    finds the same games, clock, digest and tree root, or refuses to load).
    """
    storage = Storage.open(directory)
    games: list[StoredGame] = []
    clock = 0
    digest = 0
    root = 0  # the anti-entropy tree's root: the XOR of every leaf
    try:
        for stored, game in dataset_games(count, seed):
            entry = IndexEntry.of(game)
            for number, text in enumerate(game.event_json):
                storage.stage(event_key(game.game_id, number), text)
            storage.stage("i/" + game.game_id, entry.to_record())
            clock += entry.version
            digest ^= int.from_bytes(entry.doc_sha, "big")
            root ^= entry.leaf
            games.append(stored)
            if len(games) % 10_000 == 0:
                storage.commit()
        storage.stage_meta(
            {
                "initialized": True,
                "format": FORMAT,
                **bookkeeping(len(games), clock, digest, root),
            }
        )
        storage.commit()
    finally:
        storage.close()
    return games


def copy_dataset(source: Path, targets: list[Path]) -> None:
    """Copy the database written by :func:`write_dataset` into fresh data directories."""
    for target in targets:
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        shutil.copyfile(source / DATABASE_NAME, target / DATABASE_NAME)


def database_bytes(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.glob(DATABASE_NAME + "*"))


def fingerprint(directory: Path) -> str:
    return hashlib.sha256((directory / DATABASE_NAME).read_bytes()).hexdigest()[:16]
