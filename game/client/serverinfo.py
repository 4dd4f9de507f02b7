"""What ``replgame status`` learns of each server beyond ``Status`` (pure).

A server's ``ServerInfo`` answer (docs/protocol.md) parsed once into a
frozen :class:`ServerInfo`; where its metrics endpoint is to be asked
(:func:`http_target`); and what asking it found (:class:`MetricsCheck`).
The asking itself is :mod:`game.client.livez`; the printing,
:mod:`game.client.reports`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import attrs


class NotHttpTcp(ValueError):
    """A metrics endpoint string this client cannot reach over plain HTTP."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(f"not an HTTP tcp endpoint: {endpoint}")


@attrs.frozen
class CatchUp:
    """A server's last catch-up: when (its clock, ms), why, from whom, how much."""

    at: int
    trigger: str
    peers: tuple[int, ...]
    games: int
    events: int
    bytes: int
    seconds: float


@attrs.frozen
class ServerInfo:
    """One server's ``ServerInfo`` answer.

    :ivar fields: the JSON object as the server sent it (``--json`` passes it
        on, with any field a later version adds).
    """

    server_id: int
    state: str
    #: Why it does not serve (``/readyz``'s text), ``None`` while it serves.
    reason: str | None
    started: int
    now: int
    uptime: float
    connections: int
    watches: int
    peers: tuple[int, ...]
    last_catch_up: CatchUp | None
    metrics: str | None
    fields: dict[str, Any] = attrs.field(eq=False, repr=False, factory=dict)

    @classmethod
    def from_text(cls, text: str) -> ServerInfo:
        """Parse the ``info`` text.

        :raises ValueError: it is not a ``ServerInfo`` object.
        """
        try:
            fields = json.loads(text)
            last = fields["last_catch_up"]
            return cls(
                server_id=int(fields["server_id"]),
                state=str(fields["state"]),
                reason=None if fields["reason"] is None else str(fields["reason"]),
                started=int(fields["started"]),
                now=int(fields["now"]),
                uptime=float(fields["uptime"]),
                connections=int(fields["connections"]),
                watches=int(fields["watches"]),
                peers=tuple(int(peer) for peer in fields["peers"]),
                last_catch_up=None
                if last is None
                else CatchUp(
                    int(last["at"]),
                    str(last["trigger"]),
                    tuple(int(peer) for peer in last["peers"]),
                    int(last["games"]),
                    int(last["events"]),
                    int(last["bytes"]),
                    float(last["seconds"]),
                ),
                metrics=None if fields["metrics"] is None else str(fields["metrics"]),
                fields=fields,
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not a ServerInfo answer: {error!r}") from None


@attrs.frozen
class MetricsCheck:
    """Whether a server's metrics endpoint answered ``GET /livez``."""

    #: The endpoint string asked, ``None`` if none is configured.
    endpoint: str | None
    answers: bool = False
    #: Why it did not answer (empty when it did, or when none is configured).
    error: str = ""

    @property
    def configured(self) -> bool:
        return self.endpoint is not None

    def text(self) -> str:
        """``yes``, ``no (why)`` or ``not configured``."""
        if not self.configured:
            return "not configured"
        return "yes" if self.answers else f"no ({self.error})"

    def as_json(self) -> dict[str, Any]:
        return {
            "configured": self.configured,
            "endpoint": self.endpoint,
            "answers": self.answers,
            "error": self.error,
        }


@attrs.frozen
class ServerDetails:
    """What ``replgame status`` shows of a server beyond ``Status``."""

    #: ``None``: the server did not answer ``ServerInfo`` (down, or older).
    info: ServerInfo | None
    metrics: MetricsCheck


#: Addresses that mean "every interface": dial the server's host instead.
_ANY_ADDRESS = frozenset({"", "0.0.0.0", "::", "::0"})


def http_target(endpoint: str, server_host: str) -> tuple[str, int]:
    """Where to send ``GET /livez`` for a server endpoint string.

    ``tcp:PORT``, ``tcp:PORT:interface=ADDRESS`` (or ``tcp:port=PORT``, or
    the interface given by position, as ``serverFromString`` reads them;
    ``\\:`` escapes a colon): the interface if one is given and is not
    "every address", else ``server_host``.

    :raises NotHttpTcp: for any other kind (``unix:``, ``ssl:``, ...) or a
        malformed string.
    """
    kind, *parts = [part.replace("\\:", ":") for part in re.split(r"(?<!\\):", endpoint.strip())]
    if kind not in ("tcp", "tcp6"):
        raise NotHttpTcp(endpoint)
    positional: list[str] = []
    keywords: dict[str, str] = {}
    for part in parts:
        name, equals, value = part.partition("=")
        if equals:
            keywords[name] = value
        else:
            positional.append(part)
    port_text = keywords.get("port", positional[0] if positional else "")
    interface = keywords.get("interface", positional[1] if len(positional) > 1 else "")
    try:
        port = int(port_text)
    except ValueError:
        raise NotHttpTcp(endpoint) from None
    if not 0 < port < 65536:
        raise NotHttpTcp(endpoint)
    host = server_host if interface in _ANY_ADDRESS else interface
    return host, port
