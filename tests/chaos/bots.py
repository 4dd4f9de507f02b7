"""Bot games played through the real client library while faults land.

Each :class:`ChaosBot` owns one :class:`~game.client.client.ReplicatedClient`
(three links, through the client-side fault proxies) and plays games one
after another, both seats, until it is stopped: create, join, then random
legal moves, with now and then a draw offer, an accepted draw or a
resignation.  It acts on what the client decided, like a real player: an
acknowledged or provisional game is taken as the current one; an error or
no answer makes it re-send the same request (a safe repeat) or re-read the
game (``GetGame``, then ``SyncGame`` when the servers differ).

A share of the games are timed (:class:`~tests.chaos.timed.TimedPlay`): every
change carries ``at`` on the servers' scale
(:meth:`~game.client.client.ReplicatedClient.server_now`).  In some of them
one seat stops moving on purpose after a few moves; once the deadline has
passed, its opponent claims the win (``ClaimTimeout``, once per version) or
leaves the game to the servers' own timeout, and the bot re-reads the game
until it has ended.  A seat that holds more than the control's base thinks
for the excess first, so that no seat holds more than base plus increment
(the bound :func:`~tests.chaos.timed.timed_lead` relies on).  After
``timed_until`` (seconds into the run) the bot starts no timed game and
makes no more moves in one: it waits for it to end on time.
"""

from __future__ import annotations

import random
import traceback
from typing import Any, Final

import attrs
from twisted.internet import defer
from twisted.internet.task import deferLater

from game import protocol as p
from game.client.client import Outcome, ReplicatedClient
from game.client.document import GameDocument
from game.client.majority import OK
from game.client.tokens import new_token
from game.config import ClusterConfig
from game.rules import KINDS
from game.timecontrol import parse_time_control
from tests.chaos.history import Recorder
from tests.chaos.timed import CLAIM_MARGIN_MS, FLAG_AFTER_MOVES, TimedPlay

#: Requests one game may take before the bot moves on to a new game.
MAX_STEPS: Final = 4000
#: Seconds between two reads of a timed game whose clock is running out.
FLAG_POLL: Final = (0.4, 1.0)
#: Seconds past the deadline plus ``flag_grace`` after which a bot stops
#: waiting for a game to end on time (the checker then judges it).
GIVE_UP_AFTER: Final = 30.0

Request = tuple[type[p.Command], int | None, dict[str, Any]]


@attrs.frozen
class Pause:
    """No request now: pause ``seconds``, then re-read the game (``reread``)
    or decide again."""

    seconds: float
    reread: bool = True


