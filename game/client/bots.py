"""Bot players: many concurrent games of random legal moves, for demos and load.

Each game has a creator bot (seat 0, black) and a joiner bot (seat 1,
white), each with a fresh token.  Whoever is to move plays a random move
from the ``legal`` list of the last document the servers answered, with
that document's ``version``.  When the servers refuse (``STALE_VERSION``,
``BEHIND``, anything else), give no majority, or cannot be reached, the bot
re-reads the game (``GetGame``, then ``SyncGame`` when the servers differ)
and goes on from what they hold.

Everything is bounded: each game takes at most :data:`MAX_STEPS` requests,
and a game whose version has not risen for ``stall_timeout`` seconds, or
that failed ``max_failures`` times in a row, is abandoned and reported.
Every :class:`~game.client.client.Outcome` with servers that differed, or
without a majority, is recorded as a :class:`Disagreement`.

Timed games (``time_control``, e.g. ``live:10+0``): with ``flag_rate`` R, a
fraction R of the games has one bot stop moving on purpose after a few
moves; its opponent then either claims the win once the deadline has passed
on the servers' clocks, or leaves the game to the servers' own timeout
(each half of the time), and both wait for the game to end.  A bot whose
move is answered ``FLAGGED`` waits the same way.  The report counts the
games ended on time, those flagged on purpose and the claims that won.
"""

from __future__ import annotations

import functools
import random
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs
from twisted.internet.defer import Deferred, DeferredSemaphore, gatherResults
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater

from game.client.client import NoAnswer, NoServers, Outcome, ReplicatedClient
from game.client.clocks import describe_control
from game.client.document import DocumentError, GameDocument
from game.client.flagwatch import claim_due
from game.client.majority import ERROR, OK
from game.client.tokens import new_token
from game.rules import KINDS, MOVE_LIMIT

#: Requests one game may make: every move, plus room for re-reads.
MAX_STEPS: Final = 3 * MOVE_LIMIT + 200
#: Games played at once unless told otherwise.
DEFAULT_CONCURRENCY: Final = 50
#: Seconds between two reads of a game whose clock is running out.
FLAG_POLL: Final = 0.5
#: A flagging bot stops after at most this many moves of its own.
FLAG_AFTER_MOVES: Final = 6
#: The reason of a game lost on time.
TIME: Final = "time"


@attrs.frozen
class Disagreement:
    """A request whose servers did not all agree.

    ``answers`` maps each server that answered (or failed) to a short
    description: ``version 7``, ``STALE_VERSION: current version 8``,
    ``failed: TimeoutError ...``.
    """

    game_id: str
    command: str
    version: int | None
    provisional: bool
    agreed: tuple[int, ...]
    differed: tuple[int, ...]
    failed: tuple[int, ...]
    answers: dict[int, str]
    at: float

    def describe(self) -> str:
        what = "no majority" if self.provisional else f"servers {_ids(self.differed)} differed"
        answers = "; ".join(f"server {sid}: {text}" for sid, text in sorted(self.answers.items()))
        at_version = f" at version {self.version}" if self.version is not None else ""
        return f"{self.game_id} {self.command}{at_version}: {what} ({answers})"

    def to_json(self) -> dict[str, Any]:
        return {
            "game_id": self.game_id,
            "command": self.command,
            "version": self.version,
            "provisional": self.provisional,
            "agreed": list(self.agreed),
            "differed": list(self.differed),
            "failed": list(self.failed),
            "answers": {str(sid): text for sid, text in sorted(self.answers.items())},
            "at": round(self.at, 3),
        }


@attrs.frozen
class Abandoned:
    """A game the bots gave up on, and why."""

    game_id: str
    kind: str
    version: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class GameResult:
    """How one finished game ended."""

    game_id: str
    kind: str
    moves: int
    winner: int | None
    reason: str

    @classmethod
    def of(cls, document: GameDocument) -> GameResult:
        """The result of a finished game's document."""
        result = document.result
        return cls(
            document.game_id,
            document.kind,
            len(document.moves),
            result.winner if result is not None else None,
            result.reason if result is not None else "",
        )


