"""Deciding what the three servers said: a pure function over their answers.

An answer is a success (compared byte for byte: game documents are
canonical JSON) or an error (compared by its tag).  Two identical answers
decide.  Without them, once every asked server has answered or failed, the
earliest answer is taken and marked provisional.  A failure (timeout, lost
connection) is never a vote, and neither is ``NOT_SERVING`` or ``INTERNAL``:
those say the server cannot answer, not what it holds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from game import errors as wire

OK: Final = "ok"
ERROR: Final = "error"
FAILED: Final = "failed"

_PLAIN: Final = (str, int, bool)

#: Errors that mean "this server cannot answer now", not an opinion.
NOT_A_VOTE: Final = (wire.NotServing, wire.Internal)


@attrs.frozen
class ServerAnswer:
    """What one server answered: ``kind`` is OK, ERROR or FAILED."""

    server_id: int
    kind: str
    value: Any  # the response dict, the WireError, or a failure description
    #: What makes two answers identical, or None for a non-vote; computed once,
    #: since deciding compares every answer with every other as they arrive.
    key: tuple[str, Any] | None = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        key: tuple[str, Any] | None = None
        if self.kind == OK:
            key = (OK, _comparable(self.value))
        elif self.kind == ERROR and not isinstance(self.value, NOT_A_VOTE):
            key = (ERROR, self.value.tag)
        object.__setattr__(self, "key", key)

    @classmethod
    def from_outcome(cls, server_id: int, outcome: object) -> ServerAnswer:
        if isinstance(outcome, wire.WireError):
            return cls(server_id, ERROR, outcome)
        if isinstance(outcome, BaseException):
            return cls(server_id, FAILED, f"{type(outcome).__name__}: {outcome}")
        return cls(server_id, OK, outcome)


def _comparable(response: Any) -> Any:
    if type(response) is dict and all(type(v) in _PLAIN for v in response.values()):
        # A game answer ({"game": text}) is compared by its raw text.
        return tuple(sorted(response.items()))
    if isinstance(response, Mapping):
        return tuple(sorted((k, _comparable(v)) for k, v in response.items()))
    if isinstance(response, list):
        return tuple(_comparable(v) for v in response)
    return response


@attrs.frozen
class Decision:
    """The answer a client acts on, and who stood where.

    ``chosen`` is None only when no server gave any answer that counts.
    """

    chosen: ServerAnswer | None
    provisional: bool
    agreed: tuple[int, ...]
    differed: tuple[int, ...]
    failed: tuple[int, ...]
    answers: tuple[ServerAnswer, ...]


def decide(answers: Sequence[ServerAnswer], asked: int) -> Decision | None:
    """Decide from the answers so far (in arrival order), or None to wait.

    :param asked: how many servers the request went to.
    """
    groups: dict[Any, list[ServerAnswer]] = {}
    for answer in answers:
        key = answer.key
        if key is not None:
            groups.setdefault(key, []).append(answer)
            if len(groups[key]) >= 2:
                return _decision(answers, groups[key][0], provisional=False)
    if len(answers) < asked:
        return None
    votes = [answer for answer in answers if answer.key is not None]
    if votes:
        return _decision(answers, votes[0], provisional=True)
    # Nothing but failures and non-votes: report the earliest non-vote error if any.
    errors = [answer for answer in answers if answer.kind == ERROR]
    return _decision(answers, errors[0] if errors else None, provisional=True)


def _decision(
    answers: Sequence[ServerAnswer], chosen: ServerAnswer | None, provisional: bool
) -> Decision:
    key = chosen.key if chosen is not None else None
    agreed = tuple(a.server_id for a in answers if key is not None and a.key == key)
    if chosen is not None and not agreed:
        agreed = (chosen.server_id,)
    failed = tuple(a.server_id for a in answers if a.key is None and a is not chosen)
    differed = tuple(
        a.server_id for a in answers if a.server_id not in agreed and a.server_id not in failed
    )
    return Decision(chosen, provisional, agreed, differed, failed, tuple(answers))


@attrs.frozen
class ListedGame:
    """A game summary in a merged listing; ``provisional`` when no two
    servers gave it identically (then it is the highest version seen)."""

    summary: dict[str, Any]
    provisional: bool
    servers: tuple[int, ...]


@attrs.frozen
class Listing:
    games: tuple[ListedGame, ...]
    next: str


def merge_listings(pages: Mapping[int, tuple[Sequence[str], str]]) -> Listing:
    """Merge the ``ListGames`` pages of several servers per game id.

    A server whose page was full (``next`` not empty) may hold more games
    after its last id, so the merged page stops at the smallest such cursor.
    """
    cursors = [cursor for _, cursor in pages.values() if cursor]
    bound = min(cursors) if cursors else None
    by_id: dict[str, dict[str, list[int]]] = {}
    for server_id, (summaries, _) in sorted(pages.items()):
        for text in summaries:
            game_id = json.loads(text)["id"]
            if bound is None or game_id <= bound:
                by_id.setdefault(game_id, {}).setdefault(text, []).append(server_id)
    games = []
    for game_id in sorted(by_id):
        texts = by_id[game_id]
        agreed = [(text, ids) for text, ids in texts.items() if len(ids) >= 2]
        if agreed:
            text, ids = agreed[0]
            games.append(ListedGame(json.loads(text), False, tuple(ids)))
        else:
            text = max(texts, key=lambda t: json.loads(t)["version"])
            games.append(ListedGame(json.loads(text), True, tuple(texts[text])))
    return Listing(tuple(games), bound or "")