class ChaosBot:
    """Plays games with both seats through one replicated client.

    :param think: the range of seconds between two requests.
    :param timed: how to play timed games (None: no timed game).
    :param timed_until: when (seconds into the run, the recorder's clock) the
        bot stops timed play.
    """

    def __init__(
        self,
        index: int,
        config: ClusterConfig,
        reactor: Any,
        recorder: Recorder,
        rng: random.Random,
        think: tuple[float, float] = (0.1, 0.4),
        timed: TimedPlay | None = None,
        timed_until: float = float("inf"),
    ) -> None:
        self.index = index
        self.reactor = reactor
        self.recorder = recorder
        self.rng = rng
        self.think = think
        self.timed = timed
        self.timed_until = timed_until
        self.client = ReplicatedClient(config, reactor, rng=rng.random)
        recorder.tap(self.client)
        self.stopping = False
        self.games: list[str] = []
        self.finished_games = 0
        #: Timed games started, and those in which a seat stopped on purpose.
        self.timed_games = 0
        self.flagged_on_purpose = 0
        #: Timed games the bot stopped waiting for (still active, past due).
        self.given_up: list[str] = []
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
        timed = self.timed
        if timed is not None and self.rng.random() < timed.share and not self.timed_over():
            game.time(self.rng.choice(list(timed.controls)), timed, self.rng)
            self.timed_games += 1
        grace = self.client.config.tuning.flag_grace
        for _ in range(MAX_STEPS):
            if self.stopping:
                return
            step = game.next_step(self.rng, self.client.server_now(), self.timed_over())
            if step is None:
                self.finished_games += 1
                return
            if isinstance(step, Pause):
                if game.flagging_counted is False:
                    game.flagging_counted = True
                    self.flagged_on_purpose += 1
                if game.overdue_ms(self.client.server_now()) > 1000 * (grace + GIVE_UP_AFTER):
                    self.given_up.append(game_id)
                    return
                await self.pause(step.seconds)
                if step.reread:
                    await self.reread(game)
                continue
            outcome = await self.send(step)
            if _succeeded(outcome):
                game.took(step, outcome.game_document())  # type: ignore[union-attr]
            else:
                if outcome is None:
                    await self.pause(0.3)  # no server reachable
                elif outcome.decision.chosen is None and self.rng.random() < 0.4:
                    # No answer at all: the change may have been applied.
                    # Re-sending it is safe (a repeat answers the game).
                    retried = await self.send(step)
                    if _succeeded(retried):
                        game.took(step, retried.game_document())  # type: ignore[union-attr]
                        await self.pause(self.rng.uniform(*self.think))
                        continue
                await self.reread(game)
            await self.pause(self.rng.uniform(*self.think))

    def timed_over(self) -> bool:
        """Whether the bot has stopped timed play (near the end of the run)."""
        return self.recorder.now() >= self.timed_until

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

    async def send(self, request: Request) -> Any:
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
    """One game as the bot knows it: the last document the client took.

    A timed game (:meth:`time`) also knows its control, the seat that stops
    moving on purpose (if any) and after how many of its own moves, whether
    the opponent claims, and the versions already claimed.
    """

    def __init__(self, game_id: str, kind: str, index: int) -> None:
        self.id = game_id
        self.kind = kind
        self.players = (f"bot{index}-black", f"bot{index}-white")
        self.tokens = (new_token(), new_token())
        self.doc: GameDocument | None = None
        self.control: str | None = None
        self.base_ms = 0
        self.flagger: int | None = None
        self.flag_after = 0
        self.claims = False
        self.claimed: set[int] = set()
        self.moves_made = [0, 0]
        #: None: no seat stops on purpose; False: not yet counted; True: counted.
        self.flagging_counted: bool | None = None

    def time(self, control: str, play: TimedPlay, rng: random.Random) -> None:
        """Make this a timed game of ``control``."""
        self.control = control
        self.base_ms = parse_time_control(control).base_ms
        if rng.random() < play.flag_rate:
            self.flagger = rng.randrange(2)
            self.flag_after = rng.randrange(FLAG_AFTER_MOVES)
        self.claims = rng.random() < play.claim_rate

    def took(self, request: Request, doc: GameDocument) -> None:
        """The client took ``doc`` as the answer to ``request``."""
        command, seat, _ = request
        if command is p.MakeMove and seat is not None:
            self.moves_made[seat] += 1
        self.doc = doc

    def overdue_ms(self, now_ms: int) -> int:
        """How long ago the side to move ran out of time (<= 0: not yet, or untimed)."""
        clock = self.doc.clock if self.doc is not None else None
        if clock is None or clock.deadline is None:
            return 0
        return now_ms - clock.deadline

    def next_step(
        self, rng: random.Random, now_ms: int, timed_over: bool
    ) -> Request | Pause | None:
        """The next request, a pause, or None once the game has ended.

        :param now_ms: now on the servers' scale (the ``at`` of a timed request).
        :param timed_over: the bot makes no more moves in timed games.
        """
        doc = self.doc
        if doc is None:
            arguments: dict[str, Any] = {
                "game_id": self.id,
                "kind": self.kind,
                "player": self.players[0],
                "token": self.tokens[0],
                "seat": 0,
            }
            if self.control is not None:
                arguments.update(clock=self.control, at=now_ms)
            return p.CreateGame, 0, arguments
        version = doc.version
        if doc.status == "finished":
            return None
        if doc.status == "open":
            return (
                p.JoinGame,
                1,
                {
                    **self._stamped(now_ms),
                    "game_id": self.id,
                    "version": version,
                    "player": self.players[1],
                    "token": self.tokens[1],
                },
            )
        seat: int = doc.to_move  # type: ignore[assignment]  # active: a side to move
        clock = doc.clock
        if clock is not None and clock.deadline is not None:
            late = self._timed_step(rng, seat, version, clock.deadline, now_ms, timed_over)
            if late is not None:
                return late
        roll = rng.random()
        offer = doc.draw_offer
        if offer is not None and offer != seat and roll < 0.4:
            return p.AcceptDraw, seat, self._args(version, seat, now_ms)
        if roll < 0.004:
            resigner = rng.randrange(2)
            return p.Resign, resigner, self._args(version, resigner, now_ms)
        if offer is None and roll < 0.02:
            return p.OfferDraw, seat, self._args(version, seat, now_ms)
        move = rng.choice(doc.legal)
        return p.MakeMove, seat, {**self._args(version, seat, now_ms), "move": move}

    def _timed_step(
        self,
        rng: random.Random,
        seat: int,
        version: int,
        deadline: int,
        now_ms: int,
        timed_over: bool,
    ) -> Request | Pause | None:
        """In a running timed game: a claim, a pause, or None (play on)."""
        if now_ms > deadline:
            # The side to move ran out (on our estimate of the servers' time).
            winner = 1 - seat
            if self.claims and now_ms >= deadline + CLAIM_MARGIN_MS and version not in self.claimed:
                self.claimed.add(version)
                return p.ClaimTimeout, winner, self._args(version, winner, now_ms)
            return Pause(rng.uniform(*FLAG_POLL))
        stops = seat == self.flagger and self.moves_made[seat] >= self.flag_after
        if stops and self.flagging_counted is None:
            self.flagging_counted = False  # the bot counts it once
        if stops or timed_over:
            until = (deadline + CLAIM_MARGIN_MS - now_ms) / 1000
            return Pause(min(FLAG_POLL[1], max(FLAG_POLL[0], until)))
        held = deadline - now_ms
        if held > self.base_ms:
            # Think for the excess: no seat holds more than base plus increment.
            return Pause((held - self.base_ms) / 1000, reread=False)
        return None

    def _stamped(self, now_ms: int) -> dict[str, Any]:
        return {"at": now_ms} if self.control is not None else {}

    def _args(self, version: int, seat: int, now_ms: int) -> dict[str, Any]:
        return {
            **self._stamped(now_ms),
            "game_id": self.id,
            "version": version,
            "token": self.tokens[seat],
        }