@attrs.define
class BotReport:
    """What a bot run did."""

    games: int
    moves: int = 0
    elapsed: float = 0.0
    requests: int = 0
    rereads: int = 0
    finished: list[GameResult] = attrs.Factory(list)
    abandoned: list[Abandoned] = attrs.Factory(list)
    disagreements: list[Disagreement] = attrs.Factory(list)
    #: The games' time control; None: untimed (the report reads as before).
    time_control: str | None = None
    #: Games in which a bot stopped moving on purpose.
    flagged: int = 0
    #: Claims the bots sent that ended a game.
    claimed: int = 0

    @property
    def moves_per_second(self) -> float:
        return self.moves / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def on_time(self) -> int:
        """Finished games lost on time."""
        return sum(1 for result in self.finished if result.reason == TIME)

    def to_json(self) -> dict[str, Any]:
        timed = (
            {
                "clock": self.time_control,
                "on_time": self.on_time,
                "flagged": self.flagged,
                "claimed": self.claimed,
            }
            if self.time_control
            else {}
        )
        return {
            **timed,
            "games": self.games,
            "finished": len(self.finished),
            "abandoned": [a.to_json() for a in self.abandoned],
            "moves": self.moves,
            "requests": self.requests,
            "rereads": self.rereads,
            "elapsed": round(self.elapsed, 3),
            "moves_per_second": round(self.moves_per_second, 1),
            "results": [attrs.asdict(r) for r in self.finished],
            "disagreements": [d.to_json() for d in self.disagreements],
        }

    def describe(self, max_disagreements: int = 50) -> str:
        lines = [
            f"{len(self.finished)} of {self.games} games finished, {len(self.abandoned)} "
            f"abandoned; {self.moves} moves in {self.elapsed:.1f} s "
            f"({self.moves_per_second:.1f} moves/s, {self.requests} requests, "
            f"{self.rereads} re-reads)",
        ]
        by_kind: dict[str, list[GameResult]] = {}
        for result in self.finished:
            by_kind.setdefault(result.kind, []).append(result)
        for kind in sorted(by_kind):
            results = by_kind[kind]
            black = sum(1 for r in results if r.winner == 0)
            white = sum(1 for r in results if r.winner == 1)
            draws = len(results) - black - white
            lines.append(
                f"  {kind}: {len(results)} games, black won {black}, white won {white}, "
                f"{draws} drawn"
            )
        if self.time_control:
            lines.append(
                f"time control {describe_control(self.time_control)} ({self.time_control}): "
                f"{self.on_time} games ended on time ({self.flagged} flagged on purpose; "
                f"{self.claimed} ended by a bot's claim, {self.on_time - self.claimed} by the "
                "servers' own timeout)"
            )
        for game in self.abandoned:
            lines.append(
                f"abandoned {game.kind} game {game.game_id} at version "
                f"{game.version}: {game.reason}"
            )
        if not self.disagreements:
            lines.append("disagreements: none")
        else:
            lines.append(f"disagreements: {len(self.disagreements)}")
            for disagreement in self.disagreements[:max_disagreements]:
                lines.append(f"  {disagreement.describe()}")
            hidden = len(self.disagreements) - max_disagreements
            if hidden > 0:
                lines.append(f"  ... and {hidden} more (--json lists them all)")
        return "\n".join(lines)


def _ids(ids: Sequence[int]) -> str:
    return ", ".join(str(i) for i in ids) or "none"


def describe_answers(outcome: Outcome) -> dict[int, str]:
    """A short description of every answer behind an outcome."""
    described: dict[int, str] = {}
    for answer in outcome.decision.answers:
        if answer.kind == OK:
            try:
                version = GameDocument.from_json(answer.value["game"]).version
                described[answer.server_id] = f"version {version}"
            except (KeyError, TypeError, DocumentError):
                described[answer.server_id] = "ok"
        elif answer.kind == ERROR:
            error = answer.value
            described[answer.server_id] = f"{error.tag.decode()}: {error.description}"
        else:
            described[answer.server_id] = f"failed: {answer.value}"
    return described


