"""The replica bar, and which document a screen shows: pure, no pyglet.

A game screen shows one :class:`Shown` document at a time
(:func:`choose_shown` decides between a watch update and an answer); the
bar at the bottom of both screens (:func:`replica_bar`) has one light per
server and says how many servers hold what is shown (:func:`game_replicas`,
:func:`lobby_replicas`), by the client's one rule for "two of three agree",
:func:`game.client.majority.agreed`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

import attrs

from game.client.document import GameDocument
from game.client.majority import agreed
from game.client_gui import palette as colour
from game.client_gui.scene import Box, Label, Layer, Light, Rect

BAR_HEIGHT: Final = 34


@attrs.frozen
class Shown:
    """A game document on screen, and who holds it.

    ``provisional``: no two servers hold it; ``agreed``: the servers that do
    (for a provisional document, the one it comes from).
    """

    text: str
    provisional: bool
    agreed: tuple[int, ...]
    #: ``text``, parsed: equal texts make equal documents, so only the text is compared.
    document: GameDocument = attrs.field(eq=False)

    @classmethod
    def of(cls, text: str, provisional: bool, agreed: Iterable[int]) -> Shown:
        """:raises game.client.document.DocumentError: ``text`` is not a game document."""
        return cls(text, provisional, tuple(agreed), GameDocument.from_json(text))

    @property
    def version(self) -> int:
        return self.document.version


def choose_shown(current: Shown | None, incoming: Shown) -> Shown:
    """Which document to show when a new view of the game arrives.

    A majority view replaces anything but a majority view of a higher
    version (a watch lagging behind an acknowledged answer).  A provisional
    view replaces a provisional one, or a majority one of a lower version.
    """
    if current is None:
        return incoming
    if not incoming.provisional:
        if current.provisional or incoming.version >= current.version:
            return incoming
        return current
    if current.provisional or incoming.version > current.version:
        return incoming
    return current


@attrs.frozen
class ServerView:
    """One server as the client sees it."""

    server_id: int
    reachable: bool
    serving: bool
    #: Holds what is shown (the game document, or in the lobby the majority digest).
    holds_shown: bool


def light_state(server: ServerView) -> str:
    """``agree`` (green), ``differ`` (amber) or ``down`` (red)."""
    if not server.reachable:
        return "down"
    if server.serving and server.holds_shown:
        return "agree"
    return "differ"


@attrs.frozen
class Replicas:
    servers: tuple[ServerView, ...]
    agreement: str
    provisional: bool = False


def game_replicas(
    links: Mapping[int, tuple[bool, bool]],
    holdings: Mapping[int, str | None],
    shown: Shown | None,
) -> Replicas:
    """The replica bar of a game screen.

    :param links: per server, (reachable, serving).
    :param holdings: per server, the document its watch last delivered.
    """
    servers = tuple(
        ServerView(
            server_id,
            reachable,
            serving,
            shown is not None and reachable and holdings.get(server_id) == shown.text,
        )
        for server_id, (reachable, serving) in sorted(links.items())
    )
    total = len(links)
    if not any(reachable for reachable, _ in links.values()):
        return Replicas(servers, "no server reachable", True)
    if shown is None:
        return Replicas(servers, "waiting for the servers", False)
    if shown.provisional:
        source = shown.agreed[0] if shown.agreed else "?"
        return Replicas(servers, f"no majority: provisional, showing server {source}", True)
    # Servers that hold it by their watch, or that answered it and are still linked.
    holders = {server.server_id for server in servers if server.holds_shown}
    holders |= {sid for sid in shown.agreed if links.get(sid, (False, False))[0]}
    return Replicas(servers, f"{len(holders)} of {total}", False)


def lobby_replicas(statuses: Mapping[int, tuple[bool, bool, str]]) -> Replicas:
    """The replica bar of the lobby, from each server's (reachable, serving, digest).

    The games listed are those of two serving servers with the same digest;
    without them, of the first serving server.
    """
    serving = [
        (server_id, digest)
        for server_id, (reachable, up, digest) in sorted(statuses.items())
        if reachable and up
    ]
    majority = agreed(serving, key=lambda held: held[1])
    best = [server_id for server_id, _ in majority or serving[:1]]
    servers = tuple(
        ServerView(server_id, reachable, serving, server_id in best)
        for server_id, (reachable, serving, _) in sorted(statuses.items())
    )
    total = len(statuses)
    if not any(reachable for reachable, _, _ in statuses.values()):
        return Replicas(servers, "no server reachable", True)
    if len(best) >= 2:
        return Replicas(servers, f"{len(best)} of {total}", False)
    if best:
        return Replicas(servers, f"no majority: provisional, showing server {best[0]}", True)
    return Replicas(servers, "no server serving yet", True)


def replica_bar(replicas: Replicas, width: int) -> Layer:
    """The bar at the bottom: a light per server, then the agreement."""
    boxes = [Box(Rect(0, 0, width, BAR_HEIGHT), colour.PANEL)]
    lights = []
    labels = [Label("servers", 10, BAR_HEIGHT / 2, 10, colour.DIM_TEXT, "left", "center")]
    x = 70
    for server in replicas.servers:
        state = light_state(server)
        lights.append(
            Light(
                server.server_id,
                Rect(x, 8, 18, 18),
                colour.LIGHT_COLOURS[state],
                state,
            )
        )
        labels.append(
            Label(str(server.server_id), x + 23, BAR_HEIGHT / 2, 10, colour.TEXT, "left", "center")
        )
        x += 44
    agreement_colour = colour.NOTICE_TEXT if replicas.provisional else colour.TEXT
    labels.append(
        Label(
            f"agreement: {replicas.agreement}",
            x + 10,
            BAR_HEIGHT / 2,
            11,
            agreement_colour,
            "left",
            "center",
        )
    )
    return Layer(boxes=tuple(boxes), lights=tuple(lights), labels=tuple(labels))
