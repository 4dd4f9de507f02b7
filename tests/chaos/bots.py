"""Bot games played through the real client library while faults land.

Each :class:`ChaosBot` owns one :class:`~game.client.client.ReplicatedClient`
(three links, through the client-side fault proxies) and plays games one
after another, both seats, until it is stopped: create, join, then random
legal moves, with now and then a draw offer, an accepted draw or a
resignation.  It acts on what the client decided, like a real player: an
acknowledged or provisional game is taken as the current one; an error or
no answer makes it re-send the same request (a safe repeat) or re-read the
game (``GetGame``, then ``SyncGame`` when the servers differ).
"""

from __future__ import annotations

import random
import traceback
from typing import Any, Final

from twisted.internet import defer
from twisted.internet.task import deferLater

from game import protocol as p
from game.client.client import Outcome, ReplicatedClient
from game.client.document import GameDocument
from game.client.majority import OK
from game.client.tokens import new_token
from game.config import ClusterConfig
from game.rules import KINDS
from tests.chaos.history import Recorder

#: Requests one game may take before the bot moves on to a new game.
MAX_STEPS: Final = 4000


class ChaosBot:
    """Plays games with both seats through one replicated client.

    :param think: the range of seconds between two requests.
    """

    def __init__(
        self,
        index: int,
        config: ClusterConfig,
        reactor: Any,
        recorder: Recorder,
        rng: random.Random,
        think: tuple[float, float] = (0.1, 0.4),
    ) -> None:
        self.index = index
        self.reactor = reactor
        self.recorder = recorder
        self.rng = rng
        self.think = think
        self.client = ReplicatedClient(config, reactor, rng=rng.random)
        recorder.tap(self.client)
        self.stopping = False
        self.games: list[str] = []
        self.finished_games = 0
        self.errors: list[str] = []
        #: What the bot waits for now (shown if it does not stop in time).
        self.doing = "starting"
        self.done = False
        self._sleep: defer.Deferred[None] | None = None

    # -- lifecycle --------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            self.doing = "done"
            self.done = True

    async def _run(self) -> None:
        self.client.start()
        await self.pause(self.rng.uniform(0, 1.0))
        while not self.stopping:
            try:
                await self.play_game()
                await self.audit()
            except defer.CancelledError:
                if self.stopping:
                    break
            except Exception:
                # A bug of the harness or an unexpected client exception: keep
                # it for the report, and go on with a new game.
                self.errors.append(traceback.format_exc())
                await self.pause(0.5)

    def stop(self) -> None:
        self.stopping = True
        if self._sleep is not None and not self._sleep.called:
            self._sleep.cancel()

    async def pause(self, seconds: float) -> None:
        if self.stopping:
            return
        self.doing = f"pausing {seconds:.2f} s"
        self._sleep = deferLater(self.reactor, seconds, lambda: None)
        try:
            await self._sleep
        except defer.CancelledError:
            pass
        finally:
            self._sleep = None

    # -- one game ----------------------------------------------------------------

    async def play_game(self) -> None:
        number = len(self.games) + 1
        game_id = f"chaos-{self.index:03d}-{number:04d}-{self.rng.getrandbits(24):06x}"
        self.games.append(game_id)
        game = _Game(game_id, self.rng.choice(KINDS), self.index)
        for _ in range(MAX_STEPS):
            if self.stopping:
                return
            request = game.next_request(self.rng)
            if request is None:
                self.finished_games += 1
                return
            outcome = await self.send(request)
            if _succeeded(outcome):
                game.doc = outcome.game_document()  # type: ignore[union-attr]
            else:
                if outcome is None:
                    await self.pause(0.3)  # no server reachable
                elif outcome.decision.chosen is None and self.rng.random() < 0.4:
                    # No answer at all: the change may have been applied.
                    # Re-sending it is safe (a repeat answers the game).
                    retried = await self.send(request)
                    if _succeeded(retried):
                        game.doc = retried.game_document()  # type: ignore[union-attr]
                        await self.pause(self.rng.uniform(*self.think))
                        continue
                await self.reread(game)
            await self.pause(self.rng.uniform(*self.think))

    async def audit(self, count: int = 3) -> None:
        """Read a few of this bot's earlier games: where two servers answer
        alike, the checker sees their changes confirmed again."""
        earlier = self.games[:-1]
        for game_id in self.rng.sample(earlier, min(count, len(earlier))):
            if self.stopping:
                return
            self.doing = f"GetGame {game_id} (audit)"
            await self.recorder.request(self.client, p.GetGame, {"game_id": game_id})
            await self.pause(self.rng.uniform(*self.think))

    async def send(self, request: tuple[type[p.Command], int | None, dict[str, Any]]) -> Any:
        command, seat, arguments = request
        self.doing = f"{command.commandName.decode()} {arguments.get('game_id')}"
        return await self.recorder.request(self.client, command, arguments, seat)

    async def reread(self, game: _Game) -> None:
        """Learn what the servers hold now (read repair when they differ)."""
        if self.stopping:
            return
        self.doing = f"GetGame {game.id} (reread)"
        outcome = await self.recorder.request(self.client, p.GetGame, {"game_id": game.id})
        if _succeeded(outcome) and not outcome.provisional and not outcome.differed:
            game.doc = outcome.game_document()
            return
        error = outcome.error if outcome is not None else None
        if error is not None and not outcome.provisional and error.tag == b"UNKNOWN_GAME":
            game.doc = None  # its creation was undone: create it again
            return
        if outcome is None or self.stopping:
            await self.pause(0.3)
            return
        self.doing = f"SyncGame {game.id} (reread)"
        synced = await self.recorder.request(self.client, p.SyncGame, {"game_id": game.id})
        if _succeeded(synced):
            game.doc = synced.game_document()
        else:
            await self.pause(0.3)


