"""The AMP face of a server: one protocol instance per client or peer connection.

Responders only translate between AMP and :class:`~game.server.node.ServerNode`.
The protocol also enforces the limits of PROTOCOL.md: the size of a box,
silence for three heartbeats, unsent output, watches per connection, and
(in the factory) the number of connections.  Whatever one connection sends,
it can at worst close that connection.

Boxes are parsed by :class:`game.ampframe.BoxParser` (in bulk, keeping only
the keys of our commands), not by stock AMP's per-string state machine, and
each connection's input gets a fair share of the reactor
(:class:`game.server.fairness.FairInput`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, fail, maybeDeferred, succeed
from twisted.internet.interfaces import IAddress, IPushProducer, IReactorTime
from twisted.internet.protocol import Factory, connectionDone
from twisted.logger import Logger
from twisted.protocols import amp
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure
from zope.interface import implementer

from game import errors as wire
from game import protocol as p
from game.ampframe import BoxParser, FramingError, keys_of
from game.endpoints import send_at_once
from game.server.fairness import FairInput
from game.server.gamelog import (
    ACCEPT_DRAW,
    JOIN,
    MOVE,
    OFFER_DRAW,
    RESIGN,
    Command,
    GameLog,
    canonical_json,
)
from game.server.node import ServerNode
from game.server.peers import new_nonce, proofs_match
from game.server.peers import proof as peer_proof
from game.server.replica import TREE_DEPTH, DamagedGame
from game.server.sync import format_children

log = Logger(namespace="replgame.connection")

#: Close a connection whose unsent output passes this (PROTOCOL.md).
MAX_UNSENT = 1 << 20
#: The only commands this server answers (not AMP's own StartTLS and the like).
_COMMAND_NAMES = frozenset(
    command.commandName for command in (*p.CLIENT_COMMANDS, *p.PEER_COMMANDS)
)
#: The keys a request to this server can use; the parser drops any other.
_REQUEST_KEYS = keys_of((*p.CLIENT_COMMANDS, *p.PEER_COMMANDS))
_TREE_PREFIX = re.compile(f"[0-9a-f]{{0,{TREE_DEPTH - 1}}}")
_BUCKET = re.compile(f"[0-9a-f]{{{TREE_DEPTH}}}")


def describe(address: IAddress | None) -> str:
    host, port = getattr(address, "host", None), getattr(address, "port", None)
    return f"{host}:{port}" if host is not None else str(address)


@implementer(IPushProducer)
class ServerProtocol(amp.AMP, TimeoutMixin):
    """One connection to a server, from a client or from a peer."""

    def __init__(self, node: ServerNode, factory: ServerFactory) -> None:
        super().__init__()
        self.node = node
        self.factory = factory
        tuning = node.tuning
        self.max_box_bytes = tuning.max_box_bytes
        self.callLater = node.clock.callLater  # TimeoutMixin's clock
        self.peer_id: int | None = None
        self.watching: set[str] = set()
        self._hello: tuple[int, str, str] | None = None
        self._parser = BoxParser(self.ampBoxReceived, _REQUEST_KEYS, self.max_box_bytes, amp.AmpBox)
        self._reading_paused = False
        self._closing = False
        self._live = False
        self._paused = False
        self._unsent_while_paused = 0
        self.remote = "?"

    # -- connection and limits -------------------------------------------------

    def connectionMade(self) -> None:
        super().connectionMade()
        send_at_once(self.transport)
        self._live = True
        self.remote = describe(self.transport.getPeer())
        self.transport.registerProducer(self, True)
        self.setTimeout(3 * self.node.tuning.heartbeat)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._live = False
        self.setTimeout(None)
        for game_id in self.watching:
            self.node.unwatch(game_id, self)
        self.watching.clear()
        self._parser.halt()
        self.factory.input.forget(self)
        self.factory.forget(self)
        super().connectionLost(reason)

    def _close(self, why: str) -> None:
        if not self._closing:
            self._closing = True
            self._parser.halt()
            self.factory.input.forget(self)
            log.info("closing connection from {remote}: {why}", remote=self.remote, why=why)
            self.transport.abortConnection()

    def timeoutConnection(self) -> None:
        self._close(f"silent for {3 * self.node.tuning.heartbeat:g} s (three heartbeats)")

    def dataReceived(self, data: bytes) -> None:
        # Instead of Int16StringReceiver's parsing (we never switch protocols
        # or start TLS inside AMP: no inner protocol to hand bytes to).
        if self._closing:
            return
        self.resetTimeout()
        self._parser.feed(data)
        self.factory.input.input_arrived(self)

    # fairness.Reader: our input, a slice at a time.
    def read_slice(self, max_bytes: int, max_boxes: int) -> bool:
        try:
            return self._parser.parse(max_bytes, max_boxes)
        except FramingError as error:  # a key over 255 bytes, a box over the limit
            self._close(str(error))
            return False

    def pause_reading(self) -> None:
        self._reading_paused = True
        self.transport.pauseProducing()

    def resume_reading(self) -> None:
        if self._reading_paused:
            self._reading_paused = False
            if self._live and not self._closing:
                self.transport.resumeProducing()

    def ampBoxReceived(self, box: amp.AmpBox) -> None:
        if self._closing:
            return
        try:
            if not self._answer_game_command(box):
                super().ampBoxReceived(box)
        except Exception as error:
            self._close(f"not an AMP request ({type(error).__name__})")

    # -- the game commands' direct path ----------------------------------------------
    #
    # A move is most of what a server answers, and stock AMP spends more on
    # it than deciding it does: three maybeDeferreds, argument objects looked
    # up by name, eight callbacks.  The commands below take this direct path
    # instead; it answers the same bytes as the stock one (tests compare
    # them), which still answers everything else, including every request
    # whose arguments do not parse (so BAD_REQUEST texts are AMP's own).

    def _answer_game_command(self, box: amp.AmpBox) -> bool:
        """Answer a game command directly; False leaves the box to stock AMP."""
        name = box.get(amp.COMMAND)
        route = _DIRECT.get(name) if name is not None else None
        ask = box.get(amp.ASK)
        if route is None or ask is None or amp.ANSWER in box or amp.ERROR in box:
            return False
        command, arguments, answer = route
        try:
            kw = {
                python_name: (
                    None
                    if argument.optional and wire_name not in box
                    else argument.fromString(box[wire_name])
                )
                for wire_name, python_name, argument in arguments
            }
        except Exception:
            return False  # the stock path answers BAD_REQUEST with its own text
        try:
            document = answer(self, **kw)
        except Exception:
            document = fail()
        document.addCallbacks(
            self._send_game, self._send_error, callbackArgs=(ask,), errbackArgs=(ask, command)
        ).addErrback(self.unhandledError)
        return True

    def _send_game(self, document: str, ask: bytes) -> None:
        self._safeEmit(amp.AmpBox({amp.ANSWER: ask, b"game": document.encode("utf-8")}))

    def _send_error(self, failure: Failure, ask: bytes, command: type[p.Command]) -> None:
        """What stock AMP answers for this failure, with ``guarded``'s INTERNAL."""
        key = failure.check(*command.allErrors)
        if key is not None:
            code, description = command.allErrors[key], str(failure.value)
        elif failure.check(amp.RemoteAmpError):
            code, description = failure.value.errorCode, failure.value.description
        else:
            error = self._internal(failure, command.commandName)
            code, description = error.errorCode, error.description
        self._safeEmit(
            amp.AmpBox(
                {
                    amp.ERROR: ask,
                    amp.ERROR_CODE: code,
                    amp.ERROR_DESCRIPTION: description.encode("utf-8", "replace"),
                }
            )
        )

    def unhandledError(self, failure: Failure) -> None:
        if failure.check(amp.RemoteAmpError):
            return  # an error answer to a request that asked for no answer
        super().unhandledError(failure)

    def sendBox(self, box: amp.AmpBox) -> None:
        if self._closing:
            return
        if self._paused:
            self._unsent_while_paused += len(box.serialize())
            if self._unsent_while_paused > MAX_UNSENT:
                self._close("more than 1 MiB of unsent output")
                return
        super().sendBox(box)

    # IPushProducer (our output): the transport tells us when its buffer is full.
    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        self._unsent_while_paused = 0

    def stopProducing(self) -> None:
        self._paused = True

    def locateResponder(self, name: bytes) -> Callable[[amp.AmpBox], Any] | None:
        """Answer INTERNAL, not a dropped connection, for unexpected errors;
        answer only replgame's own commands (UNHANDLED for anything else)."""
        if name not in _COMMAND_NAMES:
            return None
        responder = super().locateResponder(name)
        if responder is None:
            return None

        def guarded(box: amp.AmpBox) -> Any:
            try:
                answer = responder(box)
            except amp.RemoteAmpError:
                raise  # BAD_REQUEST from argument parsing
            except Exception:
                return Failure(self._internal(Failure(), name))
            return answer.addErrback(self._internal_failure, name)

        return guarded

    def _internal_failure(self, failure: Failure, name: bytes) -> Failure:
        if failure.check(amp.RemoteAmpError):
            return failure
        return Failure(self._internal(failure, name))

    def _internal(self, failure: Failure, name: bytes) -> amp.RemoteAmpError:
        log.failure(
            "INTERNAL error answering {command} from {remote}",
            failure,
            command=name.decode("ascii", "replace"),
            remote=self.remote,
        )
        return amp.RemoteAmpError(wire.Internal.tag, wire.Internal.default)

    # -- client commands -----------------------------------------------------------

    @p.Status.responder
    def status(self) -> dict[str, Any]:
        return self.node.status()

    @p.CreateGame.responder
    def create_game(
        self, game_id: str, kind: str, player: str, token: str, seat: int | None
    ) -> Any:
        return _game(
            self.node.create_game(game_id, kind, player, 0 if seat is None else seat, token)
        )

    @p.JoinGame.responder
    def join_game(self, game_id: str, version: int, player: str, token: str) -> Any:
        return self._change(game_id, Command(JOIN, version, token, player=player))

    @p.MakeMove.responder
    def make_move(self, game_id: str, version: int, move: str, token: str) -> Any:
        return self._change(game_id, Command(MOVE, version, token, move=move))

    @p.Resign.responder
    def resign(self, game_id: str, version: int, token: str) -> Any:
        return self._change(game_id, Command(RESIGN, version, token))

    @p.OfferDraw.responder
    def offer_draw(self, game_id: str, version: int, token: str) -> Any:
        return self._change(game_id, Command(OFFER_DRAW, version, token))

    @p.AcceptDraw.responder
    def accept_draw(self, game_id: str, version: int, token: str) -> Any:
        return self._change(game_id, Command(ACCEPT_DRAW, version, token))

    def _change(self, game_id: str, command: Command) -> Deferred[dict[str, str]]:
        return _game(maybeDeferred(self._change_document, game_id, command))

    def _change_document(self, game_id: str, command: Command) -> Deferred[str]:
        """A state-changing command; refusals are logged, one line each."""
        try:
            answer = self.node.change_game(game_id, command)
        except Exception:
            answer = fail()
        return answer.addErrback(self._refused, game_id, command)

    def _refused(self, failure: Failure, game_id: str, command: Command) -> Failure:
        error = failure.value
        if isinstance(error, wire.WireError) and not isinstance(error, wire.NotServing):
            log.info(
                "refused {command} on game {game_id} from {remote}: {tag} ({description})",
                command=command.type,
                game_id=game_id,
                remote=self.remote,
                tag=error.tag.decode(),
                description=error.description,
            )
        return failure

    @p.GetGame.responder
    def get_game(self, game_id: str) -> Any:
        return _game(self.node.get_game(game_id))

    @p.SyncGame.responder
    def sync_game(self, game_id: str) -> Any:
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
    def watch(self, game_id: str) -> Any:
        if game_id in self.watching:
            return self.node.get_game(game_id).addCallback(lambda document: {"game": document})
        if len(self.watching) >= p.MAX_WATCHES:
            raise wire.BadRequest(f"at most {p.MAX_WATCHES} watches per connection")
        self.watching.add(game_id)  # reserved now, so pipelined Watches count

        def registered(document: str) -> dict[str, str]:
            if not self._live or game_id not in self.watching:
                self.node.unwatch(game_id, self)  # lost or unwatched meanwhile
            return {"game": document}

        def refused(failure: Failure) -> Failure:
            self.watching.discard(game_id)
            return failure

        return maybeDeferred(self.node.watch, game_id, self).addCallbacks(registered, refused)

    @p.Unwatch.responder
    def unwatch(self, game_id: str) -> dict[str, Any]:
        self.node.require_serving()
        self.watching.discard(game_id)
        self.node.unwatch(game_id, self)
        return {}

    def game_changed(self, document: str) -> None:
        """Tell this client about a durable change of a game it watches."""
        if not self._closing and self._live:
            self.callRemote(p.GameChanged, game=document)

    # -- peer commands -----------------------------------------------------------

    def _require_peer(self, command: str) -> int:
        if self.peer_id is None:
            log.warn(
                "refused {command} from {remote}: not an authenticated peer",
                command=command,
                remote=self.remote,
            )
            raise wire.NotPeer()
        return self.peer_id

    def _require_seeded(self) -> None:
        if self.node.failed:
            raise wire.NotServing(f"server {self.node.server_id} failed to write its database")
        if self.node.replica.is_new:
            raise wire.NotServing(f"server {self.node.server_id} is rebuilding its database")

    @p.PeerHello.responder
    def peer_hello(self, server_id: int, nonce: str) -> dict[str, Any]:
        if server_id == self.node.server_id:
            log.warn("refused a peer from {remote} claiming our own id", remote=self.remote)
            raise wire.PeerRefused("that is this server's own id")
        mine = new_nonce()
        self._hello = (server_id, nonce, mine)
        secret = self.factory.secret
        return {
            "server_id": self.node.server_id,
            "nonce": mine,
            "proof": peer_proof(secret, "callee", nonce, mine, server_id, self.node.server_id),
        }

    @p.PeerProve.responder
    def peer_prove(self, proof: str) -> dict[str, Any]:
        hello, self._hello = self._hello, None  # a nonce pair proves one connection once
        if hello is None:
            log.warn("refused PeerProve from {remote}: no PeerHello first", remote=self.remote)
            raise wire.PeerRefused("PeerHello first")
        caller, caller_nonce, my_nonce = hello
        expected = peer_proof(
            self.factory.secret, "caller", caller_nonce, my_nonce, caller, self.node.server_id
        )
        if not proofs_match(expected, proof):
            log.warn(
                "rejected peer from {remote} claiming to be server {claimed}: wrong proof "
                "(does it have this cluster's secret?)",
                remote=self.remote,
                claimed=caller,
            )
            raise wire.PeerRefused()
        self.peer_id = caller
        log.info(
            "peer server {peer_id} authenticated from {remote}", peer_id=caller, remote=self.remote
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
        if len(prefixes) > 256 or not all(_TREE_PREFIX.fullmatch(x) for x in prefixes):
            raise wire.BadRequest("at most 256 tree prefixes of 0-3 hex digits")
        replica = self.node.replica
        return {"children": [format_children(replica.tree_children(x)) for x in prefixes]}

    @p.PeerBucket.responder
    def peer_bucket(self, prefix: str, after: str | None) -> dict[str, Any]:
        self._require_peer("PeerBucket")
        self._require_seeded()
        if not _BUCKET.fullmatch(prefix):
            raise wire.BadRequest(f"a bucket is {TREE_DEPTH} hex digits")
        lines: list[str] = []
        size = 0
        for game_id, entry in self.node.replica.bucket_heads(prefix):
            if after and game_id <= after:
                continue
            line = f"{game_id} {entry.version} {entry.head.hex()}"
            if size + len(line) + 2 > p.LIST_BUDGET:
                return {"games": lines, "next": lines[-1].split(" ")[0]}
            lines.append(line)
            size += len(line) + 2
        return {"games": lines, "next": ""}

    @p.PeerEvents.responder
    def peer_events(self, game_id: str, since: int, head: str) -> dict[str, Any]:
        self._require_peer("PeerEvents")
        self._require_seeded()
        try:
            game = self.node.replica.game(game_id)
        except DamagedGame as error:
            raise wire.NotServing(str(error)) from None  # never spread a damaged copy
        if game is None:
            raise wire.UnknownGame()
        return _history_answer(game, since, head, p.LIST_BUDGET)

    @p.PeerHistories.responder
    def peer_histories(self, games: list[str]) -> dict[str, Any]:
        self._require_peer("PeerHistories")
        self._require_seeded()
        if len(games) > p.MAX_HISTORIES:
            raise wire.BadRequest(f"at most {p.MAX_HISTORIES} games in one PeerHistories")
        asked = [_history_request(line) for line in games]
        lines: list[str] = []
        size = 0
        for game_id, since, head in asked:
            try:
                game = self.node.replica.game(game_id)
            except DamagedGame as error:
                log.error("PeerHistories: leaving out {error}", error=str(error))
                answer: dict[str, Any] = {"id": game_id, "unavailable": True}
            else:
                if game is None:
                    answer = {"id": game_id, "unknown": True}
                else:
                    # Room for the answer's own fields (id, kind, heads) too.
                    budget = p.LIST_BUDGET - size - 300
                    history = _history_answer(game, since, head, budget, embedded=True)
                    answer = {"id": game_id, **history}
                    if not answer["complete"] and lines:
                        break  # the rest of the page is too small: asked again
            line = canonical_json(answer)
            cost = len(line.encode()) + 2
            if size + cost > p.LIST_BUDGET:
                break
            lines.append(line)
            size += cost
        return {"games": lines}

    @p.PeerDump.responder
    def peer_dump(self, after: str | None) -> dict[str, Any]:
        self._require_peer("PeerDump")
        self._require_seeded()
        replica = self.node.replica
        lines: list[str] = []
        size = 0
        last_id = ""
        for game_id in replica.ids_after(after or ""):
            try:
                game = replica.game(game_id)
            except DamagedGame as error:
                log.error("PeerDump: leaving out {error}", error=str(error))
                continue
            assert game is not None
            line = canonical_json({"events": game.event_json, "id": game_id})
            if len(line.encode()) > p.LIST_BUDGET // 4:
                line = canonical_json({"id": game_id, "more": True})
            cost = len(line.encode()) + 2
            if size + cost > p.LIST_BUDGET:
                return {"games": lines, "next": last_id}
            lines.append(line)
            size += cost
            last_id = game_id
        return {"games": lines, "next": ""}


def _game(document: Any) -> Any:
    return document.addCallback(lambda text: {"game": text})


def _direct_arguments(command: type[p.Command]) -> list[tuple[bytes, str, amp.Argument]]:
    return [(wire, wire.decode("ascii"), argument) for wire, argument in command.arguments]


def _direct_change(event_type: str) -> Callable[..., Deferred[str]]:
    def answer(
        protocol: ServerProtocol, game_id: str, version: int, token: str, **rest: Any
    ) -> Any:
        return protocol._change_document(game_id, Command(event_type, version, token, **rest))

    return answer


#: Commands answered by ServerProtocol._answer_game_command: the command,
#: its arguments (wire name, Python name, parser), and what answers the document.
_DIRECT: dict[bytes, tuple[type[p.Command], list[tuple[bytes, str, amp.Argument]], Any]] = {
    command.commandName: (command, _direct_arguments(command), answer)
    for command, answer in (
        (p.MakeMove, _direct_change(MOVE)),
        (p.JoinGame, _direct_change(JOIN)),
        (p.Resign, _direct_change(RESIGN)),
        (p.OfferDraw, _direct_change(OFFER_DRAW)),
        (p.AcceptDraw, _direct_change(ACCEPT_DRAW)),
        (
            p.CreateGame,
            lambda protocol, game_id, kind, player, token, seat: protocol.node.create_game(
                game_id, kind, player, 0 if seat is None else seat, token
            ),
        ),
        (p.GetGame, lambda protocol, game_id: protocol.node.get_game(game_id)),
    )
}


def _history_request(line: str) -> tuple[str, int, str]:
    """One ``"game_id since head"`` line of a PeerHistories request.

    :raises BadRequest: it is not one.
    """
    try:
        game_id, since_text, head = line.split(" ")
        since = p.BoundedInteger(0, p.MAX_VERSION).fromString(since_text.encode())
        return p.check_game_id(game_id), since, p.Hex64().check(head)
    except ValueError:
        raise wire.BadRequest(f"not a 'game_id since head' line: {line[:80]!r}") from None


def _history_answer(
    game: GameLog, since: int, head: str, budget: int, embedded: bool = False
) -> dict[str, Any]:
    """A game's events from ``since`` if the caller's ``head`` there is ours,
    else from the start (PeerEvents), at most ``budget`` bytes of them.

    :param embedded: the answer goes out as JSON (PeerHistories), where each
        event costs its JSON string form, not its length-prefixed bytes.
    """
    version = game.version
    if since <= version and game.heads[since].hex() == head:
        start = since
    elif since > version:
        start = version
    else:
        start = 0
    events: list[str] = []
    size = 0
    for text in game.event_json[start:]:
        cost = len(canonical_json(text).encode()) + 1 if embedded else len(text.encode()) + 2
        if size + cost > budget:
            break
        events.append(text)
        size += cost
    return {
        "kind": game.kind,
        "version": version,
        "head": game.head.hex(),
        "start": start,
        "events": events,
        "complete": start + len(events) == version,
    }


class ServerFactory(Factory):
    """Builds a protocol per connection, up to ``max_connections``."""

    def __init__(self, node: ServerNode, secret: str, clock: IReactorTime) -> None:
        self.node = node
        self.secret = secret
        self.clock = clock
        #: Every connection's input, shared fairly.
        self.input = FairInput(clock)
        self.connections: set[ServerProtocol] = set()
        self._drained: list[Deferred[None]] = []

    def buildProtocol(self, addr: IAddress) -> ServerProtocol | None:  # type: ignore[override]
        limit = self.node.tuning.max_connections
        if len(self.connections) >= limit:
            log.warn(
                "refusing a connection from {remote}: max_connections={limit} reached",
                remote=describe(addr),
                limit=limit,
            )
            return None
        protocol = ServerProtocol(self.node, self)
        self.connections.add(protocol)
        return protocol

    def forget(self, protocol: ServerProtocol) -> None:
        self.connections.discard(protocol)
        if not self.connections:
            waiters, self._drained = self._drained, []
            for waiter in waiters:
                waiter.callback(None)

    def close_all(self, timeout: float) -> Deferred[None]:
        """Close every connection once its answers are written; fires when
        all are closed (or after ``timeout``, aborting the rest)."""
        if not self.connections:
            return succeed(None)
        drained: Deferred[None] = Deferred()
        self._drained.append(drained)
        for protocol in list(self.connections):
            protocol.transport.loseConnection()

        def abort() -> None:
            for protocol in list(self.connections):
                protocol.transport.abortConnection()

        timer = self.clock.callLater(timeout, abort)
        return drained.addBoth(lambda result: (timer.active() and timer.cancel(), result)[1])
