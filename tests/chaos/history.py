"""What the bots asked, what each server answered, and what the client decided.

A :class:`Recorder` wraps requests made through the real
:class:`~game.client.client.ReplicatedClient`.  It taps each of the client's
server links (an instance attribute over ``ServerLink.call``; the client code
is unchanged), so it sees every server's answer to a request, including the
ones that arrive after the client already decided.  Tokens are never
recorded: a request names the seat instead.

Records are plain values that round-trip through JSON, so that the checker
(:mod:`tests.chaos.checker`) can be run again on a saved history.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any, Final

import attrs
from twisted.python.failure import Failure

from game import errors as wire
from game import protocol as p
from game.client.client import NoAnswer, NoServers, Outcome, ReplicatedClient
from game.client.majority import OK

# Decisions of a request, as the client took it.
ACK: Final = "ack"  # a success two servers gave identically: acknowledged
PROVISIONAL: Final = "provisional"  # a success without a majority
ERROR: Final = "error"  # the servers answered an error (majority or not)
NO_ANSWER: Final = "noanswer"  # nothing that counts as an answer
NO_SERVERS: Final = "noservers"  # no link was up: nothing was sent

#: Commands that change a game (their successful answers are checked).
CHANGES: Final = (
    "CreateGame",
    "JoinGame",
    "MakeMove",
    "Resign",
    "OfferDraw",
    "AcceptDraw",
    "ClaimTimeout",
)
#: Commands that read a game.
READS: Final = ("GetGame", "SyncGame")


def document_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@attrs.define
class Answer:
    """One server's answer: ``kind`` is ``ok``, ``error`` (a wire error tag) or
    ``failed`` (timeout, lost or no connection)."""

    at: float
    kind: str
    version: int | None = None
    hash: str | None = None
    tag: str | None = None
    detail: str = ""

    def describe(self) -> str:
        if self.kind == "ok":
            return f"v{self.version}#{self.hash}"
        if self.kind == "error":
            return f"{self.tag}"
        return f"failed ({self.detail})"


@attrs.define
class RequestRecord:
    """One request of one bot.

    ``args`` holds the arguments without the token; ``seat`` says whose token
    it carried.  ``document`` is the game text the client took, for successful
    game commands.
    """

    seq: int
    game_id: str
    command: str
    args: dict[str, Any]
    seat: int | None
    sent: float
    decided: float | None = None
    asked: list[int] = attrs.Factory(list)
    answers: dict[int, Answer] = attrs.Factory(dict)
    decision: str = NO_ANSWER
    agreed: list[int] = attrs.Factory(list)
    error: str | None = None
    document: str | None = None

    @property
    def is_change(self) -> bool:
        return self.command in CHANGES

    def holders(self) -> list[int]:
        """Servers whose successful answer was the document the client took
        (also those that answered after the client decided)."""
        if self.document is None:
            return []
        wanted = document_hash(self.document)
        return sorted(
            sid
            for sid, answer in self.answers.items()
            if answer.kind == "ok" and answer.hash == wanted
        )

    def describe(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.args.items())
        seat = f" seat {self.seat}" if self.seat is not None else ""
        answers = "; ".join(
            f"{sid}: {answer.describe()} @{answer.at:.2f}"
            for sid, answer in sorted(self.answers.items())
        )
        took = self.decision + (f" {self.error}" if self.error else "")
        if self.document is not None:
            took += f" v{json.loads(self.document)['version']}"
        return (
            f"#{self.seq} t={self.sent:.2f}-{(self.decided or 0):.2f} {self.command}({args}){seat}"
            f" -> {took} agreed {self.agreed} [{answers}]"
        )

    def to_json(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        data["answers"] = {str(sid): attrs.asdict(a) for sid, a in self.answers.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RequestRecord:
        data = dict(data)
        data["answers"] = {int(sid): Answer(**a) for sid, a in data["answers"].items()}
        return cls(**data)


@attrs.frozen
class Wipe:
    """A server's data directory was removed at ``at`` (the process dead)."""

    server_id: int
    at: float


@attrs.define
class History:
    requests: list[RequestRecord] = attrs.Factory(list)
    wipes: list[Wipe] = attrs.Factory(list)

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": [r.to_json() for r in self.requests],
            "wipes": [attrs.asdict(w) for w in self.wipes],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> History:
        return cls(
            [RequestRecord.from_json(r) for r in data["requests"]],
            [Wipe(**w) for w in data["wipes"]],
        )


