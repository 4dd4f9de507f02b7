"""Test doubles of the ``replgame`` unit tests: game documents, outcomes
decided from scripted answers, seats, and :class:`FakeClient`.

:class:`FakeClient` stands for a :class:`~game.client.client.ReplicatedClient`
whose three servers run the server's own decision logic
(:mod:`game.server.gamelog`) and agree, unless a test scripts a fault; its
answers are real :class:`~game.client.client.Outcome` values decided by
:func:`game.client.majority.decide`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from game import errors as wire
from game.client.client import Outcome
from game.client.document import GameDocument
from game.client.majority import ServerAnswer, decide
from game.client.tokens import Seat
from game.client.watching import WatchUpdate
from game.config import default_config
from game.server.gamelog import (
    ACCEPT_DRAW,
    ACCEPT_REMATCH,
    ACCEPT_TAKEBACK,
    DECLINE_REMATCH,
    DECLINE_TAKEBACK,
    JOIN,
    MOVE,
    OFFER_DRAW,
    OFFER_REMATCH,
    OFFER_TAKEBACK,
    RESIGN,
    Command,
    GameLog,
    Repeat,
    create_event,
)
from game.server.gamelog import decide as decide_event
from game.timecontrol import parse_time_control

CLUSTER = default_config().cluster_id
#: The fake servers' clock at the local time 0 (ms since the epoch).
EPOCH = 1_700_000_000_000


def outcome_of(command: str, *answers: tuple[int, Any], asked: int | None = None) -> Outcome:
    """The Outcome of answers arriving in this order (a dict is a response,
    a WireError an error, another exception a failure)."""
    arrived = [ServerAnswer.from_outcome(sid, value) for sid, value in answers]
    decision = decide(arrived, asked if asked is not None else len(arrived))
    assert decision is not None
    answered = {sid for sid, _ in answers}
    pending = tuple(sid for sid in (1, 2, 3) if asked == 3 and sid not in answered)
    return Outcome(command, decision, pending)


def doc(version: int = 3, **fields: Any) -> dict[str, Any]:
    """A game document's JSON object (an active Connect Four game by default)."""
    base = {
        "id": "g1",
        "kind": "connect4",
        "version": version,
        "status": "active",
        "players": ["alice", "bob"],
        "to_move": 0,
        "moves": ["4"] * (version - 2),
        "position": "4" * (version - 2),
        "legal": ["1", "2", "3", "4", "5", "6", "7"],
        "draw_offer": None,
        "result": None,
    }
    base.update(fields)
    return base


def typed_doc(version: int = 3, **fields: Any) -> GameDocument:
    """:func:`doc`, typed."""
    return GameDocument.from_mapping(doc(version, **fields))


def game_answer(document: dict[str, Any]) -> dict[str, str]:
    return {"game": json.dumps(document, sort_keys=True, separators=(",", ":"))}


def seat(number: int, game_id: str = "g1", player: str = "alice") -> Seat:
    return Seat(CLUSTER, game_id, number, player, f"token-{number}-0123456789abcdef", "connect4")


class FakeLink:
    def __init__(self, client: FakeClient, server_id: int) -> None:
        self.client = client
        self.server_id = server_id
        self.timeout = 5.0

    def call(self, command: Any, timeout: float | None = None, **kwargs: Any) -> Deferred[Any]:
        self.client.sent.append((self.server_id, command.commandName.decode(), kwargs))
        return succeed({"game": self.client.document(kwargs["game_id"])})