class _GameBots:
    """The two bots of one game."""

    def __init__(self, run: _BotRun, index: int, kind: str) -> None:
        self.run = run
        self.client = run.client
        self.index = index
        self.kind = kind
        self.game_id = uuid.uuid4().hex
        self.tokens = (new_token(), new_token())
        self.names = (f"bot{index}-black", f"bot{index}-white")
        self.document: GameDocument | None = None
        self.last_progress = run.clock.seconds()
        self.failures = 0
        self.last_problem = "no answer yet"
        self.steps = 0
        #: The seat that stops moving on purpose (None: neither), after how
        #: many of its own moves, and whether its opponent claims the win.
        self.flagger: int | None = None
        self.flag_after = 0
        self.claims = False
        if run.time_control and run.flag_rate > 0 and run.rng.random() < run.flag_rate:
            self.flagger = run.rng.randrange(2)
            self.flag_after = run.rng.randrange(FLAG_AFTER_MOVES)
            self.claims = run.rng.random() < 0.5
        self.moves_made = [0, 0]

    @property
    def version(self) -> int:
        return self.document.version if self.document is not None else 0

    # -- one request -----------------------------------------------------------

    async def ask(self, command: str, send: Callable[[], Deferred[Outcome]]) -> Outcome | None:
        """Send one request; record disagreements; None when nobody answered."""
        self.steps += 1
        self.run.report.requests += 1
        try:
            outcome = await send()
        except (NoServers, NoAnswer) as error:
            self.last_problem = f"{command}: {error}"
            return None
        if outcome.provisional or outcome.differed:
            self.run.report.disagreements.append(
                Disagreement(
                    self.game_id,
                    command,
                    self.version or None,
                    outcome.provisional,
                    outcome.agreed,
                    outcome.differed,
                    outcome.failed,
                    describe_answers(outcome),
                    self.run.clock.seconds() - self.run.started,
                )
            )
        if outcome.decision.chosen is None:
            self.last_problem = f"{command}: no server answered"
            return None
        if outcome.error is not None:
            self.last_problem = (
                f"{command}: {outcome.error.tag.decode()} ({outcome.error.description})"
            )
        return outcome

    def adopt(self, outcome: Outcome) -> bool:
        """Take the game document of a successful outcome; True if it moved on."""
        if outcome.error is not None or outcome.decision.chosen is None:
            return False
        document = outcome.game_document()
        advanced = self.document is None or document.version > self.version
        self.document = document
        if advanced:
            self.last_progress = self.run.clock.seconds()
            self.failures = 0
        return advanced

    async def reread(self) -> None:
        """Read the game again: GetGame, or SyncGame if the servers differ."""
        self.run.report.rereads += 1
        outcome = await self.ask("GetGame", lambda: self.client.get_game(self.game_id))
        if (
            outcome is not None
            and outcome.error is None
            and not outcome.provisional
            and not outcome.differed
        ):
            self.adopt(outcome)
            return
        outcome = await self.ask("SyncGame", lambda: self.client.sync_game(self.game_id))
        if outcome is not None:
            self.adopt(outcome)

    def give_up(self) -> str | None:
        """The reason to abandon the game now, if there is one."""
        stalled = self.run.clock.seconds() - self.last_progress
        if stalled > self.run.stall_timeout:
            return f"no progress for {stalled:.0f} s; last problem: {self.last_problem}"
        if self.failures > self.run.max_failures:
            return f"{self.failures} failures in a row; last problem: {self.last_problem}"
        if self.steps >= MAX_STEPS:
            return f"gave up after {self.steps} requests; last problem: {self.last_problem}"
        return None

    async def trouble(self) -> str | None:
        """Count a failure, back off, re-read; the reason to give up, if any."""
        self.failures += 1
        reason = self.give_up()
        if reason is not None:
            return reason
        delay = min(2.0, 0.05 * 2 ** min(self.failures, 6)) * (0.5 + self.run.rng.random())
        await deferLater(self.run.clock, delay)
        await self.reread()
        return None

    # -- the game ------------------------------------------------------------------

    async def play(self) -> None:
        reason = await self._create() or await self._join() or await self._moves()
        if reason is not None:
            self.run.report.abandoned.append(
                Abandoned(self.game_id, self.kind, self.version, reason)
            )
            return
        assert self.document is not None
        self.run.report.finished.append(GameResult.of(self.document))

    def _create_sender(self) -> Deferred[Outcome]:
        create = functools.partial(
            self.client.create_game, self.game_id, self.kind, self.names[0], self.tokens[0]
        )
        # The clock only for timed games: untimed requests stay as they were.
        return create(clock=self.run.time_control) if self.run.time_control else create()

    async def _create(self) -> str | None:
        while self.document is None:
            outcome = await self.ask("CreateGame", self._create_sender)
            if outcome is not None and outcome.error is None:
                self.adopt(outcome)
                if outcome.provisional:
                    await self.reread()
                break
            if (
                outcome is not None
                and outcome.error is not None
                and outcome.error.tag == b"GAME_EXISTS"
                and not outcome.provisional
            ):
                return f"CreateGame: {outcome.error.description}"
            reason = await self.trouble()
            if reason is not None:
                return reason
        return None

    def _joined(self) -> bool:
        return self.document is not None and self.document.status != "open"

    async def _join(self) -> str | None:
        while not self._joined():
            assert self.document is not None
            outcome = await self.ask(
                "JoinGame",
                lambda: self.client.join_game(
                    self.game_id, self.version, self.names[1], self.tokens[1]
                ),
            )
            if outcome is not None and outcome.error is None and not outcome.provisional:
                self.adopt(outcome)
                continue
            reason = await self.trouble()
            if reason is not None:
                return reason
        assert self.document is not None
        if self.document.player(1) != self.names[1]:
            return f"someone else took seat 1: {self.document.player(1)!r}"
        return None

    def _move_sender(self, version: int, move: str, seat: int) -> Callable[[], Deferred[Outcome]]:
        return lambda: self.client.make_move(self.game_id, version, move, self.tokens[seat])

    async def _moves(self) -> str | None:
        while True:
            document = self.document
            assert document is not None
            if document.status == "finished":
                return None
            legal = document.legal
            seat = document.to_move
            if seat is None or not legal:
                self.last_problem = f"active game without a side to move at version {self.version}"
                reason = await self.trouble()
                if reason is not None:
                    return reason
                continue
            if seat == self.flagger and self.moves_made[seat] >= self.flag_after:
                self.run.report.flagged += 1
                return await self._run_out(claim=self.claims)
            move: str = self.run.rng.choice(legal)
            outcome = await self.ask("MakeMove", self._move_sender(self.version, move, seat))
            if outcome is not None and _flagged(outcome):
                # This bot's time ran out on the servers' clocks: the game is lost.
                return await self._run_out(claim=True)
            if outcome is not None and outcome.error is None:
                self.run.report.moves += 1
                self.moves_made[seat] += 1
                if not outcome.provisional:
                    self.adopt(outcome)
                else:
                    # One server only: what the others hold decides how to go on.
                    await self.reread()
                reason = self.give_up()
                if reason is not None:
                    return reason
                continue
            reason = await self.trouble()
            if reason is not None:
                return reason

    async def _run_out(self, claim: bool) -> str | None:
        """Make no more moves and wait for the game to end on time: by the
        opponent's claim once the deadline has passed (``claim``), else by the
        servers' own timeout.  The reason to give up, if it does not end."""
        tuning = self.run.client.config.tuning
        claimed: set[int] = set()  # versions claimed: never twice
        waited_since = self.run.clock.seconds()
        while True:
            document = self.document
            assert document is not None
            if document.status == "finished":
                return None
            winner = 1 - document.to_move if document.to_move is not None else None
            due = claim_due(document, winner) if winner is not None else None
            now = self.client.server_now()
            if (
                claim
                and winner is not None
                and due is not None
                and now >= due
                and document.version not in claimed
            ):
                claimed.add(document.version)
                send = functools.partial(
                    self.client.claim_timeout, self.game_id, document.version, self.tokens[winner]
                )
                outcome = await self.ask("ClaimTimeout", send)
                if outcome is not None and self.adopt(outcome) and not outcome.provisional:
                    self.run.report.claimed += 1
                    continue
            deadline = document.clock.deadline if document.clock is not None else None
            waited_ms = 1000 * (self.run.clock.seconds() - waited_since)
            overdue_ms = now - deadline if deadline is not None else waited_ms
            # The servers end it flag_grace after the deadline; allow stall_timeout more.
            if overdue_ms > 1000 * (tuning.flag_grace + self.run.stall_timeout):
                return (
                    f"still {document.status} at version {document.version}, "
                    f"{overdue_ms / 1000:.0f} s past its deadline; last problem: "
                    f"{self.last_problem}"
                )
            await deferLater(self.run.clock, FLAG_POLL)
            await self.reread()


