"""Bots that play against people: ``replgame bot --open``.

Each bot creates a game as seat 0 (black, moves first) and leaves it open;
once someone joins (``replgame join`` or the desktop game), it plays random
legal moves for its seat until the game ends.  It follows the game by
reading it (``GetGame``) a few times a second, and on any refusal reads it
again and goes on from what the servers hold.  A game in which nothing
happens for ``stall_timeout`` seconds (nobody joins, the person does not
move) is abandoned.  In a timed game (``time_control``) the bot claims the
win as soon as the person's time has run out on the servers' clocks.  A
bot that ``flags`` (``--flag-rate``) never moves: once someone joins, it lets
its own time run out, and the game ends on time by the person's claim or the
servers' own timeout (how the Xvfb test sees a live game end on time).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from typing import Final

from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater

from game.client.bots import Abandoned, BotReport, GameResult, kinds_to_play
from game.client.client import NoAnswer, NoServers, Outcome, ReplicatedClient
from game.client.document import GameDocument
from game.client.flagwatch import claim_due
from game.client.tokens import new_token

#: Seconds between two reads of a game while the bot waits for the other side.
POLL: Final = 0.25
SEAT: Final = 0


class OpenGameBot:
    """One open game and the bot in its seat 0."""

    def __init__(
        self,
        client: ReplicatedClient,
        kind: str,
        rng: random.Random,
        clock: IReactorTime,
        stall_timeout: float,
        name: str,
        time_control: str | None = None,
        flags: bool = False,
    ) -> None:
        self.client = client
        self.kind = kind
        self.rng = rng
        self.clock = clock
        self.stall_timeout = stall_timeout
        self.name = name
        self.game_id = uuid.uuid4().hex
        self.token = new_token()
        self.document: GameDocument | None = None
        self.moves = 0
        self.last_progress = clock.seconds()
        self.problem = "no answer yet"
        self.time_control = time_control
        #: ``create_game``'s clock argument, only for a timed game.
        self.timed = {"clock": time_control} if time_control else {}
        #: Versions the bot claimed the win on time at (never twice).
        self.claimed: set[int] = set()
        #: Never move, and lose on time (only in a timed game).
        self.flags = flags and time_control is not None
        #: Whether it has declined a move on purpose yet.
        self.flagged = False

    @property
    def version(self) -> int:
        return self.document.version if self.document is not None else 0

    def adopt(self, outcome: Outcome | None) -> bool:
        """Take a successful answer's document; True if it is newer."""
        if outcome is None or outcome.decision.chosen is None:
            return False
        if outcome.error is not None:
            self.problem = f"{outcome.error.tag.decode()} ({outcome.error.description})"
            return False
        document = outcome.game_document()
        newer = self.document is None or document.version > self.version
        if newer:
            self.last_progress = self.clock.seconds()
        self.document = document
        return newer

    async def ask(self, send: Callable[[], Deferred[Outcome]]) -> Outcome | None:
        try:
            return await send()
        except (NoServers, NoAnswer) as error:
            self.problem = str(error)
            return None

    def _move_sender(self, version: int, move: str) -> Callable[[], Deferred[Outcome]]:
        return lambda: self.client.make_move(self.game_id, version, move, self.token)

    def _claim_sender(self, version: int) -> Callable[[], Deferred[Outcome]]:
        return lambda: self.client.claim_timeout(self.game_id, version, self.token)

    def _claimable(self, document: GameDocument) -> bool:
        """The person's time ran out (servers' clocks) and this version is unclaimed."""
        due = claim_due(document, SEAT)
        return (
            due is not None
            and self.client.server_now() >= due
            and document.version not in self.claimed
        )

    def _overdue(self) -> float | None:
        """Seconds past the servers' own timeout of the bot's running clock
        (negative before it), while the bot waits for its time to run out."""
        document = self.document
        if not self.flags or document is None or not document.my_turn(SEAT):
            return None
        deadline = document.clock.deadline if document.clock is not None else None
        if deadline is None:
            return None
        late_ms = self.client.server_now() - deadline
        return late_ms / 1000 - self.client.config.tuning.flag_grace

    def stalled(self) -> str | None:
        idle = self.clock.seconds() - self.last_progress
        overdue = self._overdue()
        if overdue is not None:
            # Nothing happens on purpose until the servers end the game.
            idle = min(idle, overdue)
        if idle > self.stall_timeout:
            return f"nothing happened for {idle:.0f} s; last problem: {self.problem}"
        return None

    async def play(self, announce: Callable[[str], None]) -> GameResult | Abandoned:
        while self.document is None:
            outcome = await self.ask(
                lambda: self.client.create_game(
                    self.game_id, self.kind, self.name, self.token, SEAT, **self.timed
                )
            )
            if not self.adopt(outcome):
                reason = self.stalled()
                if reason is not None:
                    return Abandoned(self.game_id, self.kind, self.version, reason)
                await deferLater(self.clock, POLL)
        announce(
            f"{self.name} created {self.kind} game {self.game_id}; waiting for an opponent "
            f"(replgame join {self.game_id} --as NAME, or Join in replgame-play)"
        )
        while True:
            document = self.document
            assert document is not None
            if document.status == "finished":
                return GameResult.of(document)
            if document.my_turn(SEAT) and self.flags:
                self.flagged = True
                await deferLater(self.clock, POLL)
            elif document.my_turn(SEAT) and document.legal:
                move = self.rng.choice(document.legal)
                version = self.version
                outcome = await self.ask(self._move_sender(version, move))
                if self.adopt(outcome):
                    self.moves += 1
                    continue
            elif self._claimable(document):
                self.claimed.add(document.version)
                version = document.version
                if self.adopt(await self.ask(self._claim_sender(version))):
                    continue
            else:
                await deferLater(self.clock, POLL)
            self.adopt(await self.ask(lambda: self.client.get_game(self.game_id)))
            reason = self.stalled()
            if reason is not None:
                return Abandoned(self.game_id, self.kind, self.version, reason)


