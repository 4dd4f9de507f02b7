"""Deciding what the three servers said: pure functions over their answers.

:func:`agreed` is the one rule "two of three agree", used for answers
(:func:`decide`), listings (:func:`merge_listings`), watched documents
(:meth:`game.client.watching.GameWatch.current`) and status digests.

An answer is a success (compared byte for byte: game documents are
canonical JSON) or an error (compared by its tag).  Two identical answers
decide.  Without them, once every asked server has answered or failed, the
earliest answer is taken and marked provisional.  A failure (timeout, lost
connection) is never a vote, and neither is ``NOT_SERVING`` or ``INTERNAL``:
those say the server cannot answer, not what it holds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar, cast

import attrs

from game import errors as wire
from game.client.document import GameSummary

OK: Final = "ok"
ERROR: Final = "error"
FAILED: Final = "failed"

_PLAIN: Final = (str, int, bool)

#: Errors that mean "this server cannot answer now", not an opinion.
NOT_A_VOTE: Final = (wire.NotServing, wire.Internal)

T = TypeVar("T")


def agreed(items: Iterable[T], key: Callable[[T], Hashable | None] | None = None) -> tuple[T, ...]:
    """The items that agree: every item whose key (by default the item
    itself) is the first one, in ``items``' order, that two items share;
    ``()`` when no two agree.

    An item whose key is None is not a vote (a failure, a server that does
    not serve).  Of three servers at most one key can be held twice, so the
    order only matters to say which item came first.

    >>> agreed([(1, "a"), (2, "b"), (3, "b")], key=lambda item: item[1])
    ((2, 'b'), (3, 'b'))
    """
    groups: dict[Hashable, list[T]] = {}
    first: Hashable | None = None
    for item in items:
        vote = key(item) if key is not None else cast(Hashable, item)
        if vote is None:
            continue
        group = groups.setdefault(vote, [])
        group.append(item)
        if first is None and len(group) == 2:
            first = vote
    return tuple(groups[first]) if first is not None else ()


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
    first = _first_agreed(answers)
    if first is not None:
        return _decision(answers, first, provisional=False)
    if len(answers) < asked:
        return None
    votes = [answer for answer in answers if answer.key is not None]
    if votes:
        return _decision(answers, votes[0], provisional=True)
    # Nothing but failures and non-votes: report the earliest non-vote error if any.
    errors = [answer for answer in answers if answer.kind == ERROR]
    return _decision(answers, errors[0] if errors else None, provisional=True)


def _first_agreed(answers: Sequence[ServerAnswer]) -> ServerAnswer | None:
    """The first of the answers that agree (``agreed(answers, key=...)[0]``),
    without its grouping: a client decides up to three answers per request."""
    seen: dict[Hashable, ServerAnswer] = {}
    for answer in answers:
        key = answer.key
        if key is None:
            continue
        earlier = seen.get(key)
        if earlier is not None:
            return earlier
        seen[key] = answer
    return None


def _decision(
    answers: Sequence[ServerAnswer], chosen: ServerAnswer | None, provisional: bool
) -> Decision:
    key = chosen.key if chosen is not None else None
    agreed: list[int] = []
    failed: list[int] = []
    differed: list[int] = []
    for answer in answers:
        if key is not None and answer.key == key:
            agreed.append(answer.server_id)
        elif answer.key is None and answer is not chosen:
            failed.append(answer.server_id)
        else:
            differed.append(answer.server_id)
    if chosen is not None and not agreed:
        agreed = [chosen.server_id]
        differed.remove(chosen.server_id)
    return Decision(
        chosen, provisional, tuple(agreed), tuple(differed), tuple(failed), tuple(answers)
    )


@attrs.frozen
class ListedGame:
    """A game summary in a merged listing; ``provisional`` when no two
    servers gave it identically (then it is the highest version seen).

    ``summary`` is the summary's JSON object, ``game`` the same typed.
    """

    summary: dict[str, Any]
    provisional: bool
    servers: tuple[int, ...]
    game: GameSummary = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "game", GameSummary.from_mapping(self.summary))


@attrs.frozen
class Listing:
    games: tuple[ListedGame, ...]
    next: str


def merge_listings(pages: Mapping[int, tuple[Sequence[str], str]]) -> Listing:
    """Merge the ``ListGames`` pages of several servers per game id.

    A server whose page was full (``next`` not empty) may hold more games
    after its last id, so the merged page stops at the smallest such cursor.

    :raises game.client.document.DocumentError: a summary is malformed.
    """
    cursors = [cursor for _, cursor in pages.values() if cursor]
    bound = min(cursors) if cursors else None
    # Per game id, (server id, summary text, summary) in server order.
    by_id: dict[str, list[tuple[int, str, GameSummary]]] = {}
    for server_id, (summaries, _) in sorted(pages.items()):
        for text in summaries:
            summary = GameSummary.from_json(text)
            if bound is None or summary.game_id <= bound:
                by_id.setdefault(summary.game_id, []).append((server_id, text, summary))
    games = []
    for game_id in sorted(by_id):
        held = by_id[game_id]
        majority = agreed(held, key=lambda holding: holding[1])
        provisional = not majority
        if provisional:
            # No two agree: the most advanced summary, from every server that gave it.
            text = max(held, key=lambda holding: holding[2].version)[1]
            majority = tuple(holding for holding in held if holding[1] == text)
        servers = tuple(server_id for server_id, _, _ in majority)
        games.append(ListedGame(json.loads(majority[0][1]), provisional, servers))
    return Listing(tuple(games), bound or "")
