"""One replgame server's behaviour: when it serves, and how it answers.

Start-up follows the seed design, made exact: the server polls its peers'
status (clock, digest, tree) and, before it serves clients, catches up from
every peer whose games differ.  A database that was never initialised waits
for a peer and rebuilds from it; an initialised one serves alone after
``startup_wait`` if no peer answers.  Once serving, anti-entropy repeats
the comparison every ``anti_entropy_interval``, and a request naming a game
or a version this server lacks catches that game up first.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from game import errors as wire
from game.config import ClusterConfig
from game.lifecycle import Lifecycle
from game.protocol import PROTOCOL_VERSION
from game.server.catchups import CatchUp
from game.server.fanout import GameChange
from game.server.gamelog import TIMEOUT, Command
from game.server.heartbeat import StatusResponder
from game.server.index import format_children
from game.server.peers import PeerLink, PeerState
from game.server.replica import DamagedGame, Replica
from game.server.sync import Synchronizer, SyncStats
from game.server.timeouts import TimeoutKeeper

if TYPE_CHECKING:
    from game.server.metrics import ServerMetrics

log = Logger(namespace="replgame.node")


class ServerState(enum.Enum):
    """Where a server is in its life.  The value is what ``NOT_SERVING``'s
    text calls it ("server 1 is catching up")."""

    #: Polling the peers' status, within ``startup_wait``.
    STARTING = "starting"
    #: A new database, the wait over, and no peer with data to copy from.
    WAITING_FOR_SEED = "waiting for a seeded peer"
    #: Copying what differs from the peers that answered.
    CATCHING_UP = "catching up"
    SERVING = "serving"
    STOPPING = "stopping"
    #: A commit failed: memory no longer matches the disk (until restarted).
    FAILED = "failed"

    @property
    def told_clients(self) -> str:
        """The name ``NOT_SERVING`` gives it: waiting for a seeded peer was
        called "starting" before it was a state of its own, and still is."""
        return ServerState.STARTING.value if self is ServerState.WAITING_FOR_SEED else self.value


_ENDS = frozenset({ServerState.STOPPING, ServerState.FAILED})

#: The changes a server's state may make.
TRANSITIONS: dict[ServerState, frozenset[ServerState]] = {
    ServerState.STARTING: frozenset(
        {ServerState.WAITING_FOR_SEED, ServerState.CATCHING_UP, *_ENDS}
    ),
    ServerState.WAITING_FOR_SEED: frozenset({ServerState.CATCHING_UP, *_ENDS}),
    # Back to starting when the catch-up fails; it is tried again.
    ServerState.CATCHING_UP: frozenset({ServerState.SERVING, ServerState.STARTING, *_ENDS}),
    ServerState.SERVING: _ENDS,
    # The last commit, made while stopping, may fail.
    ServerState.STOPPING: frozenset({ServerState.FAILED}),
    ServerState.FAILED: frozenset(),
}


class Watcher(Protocol):
    def game_changed(self, change: GameChange) -> None: ...


class ServerNode:
    """The replica, its peer links, and the serving state of one server.

    Anti-entropy is :meth:`anti_entropy_round`, called every
    ``anti_entropy_interval`` by the service tree's timer
    (:mod:`game.server.service`); it does nothing unless the node serves.
    """

    def __init__(
        self,
        server_id: int,
        config: ClusterConfig,
        replica: Replica,
        links: dict[int, PeerLink],
        clock: IReactorTime,
        clock_offset_ms: int = 0,
    ) -> None:
        self.server_id = server_id
        self.config = config
        self.tuning = config.tuning
        self.replica = replica
        self.links = links
        self.clock = clock
        #: Added to the wall clock (tests and the chaos harness only: ``--clock-offset-ms``).
        self.clock_offset_ms = clock_offset_ms
        self.sync = Synchronizer(
            replica, links, clock, self.tuning.catchup_timeout, serving=lambda: self.serving
        )
        self.lifecycle = Lifecycle(
            ServerState.STARTING, TRANSITIONS, log, subject=f"server {server_id}"
        )
        self.watchers: dict[str, set[Watcher]] = {}
        #: How many (game, connection) watches :attr:`watchers` holds, kept
        #: as they change: ServerInfo and scrapes must not walk 10,000 connections.
        self.watch_count = 0
        replica.on_change = self._changed
        self.timeouts = TimeoutKeeper(
            replica, clock, self.now_ms, round(self.tuning.flag_grace * 1000)
        )
        self._startup_wait_over = False
        self._startup_timer: Deferred[None] | None = None
        self._anti_entropy_running = False
        self.on_serving: list[Callable[[], None]] = []
        #: Requests and commits are counted here when set (:mod:`game.server.metrics`).
        self.metrics: ServerMetrics | None = None
        #: Catch-ups started, by trigger (read at scrape time).
        self.catch_ups: dict[str, int] = dict.fromkeys(
            ("startup", "on_demand", "anti_entropy", "read_repair"), 0
        )
        #: Timeouts claimed by clients and answered (read at scrape time).
        self.timeouts_claimed = 0
        #: The peers the running start-up catch-up copies from.
        self.catching_up_from: tuple[int, ...] = ()
        #: The last catch-up that finished (``ServerInfo``; memory only).
        self.last_catch_up: CatchUp | None = None
        #: How many client (not peer) connections are open; the protocol
        #: factory (:class:`game.server.connection.ServerFactory`) sets it.
        self.client_connections: Callable[[], int] = lambda: 0
        #: When the server started, by its wall clock (ms; reset by :meth:`start`).
        self.started_ms = self.now_ms()
        #: ``Status``'s responder, shared by every connection (:mod:`game.server.heartbeat`).
        self.status_responder = StatusResponder(self)

    @property
    def state(self) -> ServerState:
        return self.lifecycle.state

    @property
    def serving(self) -> bool:
        return self.state is ServerState.SERVING

    @property
    def failed(self) -> bool:
        return self.state is ServerState.FAILED or self.replica.failed

    def _enter(self, state: ServerState, reason: str) -> None:
        """The one way the state changes (logged by the lifecycle)."""
        self.lifecycle.enter(state, reason)
        if state is ServerState.SERVING:
            self.timeouts.start()
        elif state in _ENDS:
            self.timeouts.stop()
        # Not when catching up: a failed catch-up starts again, and may need the wait.
        if state in (ServerState.SERVING, *_ENDS) and self._startup_timer is not None:
            timer, self._startup_timer = self._startup_timer, None
            timer.cancel()

    def fail(self, reason: str = "a commit failed") -> None:
        """A commit failed: memory no longer matches the disk.  Serve nothing
        more, to clients or peers, until restarted."""
        if self.state is not ServerState.FAILED:
            self._enter(ServerState.FAILED, reason)

    # -- start-up ------------------------------------------------------------

    def start(self) -> None:
        self.started_ms = self.now_ms()
        log.info(
            "server {server_id} starting with {games} game(s), clock {clock}, "
            "{database} database; polling peers {peers}",
            server_id=self.server_id,
            games=len(self.replica.index),
            clock=self.replica.clock,
            database="a new" if self.replica.is_new else "an existing",
            peers=sorted(self.links),
        )
        self._startup_timer = deferLater(
            self.clock, self.tuning.startup_wait, self._startup_wait_expired
        ).addErrback(_cancelled)
        # With no peers configured (unit tests), nothing else would call it.
        self._consider_catch_up()

    def stop(self) -> None:
        """Stop taking work (SIGTERM); a failed node stays failed."""
        if self.state not in _ENDS:
            self._enter(ServerState.STOPPING, "stopping the server")

    def peer_ready(self, link: PeerLink) -> None:
        """A link (re)authenticated: learn the peer's status."""
        link.poll_status().addCallbacks(
            lambda _: self._consider_catch_up(),
            lambda failure: log.info(
                "server {peer_id} did not answer PeerStatus: {error}",
                peer_id=link.peer_id,
                error=failure.getErrorMessage(),
            ),
        )

    def _startup_wait_expired(self) -> None:
        self._startup_timer = None
        self._startup_wait_over = True
        self._consider_catch_up()

    def _answered(self) -> list[PeerLink]:
        return [link for link in self.links.values() if link.ready and link.state is not None]

    def _consider_catch_up(self) -> None:
        if self.state not in (ServerState.STARTING, ServerState.WAITING_FOR_SEED):
            return
        answered = self._answered()
        if not may_catch_up(
            new_database=self.replica.is_new,
            holds_games=bool(self.replica.index),
            answered=[link.state for link in answered if link.state is not None],
            peers=len(self.links),
            wait_over=self._startup_wait_over,
        ):
            if self._startup_wait_over and self.replica.is_new:
                log.warn(
                    "a new database waits for a peer that holds data to copy from "
                    "(servers {peers} answered: {states}); start a seeded peer",
                    peers=sorted(link.peer_id for link in answered),
                    states=", ".join(_describe(link.state) for link in answered) or "none",
                )
                if self.state is ServerState.STARTING:
                    self._enter(ServerState.WAITING_FOR_SEED, "startup_wait is over")
            return
        self.catch_ups["startup"] += 1
        self.catching_up_from = tuple(
            sorted(link.peer_id for link in answered if not _fresh(link.state))
        )
        self._enter(ServerState.CATCHING_UP, _why_catch_up(answered, len(self.links)))
        Deferred.fromCoroutine(self._catch_up(answered)).addErrback(self._catch_up_failed)

    async def _catch_up(self, answered: list[PeerLink]) -> None:
        if not answered and self.links:
            log.warn(
                "no peer answered within startup_wait={wait}s; serving alone from the "
                "local database ({games} games, clock {clock})",
                wait=self.tuning.startup_wait,
                games=len(self.replica.index),
                clock=self.replica.clock,
            )
        for link in answered:
            assert link.state is not None
            log.info(
                "server {peer_id} reports clock {clock} and {games} game(s); ours: "
                "clock {own_clock}, {own_games} game(s)",
                peer_id=link.peer_id,
                clock=link.state.clock,
                games=link.state.games,
                own_clock=self.replica.clock,
                own_games=len(self.replica.index),
            )
        seeded = sorted(
            (link for link in answered if not _fresh(link.state)),
            key=lambda link: -link.state.clock if link.state else 0,
        )
        total = SyncStats()
        used: set[int] = set()
        if self.replica.is_new and seeded:
            total.add(await self.sync.rebuild_from(seeded[0]))
            used.add(seeded[0].peer_id)
        for link in seeded:
            try:
                state = await link.poll_status()
            except Exception as error:
                log.info(
                    "server {peer_id} went away during catch-up: {error}",
                    peer_id=link.peer_id,
                    error=error,
                )
                continue
            if state.tree != self._tree_root():
                total.add(await self.sync.catch_up_with(link))
                used.add(link.peer_id)
        if used:
            self._caught_up_with("startup", used, total)
        if self.replica.is_new:
            await self.replica.mark_initialized()
        if self.state is not ServerState.CATCHING_UP:
            return  # stopped meanwhile
        self._enter(ServerState.SERVING, f"caught up with {len(seeded)} seeded peer(s)")
        log.info(
            "serving clients: {games} game(s), clock {clock}, digest {digest}",
            games=len(self.replica.index),
            clock=self.replica.clock,
            digest=self.replica.digest_hex(),
        )
        for callback in self.on_serving:
            callback()

    def _catch_up_failed(self, failure: Failure) -> None:
        log.warn("catch-up failed ({error}); trying again in 1 s", error=failure.getErrorMessage())
        if self.state is ServerState.CATCHING_UP:
            self._enter(ServerState.STARTING, "the catch-up failed")
            deferLater(self.clock, 1.0, self._consider_catch_up)

    def _tree_root(self) -> str:
        return format_children(self.replica.tree_children(""))

    def _caught_up_with(self, trigger: str, peers: set[int], stats: SyncStats) -> None:
        """Remember a finished catch-up, for ``ServerInfo``."""
        self.last_catch_up = CatchUp.of(self.now_ms(), trigger, peers, stats)

    # -- anti-entropy ----------------------------------------------------------

    def anti_entropy_round(self) -> Deferred[None]:
        """Compare with every linked peer; repair what differs.  Does nothing
        unless serving, or while the previous round still runs."""
        if not self.serving or self._anti_entropy_running:
            return succeed(None)
        return Deferred.fromCoroutine(self._anti_entropy())

    async def _anti_entropy(self) -> None:
        self._anti_entropy_running = True
        try:
            for link in list(self.links.values()):
                if not link.ready:
                    continue
                try:
                    state = await link.poll_status()
                except Exception as error:  # a peer down is routine here
                    log.debug(
                        "anti-entropy: server {peer_id}: {error}", peer_id=link.peer_id, error=error
                    )
                    continue
                if state.fresh or state.tree == self._tree_root():
                    continue
                self.catch_ups["anti_entropy"] += 1
                try:
                    stats = await self.sync.catch_up_with(link)
                except Exception as error:
                    log.info(
                        "anti-entropy with server {peer_id} interrupted: {error}",
                        peer_id=link.peer_id,
                        error=error,
                    )
                    continue
                if stats.games:
                    self._caught_up_with("anti_entropy", {link.peer_id}, stats)
                    log.info(
                        "anti-entropy repaired {games} game(s) from server {peer_id}",
                        games=stats.games,
                        peer_id=link.peer_id,
                    )
        finally:
            self._anti_entropy_running = False

    # -- client commands ---------------------------------------------------------

    def now_ms(self) -> int:
        """This server's wall clock, ms since the epoch: ``Status.now``, and the
        ``now`` timed commands are checked against.  Never stored."""
        return round(self.clock.seconds() * 1000) + self.clock_offset_ms

    def status(self) -> dict[str, Any]:
        return {
            "server_id": self.server_id,
            "clock": self.replica.clock,
            "games": len(self.replica.index),
            "serving": self.serving,
            "protocol": PROTOCOL_VERSION,
            "digest": self.replica.digest_hex(),
            "now": self.now_ms(),
        }

    def info(self) -> dict[str, Any]:
        """``ServerInfo``'s answer (docs/protocol.md), in every state."""
        now = self.now_ms()
        last = self.last_catch_up
        return {
            "server_id": self.server_id,
            "state": self.state.value,
            "reason": self.not_ready_reason(),
            "started": self.started_ms,
            "now": now,
            "uptime": round((now - self.started_ms) / 1000, 3),
            "connections": self.client_connections(),
            "watches": self.watch_count,
            "peers": sorted(peer_id for peer_id, link in self.links.items() if link.ready),
            "last_catch_up": last.as_json() if last is not None else None,
            "metrics": self.config.server(self.server_id).metrics,
        }

    def peer_status(self) -> dict[str, Any]:
        return {
            "server_id": self.server_id,
            "clock": self.replica.clock,
            "games": len(self.replica.index),
            "serving": self.serving,
            "digest": self.replica.digest_hex(),
            "tree": self._tree_root(),
            "fresh": self.replica.is_new,
        }

    def require_serving(self) -> None:
        if not self.serving or self.replica.failed:
            raise wire.NotServing(f"server {self.server_id} is {self.state.told_clients}")

    def not_ready_reason(self) -> str | None:
        """Why this server does not serve (one line, for ``/readyz``), or
        ``None`` while it serves.  Says what ``NOT_SERVING`` says, and more."""
        if self.serving and not self.replica.failed:
            return None
        state = self.state
        if state is ServerState.FAILED or self.replica.failed:
            return f"server {self.server_id} is failed: storage failed (a commit failed)"
        if state is ServerState.CATCHING_UP and self.catching_up_from:
            peers = ", ".join(str(peer_id) for peer_id in self.catching_up_from)
            return f"server {self.server_id} is catching up from server(s) {peers}"
        return f"server {self.server_id} is {state.value}"

    def create_game(
        self, game_id: str, kind: str, player: str, seat: int, token: str, clock: str = ""
    ) -> Deferred[str]:
        """Create a game; ``clock`` is its time control's text (empty: untimed)."""
        self.require_serving()
        return self.replica.create(game_id, kind, player, seat, token, clock)

    def change_game(self, game_id: str, command: Command) -> Deferred[str]:
        """Apply a state-changing command, catching the game up first if the
        command names a game or a version this server does not hold."""
        self.require_serving()
        skew_ms = round(self.tuning.clock_skew * 1000)
        # ``now`` is read when the command is decided: after a catch-up, that is later.
        changed = self._with_catch_up(
            game_id, lambda: self.replica.apply(game_id, command, self.now_ms(), skew_ms)
        )
        if command.type == TIMEOUT:
            changed.addCallback(self._claimed)
        return changed

    def _claimed(self, document: str) -> str:
        self.timeouts_claimed += 1
        return document

    def get_game(self, game_id: str) -> Deferred[str]:
        self.require_serving()
        return self._with_catch_up(game_id, lambda: self.replica.document(game_id))

    def move_clocks(self, game_id: str) -> Deferred[str]:
        """``MoveClocks`` (docs/protocol.md): caught up as ``GetGame`` is."""
        self.require_serving()
        return self._with_catch_up(game_id, lambda: self.replica.move_clocks(game_id))

    def sync_game(self, game_id: str) -> Deferred[str]:
        self.require_serving()
        self.catch_ups["on_demand"] += 1
        return self._caught_up(game_id, "on_demand").addCallback(
            lambda _: self.replica.document(game_id)
        )

    def list_games(
        self, status: str, kind: str, player: str, limit: int, after: str
    ) -> dict[str, Any]:
        self.require_serving()
        games, cursor = self.replica.list_games(status, kind, player, limit, after)
        return {"games": games, "next": cursor}

    def _with_catch_up(
        self, game_id: str, answer: Callable[[], Deferred[str]], repair_only: bool = False
    ) -> Deferred[str]:
        """Answer; if this server lacks the game or the version (or its copy
        is damaged), reconcile the game with the peers and answer again."""
        lacking = (DamagedGame,) if repair_only else (DamagedGame, wire.UnknownGame, wire.Behind)
        try:
            return answer()
        except lacking as error:
            trigger = "read_repair" if isinstance(error, DamagedGame) else "on_demand"
            self.catch_ups[trigger] += 1
            return self._caught_up(game_id, trigger).addCallback(
                lambda _: self._still_damaged(answer)
            )

    def _still_damaged(self, answer: Callable[[], Deferred[str]]) -> Deferred[str]:
        try:
            return answer()
        except DamagedGame as error:
            raise wire.NotServing(
                f"{error} on server {self.server_id}, and no peer could repair it yet"
            ) from None

    def _caught_up(self, game_id: str, trigger: str) -> Deferred[None]:
        """Reconcile one game with the peers, giving up after catchup_timeout
        (then the command answers from what this server holds).  One that
        adopted something is the last catch-up (``ServerInfo``)."""
        done: Deferred[None] = Deferred()

        def finish(outcome: object) -> None:
            if isinstance(outcome, Failure):
                log.warn(
                    "catching up game {game_id} failed: {error}",
                    game_id=game_id,
                    error=outcome.getErrorMessage(),
                )
            if not gave_up.called:
                gave_up.cancel()
            if not done.called:
                done.callback(None)

        # Stop waiting after catchup_timeout, but let the reconcile go on:
        # concurrent requests for the game share it.
        gave_up: Deferred[None] = deferLater(self.clock, self.tuning.catchup_timeout)
        gave_up.addCallback(finish).addErrback(_cancelled)
        self.sync.reconcile(game_id).addCallback(self._repaired, trigger).addBoth(finish)
        return done

    def _repaired(self, stats: SyncStats, trigger: str) -> SyncStats:
        if stats.games:
            self._caught_up_with(trigger, stats.sources, stats)
        return stats

    # -- watches -------------------------------------------------------------

    def watch(self, game_id: str, watcher: Watcher) -> Deferred[str]:
        self.require_serving()

        def register(document: str) -> str:
            watchers = self.watchers.setdefault(game_id, set())
            if watcher not in watchers:
                watchers.add(watcher)
                self.watch_count += 1
            return document

        return self.get_game(game_id).addCallback(register)

    def unwatch(self, game_id: str, watcher: Watcher) -> None:
        watchers = self.watchers.get(game_id)
        if watchers is not None and watcher in watchers:
            watchers.remove(watcher)
            self.watch_count -= 1
            if not watchers:
                del self.watchers[game_id]

    def _changed(self, game_id: str, document: str) -> None:
        watchers = self.watchers.get(game_id)
        if watchers:
            change = GameChange.of(document)  # encoded once, written to each
            for watcher in list(watchers):
                watcher.game_changed(change)