def run_open_bots(
    client: ReplicatedClient,
    games: int,
    kind: str | None = None,
    rng: random.Random | None = None,
    *,
    clock: IReactorTime | None = None,
    stall_timeout: float = 300.0,
    announce: Callable[[str], None] = lambda line: None,
    time_control: str | None = None,
    flag_rate: float = 0.0,
) -> Deferred[BotReport]:
    """Create ``games`` open games and play seat 0 of each against whoever joins.

    :param kind: one of :data:`game.rules.KINDS`; by default each kind in turn.
    :param announce: told a line per game once it is created and waiting.
    :param time_control: create timed games (``live:300+5``); untimed by default.
    :param flag_rate: in timed games, the fraction of bots that never move and
        lose on time once someone joins.
    :return: fires with the :class:`~game.client.bots.BotReport` once every
        game finished or was abandoned.
    """
    kinds = kinds_to_play(games, kind)
    clock = clock if clock is not None else client.clock
    rng = rng or random.Random()
    report = BotReport(games, time_control=time_control)
    started = clock.seconds()
    bots = [
        OpenGameBot(
            client,
            kinds[index % len(kinds)],
            rng,
            clock,
            stall_timeout,
            f"bot{index}",
            time_control,
            flags=bool(time_control) and flag_rate > 0 and rng.random() < flag_rate,
        )
        for index in range(games)
    ]

    def record(outcome: GameResult | Abandoned, bot: OpenGameBot) -> None:
        report.moves += bot.moves
        report.flagged += bot.flagged
        if isinstance(outcome, GameResult) and outcome.reason == "time" and bot.claimed:
            report.claimed += 1
        if isinstance(outcome, GameResult):
            report.finished.append(outcome)
        else:
            report.abandoned.append(outcome)

    plays = [Deferred.fromCoroutine(bot.play(announce)).addCallback(record, bot) for bot in bots]

    def finish(_: object) -> BotReport:
        report.elapsed = clock.seconds() - started
        return report

    return gatherResults(plays, consumeErrors=True).addCallback(finish)
