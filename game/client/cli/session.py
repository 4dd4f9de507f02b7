"""One run of a ``replgame`` command: its arguments, the cluster, the
replicated client, the user's seats and where results are printed.

:class:`Session` holds what every command needs from the outside world
(links to the servers, the seat store, stdout), and turns the client's
answers into a printed result or a :class:`~game.client.cli.choices.CliError`.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from game.client import reports
from game.client.cli.choices import CliError, choose_seat, resolve_game
from game.client.client import NoServers, Outcome, ReplicatedClient
from game.client.document import DocumentError, GameDocument
from game.client.tokens import Seat, TokenStore
from game.config import ClusterConfig


class Session:
    """One run of a subcommand: its arguments, the cluster, the client, the output.

    :param reactor: the reactor (a ``Clock`` in tests); ``watch`` also adds
        a shutdown trigger to it (``IReactorCore``).
    """

    def __init__(
        self,
        reactor: IReactorTime,
        args: argparse.Namespace,
        config: ClusterConfig,
        out: IO[str] | None = None,
        store: TokenStore | None = None,
        client: ReplicatedClient | None = None,
    ) -> None:
        self.reactor = reactor
        self.args = args
        self.config = config
        self.out = out or sys.stdout
        self.store = store or TokenStore()
        self.client = client if client is not None else ReplicatedClient(config, reactor)
        self.json = bool(getattr(args, "json", False))
        #: Servers not linked when the last request was sent.
        self.unreachable: list[int] = []
        #: Set once the command is done: links going down now are no news.
        self.closing = False

    @property
    def cluster(self) -> str:
        return self.config.cluster_id

    def emit(self, text: str, data: Mapping[str, Any]) -> None:
        """Print a result: ``text`` for people or ``data`` as one JSON line."""
        if self.json:
            self.out.write(json.dumps(data, sort_keys=True, ensure_ascii=False) + "\n")
        else:
            self.out.write(text.rstrip("\n") + "\n")
        self.out.flush()

    def say(self, text: str) -> None:
        """An information line for people, left out of ``--json`` output."""
        if not self.json:
            self.out.write(text + "\n")

    async def connect(self) -> list[int]:
        """Start the client and wait until each reachable server is linked.

        :raises CliError: no server is reachable.
        """
        self.client.start()
        active = await self.client.settled()
        if not active:
            raise CliError(reports.unreachable_message(self.config))
        return list(active)

    async def request(self, action: str, send: Callable[[], Deferred[Outcome]]) -> Outcome:
        """Send one request and return its outcome, raising :class:`CliError`
        when nobody answered or the servers refused."""
        unreachable = self.unreachable = self.client.inactive
        try:
            outcome = await send()
        except NoServers:
            raise CliError(reports.unreachable_message(self.config)) from None
        if outcome.decision.chosen is None:
            raise CliError(reports.no_answer_message(action, outcome))
        if outcome.error is not None:
            raise CliError(
                reports.refusal_message(action, outcome),
                {**reports.error_fields(outcome), **reports.outcome_fields(outcome, unreachable)},
            )
        return outcome

    def seats(self, game_id: str) -> list[Seat]:
        """The user's seats in a game.

        :raises CliError: the seat store cannot be read.
        """
        try:
            return self.store.find(self.cluster, game_id)
        except OSError as error:
            raise CliError(str(error)) from None

    def game_id(self) -> str:
        """The game the arguments name, a prefix completed from the user's seats."""
        try:
            seats = self.store.seats(self.cluster)
        except OSError:
            seats = []
        return resolve_game(self.args.game, seats)

    def remember(self, seat: Seat) -> None:
        """Keep a seat the servers gave the user.

        :raises CliError: the seat store cannot be written.
        """
        try:
            self.store.add(seat)
        except OSError as error:
            raise CliError(
                f"the servers took the seat but it could not be saved: {error}"
            ) from None

    async def read_game(self, game_id: str, sync: bool = False) -> Outcome:
        """The game, by ``GetGame`` (or ``SyncGame``).

        :raises CliError: no server knows it, or none answered.
        """
        try:
            if sync:
                return await self.request("sync", lambda: self.client.sync_game(game_id))
            return await self.request("read", lambda: self.client.get_game(game_id))
        except CliError as error:
            if error.tag == "UNKNOWN_GAME":
                raise CliError(f"no game {game_id} on the servers", error.data) from None
            raise

    async def read_document(self, game_id: str, sync: bool = False) -> GameDocument:
        """The game as the servers hold it, by ``GetGame`` (or ``SyncGame``).

        :raises CliError: no server knows it, none answered, or the answer
            is not a game document.
        """
        outcome = await self.read_game(game_id, sync)
        try:
            return outcome.game_document()
        except DocumentError as error:
            raise CliError(unreadable(error)) from None

    def show_outcome(
        self,
        outcome: Outcome,
        text: str,
        extra: Mapping[str, Any] | None = None,
        unreachable: Sequence[int] | None = None,
    ) -> None:
        """Print a game answer with its provisional mark and server notes."""
        if unreachable is None:
            unreachable = self.unreachable
        try:
            report = reports.game_report(
                outcome, text, extra, unreachable, now_ms=self.client.server_now()
            )
        except DocumentError as error:
            raise CliError(unreadable(error)) from None
        self.emit(*report)


#: Sends one change for a seat, given the game as last read.
Send = Callable[[GameDocument, Seat], Deferred[Outcome]]
#: Picks the user's seat that acts: ``(seats held, game, --seat)``.
ChooseSeat = Callable[[Sequence[Seat], GameDocument, "int | None"], Seat]


async def act(
    session: Session, action: str, send: Send, choose: ChooseSeat | None = None
) -> tuple[Outcome, Seat, GameDocument]:
    """Read the game, pick the user's seat (:func:`choose_seat` unless
    ``choose``), send; once more after a re-read if the servers say the
    version was stale or they are behind."""
    await session.connect()
    game_id = session.game_id()
    seats = session.seats(game_id)
    document = await session.read_document(game_id)
    for attempt in range(2):
        if choose is None:
            seat = choose_seat(seats, document, action, session.args.seat)
        else:
            seat = choose(seats, document, session.args.seat)
        try:
            outcome = await session.request(action, functools.partial(send, document, seat))
        except CliError as error:
            if attempt == 0 and error.tag in ("STALE_VERSION", "BEHIND"):
                document = await session.read_document(game_id, sync=True)
                continue
            raise
        return outcome, seat, document
    raise AssertionError("unreachable")  # pragma: no cover


def unreadable(error: DocumentError) -> str:
    """The failure of an answer that is not a game document."""
    return f"unreadable answer from the servers: {error}"