def _flagged(outcome: Outcome) -> bool:
    """The servers (a majority) answered ``FLAGGED``: the mover's time ran out."""
    return outcome.error is not None and outcome.error.tag == b"FLAGGED" and not outcome.provisional


def kinds_to_play(games: int, kind: str | None) -> tuple[str, ...]:
    """The kinds that games take in turn: ``kind``, or each kind.

    :raises ValueError: fewer than one game, or an unknown kind.
    """
    if games < 1:
        raise ValueError("games must be at least 1")
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    return (kind,) if kind is not None else KINDS


class _BotRun:
    def __init__(
        self,
        client: ReplicatedClient,
        rng: random.Random,
        clock: IReactorTime,
        stall_timeout: float,
        max_failures: int,
        games: int,
        time_control: str | None = None,
        flag_rate: float = 0.0,
    ) -> None:
        self.client = client
        self.rng = rng
        self.clock = clock
        self.stall_timeout = stall_timeout
        self.max_failures = max_failures
        self.time_control = time_control
        self.flag_rate = flag_rate
        self.report = BotReport(games, time_control=time_control)
        self.started = clock.seconds()


def run_bots(
    client: ReplicatedClient,
    games: int,
    kind: str | None = None,
    rng: random.Random | None = None,
    *,
    clock: IReactorTime | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    stall_timeout: float = 30.0,
    max_failures: int = 40,
    time_control: str | None = None,
    flag_rate: float = 0.0,
) -> Deferred[BotReport]:
    """Play ``games`` games of random legal moves between bots.

    :param client: a started client (after :meth:`ReplicatedClient.settled`).
    :param kind: one of :data:`game.rules.KINDS`; by default each kind in turn.
    :param rng: the source of the random moves.
    :param clock: what to measure time and back off with (default: the client's).
    :param concurrency: how many games are played at once.
    :param stall_timeout: abandon a game whose version has not risen for this long.
    :param max_failures: abandon a game after this many failed requests in a row.
    :param time_control: play timed games (``live:10+0``); untimed by default.
    :param flag_rate: the fraction of timed games in which a bot stops moving on purpose.
    :return: fires with the :class:`BotReport` once every game finished or was abandoned.
    """
    kinds = kinds_to_play(games, kind)
    clock = clock if clock is not None else client.clock
    run = _BotRun(
        client,
        rng or random.Random(),
        clock,
        stall_timeout,
        max_failures,
        games,
        time_control,
        flag_rate,
    )
    semaphore = DeferredSemaphore(max(1, concurrency))

    def one(index: int) -> Deferred[None]:
        bots = _GameBots(run, index, kinds[index % len(kinds)])
        return Deferred.fromCoroutine(bots.play())

    def finish(_: object) -> BotReport:
        run.report.elapsed = clock.seconds() - run.started
        return run.report

    plays = [semaphore.run(one, index) for index in range(games)]
    return gatherResults(plays, consumeErrors=True).addCallback(finish)
