"""The server's AMP responders: client commands and peer commands.

As in Twisted's ``ampserver.py`` example, each kind of command has a
:class:`~twisted.protocols.amp.CommandLocator` whose responders only parse,
ask the :class:`~game.server.node.ServerNode` (or, for peers, the pure
:mod:`game.server.paging`), and shape the answer.  :class:`ServerLocator`
puts the two together for one connection
(``ServerProtocol(locator=ServerLocator(...))``): it answers only
replgame's own commands, and answers ``INTERNAL`` rather than dropping the
connection when a responder fails unexpectedly.

What the responders keep per connection (watched games, the peer's
authentication) lives on the connection, which they reach as a
:class:`Session`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from twisted.internet.defer import Deferred, fail, maybeDeferred
from twisted.logger import Logger
from twisted.protocols import amp
from twisted.python.failure import Failure

from game import errors as wire
from game import protocol as p
from game.server import gamelog, paging
from game.server.direct import game_responder
from game.server.fanout import GameChange
from game.server.gamelog import ACCEPT_DRAW, JOIN, MOVE, OFFER_DRAW, RESIGN, TIMEOUT, Command
from game.server.metrics import CommandMetrics
from game.server.node import ServerNode
from game.server.peers import new_nonce, proofs_match
from game.server.peers import proof as peer_proof

# The connection's namespace: operators read these lines as the server's face.
log = Logger(namespace="replgame.connection")

#: The only commands a server answers (not AMP's own StartTLS and the like).
COMMAND_NAMES = frozenset(command.commandName for command in (*p.CLIENT_COMMANDS, *p.PEER_COMMANDS))

Responder = Callable[[amp.AmpBox], Any]


class Session(Protocol):
    """The connection a locator answers on, and what it keeps for them."""

    #: The caller's address, for the logs.
    remote: str
    #: The games this connection watches (at most :data:`~game.protocol.MAX_WATCHES`).
    watching: set[str]
    #: The authenticated peer's server id; ``None`` until PeerProve succeeds.
    peer_id: int | None
    #: PeerHello's (caller id, caller nonce, our nonce), until PeerProve uses it.
    hello: tuple[int, str, str] | None

    @property
    def live(self) -> bool:
        """Still connected."""

    def game_changed(self, change: GameChange) -> None:
        """Push a watched game's new document (the node's watcher)."""


def _game(document: Deferred[str]) -> Deferred[dict[str, str]]:
    return document.addCallback(lambda text: {"game": text})


class ClientLocator(amp.CommandLocator):
    """The commands of PROTOCOL.md.

    The game commands are answered by :func:`game.server.direct.game_responder`
    (cheaper, same bytes); their responder methods below answer whatever it
    leaves to them (arguments that do not parse).  A connection builds the
    direct responder of a command when it first sends one: most connections
    only watch, and eight responders for each cost ~20 KB of memory.
    ``Status``, every heartbeat, is answered by the node's shared
    :class:`~game.server.heartbeat.StatusResponder`.
    """

    def __init__(self, node: ServerNode, session: Session) -> None:
        self.node = node
        self.session = session
        self._direct: dict[bytes, Responder] = {}

    def locateResponder(self, name: bytes) -> Responder | None:
        if name == STATUS:
            return self.node.status_responder
        return self._direct.get(name) or self._direct_responder(name) or self._stock(name)

    def _direct_responder(self, name: bytes) -> Responder | None:
        """The direct responder of ``name``, built now (``None``: it has none)."""
        if name not in _DIRECT:
            return None
        command, answer = _DIRECT[name]
        responder = game_responder(command, partial(answer, self), self._stock_of(command))
        self._direct[name] = responder
        return responder

    def _stock(self, name: bytes) -> Responder | None:
        """The responder :class:`amp.CommandLocator` makes of the methods below."""
        responder: Responder | None = super().locateResponder(name)  # type: ignore[no-untyped-call]
        return responder

    def _stock_of(self, command: type[p.Command]) -> Responder:
        responder = self._stock(command.commandName)
        assert responder is not None, command
        return responder

    @p.Status.responder
    def status(self) -> dict[str, Any]:
        return self.node.status()

    @p.ServerInfo.responder
    def server_info(self) -> dict[str, Any]:
        # Served in every state, like Status: it is how an operator sees why
        # a server does not serve.
        return {"info": p.canonical_info(self.node.info())}

    @p.CreateGame.responder
    def create_game(
        self,
        game_id: str,
        kind: str,
        player: str,
        token: str,
        seat: int | None,
        clock: str | None = None,
        at: int | None = None,
    ) -> Deferred[dict[str, str]]:
        return _game(self._create_document(game_id, kind, player, token, seat, clock, at))

    def _create_document(
        self,
        game_id: str,
        kind: str,
        player: str,
        token: str,
        seat: int | None,
        clock: str | None = None,
        at: int | None = None,
    ) -> Deferred[str]:
        # ``at`` is accepted and not used: a game's clock starts when it is joined.
        return self.node.create_game(
            game_id, kind, player, 0 if seat is None else seat, token, clock or ""
        )

    @p.JoinGame.responder
    def join_game(
        self, game_id: str, version: int, player: str, token: str, at: int | None = None
    ) -> Deferred[dict[str, str]]:
        return self._change(game_id, Command(JOIN, version, token, player=player, at=at))

    @p.MakeMove.responder
    def make_move(
        self, game_id: str, version: int, move: str, token: str, at: int | None = None
    ) -> Deferred[dict[str, str]]:
        return self._change(game_id, Command(MOVE, version, token, move=move, at=at))

    @p.Resign.responder
    def resign(
        self, game_id: str, version: int, token: str, at: int | None = None
    ) -> Deferred[dict[str, str]]:
        return self._change(game_id, Command(RESIGN, version, token, at=at))

    @p.OfferDraw.responder
    def offer_draw(
        self, game_id: str, version: int, token: str, at: int | None = None
    ) -> Deferred[dict[str, str]]:
        return self._change(game_id, Command(OFFER_DRAW, version, token, at=at))

    @p.AcceptDraw.responder
    def accept_draw(
        self, game_id: str, version: int, token: str, at: int | None = None
    ) -> Deferred[dict[str, str]]:
        return self._change(game_id, Command(ACCEPT_DRAW, version, token, at=at))

    @p.ClaimTimeout.responder
    def claim_timeout(
        self, game_id: str, version: int, token: str, at: int
    ) -> Deferred[dict[str, str]]:
        return self._change(game_id, Command(TIMEOUT, version, token, at=at))

    # Takebacks and rematches (docs/protocol.md): rare, so answered by the
    # stock responders alone (a direct responder costs every connection).

    @p.OfferTakeback.responder
    def offer_takeback(self, game_id: str, version: int, token: str) -> Deferred[dict[str, str]]:
        return self._change(game_id, Command(gamelog.OFFER_TAKEBACK, version, token))

    @p.AcceptTakeback.responder
    def accept_takeback(self, game_id: str, version: int, token: str) -> Deferred[dict[str, str]]:
        return self._change(game_id, Command(gamelog.ACCEPT_TAKEBACK, version, token))

    @p.DeclineTakeback.responder
    def decline_takeback(self, game_id: str, version: int, token: str) -> Deferred[dict[str, str]]:
        return self._change(game_id, Command(gamelog.DECLINE_TAKEBACK, version, token))

    @p.OfferRematch.responder
    def offer_rematch(
        self, game_id: str, version: int, token: str, rematch_id: str, rematch_token: str
    ) -> Deferred[dict[str, str]]:
        command = Command(
            gamelog.OFFER_REMATCH,
            version,
            token,
            rematch_id=rematch_id,
            rematch_token=rematch_token,
        )
        return self._change(game_id, command)

    @p.AcceptRematch.responder
    def accept_rematch(
        self, game_id: str, version: int, token: str, rematch_token: str, at: int | None = None
    ) -> Deferred[dict[str, str]]:
        command = Command(
            gamelog.ACCEPT_REMATCH, version, token, rematch_token=rematch_token, at=at
        )
        return self._change(game_id, command)

    @p.DeclineRematch.responder
    def decline_rematch(self, game_id: str, version: int, token: str) -> Deferred[dict[str, str]]:
        return self._change(game_id, Command(gamelog.DECLINE_REMATCH, version, token))

    def _change(self, game_id: str, command: Command) -> Deferred[dict[str, str]]:
        return _game(self._change_document(game_id, command))

    def _change_document(self, game_id: str, command: Command) -> Deferred[str]:
        """A state-changing command; refusals are logged, one line each."""
        try:
            document = self.node.change_game(game_id, command)
        except Exception:
            document = fail()
        return document.addErrback(self._refused, game_id, command)

    def _refused(self, failure: Failure, game_id: str, command: Command) -> Failure:
        error = failure.value
        if isinstance(error, wire.WireError) and not isinstance(error, wire.NotServing):
            log.info(
                "refused {command} on game {game_id} from {remote}: {tag} ({description})",
                command=command.type,
                game_id=game_id,
                remote=self.session.remote,
                tag=error.tag.decode(),
                description=error.description,
            )
        return failure

    @p.GetGame.responder
    def get_game(self, game_id: str) -> Deferred[dict[str, str]]:
        return _game(self._get_document(game_id))

    def _get_document(self, game_id: str) -> Deferred[str]:
        return self.node.get_game(game_id)

    @p.MoveClocks.responder
    def move_clocks(self, game_id: str) -> Deferred[dict[str, str]]:
        # Rare (a record's export): the stock responder alone, as the offers.
        return self.node.move_clocks(game_id).addCallback(lambda text: {"clocks": text})

    @p.SyncGame.responder
    def sync_game(self, game_id: str) -> Deferred[dict[str, str]]:
        return _game(self.node.sync_game(game_id))

    @p.ListGames.responder
    def list_games(
        self,
        status: str | None,
        kind: str | None,
        player: str | None,
        limit: int | None,
        after: str | None,
    ) -> dict[str, Any]:
        return self.node.list_games(
            status or "", kind or "", player or "", 50 if limit is None else limit, after or ""
        )

    @p.Watch.responder
    def watch(self, game_id: str) -> Deferred[dict[str, str]]:
        session = self.session
        if game_id in session.watching:
            return _game(self.node.get_game(game_id))
        if len(session.watching) >= p.MAX_WATCHES:
            raise wire.BadRequest(f"at most {p.MAX_WATCHES} watches per connection")
        session.watching.add(game_id)  # reserved now, so pipelined Watches count

        def registered(document: str) -> dict[str, str]:
            if not session.live or game_id not in session.watching:
                self.node.unwatch(game_id, session)  # lost or unwatched meanwhile
            return {"game": document}

        def refused(failure: Failure) -> Failure:
            session.watching.discard(game_id)
            return failure

        watched: Deferred[str] = maybeDeferred(self.node.watch, game_id, session)
        return watched.addCallbacks(registered, refused)

    @p.Unwatch.responder
    def unwatch(self, game_id: str) -> dict[str, Any]:
        self.node.require_serving()
        self.session.watching.discard(game_id)
        self.node.unwatch(game_id, self.session)
        return {}


def _changer(event_type: str) -> Callable[..., Deferred[str]]:
    """A :class:`ClientLocator` method answering one kind of change."""

    def change(
        locator: ClientLocator, game_id: str, version: int, token: str, **rest: Any
    ) -> Deferred[str]:
        return locator._change_document(game_id, Command(event_type, version, token, **rest))

    return change


STATUS = p.Status.commandName
#: The commands answered by a direct responder, and the :class:`ClientLocator`
#: method (unbound) each answers with.
_DIRECT_ANSWERS: list[tuple[type[p.Command], Callable[..., Deferred[str]]]] = [
    (p.MakeMove, _changer(MOVE)),
    (p.JoinGame, _changer(JOIN)),
    (p.Resign, _changer(RESIGN)),
    (p.OfferDraw, _changer(OFFER_DRAW)),
    (p.AcceptDraw, _changer(ACCEPT_DRAW)),
    (p.ClaimTimeout, _changer(TIMEOUT)),
    (p.CreateGame, ClientLocator._create_document),
    (p.GetGame, ClientLocator._get_document),
]
_DIRECT = {command.commandName: (command, answer) for command, answer in _DIRECT_ANSWERS}


class PeerLocator(amp.CommandLocator):
    """The peer commands of docs/protocol.md: authentication, then state.

    Every command but PeerHello and PeerProve needs an authenticated peer;
    those that send games also need a database that holds them (not one
    being rebuilt, nor one that failed to write).
    """

    def __init__(self, node: ServerNode, secret: str, session: Session) -> None:
        self.node = node
        self.secret = secret
        self.session = session

    def _require_peer(self, command: str) -> None:
        if self.session.peer_id is None:
            log.warn(
                "refused {command} from {remote}: not an authenticated peer",
                command=command,
                remote=self.session.remote,
            )
            raise wire.NotPeer()

    def _require_seeded(self) -> None:
        if self.node.failed:
            raise wire.NotServing(f"server {self.node.server_id} failed to write its database")
        if self.node.replica.is_new:
            raise wire.NotServing(f"server {self.node.server_id} is rebuilding its database")

    @p.PeerHello.responder
    def peer_hello(self, server_id: int, nonce: str) -> dict[str, Any]:
        own_id = self.node.server_id
        if server_id == own_id:
            log.warn("refused a peer from {remote} claiming our own id", remote=self.session.remote)
            raise wire.PeerRefused("that is this server's own id")
        mine = new_nonce()
        self.session.hello = (server_id, nonce, mine)
        return {
            "server_id": own_id,
            "nonce": mine,
            "proof": peer_proof(self.secret, "callee", nonce, mine, server_id, own_id),
        }

    @p.PeerProve.responder
    def peer_prove(self, proof: str) -> dict[str, Any]:
        session = self.session
        hello, session.hello = session.hello, None  # a nonce pair proves one connection once
        if hello is None:
            log.warn("refused PeerProve from {remote}: no PeerHello first", remote=session.remote)
            raise wire.PeerRefused("PeerHello first")
        caller, caller_nonce, my_nonce = hello
        expected = peer_proof(
            self.secret, "caller", caller_nonce, my_nonce, caller, self.node.server_id
        )
        if not proofs_match(expected, proof):
            log.warn(
                "rejected peer from {remote} claiming to be server {claimed}: wrong proof "
                "(does it have this cluster's secret?)",
                remote=session.remote,
                claimed=caller,
            )
            raise wire.PeerRefused()
        session.peer_id = caller
        log.info(
            "peer server {peer_id} authenticated from {remote}",
            peer_id=caller,
            remote=session.remote,
        )
        return {}

    @p.PeerStatus.responder
    def peer_status(self) -> dict[str, Any]:
        self._require_peer("PeerStatus")
        if self.node.failed:  # its counts include a change that is not on disk
            raise wire.NotServing(f"server {self.node.server_id} failed to write its database")
        return self.node.peer_status()

    @p.PeerTree.responder
    def peer_tree(self, prefixes: list[str]) -> dict[str, Any]:
        self._require_peer("PeerTree")
        self._require_seeded()
        return {"children": paging.tree_page(self.node.replica, prefixes)}

    @p.PeerBucket.responder
    def peer_bucket(self, prefix: str, after: str | None) -> dict[str, Any]:
        self._require_peer("PeerBucket")
        self._require_seeded()
        page = paging.bucket_page(self.node.replica, prefix, after or "")
        return {"games": page.lines, "next": page.next}

    @p.PeerBuckets.responder
    def peer_buckets(self, prefixes: list[str]) -> dict[str, Any]:
        self._require_peer("PeerBuckets")
        self._require_seeded()
        lines, answered = paging.buckets_page(self.node.replica, prefixes)
        return {"games": lines, "answered": answered}

    @p.PeerEvents.responder
    def peer_events(self, game_id: str, since: int, head: str) -> dict[str, Any]:
        self._require_peer("PeerEvents")
        self._require_seeded()
        return paging.events_page(self.node.replica, game_id, since, head)

    @p.PeerHistories.responder
    def peer_histories(self, games: list[str]) -> dict[str, Any]:
        self._require_peer("PeerHistories")
        self._require_seeded()
        requests = paging.history_requests(games)
        return {"games": paging.histories_page(self.node.replica, requests)}

    @p.PeerDump.responder
    def peer_dump(self, after: str | None) -> dict[str, Any]:
        self._require_peer("PeerDump")
        self._require_seeded()
        page = paging.dump_page(self.node.replica, after or "")
        return {"games": page.lines, "next": page.next}


class ServerLocator(amp.CommandLocator):
    """Every command one connection answers: the client's and the peers'.

    Only replgame's commands are answered (anything else is AMP's
    ``UNHANDLED``), and a responder that fails with anything but a declared
    error answers ``INTERNAL`` (logged, no details sent) instead of stock
    AMP's dropped connection.
    """

    def __init__(self, node: ServerNode, secret: str, session: Session) -> None:
        self.session = session
        self.client = ClientLocator(node, session)
        self.peer = PeerLocator(node, secret, session)
        self.metrics = node.metrics

    def locateResponder(self, name: bytes) -> Responder | None:
        if name not in COMMAND_NAMES:
            return None
        located = self.client.locateResponder(name) or self._peer_responder(name)
        if located is None:
            return None

        def guarded(box: amp.AmpBox) -> Any:
            try:
                answer = located(box)
            except amp.RemoteAmpError:
                raise  # BAD_REQUEST from argument parsing
            except Exception:
                return _failure(self._internal(_failure(), name))
            if isinstance(answer, Deferred):
                return answer.addErrback(self._internal_failure, name)
            return answer  # an answer box, at once (Status)

        if self.metrics is None:
            return guarded
        return counted(guarded, self.metrics.command(name))

    def _peer_responder(self, name: bytes) -> Responder | None:
        responder: Responder | None = self.peer.locateResponder(name)  # type: ignore[no-untyped-call]
        return responder

    def _internal_failure(self, failure: Failure, name: bytes) -> Failure:
        if isinstance(failure.value, amp.RemoteAmpError):
            return failure
        return _failure(self._internal(failure, name))

    def _internal(self, failure: Failure, name: bytes) -> amp.RemoteAmpError:
        log.failure(
            "INTERNAL error answering {command} from {remote}",
            failure,
            command=name.decode("ascii", "replace"),
            remote=self.session.remote,
        )
        return amp.RemoteAmpError(wire.Internal.tag, wire.Internal.default)  # type: ignore[no-untyped-call]


def counted(responder: Responder, metrics: CommandMetrics) -> Responder:
    """``responder``, counting its answers and their durations."""

    def respond(box: amp.AmpBox) -> Any:
        started = metrics.started()
        try:
            answer = responder(box)
        except amp.RemoteAmpError as error:
            metrics.refused(started, error.errorCode)
            raise
        if isinstance(answer, Failure):
            metrics.refused(started, _tag_of(answer))
            return answer
        if not isinstance(answer, Deferred):  # an answer box, at once
            metrics.answered(started)
            return answer
        return answer.addCallbacks(
            _answered, _refused, callbackArgs=(metrics, started), errbackArgs=(metrics, started)
        )

    return respond


def _answered(box: object, metrics: CommandMetrics, started: float) -> object:
    metrics.answered(started)
    return box


def _refused(failure: Failure, metrics: CommandMetrics, started: float) -> Failure:
    metrics.refused(started, _tag_of(failure))
    return failure


def _tag_of(failure: Failure) -> bytes:
    error = failure.value
    return error.errorCode if isinstance(error, amp.RemoteAmpError) else wire.Internal.tag


def _failure(error: BaseException | None = None) -> Failure:
    """``Failure(error)``, or of the exception being handled (typed: Twisted's is not)."""
    return Failure(error)  # type: ignore[no-untyped-call]