def _answer_from(result: object, at: float) -> Answer:
    value = result.value if isinstance(result, Failure) else result
    if isinstance(value, wire.WireError):
        return Answer(at, "error", tag=value.tag.decode(), detail=str(value)[:80])
    if isinstance(value, BaseException):
        return Answer(at, "failed", detail=f"{type(value).__name__}")
    if isinstance(value, dict) and "game" in value:
        text = str(value["game"])
        try:
            version = int(json.loads(text)["version"])
        except (ValueError, KeyError, TypeError):
            version = None
        return Answer(at, "ok", version=version, hash=document_hash(text))
    return Answer(at, "ok")


class Recorder:
    """Records every request sent through :meth:`request`.

    :param now: seconds since the start of the run.
    """

    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now
        self.history = History()
        self._current: RequestRecord | None = None

    def tap(self, client: ReplicatedClient) -> None:
        """See every answer of every server of ``client``."""
        for link in client.links.values():
            original = link.call
            server_id = link.server_id

            def call(
                command: type[p.Command],
                timeout: float | None = None,
                _original: Any = original,
                _server_id: int = server_id,
                **kwargs: Any,
            ) -> Any:
                return self._tap(_original(command, timeout=timeout, **kwargs), command, _server_id)

            link.call = call  # type: ignore[method-assign]

            # ReplicatedClient.request sends through send (the request encoded once).
            def send(
                command: type[p.Command],
                arguments: Any,
                _original: Any = link.send,
                _server_id: int = server_id,
            ) -> Any:
                return self._tap(_original(command, arguments), command, _server_id)

            link.send = send  # type: ignore[method-assign]

    def _tap(self, deferred: Any, command: type[p.Command], server_id: int) -> Any:
        """Record that the current request went to ``server_id``, and its answer."""
        record = self._current
        if record is not None and record.command == command.commandName.decode():
            record.asked.append(server_id)
            deferred.addBoth(self._answered, record, server_id)
        return deferred

    def _answered(self, result: object, record: RequestRecord, server_id: int) -> object:
        record.answers[server_id] = _answer_from(result, self.now())
        return result

    def wiped(self, server_id: int) -> None:
        self.history.wipes.append(Wipe(server_id, self.now()))

    async def request(
        self,
        client: ReplicatedClient,
        command: type[p.Command],
        arguments: dict[str, Any],
        seat: int | None = None,
    ) -> Outcome | None:
        """Send ``command`` through ``client``; the Outcome, or None when nothing
        was sent or nothing answered."""
        shown = {key: value for key, value in arguments.items() if key not in ("token", "game_id")}
        record = RequestRecord(
            seq=len(self.history.requests),
            game_id=str(arguments.get("game_id", "")),
            command=command.commandName.decode(),
            args=shown,
            seat=seat,
            sent=self.now(),
        )
        self.history.requests.append(record)
        self._current = record
        try:
            deferred = client.request(command, **arguments)
        finally:
            self._current = None
        try:
            outcome: Outcome = await deferred
        except NoServers:
            record.decision = NO_SERVERS
            record.decided = self.now()
            return None
        record.decided = self.now()
        decision = outcome.decision
        record.agreed = list(decision.agreed)
        chosen = decision.chosen
        if chosen is None:
            record.decision = NO_ANSWER
            return outcome
        if chosen.kind == OK:
            record.decision = PROVISIONAL if decision.provisional else ACK
            try:
                record.document = outcome.document
            except (KeyError, NoAnswer):
                record.document = None
            if not record.is_change and record.command not in ("GetGame", "SyncGame"):
                record.document = None
            elif not record.is_change:
                # Reads: the document only when two servers agreed on it (it
                # re-confirms the changes it holds); else the version only.
                record.args["read_version"] = json.loads(outcome.document)["version"]
                if decision.provisional:
                    record.document = None
        else:
            record.decision = ERROR
            record.error = getattr(chosen.value, "tag", b"?").decode()
            if decision.provisional:
                record.args["error_provisional"] = True
        return outcome


def monotonic_clock() -> Callable[[], float]:
    start = time.monotonic()
    return lambda: time.monotonic() - start
