"""Game documents for view-model tests, built by replaying moves with the rules,
and a fake client that records the controller's requests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from game import errors as wire
from game.client.client import Outcome, ServerStatus
from game.client.document import GameDocument
from game.client.majority import ERROR, OK, Decision, ServerAnswer
from game.client.watching import GameWatch
from game.config import default_config
from game.rules import new_game

WIDTH, HEIGHT = 980, 700

#: Checkers: black (seat 0) double-jumps 12x19x28 with its 5th move and
#: crowns with 28-32 (its 6th); white plays the other moves.
CHECKERS_DOUBLE_JUMP_AND_CROWN = (
    *("10-15", "24-19", "15x24", "27x20", "11-15", "28-24", "9-13", "20-16"),
    *("12x19x28", "32-27", "28-32"),
)
#: Reversi: after these, black (seat 0) has no move but "pass".
REVERSI_BLACK_PASSES = ("c4", "c3", "f5", "b4", "a4", "a5", "b2", "a3")


def document(
    kind: str,
    moves: Sequence[str] = (),
    *,
    players: tuple[str | None, str | None] = ("alice", "bob"),
    result: dict[str, Any] | None = None,
    draw_offer: int | None = None,
    game_id: str = "g1",
) -> dict[str, Any]:
    """The document of a game with ``moves`` played (open if a seat is free)."""
    position = new_game(kind)
    for move in moves:
        position = position.play(move)
    outcome = position.outcome()
    status = "open" if None in players else "active"
    if result is None and outcome is not None:
        result = {"winner": outcome.winner, "reason": outcome.reason}
    if result is not None:
        status = "finished"
    active = status == "active"
    return {
        "id": game_id,
        "kind": kind,
        "version": 1 + (0 if None in players else 1) + len(moves),
        "status": status,
        "players": list(players),
        "to_move": position.to_move if active else None,
        "moves": list(moves),
        "position": position.to_text(),
        "legal": sorted(position.legal_moves()) if active else [],
        "draw_offer": draw_offer,
        "result": result,
    }


def text(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def typed(doc: dict[str, Any]) -> GameDocument:
    """The document as the GUI reads it."""
    return GameDocument.from_mapping(doc)


def timed(
    doc: dict[str, Any],
    control: str = "live:300+3",
    remaining: tuple[int, int] = (300_000, 300_000),
    at: int | None = 0,
) -> dict[str, Any]:
    """``doc`` as a timed game: its clock as of ``at`` (ms on the servers'
    scale), the deadline that of the side to move (none unless active)."""
    active = doc["status"] == "active"
    deadline = at + remaining[doc["to_move"]] if active and at is not None else None
    return {
        **doc,
        "clock": {
            "control": control,
            "remaining": list(remaining),
            "at": at if active else None,
            "deadline": deadline,
        },
    }


class FakeLink:
    def __init__(self, server_id: int) -> None:
        self.server_id = server_id
        self.ready = True
        self.status: ServerStatus | None = ServerStatus(server_id, True, True, 0, 0, "d" * 64)


class FakeClient:
    """Records requests; each answers when the test fires its Deferred."""

    def __init__(self, clock: Clock | None = None) -> None:
        #: The servers' time is this clock's, in ms (plus ``offset_ms``).
        self.clock = clock if clock is not None else Clock()
        self.offset_ms = 0
        self.config = default_config()
        self.links = {server_id: FakeLink(server_id) for server_id in (1, 2, 3)}
        self.watches: dict[str, GameWatch] = {}
        self.link_listeners: list[Any] = []
        self.calls: list[tuple[str, dict[str, Any], Deferred[Any]]] = []

    @property
    def active(self) -> list[int]:
        return [sid for sid, link in self.links.items() if link.ready]

    def watch(self, game_id: str, listener: Any) -> GameWatch:
        watch = self.watches[game_id] = GameWatch(game_id, listener)
        return watch

    def unwatch(self, game_id: str) -> None:
        self.watches.pop(game_id, None)

    def _call(self, name: str, **arguments: Any) -> Deferred[Any]:
        answer: Deferred[Any] = Deferred()
        self.calls.append((name, arguments, answer))
        return answer

    def server_now(self) -> int:
        return int(self.clock.seconds() * 1000) + self.offset_ms

    def create_game(
        self,
        game_id: str,
        kind: str,
        player: str,
        token: str,
        seat: int = 0,
        clock: str | None = None,
    ) -> Any:
        return self._call(
            "create_game",
            game_id=game_id,
            kind=kind,
            player=player,
            token=token,
            seat=seat,
            clock=clock,
        )

    def claim_timeout(self, game_id: str, version: int, token: str) -> Any:
        return self._call("claim_timeout", game_id=game_id, version=version, token=token)

    def join_game(self, game_id: str, version: int, player: str, token: str) -> Any:
        return self._call("join_game", game_id=game_id, version=version, player=player, token=token)

    def make_move(self, game_id: str, version: int, move: str, token: str) -> Any:
        return self._call("make_move", game_id=game_id, version=version, move=move, token=token)

    def resign(self, game_id: str, version: int, token: str) -> Any:
        return self._call("resign", game_id=game_id, version=version, token=token)

    def offer_draw(self, game_id: str, version: int, token: str) -> Any:
        return self._call("offer_draw", game_id=game_id, version=version, token=token)

    def accept_draw(self, game_id: str, version: int, token: str) -> Any:
        return self._call("accept_draw", game_id=game_id, version=version, token=token)

    def get_game(self, game_id: str) -> Any:
        return self._call("get_game", game_id=game_id)

    def sync_game(self, game_id: str) -> Any:
        return self._call("sync_game", game_id=game_id)

    def move_clocks(self, game_id: str) -> Any:
        return self._call("move_clocks", game_id=game_id)

    def list_games(self, **arguments: Any) -> Any:
        return self._call("list_games", **arguments)

    def pop(self, name: str) -> tuple[dict[str, Any], Deferred[Any]]:
        for index, (called, arguments, answer) in enumerate(self.calls):
            if called == name:
                del self.calls[index]
                return arguments, answer
        raise AssertionError(f"no {name} call among {[c[0] for c in self.calls]}")

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]


def ok(doc: dict[str, Any], agreed: tuple[int, ...] = (1, 2, 3), provisional: bool = False) -> Any:
    chosen = ServerAnswer(agreed[0], OK, {"game": text(doc)})
    return Outcome("X", Decision(chosen, provisional, agreed, (), (), (chosen,)))


def refused(error: wire.WireError) -> Any:
    chosen = ServerAnswer(1, ERROR, error)
    return Outcome("X", Decision(chosen, False, (1, 2, 3), (), (), (chosen,)))
