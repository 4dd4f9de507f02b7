"""The computer as a player of the cluster: its games are replicated,
watched and resumed like everyone's.

:class:`ComputerPlayer` plays one seat of one game through a
:class:`~game.client.client.ReplicatedClient`, as a
:class:`~game.client.seatplay.SeatPlayer` whose moves come from
:func:`game.engine.choose_move`.  On its turn it hands the position, as
``(kind, position text)``, to a :class:`~game.client.searchpool.MoveSearch`
(a worker process: the reactor never waits for a search) and sends the
answer with the version it searched.  In a timed game the search budget
follows the seat's clock (:func:`game.client.movetime.budget_for`); levels
1 and 2 wait a moment before answering so that a person sees the move land.

:class:`HouseGames` is ``replgame engine``: it keeps M open games named
``computer (level N)`` in the lobby, plays whoever joins, and opens a new
one as soon as one starts.  :func:`join_and_play` is the desktop game's
"Play the computer": the computer joins a game the person created.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Final

from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater

from game.client.bots import Abandoned, GameResult, kinds_to_play
from game.client.client import ReplicatedClient
from game.client.document import GameDocument
from game.client.movetime import budget_for, think_delay
from game.client.offers import ACCEPT, THEIRS, RematchSeat, rematch_seat, rematch_stance
from game.client.searchpool import MoveSearch
from game.client.seatplay import SeatPlayer, create_open_game
from game.client.tokens import new_token

#: While watching, the game is read only this often as a fallback (seconds).
WATCH_POLL: Final = 5.0
#: The refusals after which a join reads the game again and retries.
RESYNC_TAGS: Final = ("STALE_VERSION", "BEHIND")
#: How long after a game ends the computer stays to accept a rematch (seconds).
REMATCH_WAIT: Final = 120.0
#: How often the ended game is read meanwhile (seconds).
REMATCH_POLL: Final = 1.0


def computer_name(level: int) -> str:
    """The computer's player name at ``level``, as the lobby shows it."""
    return f"computer (level {level})"