class FakeClient:
    """Three agreeing servers in memory, running the server's decisions.

    ``fault(command, arguments)`` may return an Outcome (or a failed
    Deferred) to answer instead.

    Timed games are roughly faked (the server's rules decide them for real):
    a game created with a ``clock`` carries ``clocks[game_id]`` as its
    document's ``clock`` field, which tests may set to what they need.  With
    ``run_clocks``, joining starts the clock and each move spends the mover's
    time and adds the increment; a change after the deadline answers
    ``FLAGGED``, and a read ``flag_grace`` after it ends the game (the
    servers' own timeout).  ``ClaimTimeout`` compares the ``deadline`` with
    :meth:`server_now`.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.config = default_config()
        self.games: dict[str, GameLog] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.sent: list[tuple[int, str, dict[str, Any]]] = []
        self.active = [1, 2, 3]
        self.inactive: list[int] = []
        self.fault: Callable[[str, dict[str, Any]], Any] = lambda command, arguments: None
        self.links = {sid: FakeLink(self, sid) for sid in (1, 2, 3)}
        self.answers_each: dict[int, Any] = {}
        self.clocks: dict[str, dict[str, Any]] = {}
        #: Games ended on time: their last document.
        self.ended: dict[str, str] = {}
        self.run_clocks = False
        #: Games the servers ended by themselves (not by a claim).
        self.timed_out: list[str] = []

    def server_now(self) -> int:
        return EPOCH + round(self.clock.seconds() * 1000)

    def document(self, game_id: str) -> str:
        """What the servers hold of a game: its log's document, with its clock."""
        if game_id in self.ended:
            return self.ended[game_id]
        text = self.games[game_id].document()
        clock = self.clocks.get(game_id)
        if clock is None:
            return text
        return json.dumps(
            {**json.loads(text), "clock": clock}, sort_keys=True, separators=(",", ":")
        )

    def start(self) -> None:
        pass

    def settled(self) -> Deferred[list[int]]:
        return succeed(list(self.active))

    def stop(self) -> Deferred[None]:
        return succeed(None)

    def _answer(self, command: str, arguments: dict[str, Any], run: Callable[[], str]) -> Any:
        self.requests.append((command, arguments))
        faulty = self.fault(command, arguments)
        if faulty is not None:
            return faulty if isinstance(faulty, Deferred) else succeed(faulty)
        try:
            value: Any = {"game": run()}
        except wire.WireError as error:
            value = error
        return succeed(outcome_of(command, *((sid, value) for sid in self.active)))

    def _change(self, game_id: str, command: Command) -> str:
        game = self.games.get(game_id)
        if game is None:
            raise wire.UnknownGame()
        self._expire(game_id)
        if game_id in self.ended:
            raise wire.GameIsOver()
        clock = self.clocks.get(game_id)
        now = self.server_now()
        deadline = clock["deadline"] if self.run_clocks and clock is not None else None
        if deadline is not None and now > deadline:
            raise wire.Flagged.at(deadline)
        event = decide_event(game, command)
        if not isinstance(event, Repeat):
            game.append(event)
            if self.run_clocks and clock is not None:
                self._run_clock(game_id, clock, now)
        return self.document(game_id)

    def _run_clock(self, game_id: str, clock: dict[str, Any], now: int) -> None:
        held = json.loads(self.games[game_id].document())
        control = parse_time_control(clock["control"])
        remaining = list(clock["remaining"])
        if clock["at"] is not None and held["moves"]:
            mover = 1 - held["to_move"] if held["to_move"] is not None else 0
            remaining[mover] += control.increment_ms - (now - clock["at"])
        if held["status"] != "active":
            self.clocks[game_id] = {**clock, "remaining": remaining, "at": None, "deadline": None}
            return
        deadline = now + remaining[held["to_move"]]
        self.clocks[game_id] = {**clock, "remaining": remaining, "at": now, "deadline": deadline}

    def _expire(self, game_id: str) -> None:
        """The servers' own timeout, ``flag_grace`` after the deadline."""
        clock = self.clocks.get(game_id)
        if not self.run_clocks or clock is None or clock["deadline"] is None:
            return
        if game_id in self.ended:
            return
        grace = round(1000 * self.config.tuning.flag_grace)
        if self.server_now() > clock["deadline"] + grace:
            self._end_on_time(game_id, clock)
            self.timed_out.append(game_id)

    def _end_on_time(self, game_id: str, clock: dict[str, Any]) -> str:
        held = json.loads(self.document(game_id))
        loser = held["to_move"]
        remaining = list(clock["remaining"])
        remaining[loser] = 0
        held.update(
            version=held["version"] + 1, status="finished", to_move=None, legal=[],
            draw_offer=None, result={"winner": 1 - loser, "reason": "time"},
            clock={**clock, "remaining": remaining, "at": None, "deadline": None},
        )  # fmt: skip
        self.ended[game_id] = json.dumps(held, sort_keys=True, separators=(",", ":"))
        return self.ended[game_id]

    def create_game(
        self,
        game_id: str,
        kind: str,
        player: str,
        token: str,
        seat: int = 0,
        clock: str | None = None,
    ) -> Any:
        def run() -> str:
            if game_id in self.games:
                raise wire.GameExists()
            self.games[game_id] = GameLog(game_id, create_event(kind, player, seat, token, game_id))
            if clock:
                base = parse_time_control(clock).base_ms
                self.clocks[game_id] = {
                    "control": clock, "remaining": [base, base], "at": None, "deadline": None
                }  # fmt: skip
            return self.document(game_id)

        arguments = {"game_id": game_id, "kind": kind, **({"clock": clock} if clock else {})}
        return self._answer("CreateGame", arguments, run)

    def claim_timeout(self, game_id: str, version: int, token: str) -> Any:
        def run() -> str:
            game = self.games.get(game_id)
            if game is None:
                raise wire.UnknownGame()
            clock = self.clocks.get(game_id)
            if clock is None:
                raise wire.BadRequest("ClaimTimeout: the game is untimed")
            self._expire(game_id)
            if json.loads(self.document(game_id))["status"] == "finished":
                raise wire.GameIsOver()
            if clock["deadline"] is None or self.server_now() <= clock["deadline"]:
                raise wire.TimeLeft()
            return self._end_on_time(game_id, clock)

        arguments = {"game_id": game_id, "version": version}
        return self._answer("ClaimTimeout", arguments, run)

    def join_game(self, game_id: str, version: int, player: str, token: str) -> Any:
        command = Command(JOIN, version, token, player=player)
        arguments = {"game_id": game_id, "version": version}
        return self._answer("JoinGame", arguments, lambda: self._change(game_id, command))

    def make_move(self, game_id: str, version: int, move: str, token: str) -> Any:
        command = Command(MOVE, version, token, move=move)
        arguments = {"game_id": game_id, "version": version, "move": move}
        return self._answer("MakeMove", arguments, lambda: self._change(game_id, command))

    def _simple(self, name: str, kind: str, game_id: str, version: int, token: str) -> Any:
        command = Command(kind, version, token)
        arguments = {"game_id": game_id, "version": version}
        return self._answer(name, arguments, lambda: self._change(game_id, command))

    def resign(self, game_id: str, version: int, token: str) -> Any:
        return self._simple("Resign", RESIGN, game_id, version, token)

    def offer_draw(self, game_id: str, version: int, token: str) -> Any:
        return self._simple("OfferDraw", OFFER_DRAW, game_id, version, token)

    def accept_draw(self, game_id: str, version: int, token: str) -> Any:
        return self._simple("AcceptDraw", ACCEPT_DRAW, game_id, version, token)

    # Takebacks and rematches, decided by the server's rules.

    def offer_takeback(self, game_id: str, version: int, token: str) -> Any:
        return self._simple("OfferTakeback", OFFER_TAKEBACK, game_id, version, token)

    def accept_takeback(self, game_id: str, version: int, token: str) -> Any:
        return self._simple("AcceptTakeback", ACCEPT_TAKEBACK, game_id, version, token)

    def decline_takeback(self, game_id: str, version: int, token: str) -> Any:
        return self._simple("DeclineTakeback", DECLINE_TAKEBACK, game_id, version, token)

    def offer_rematch(
        self, game_id: str, version: int, token: str, rematch_id: str, rematch_token: str
    ) -> Any:
        command = Command(
            OFFER_REMATCH, version, token, rematch_id=rematch_id, rematch_token=rematch_token
        )
        arguments = {"game_id": game_id, "version": version, "rematch_id": rematch_id}

        def run() -> str:
            if rematch_id in self.games:
                raise wire.GameExists()
            return self._change(game_id, command)

        return self._answer("OfferRematch", arguments, run)

    def accept_rematch(self, game_id: str, version: int, token: str, rematch_token: str) -> Any:
        command = Command(ACCEPT_REMATCH, version, token, rematch_token=rematch_token)

        def run() -> str:
            self._change(game_id, command)
            game = self.games[game_id]
            accept = game.events[version]
            assert accept.rematch is not None
            if accept.rematch not in self.games:
                create, join = game.rematch_events(accept)
                self.games[accept.rematch] = new = GameLog(accept.rematch, create)
                new.append_checked(join)
            return self.document(accept.rematch)

        arguments = {"game_id": game_id, "version": version}
        return self._answer("AcceptRematch", arguments, run)

    def decline_rematch(self, game_id: str, version: int, token: str) -> Any:
        return self._simple("DeclineRematch", DECLINE_REMATCH, game_id, version, token)

    def _read(self, game_id: str) -> str:
        if game_id not in self.games:
            raise wire.UnknownGame()
        self._expire(game_id)
        return self.document(game_id)

    def get_game(self, game_id: str) -> Any:
        return self._answer("GetGame", {"game_id": game_id}, lambda: self._read(game_id))

    def sync_game(self, game_id: str) -> Any:
        return self._answer("SyncGame", {"game_id": game_id}, lambda: self._read(game_id))

    def watch(self, game_id: str, listener: Callable[[WatchUpdate], None]) -> Any:
        self.watched = (game_id, listener)
        return self

    def current(self) -> WatchUpdate | None:
        return self.latest

    latest: WatchUpdate | None = None

    def ask_each(self, command: Any, **arguments: Any) -> Deferred[dict[int, Any]]:
        self.requests.append((command.commandName.decode(), arguments))
        if self.answers_each:
            return succeed(dict(self.answers_each))
        try:
            value: Any = {"game": self._read(arguments["game_id"])}
        except wire.WireError as error:
            value = error
        return succeed({sid: value for sid in self.active})
