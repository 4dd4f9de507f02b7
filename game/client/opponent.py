"""Bots that play against people: ``replgame bot --open``.

Each bot creates a game as seat 0 (black, moves first) and leaves it open;
once someone joins (``replgame join`` or the desktop game), it plays random
legal moves for its seat until the game ends
(:class:`~game.client.seatplay.SeatPlayer`, shared with the computer).  It
follows the game by reading it (``GetGame``) a few times a second, and on
any refusal reads it again and goes on from what the servers hold.  A game in which nothing
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

from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.interfaces import IReactorTime

from game.client.bots import Abandoned, BotReport, GameResult, kinds_to_play
from game.client.client import ReplicatedClient
from game.client.document import GameDocument
from game.client.seatplay import POLL, SeatPlayer, create_open_game
from game.client.tokens import new_token

__all__ = ["POLL", "SEAT", "OpenGameBot", "run_open_bots"]

SEAT: Final = 0


class OpenGameBot:
    """One open game and the bot in its seat 0 (a
    :class:`~game.client.seatplay.SeatPlayer` choosing random moves)."""

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
        self.name = name
        self.time_control = time_control
        #: Never move, and lose on time (only in a timed game).
        self.flags = flags and time_control is not None
        self.player = SeatPlayer(
            client,
            uuid.uuid4().hex,
            SEAT,
            new_token(),
            clock,
            self.choose,
            stall_timeout=stall_timeout,
        )

    @property
    def game_id(self) -> str:
        return self.player.game_id

    @property
    def moves(self) -> int:
        return self.player.moves

    @property
    def claimed(self) -> set[int]:
        """Versions the bot claimed the win on time at."""
        return self.player.claimed

    @property
    def flagged(self) -> bool:
        """Whether it has declined a move on purpose yet."""
        return self.player.declined

    def choose(self, document: GameDocument) -> Deferred[str | None]:
        return succeed(None if self.flags else self.rng.choice(document.legal))

    async def play(self, announce: Callable[[str], None]) -> GameResult | Abandoned:
        abandoned = await create_open_game(self.player, self.kind, self.name, self.time_control)
        if abandoned is not None:
            return abandoned
        announce(
            f"{self.name} created {self.kind} game {self.game_id}; waiting for an opponent "
            f"(replgame join {self.game_id} --as NAME, or Join in replgame-play)"
        )
        return await self.player.play()


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