def _succeeded(outcome: Outcome | None) -> bool:
    return (
        outcome is not None
        and outcome.decision.chosen is not None
        and outcome.decision.chosen.kind == OK
        and "game" in outcome.decision.chosen.value
    )


class _Game:
    """One game as the bot knows it: the last document the client took."""

    def __init__(self, game_id: str, kind: str, index: int) -> None:
        self.id = game_id
        self.kind = kind
        self.players = (f"bot{index}-black", f"bot{index}-white")
        self.tokens = (new_token(), new_token())
        self.doc: GameDocument | None = None

    def next_request(
        self, rng: random.Random
    ) -> tuple[type[p.Command], int | None, dict[str, Any]] | None:
        doc = self.doc
        if doc is None:
            return (
                p.CreateGame,
                0,
                {
                    "game_id": self.id,
                    "kind": self.kind,
                    "player": self.players[0],
                    "token": self.tokens[0],
                    "seat": 0,
                },
            )
        version = doc.version
        if doc.status == "finished":
            return None
        if doc.status == "open":
            return (
                p.JoinGame,
                1,
                {
                    "game_id": self.id,
                    "version": version,
                    "player": self.players[1],
                    "token": self.tokens[1],
                },
            )
        seat: int = doc.to_move  # type: ignore[assignment]  # active: a side to move
        roll = rng.random()
        offer = doc.draw_offer
        if offer is not None and offer != seat and roll < 0.4:
            return p.AcceptDraw, seat, self._args(version, seat)
        if roll < 0.004:
            resigner = rng.randrange(2)
            return p.Resign, resigner, self._args(version, resigner)
        if offer is None and roll < 0.02:
            return p.OfferDraw, seat, self._args(version, seat)
        move = rng.choice(doc.legal)
        return p.MakeMove, seat, {**self._args(version, seat), "move": move}

    def _args(self, version: int, seat: int) -> dict[str, Any]:
        return {"game_id": self.id, "version": version, "token": self.tokens[seat]}
