"""The replicated client: one link per server, every request to all of them.

:class:`ReplicatedClient` keeps the seed design's active and inactive server
lists (:attr:`~ReplicatedClient.active`, :attr:`~ReplicatedClient.inactive`),
redials inactive servers with capped, jittered backoff, and sends a
``Status`` heartbeat on every link.  A request goes to every active server;
the :class:`Outcome` is decided by :func:`game.client.majority.decide` and
says which servers agreed, differed or failed.  When answers about a game
differ, the servers in the minority are sent ``SyncGame`` (read repair).

Time (protocol version 2): every ``Status`` answer that carries the server's
``now`` gives one estimate of the offset from the local clock (the injected
reactor's ``seconds()``) to that server's, corrected by half the round trip;
:meth:`ReplicatedClient.server_now` is the local clock plus the median of the
servers' latest estimates, and every state-changing request is stamped with it
(``at``).
"""

from __future__ import annotations

import json
import random
import statistics
from collections.abc import Callable
from typing import Any

import attrs
from twisted.internet import defer
from twisted.internet.defer import CancelledError, Deferred, DeferredList, fail
from twisted.internet.interfaces import IReactorTCP, IReactorTime, IStreamClientEndpoint
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.protocols import amp
from twisted.python.failure import Failure

from game import errors as wire
from game import protocol as p
from game.client.document import DocumentError, GameDocument
from game.client.majority import (
    OK,
    Decision,
    Listing,
    ServerAnswer,
    decide,
    merge_listings,
)
from game.client.serverinfo import ServerInfo
from game.client.watching import GameWatch, WatchUpdate
from game.config import ClusterConfig, ServerConfig
from game.endpoints import client_endpoint
from game.link import LinkProtocol, ReconnectingLink, backoff, encode_request

log = Logger(namespace="replgame.client")


class NoServers(Exception):
    """No server is reachable right now."""


class NoAnswer(Exception):
    """Every server failed to answer (timeouts, lost connections)."""


@attrs.frozen
class ServerStatus:
    """One server's answer to ``Status``, or why there is none."""

    server_id: int
    reachable: bool
    serving: bool = False
    clock: int = 0
    games: int = 0
    digest: str = ""
    error: str = ""


@attrs.frozen
class Outcome:
    """What a request got from the servers.

    ``error`` is the answer when the servers answered with an error; a
    success is in ``response``.  ``provisional`` means no two servers agreed.
    """

    command: str
    decision: Decision
    pending: tuple[int, ...] = ()

    @property
    def provisional(self) -> bool:
        return self.decision.provisional

    @property
    def agreed(self) -> tuple[int, ...]:
        return self.decision.agreed

    @property
    def differed(self) -> tuple[int, ...]:
        return self.decision.differed

    @property
    def failed(self) -> tuple[int, ...]:
        return self.decision.failed

    @property
    def error(self) -> wire.WireError | None:
        chosen = self.decision.chosen
        if chosen is not None and chosen.kind != OK:
            value = chosen.value
            return value if isinstance(value, wire.WireError) else None
        return None

    @property
    def response(self) -> dict[str, Any]:
        """The successful answer.

        :raises WireError: the servers answered with this error.
        :raises NoAnswer: no server answered.
        """
        chosen = self.decision.chosen
        if chosen is None:
            reasons = "; ".join(f"server {a.server_id}: {a.value}" for a in self.decision.answers)
            raise NoAnswer(f"no server answered {self.command} ({reasons or 'none asked'})")
        if chosen.kind != OK:
            raise chosen.value
        return dict(chosen.value)

    @property
    def document(self) -> str:
        """The game document text of a game answer."""
        return str(self.response["game"])

    def game_document(self) -> GameDocument:
        """The game document, typed.

        :raises DocumentError: the servers answered a malformed document.
        """
        return GameDocument.from_json(self.document)


class _ClientLocator(amp.CommandLocator):
    """Commands a server sends us: only GameChanged."""

    def __init__(self, link: ServerLink) -> None:
        self.link = link

    @p.GameChanged.responder
    def game_changed(self, game: str) -> dict[str, Any]:
        self.link.client._game_changed(self.link.server_id, game)
        return {}