class ComputerPlayer:
    """The computer in one seat of one game.

    :param search: where positions are searched (off the reactor).
    :param think: the least time a move appears to take (None: the level's
        :data:`~game.client.movetime.THINK_DELAYS`; 0 in tests).
    :param stall_timeout: give up after this long without progress (None: never).
    """

    def __init__(
        self,
        client: ReplicatedClient,
        game_id: str,
        seat: int,
        token: str,
        level: int,
        search: MoveSearch,
        clock: IReactorTime,
        *,
        think: float | None = None,
        stall_timeout: float | None = None,
        poll: float = WATCH_POLL,
        on_document: Callable[[GameDocument], None] | None = None,
    ) -> None:
        self.client = client
        self.level = level
        self.search = search
        self.clock = clock
        self.think = think
        self.player = SeatPlayer(
            client,
            game_id,
            seat,
            token,
            clock,
            self.choose,
            stall_timeout=stall_timeout,
            poll=poll,
            watch=True,
            on_document=on_document,
            accept_takebacks=True,
        )

    @property
    def game_id(self) -> str:
        return self.player.game_id

    def choose(self, document: GameDocument) -> Deferred[str | None]:
        return Deferred.fromCoroutine(self._choose(document))

    async def _choose(self, document: GameDocument) -> str | None:
        started = self.clock.seconds()
        budget = budget_for(document, self.player.seat, self.level, self.client.server_now())
        move = await self.search.search(document.kind, document.position, self.level, budget)
        elapsed = self.clock.seconds() - started
        if self.think is None:
            wait = think_delay(self.level, budget, elapsed)
        else:
            wait = max(0.0, min(self.think, budget) - elapsed)
        if wait > 0:
            await deferLater(self.clock, wait)
        return move

    def play(self) -> Deferred[GameResult | Abandoned]:
        """Play until the game ends (or :meth:`stop`)."""
        return Deferred.fromCoroutine(self.player.play())

    def stop(self) -> None:
        self.player.stop()

    async def rematch(
        self, wait: float = REMATCH_WAIT, poll: float = REMATCH_POLL
    ) -> ComputerPlayer | None:
        """After the game ended: accept the opponent's rematch offer if one
        comes within ``wait`` seconds, and return the computer of the new
        game (seated, colours swapped); None if none came, or if stopped."""
        seat = self.player
        kept: RematchSeat | None = None
        deadline = self.clock.seconds() + wait
        while not seat.stopped and self.clock.seconds() < deadline:
            document = seat.document
            if document is not None and rematch_stance(document, seat.seat) == THEIRS:
                new = kept = rematch_seat(document, seat.seat, ACCEPT, kept)
                accept = functools.partial(
                    self.client.accept_rematch,
                    self.game_id, document.version, seat.token, new.token,
                )  # fmt: skip
                answer = await seat.ask(accept)
                if answer is not None and answer.error is None and answer.decision.chosen:
                    computer = ComputerPlayer(
                        self.client, new.game_id, new.seat, new.token, self.level,
                        self.search, self.clock, think=self.think,
                        stall_timeout=seat.stall_timeout, poll=seat.poll,
                        on_document=seat.on_document,
                    )  # fmt: skip
                    computer.player.adopt(answer)
                    return computer
            await deferLater(self.clock, poll)
            if not seat.stopped:
                await seat.reread()
        return None

    async def play_with_rematches(
        self,
        started: Callable[[ComputerPlayer], None] = lambda player: None,
        ended: Callable[[GameResult], None] = lambda result: None,
    ) -> GameResult | Abandoned:
        """Play the game, then every rematch the opponent offers in time;
        ``started`` is told each rematch's computer (to stop it), ``ended``
        each game's result but the last, which is returned."""
        computer = self
        while True:
            result = await computer.play()
            if not isinstance(result, GameResult) or result.reason == "cancelled":
                return result
            rematch = await computer.rematch()
            if rematch is None:
                return result
            ended(result)
            started(rematch)
            computer = rematch


async def join_and_play(
    client: ReplicatedClient,
    game_id: str,
    level: int,
    search: MoveSearch,
    clock: IReactorTime,
    *,
    think: float | None = None,
    started: Callable[[ComputerPlayer], None] = lambda player: None,
) -> GameResult | Abandoned:
    """Take the free seat of the open game ``game_id`` as the computer at
    ``level``, and play it.  ``started`` is told the player once seated (to
    stop it).  A join the servers refuse as stale is retried once after a
    fresh read."""
    token = new_token()
    for attempt in range(2):
        read = await (client.get_game if attempt == 0 else client.sync_game)(game_id)
        if read.decision.chosen is None or read.error is not None:
            return Abandoned(game_id, "", 0, "could not read the game")
        document = read.game_document()
        seat = document.free_seat
        if document.status != "open" or seat is None:
            return Abandoned(game_id, document.kind, document.version, "no free seat")
        joined = await client.join_game(game_id, document.version, computer_name(level), token)
        if joined.decision.chosen is None:
            return Abandoned(game_id, document.kind, document.version, "no server answered")
        if joined.error is not None:
            if attempt == 0 and joined.error.tag.decode() in RESYNC_TAGS:
                continue
            why = f"{joined.error.tag.decode()} ({joined.error.description})"
            return Abandoned(game_id, document.kind, document.version, why)
        player = ComputerPlayer(client, game_id, seat, token, level, search, clock, think=think)
        player.player.adopt(joined)
        started(player)
        return await player.play_with_rematches(started)
    return Abandoned(game_id, "", 0, "the game kept changing")