def _cancelled(failure: Failure) -> None:
    """A cancelled timer is no error; anything else still is."""
    error = failure.value
    if isinstance(error, BaseException) and not isinstance(error, CancelledError):
        raise error


def _why_catch_up(answered: list[PeerLink], peers: int) -> str:
    if not answered:
        return "startup_wait is over and no peer answered" if peers else "no peers"
    return f"{len(answered)} of {peers} peer(s) answered"


def _fresh(state: PeerState | None) -> bool:
    return state is None or state.fresh


def _describe(state: PeerState | None) -> str:
    if state is None:
        return "no status"
    kind = "new" if state.fresh else "seeded"
    return f"server {state.server_id} {kind} with {state.games} game(s)"


def may_catch_up(
    *,
    new_database: bool,
    holds_games: bool,
    answered: list[PeerState],
    peers: int,
    wait_over: bool,
) -> bool:
    """Whether a starting server has heard enough to catch up and serve.

    An initialised database waits for every peer, or for ``startup_wait``.
    A new one (empty, or part-way through a rebuild) copies from any seeded
    peer at once.  With only new peers it may start empty only when the
    whole cluster is new: some peer answered (all of them, or the wait is
    over) and nobody, itself included, holds a game; games on a new
    database are a rebuild in progress from a seeded server that is
    down, and serving without them would serve less than was acknowledged.
    """
    if not new_database:
        return len(answered) == peers or wait_over
    if any(not state.fresh for state in answered):
        return True
    if holds_games or any(state.games for state in answered):
        return False
    return bool(answered) and (len(answered) == peers or wait_over)
