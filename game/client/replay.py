"""Stepping through a game's moves: the position after any number of them.

Pure (the rules and the client's document; no Twisted, no pyglet), shared
by the desktop game's replay controls and ``replgame show GAME --at N``.

:class:`Positions` holds the positions of one game after 0, 1, ..., n of its
moves, each computed once and only when first asked for, by playing the
moves through :mod:`game.rules`.  :class:`Replay` is what a screen shows of
a game: its latest document and how many of its moves are shown.  While it
shows them all it is *live*, and a newer document (a move made, a watched
game going on) moves it along; once stepped back it stays where it is when
new moves arrive, until it is stepped forward to the end or sent
:meth:`~Replay.last`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

import attrs

from game.client.boards import COLOURS, describe_result, render_board, render_header
from game.client.document import GameDocument
from game.rules import Position, new_game

Step = Literal["first", "back", "forward", "last"]
#: The steps, in the order the controls show them.
STEPS: Final[tuple[Step, ...]] = ("first", "back", "forward", "last")


class Positions:
    """The positions of one game after 0..n of its ``moves``, computed lazily
    and once each (from the nearest one already known).

    :param kind: the game kind (:data:`game.rules.KINDS`).
    :param moves: the moves played from the standard start.
    """

    def __init__(self, kind: str, moves: Sequence[str]) -> None:
        self.kind = kind
        self.moves = tuple(moves)
        #: The positions known so far: after 0, 1, ..., len - 1 moves.
        self._known: list[Position] = []

    def __len__(self) -> int:
        return len(self.moves) + 1

    @property
    def computed(self) -> int:
        """How many positions have been computed so far (for tests)."""
        return len(self._known)

    def at(self, played: int) -> Position:
        """The position after the first ``played`` moves.

        :raises IndexError: ``played`` is not in 0..len(moves).
        :raises game.rules.RulesError: a move is not legal there (a document
            the servers would never send).
        """
        if not 0 <= played <= len(self.moves):
            raise IndexError(f"{played} is not a number of moves from 0 to {len(self.moves)}")
        if not self._known:
            self._known.append(new_game(self.kind))
        while len(self._known) <= played:
            self._known.append(self._known[-1].play(self.moves[len(self._known) - 1]))
        return self._known[played]

    def extended(self, moves: Sequence[str]) -> Positions:
        """The positions of ``moves`` (the same game later, or after a takeback),
        keeping those already computed for the moves both share."""
        moves = tuple(moves)
        fresh = Positions(self.kind, moves)
        shared = common_prefix(self.moves, moves)
        fresh._known = self._known[: shared + 1]
        return fresh


def common_prefix(first: Sequence[str], second: Sequence[str]) -> int:
    """How many moves two move lists share from the start."""
    count = 0
    for one, other in zip(first, second, strict=False):
        if one != other:
            break
        count += 1
    return count


def _positions_of(replay: Replay) -> Positions:
    return Positions(replay.document.kind, replay.document.moves)


@attrs.frozen
class Replay:
    """A game as a screen shows it: the latest ``document`` and how many of
    its moves are shown.

    ``at`` is None while following the live game (every move shown), else
    the number of moves shown, from 0 (the start) to one less than all.
    Two replays are equal when they show the same document at the same
    move; the cache of positions is not compared.
    """

    document: GameDocument
    at: int | None = None
    positions: Positions = attrs.field(
        eq=False, repr=False, default=attrs.Factory(_positions_of, takes_self=True)
    )

    @classmethod
    def of(cls, document: GameDocument) -> Replay:
        """``document``, followed live."""
        return cls(document)

    # -- where it stands -------------------------------------------------------------

    @property
    def total(self) -> int:
        """How many moves the game has."""
        return len(self.document.moves)

    @property
    def shown(self) -> int:
        """How many moves are shown (the total while live)."""
        return self.total if self.at is None else self.at

    @property
    def live(self) -> bool:
        """Every move is shown, and new ones will be."""
        return self.at is None

    @property
    def behind(self) -> int:
        """How many moves are not shown."""
        return self.total - self.shown

    @property
    def highlight(self) -> int | None:
        """The number (from 1) of the last move shown, which the move list
        marks; None at the start."""
        return self.shown or None

    def can(self, step: Step) -> bool:
        """Whether ``step`` would show another move."""
        if step in ("first", "back"):
            return self.shown > 0
        return not self.live

    # -- stepping ----------------------------------------------------------------------

    def go(self, played: int) -> Replay:
        """Show the position after ``played`` moves (clamped to the game);
        all of them is live."""
        played = max(0, min(played, self.total))
        return attrs.evolve(self, at=None if played == self.total else played)

    def step(self, step: Step) -> Replay:
        """One of :data:`STEPS`.

        :raises ValueError: not a step.
        """
        if step == "first":
            return self.go(0)
        if step == "back":
            return self.go(self.shown - 1)
        if step == "forward":
            return self.go(self.shown + 1)
        if step == "last":
            return self.go(self.total)
        raise ValueError(f"unknown step {step!r}; expected one of {', '.join(STEPS)}")

    def follow(self, document: GameDocument) -> Replay:
        """A newer document of the game.

        Live, it shows all of the new moves.  Stepped back, it keeps the move
        shown, unless the new document no longer has that move (a takeback,
        a history that lost), in which case it shows the last move both
        share (live when that is all of them).  Another game is followed live.
        """
        old = self.document
        if document.game_id != old.game_id or document.kind != old.kind:
            return Replay.of(document)
        positions = self.positions
        if document.moves != old.moves:
            positions = positions.extended(document.moves)
        if self.at is None:
            return Replay(document, None, positions)
        at = min(self.at, common_prefix(self.document.moves, document.moves))
        return Replay(document, None if at >= len(document.moves) else at, positions)

    # -- what is shown -------------------------------------------------------------------

    def position(self) -> Position:
        """The position shown."""
        return self.positions.at(self.shown)

    def document_at(self) -> GameDocument:
        """The game as it stood after the moves shown: the document itself
        while live, else the moves so far, the position, who was to move and
        their legal moves (no draw offer, result or clock: those are the
        live game's)."""
        if self.live:
            return self.document
        position = self.position()
        return attrs.evolve(
            self.document,
            status="active",
            moves=self.document.moves[: self.shown],
            position=position.to_text(),
            to_move=position.to_move,
            legal=tuple(sorted(position.legal_moves())),
            draw_offer=None,
            result=None,
            clock=None,
        )

    def shown_move(self) -> str | None:
        """The last move shown, None at the start."""
        return self.document.moves[self.shown - 1] if self.shown else None


# -- the move list ---------------------------------------------------------------------------


def move_rows(moves: Sequence[str], marked: int | None = None) -> list[str]:
    """``1. 4  3``: one row per pair of moves, black's first; move number
    ``marked`` (from 1) in brackets, ``2. [3]  5``."""
    rows = []
    for index in range(0, len(moves), 2):
        pair = [
            f"[{move}]" if marked == number else move
            for number, move in enumerate(moves[index : index + 2], start=index + 1)
        ]
        rows.append(f"{index // 2 + 1}. {'  '.join(pair)}")
    return rows


def row_of(number: int) -> int:
    """The row (from 0) of :func:`move_rows` holding move ``number`` (from 1)."""
    return (number - 1) // 2


def resolve_at(at: int, total: int) -> int:
    """The number of moves ``--at`` names: 0 to ``total``, or counted back
    from the end when negative (-1: all but the last move).

    :raises ValueError: out of range, saying how many moves the game has.
    """
    played = total + at if at < 0 else at
    if not 0 <= played <= total:
        moves = "1 move" if total == 1 else f"{total} moves"
        if total == 0:
            raise ValueError(f"the game has no moves yet: --at takes only 0, not {at}")
        raise ValueError(
            f"the game has {moves}: --at takes 0 (the start) to {total}, "
            f"or -1 to -{total} counting back from the end, not {at}"
        )
    return played


# -- as text, for ``replgame show GAME --at N`` -------------------------------------------------

#: The width the move list is wrapped to.
TEXT_WIDTH: Final = 78


def wrapped_rows(rows: Sequence[str], width: int = TEXT_WIDTH, lead: str = "moves: ") -> list[str]:
    """The rows of :func:`move_rows` on lines of at most ``width`` characters
    (a row is never split), the first line after ``lead``."""
    if not rows:
        return [f"{lead}none yet"]
    lines: list[list[str]] = [[]]
    used = len(lead)
    for row in rows:
        if lines[-1] and used + 3 + len(row) > width:
            lines.append([])
            used = len(lead)
        used += (3 if lines[-1] else 0) + len(row)
        lines[-1].append(row)
    indent = " " * len(lead)
    return [(lead if index == 0 else indent) + "   ".join(line) for index, line in enumerate(lines)]


def render_at(replay: Replay) -> str:
    """The game's first header lines, which move is shown and how the game
    stands now, the board as it stood (the board printer of ``replgame
    show``), and the moves with the one shown in brackets."""
    document = replay.document
    shown = replay.document_at()
    position = replay.position()
    over = position.outcome() is not None
    played, total = replay.shown, replay.total
    to_move = "the game is over" if over else f"{COLOURS[position.to_move]} to move"
    if played == 0:
        where = f"position: the start, before move 1 of {total}; {to_move}"
    else:
        mover = COLOURS[(played - 1) % 2]
        where = (
            f"position: after move {played} of {total} ({replay.shown_move()}, {mover}); {to_move}"
        )
    if document.status == "finished":
        now = f"game now: finished, {describe_result(document)}"
    elif document.status == "active" and document.to_move is not None:
        now = f"game now: active, {COLOURS[document.to_move]} to move"
    else:
        now = f"game now: {document.status}"
    lines = [*render_header(document).splitlines()[:2], where, now, "", render_board(shown), ""]
    lines.extend(wrapped_rows(move_rows(document.moves, replay.highlight)))
    return "\n".join(lines)