class HouseGames:
    """``replgame engine``: ``games`` open games of the computer at
    ``level``, always; each plays whoever joins it.

    :param kind: the kind of every game (None: each kind in turn).
    :param announce: told one line per game opened, started and ended.
    :param time_control: the games' time control (None: untimed).
    """

    def __init__(
        self,
        client: ReplicatedClient,
        level: int,
        games: int,
        kind: str | None,
        search: MoveSearch,
        clock: IReactorTime,
        *,
        name: str | None = None,
        announce: Callable[[str], None] = lambda line: None,
        time_control: str | None = None,
        think: float | None = None,
    ) -> None:
        self.client = client
        self.level = level
        self.kinds = kinds_to_play(games, kind)
        self.games = games
        self.search = search
        self.clock = clock
        self.name = name or computer_name(level)
        self.announce = announce
        self.time_control = time_control
        self.think = think
        #: Every game the computer holds a seat in, open or being played.
        self.players: dict[str, ComputerPlayer] = {}
        self.plays: list[Deferred[None]] = []
        self.results: list[GameResult | Abandoned] = []
        self.stopped = False

    def start(self) -> None:
        for index in range(self.games):
            self.open(self.kinds[index % len(self.kinds)])

    def open(self, kind: str) -> None:
        """Open one game of ``kind``, and play it once someone joins."""
        if self.stopped:
            return
        game_id = uuid.uuid4().hex
        opened = [False]

        def follow(document: GameDocument) -> None:
            if document.status != "open" and not opened[0]:
                opened[0] = True
                if document.status == "active":
                    opponent = document.player(1)
                    self.announce(f"{self.name}: {kind} game {game_id} started against {opponent}")
                # A replacement, so that as many games as asked stay open.
                self.open(kind)

        player = ComputerPlayer(
            self.client,
            game_id,
            0,
            new_token(),
            self.level,
            self.search,
            self.clock,
            think=self.think,
            on_document=follow,
        )
        self.players[game_id] = player
        self.plays.append(Deferred.fromCoroutine(self._play(player, kind)))

    async def _play(self, player: ComputerPlayer, kind: str) -> None:
        abandoned = await create_open_game(player.player, kind, self.name, self.time_control)
        if abandoned is None:
            self.announce(
                f"{self.name}: opened {kind} game {player.game_id}, waiting for an opponent"
            )
            current = [player.game_id]

            def rematched(computer: ComputerPlayer) -> None:
                self.players.pop(current[0], None)
                self.players[computer.game_id] = computer
                self.announce(
                    f"{self.name}: {kind} game {computer.game_id} started, "
                    f"a rematch of game {current[0]}"
                )
                current[0] = computer.game_id

            outcome = await player.play_with_rematches(rematched, self._ended)
            self.players.pop(current[0], None)
        else:
            outcome = abandoned
            self.players.pop(player.game_id, None)
        if isinstance(outcome, GameResult):
            self._ended(outcome)
        else:
            self.results.append(outcome)

    def _ended(self, result: GameResult) -> None:
        self.results.append(result)
        self.announce(f"{self.name}: {result.kind} game {result.game_id} ended: {_ending(result)}")

    def open_games(self) -> list[str]:
        """The games created and still waiting for an opponent."""
        return [
            game_id
            for game_id, player in self.players.items()
            if player.player.document is not None and player.player.document.status == "open"
        ]

    def stop(self) -> Deferred[object]:
        """Stop every game's player; cancel the open games (a game left open
        with nobody to play it would wait in the lobby for a person who
        joins and is never answered).  Fires once the cancels are answered."""
        self.stopped = True
        cancels = []
        for game_id in self.open_games():
            seat = self.players[game_id].player
            cancels.append(self.client.resign(game_id, seat.version, seat.token))
        for computer in list(self.players.values()):
            computer.stop()
        done: Deferred[object] = DeferredList(cancels, consumeErrors=True).addCallback(
            lambda _: None
        )
        return done


def _ending(result: GameResult) -> str:
    if result.reason == "cancelled":
        return "cancelled"
    if result.winner is None:
        return f"draw ({result.reason})"
    colour = "black" if result.winner == 0 else "white"
    return f"{colour} won ({result.reason}), {result.moves} moves"