class ServerLink(ReconnectingLink):
    """The client's link to one server: heartbeats and re-watching."""

    def __init__(
        self,
        client: ReplicatedClient,
        server: ServerConfig,
        endpoint: IStreamClientEndpoint,
        clock: IReactorTime,
        rng: Callable[[], float],
    ) -> None:
        tuning = client.config.tuning
        super().__init__(
            endpoint,
            clock,
            tuning.request_timeout,
            retry=backoff(initial=0.25, cap=5.0, rng=rng),
            locator=_ClientLocator(self),
        )
        self.client = client
        self.server = server
        self.server_id = server.id
        self.status: ServerStatus | None = None
        self._heartbeat = LoopingCall(self._beat)
        self._heartbeat.clock = clock
        self._interval = tuning.heartbeat
        self.watch_failed: set[str] = set()

    def prepare(self, protocol: LinkProtocol) -> Deferred[Any]:
        sent = self.clock.seconds()
        return self.call_on(protocol, p.Status).addCallback(self._remember_status, sent)

    def became_ready(self) -> None:
        if not self._heartbeat.running:
            self._heartbeat.start(self._interval, now=False)
        self.client._link_changed(self)
        for game_id in list(self.client.watches):
            self.client._send_watch(self, game_id)

    def became_down(self) -> None:
        if self._heartbeat.running:
            self._heartbeat.stop()
        self.status = None
        self.client._link_changed(self)

    def stop(self) -> Deferred[None]:
        if self._heartbeat.running:
            self._heartbeat.stop()
        return super().stop()

    def _remember_status(self, answer: dict[str, Any], sent: float) -> dict[str, Any]:
        self.client._server_time(self.server_id, answer.get("now"), sent)
        was_serving = self.status is not None and self.status.serving
        self.status = ServerStatus(
            self.server_id,
            True,
            answer["serving"],
            answer["clock"],
            answer["games"],
            answer["digest"],
        )
        if self.status.serving and not was_serving and self.ready:
            for game_id in list(self.watch_failed):
                self.client._send_watch(self, game_id)
        return answer

    def _beat(self) -> None:
        def lost(failure: Failure) -> None:
            log.info(
                "server {server_id} missed a heartbeat ({error}); redialling",
                server_id=self.server_id,
                error=failure.getErrorMessage(),
            )
            self.drop()

        sent = self.clock.seconds()
        self.call(p.Status).addCallbacks(
            self._remember_status, lost, callbackArgs=(sent,)
        ).addCallback(lambda _: self.client._link_changed(self))


class ReplicatedClient:
    """A client of the three servers of a cluster.

    :param clock: the reactor (or a ``MemoryReactorClock`` in tests; a
        ``Clock`` with ``endpoint_for``).
    :param endpoint_for: how to reach a server; by default TCP (or TLS with
        the config's ``tls_ca``) to its ``host``/``port``, dialled on ``clock``
        (an ``IReactorTCP`` too, then).
    :param rng: jitter for the redial backoff.
    """

    def __init__(
        self,
        config: ClusterConfig,
        clock: IReactorTime,
        *,
        endpoint_for: Callable[[ServerConfig], IStreamClientEndpoint] | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.clock = clock
        self.watches: dict[str, GameWatch] = {}
        #: Each server's latest estimate of (its clock - the local clock), in ms.
        self.clock_offsets: dict[int, float] = {}
        self.link_listeners: list[Callable[[ReplicatedClient], None]] = []
        connect = endpoint_for or (
            lambda server: client_endpoint(
                IReactorTCP(clock),
                server.host,
                server.port,
                config.tls_ca,
                config.tuning.request_timeout,
            )
        )
        self.links: dict[int, ServerLink] = {
            server.id: ServerLink(self, server, connect(server), clock, rng)
            for server in config.servers
        }

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        for link in self.links.values():
            link.start()

    def stop(self) -> Deferred[Any]:
        return DeferredList([link.stop() for link in self.links.values()])

    def settled(self) -> Deferred[list[int]]:
        """Fires with the active server ids once every link connected or
        failed its first attempt (so the first request reaches all it can)."""
        return DeferredList([link.settled() for link in self.links.values()]).addCallback(
            lambda _: self.active
        )

    @property
    def active(self) -> list[int]:
        """Servers linked right now (the seed's active list)."""
        return [server_id for server_id, link in self.links.items() if link.ready]

    @property
    def inactive(self) -> list[int]:
        """Servers being redialled (the seed's inactive list)."""
        return [server_id for server_id, link in self.links.items() if not link.ready]

    def _link_changed(self, link: ServerLink) -> None:
        if not link.ready:
            link.watch_failed.clear()
            for watch in self.watches.values():
                watch.forget(link.server_id)
        for listener in list(self.link_listeners):
            listener(self)

    # -- time ------------------------------------------------------------------

    def _server_time(self, server_id: int, now: int | None, sent: float) -> None:
        """One ``Status`` answer's estimate of the offset to ``server_id``'s clock:
        its ``now`` was read about half a round trip before the answer arrived."""
        if now is None:  # a version 1 server
            return
        arrived = self.clock.seconds()
        half_trip = max(0.0, arrived - sent) / 2
        self.clock_offsets[server_id] = now + 1000 * (half_trip - arrived)

    @property
    def clock_offset(self) -> int:
        """Milliseconds to add to the local clock to read the servers' clocks:
        the median of each server's latest estimate (0 before any)."""
        if not self.clock_offsets:
            return 0
        return round(statistics.median(self.clock_offsets.values()))

    def server_now(self) -> int:
        """Now in milliseconds since the epoch, on the servers' scale."""
        return round(self.clock.seconds() * 1000) + self.clock_offset

    # -- requests ------------------------------------------------------------

    def request(self, command: type[p.Command], **arguments: Any) -> Deferred[Outcome]:
        """Send a command to every active server; fires with the :class:`Outcome`
        as soon as it is decided.  Servers that answer differently about a
        game are then sent ``SyncGame``."""
        targets = [link for link in self.links.values() if link.ready]
        name = command.commandName.decode()
        if not targets:
            return fail(NoServers(f"no server reachable for {name}; is the cluster running?"))
        answers: list[ServerAnswer] = []
        result: Deferred[Outcome] = Deferred()
        # One timer for the request, not one per server.
        timeout = max(link.timeout for link in targets)
        calls: dict[int, Deferred[Any]] = {}

        def arrived(outcome: object, server_id: int) -> None:
            calls.pop(server_id, None)
            if not calls and timer.active():
                timer.cancel()
            if isinstance(outcome, Failure):
                outcome = outcome.value
                if isinstance(outcome, CancelledError):
                    outcome = defer.TimeoutError(f"no answer to {name} within {timeout:g} s")
            answers.append(ServerAnswer.from_outcome(server_id, outcome))
            complete = len(answers) == len(targets)
            if not complete and (result.called or len(answers) < 2):
                return  # nothing to decide: one answer alone, or decided already
            decision = decide(answers, len(targets))
            if decision is not None and not result.called:
                answered = {a.server_id for a in answers}
                pending = tuple(
                    link.server_id for link in targets if link.server_id not in answered
                )
                result.callback(Outcome(name, decision, pending))
            if complete and decision is not None:
                self._repair(arguments.get("game_id"), decision, command)

        def expired() -> None:
            for call in list(calls.values()):
                call.cancel()

        encoded = encode_request(command, arguments)
        timer = self.clock.callLater(timeout, expired)
        for link in targets:
            calls[link.server_id] = call = link.send(command, encoded)
            call.addBoth(arrived, link.server_id)
        return result

    def _repair(self, game_id: str | None, decision: Decision, command: type[p.Command]) -> None:
        """Read repair: tell servers that answered differently to sync the game."""
        if game_id is None or command is p.SyncGame or not decision.differed:
            return
        targets = decision.differed
        if decision.provisional:
            targets = decision.agreed + decision.differed
        for server_id in targets:
            link = self.links[server_id]
            log.info(
                "read repair: server {server_id} answered {command} for {game_id} differently; "
                "sending SyncGame",
                server_id=server_id,
                command=command.commandName.decode(),
                game_id=game_id,
            )
            link.call(p.SyncGame, timeout=2 * link.timeout, game_id=game_id).addCallbacks(
                lambda answer, link=link: self._synced(link, game_id, answer),
                lambda failure: None,
            )

    def _synced(self, link: ServerLink, game_id: str, answer: dict[str, Any]) -> None:
        watch = self.watches.get(game_id)
        if watch is not None:
            if game_id in link.watch_failed:
                self._send_watch(link, game_id)
            else:
                watch.offer(link.server_id, answer["game"])

    def ask_each(self, command: type[p.Command], **arguments: Any) -> Deferred[dict[int, Any]]:
        """Send a command to every active server and collect every answer
        (a response dict, or the exception) by server id, without voting."""
        targets = [link for link in self.links.values() if link.ready]
        calls = [link.call(command, **arguments) for link in targets]
        return DeferredList(calls, consumeErrors=True).addCallback(
            lambda results: {
                link.server_id: value if ok else value.value
                for link, (ok, value) in zip(targets, results, strict=True)
            }
        )

    def list_games(
        self, status: str = "", kind: str = "", player: str = "", limit: int = 50, after: str = ""
    ) -> Deferred[Listing]:
        """One page of games, merged per game id across the servers."""
        if not self.active:
            return fail(NoServers("no server reachable for ListGames; is the cluster running?"))

        def merge(answers: dict[int, Any]) -> Listing:
            pages = {
                server_id: (answer["games"], answer["next"])
                for server_id, answer in answers.items()
                if isinstance(answer, dict)
            }
            if not pages:
                raise NoAnswer(f"no server answered ListGames: {answers}")
            return merge_listings(pages)

        return self.ask_each(
            p.ListGames, status=status, kind=kind, player=player, limit=limit, after=after
        ).addCallback(merge)

    def statuses(self) -> Deferred[list[ServerStatus]]:
        """Every server's own ``Status`` (no majority: they differ by design)."""

        def one(link: ServerLink) -> Deferred[ServerStatus]:
            sent = self.clock.seconds()

            def ok(answer: dict[str, Any]) -> ServerStatus:
                self._server_time(link.server_id, answer.get("now"), sent)
                return ServerStatus(
                    link.server_id, True, answer["serving"], answer["clock"],
                    answer["games"], answer["digest"],
                )  # fmt: skip

            def down(failure: Failure) -> ServerStatus:
                return ServerStatus(link.server_id, False, error=failure.getErrorMessage())

            return link.call(p.Status).addCallbacks(ok, down)

        return DeferredList([one(link) for link in self.links.values()]).addCallback(
            lambda results: [status for _, status in results]
        )

    def server_infos(self) -> Deferred[dict[int, ServerInfo | None]]:
        """Every server's ``ServerInfo`` (ours, docs/protocol.md), asked as
        :meth:`statuses` asks ``Status``: ``None`` for a server that did not
        answer it (down, or older: ``UNHANDLED``), which is no failure."""

        def parse(answer: dict[str, Any]) -> ServerInfo | None:
            return ServerInfo.from_text(answer["info"])

        def one(link: ServerLink) -> Deferred[ServerInfo | None]:
            asked: Deferred[dict[str, Any]] = link.call(p.ServerInfo)
            return asked.addCallback(parse).addErrback(lambda _: None)

        ids = list(self.links)
        return DeferredList([one(link) for link in self.links.values()]).addCallback(
            lambda results: {
                server_id: info for server_id, (_, info) in zip(ids, results, strict=True)
            }
        )

    # -- games -----------------------------------------------------------------

    def create_game(
        self,
        game_id: str,
        kind: str,
        player: str,
        token: str,
        seat: int = 0,
        clock: str | None = None,
    ) -> Deferred[Outcome]:
        """Create a game; ``clock`` is its time control (``live:300+5``,
        ``corr:3``), None or empty for an untimed game (not sent)."""
        arguments: dict[str, Any] = {}
        if clock:
            arguments["clock"] = clock
        return self.request(
            p.CreateGame,
            game_id=game_id,
            kind=kind,
            player=player,
            token=token,
            seat=seat,
            at=self.server_now(),
            **arguments,
        )

    def join_game(self, game_id: str, version: int, player: str, token: str) -> Deferred[Outcome]:
        return self.request(
            p.JoinGame,
            game_id=game_id,
            version=version,
            player=player,
            token=token,
            at=self.server_now(),
        )

    def make_move(self, game_id: str, version: int, move: str, token: str) -> Deferred[Outcome]:
        return self.request(
            p.MakeMove,
            game_id=game_id,
            version=version,
            move=move,
            token=token,
            at=self.server_now(),
        )

    def _seat_action(
        self, command: type[p.Command], game_id: str, version: int, token: str
    ) -> Deferred[Outcome]:
        return self.request(
            command, game_id=game_id, version=version, token=token, at=self.server_now()
        )

    def resign(self, game_id: str, version: int, token: str) -> Deferred[Outcome]:
        return self._seat_action(p.Resign, game_id, version, token)

    def offer_draw(self, game_id: str, version: int, token: str) -> Deferred[Outcome]:
        return self._seat_action(p.OfferDraw, game_id, version, token)

    def accept_draw(self, game_id: str, version: int, token: str) -> Deferred[Outcome]:
        return self._seat_action(p.AcceptDraw, game_id, version, token)

    # Takebacks and rematches (docs/protocol.md): majority answers as the draw methods.

    def offer_takeback(self, game_id: str, version: int, token: str) -> Deferred[Outcome]:
        """Ask to take back this seat's last move (untimed games)."""
        return self.request(p.OfferTakeback, game_id=game_id, version=version, token=token)

    def accept_takeback(self, game_id: str, version: int, token: str) -> Deferred[Outcome]:
        return self.request(p.AcceptTakeback, game_id=game_id, version=version, token=token)

    def decline_takeback(self, game_id: str, version: int, token: str) -> Deferred[Outcome]:
        """Decline the opponent's takeback offer, or withdraw one's own."""
        return self.request(p.DeclineTakeback, game_id=game_id, version=version, token=token)

    def offer_rematch(
        self, game_id: str, version: int, token: str, rematch_id: str, rematch_token: str
    ) -> Deferred[Outcome]:
        """Offer a rematch of a finished game, as the new game ``rematch_id``
        in which this seat's token is ``rematch_token`` (the other colour)."""
        return self.request(
            p.OfferRematch,
            game_id=game_id,
            version=version,
            token=token,
            rematch_id=rematch_id,
            rematch_token=rematch_token,
        )

    def accept_rematch(
        self, game_id: str, version: int, token: str, rematch_token: str
    ) -> Deferred[Outcome]:
        """Accept the opponent's rematch offer; the answer is the new game."""
        return self.request(
            p.AcceptRematch,
            game_id=game_id,
            version=version,
            token=token,
            rematch_token=rematch_token,
            at=self.server_now(),
        )

    def decline_rematch(self, game_id: str, version: int, token: str) -> Deferred[Outcome]:
        """Decline the opponent's rematch offer, or withdraw one's own."""
        return self.request(p.DeclineRematch, game_id=game_id, version=version, token=token)

    def claim_timeout(self, game_id: str, version: int, token: str) -> Deferred[Outcome]:
        """End a timed game whose side to move ran out of time (``TIME_LEFT``
        while it has not, on the servers' clocks)."""
        return self._seat_action(p.ClaimTimeout, game_id, version, token)

    def get_game(self, game_id: str) -> Deferred[Outcome]:
        return self.request(p.GetGame, game_id=game_id)

    def sync_game(self, game_id: str) -> Deferred[Outcome]:
        return self.request(p.SyncGame, game_id=game_id)

    def move_clocks(self, game_id: str) -> Deferred[tuple[int, ...]]:
        """The mover's time left (ms) after each move of a game, as two servers
        agree (``MoveClocks``, ours: docs/protocol.md); ``()`` when untimed.

        :raises WireError: the servers' error (``UNKNOWN_GAME``).
        :raises NoAnswer: no server answered it (down, or older: ``UNHANDLED``).
        :raises DocumentError: the answer is not a list of integers.
        """
        return self.request(p.MoveClocks, game_id=game_id).addCallback(_move_clocks)

    # -- watching --------------------------------------------------------------

    def watch(self, game_id: str, listener: Callable[[WatchUpdate], None]) -> GameWatch:
        """Follow a game on every server; ``listener`` gets each new view.

        Links re-establish the watch on every reconnect.
        """
        watch = self.watches.get(game_id)
        if watch is None:
            watch = self.watches[game_id] = GameWatch(game_id, listener)
            for link in self.links.values():
                if link.ready:
                    self._send_watch(link, game_id)
        else:
            watch.listener = listener
        return watch

    def unwatch(self, game_id: str) -> None:
        if self.watches.pop(game_id, None) is not None:
            for link in self.links.values():
                link.watch_failed.discard(game_id)
                if link.ready:
                    link.call(p.Unwatch, game_id=game_id).addErrback(lambda _: None)

    def _send_watch(self, link: ServerLink, game_id: str) -> None:
        def watching(answer: dict[str, Any]) -> None:
            link.watch_failed.discard(game_id)
            watch = self.watches.get(game_id)
            if watch is not None:
                watch.offer(link.server_id, answer["game"])

        def refused(failure: Failure) -> None:
            # Registered nothing: try again once the server serves, or after a SyncGame.
            link.watch_failed.add(game_id)

        link.call(p.Watch, game_id=game_id).addCallbacks(watching, refused)

    def _game_changed(self, server_id: int, document: str) -> None:
        try:
            game_id = GameDocument.from_json(document).game_id
        except DocumentError:
            return
        watch = self.watches.get(game_id)
        if watch is not None:
            watch.offer(server_id, document)


def _move_clocks(outcome: Outcome) -> tuple[int, ...]:
    text = str(outcome.response["clocks"])
    try:
        clocks = json.loads(text)
    except ValueError:
        clocks = text
    if not isinstance(clocks, list) or not all(type(ms) is int for ms in clocks):
        raise DocumentError(f"MoveClocks answered {clocks!r:.80}, not a list of integers")
    return tuple(clocks)
