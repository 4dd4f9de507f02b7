"""The configuration of a replgame cluster, shared by servers and clients.

A cluster is exactly three servers with ids 1, 2 and 3, described in TOML
(see "Configuration of a cluster" in the wire contract)::

    [cluster]
    secret = "a long random string shared by the three servers"

    [[servers]]
    id = 1
    host = "127.0.0.1"
    port = 7301

Everything here is a frozen value.  Every mistake in a file is a
:class:`ConfigError` whose message names the file, the table and the key, so
that a user can fix it without reading this module.

Each TOML key is an attrs field of :class:`ClusterConfig` (``[cluster]``),
:class:`ServerConfig` (``[[servers]]``) or :class:`Tuning` (``[tuning]``),
named as the key, whose metadata is a :class:`Setting`: its type, its bounds
and what it is for; its default is the field's, and a key without one is
required.  One reader (:func:`_read_table`) checks a table against those
fields, and the same checks are the fields' attrs validator, so a value built
in Python is held to the rules of the file.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import os
import tomllib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import attrs

__all__ = [
    "DEFAULT_SOURCE",
    "DEVELOPMENT_SECRET",
    "SERVER_IDS",
    "Bounds",
    "ClusterConfig",
    "ConfigError",
    "ServerConfig",
    "Setting",
    "Tuning",
    "config_from_servers",
    "default_config",
    "load_config",
]

#: The secret of the built-in local cluster; never use it outside a laptop.
DEVELOPMENT_SECRET: Final = "replgame-development-secret-do-not-use-in-production"

#: The ``source`` of :func:`default_config`.
DEFAULT_SOURCE: Final = "built-in local cluster"

#: The ids a cluster must have, exactly.
SERVER_IDS: Final = (1, 2, 3)

_DEFAULT_HOST: Final = "127.0.0.1"
_DEFAULT_PORTS: Final = (7301, 7302, 7303)
#: The built-in cluster's HTTP endpoints (PROTOCOL.md, "Operators' HTTP endpoints").
_DEFAULT_METRICS_PORTS: Final = (7401, 7402, 7403)


class ConfigError(ValueError):
    """A cluster configuration is missing, unreadable or wrong.

    The message says what is wrong and where (file, table, key).
    """


# -- what a key may hold -----------------------------------------------------------


@attrs.frozen
class Bounds:
    """The numbers a setting allows.

    :ivar wording: what the number must be, completing "must be ...".
    :ivar holds: whether a number is allowed.
    """

    wording: str
    holds: Callable[[float], bool]


PORT: Final = Bounds("a port from 1 to 65535", lambda n: 1 <= n <= 65535)
POSITIVE_NUMBER: Final = Bounds("a positive number", lambda n: math.isfinite(n) and n > 0)
POSITIVE_INTEGER: Final = Bounds("a positive integer", lambda n: n > 0)


@attrs.frozen
class Setting:
    """One TOML key, as the metadata of the attrs field that holds it.

    :ivar kind: ``str`` (a non-empty string), ``int`` (an integer, not a
        boolean) or ``float`` (any number; an integer becomes a float).
    :ivar description: what the key is for, in a few words.
    :ivar bounds: for a number, the values allowed.
    :ivar host: whether the string is a host name or address.
    """

    kind: type[str] | type[int] | type[float]
    description: str
    bounds: Bounds | None = None
    host: bool = False

    def problem(self, value: object) -> str | None:
        """What is wrong with ``value`` for this key, or ``None``.

        :return: the end of a sentence that begins with the key's name, e.g.
            ``must be an integer, not a string``.
        """
        if self.kind is str:
            if not isinstance(value, str):
                return f"must be a string, not {_toml_type(value)}"
            if not value.strip():
                return "must not be empty"
            return _host_problem(value) if self.host else None
        # bool before int: bool is a subclass of int.
        if self.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            return f"must be an integer, not {_toml_type(value)}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number, not {_toml_type(value)}"
        if self.bounds is not None and not self.bounds.holds(value):
            return f"must be {self.bounds.wording}, not {value}"
        return None

    def parse(self, value: Any) -> Any:
        """``value``, already checked, as the field holds it."""
        return float(value) if self.kind is float else value


def _host_problem(host: str) -> str | None:
    """What is wrong with a host name or address, or ``None``."""
    if any(c.isspace() for c in host):
        return f"must not contain spaces: {host!r}"
    if host.startswith("[") or host.endswith("]"):
        return f'must be written without brackets: {host!r} (e.g. "::1", not "[::1]")'
    return None


# In this order: bool is a subclass of int, and datetime of date.
_TOML_TYPES: Final = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a float"),
    (str, "a string"),
    (list, "an array"),
    (dict, "a table"),
    (datetime.datetime, "a date-time"),
    (datetime.date, "a date"),
    (datetime.time, "a time"),
)


def _toml_type(value: object) -> str:
    """The TOML name of a parsed value's type, for error messages."""
    return next((name for kind, name in _TOML_TYPES if isinstance(value, kind)), "a value")


_SETTING: Final = "replgame.setting"


def _setting(
    kind: type[str] | type[int] | type[float],
    description: str,
    bounds: Bounds | None = None,
    *,
    host: bool = False,
) -> dict[str, Setting]:
    """The metadata of a field that is a TOML key."""
    return {_SETTING: Setting(kind, description, bounds, host)}


def _settings(cls: type[attrs.AttrsInstance]) -> list[tuple[attrs.Attribute[Any], Setting]]:
    """The fields of ``cls`` that are TOML keys, in order, with their settings."""
    return [(f, f.metadata[_SETTING]) for f in attrs.fields(cls) if _SETTING in f.metadata]


def _check_setting(instance: object, field: attrs.Attribute[Any], value: object) -> None:
    """The attrs validator of every setting: the checks of the file reader.

    :raises ConfigError: naming the class and the key.
    """
    problem = field.metadata[_SETTING].problem(value)
    if problem is not None:
        raise ConfigError(f'{type(instance).__name__} "{field.name}" {problem}')


def _validate_settings(cls: type, fields: list[attrs.Attribute[Any]]) -> list[attrs.Attribute[Any]]:
    """An attrs ``field_transformer``: every setting gets :func:`_check_setting`
    as its validator (``None`` passes where it is the default)."""
    return [
        field.evolve(
            validator=(
                attrs.validators.optional(_check_setting)
                if field.default is None
                else _check_setting
            )
        )
        if _SETTING in field.metadata
        else field
        for field in fields
    ]


# -- the values ------------------------------------------------------------------------


def _escape_endpoint(value: str) -> str:
    """Escape a value for a Twisted endpoint string (IPv6 hosts hold colons).

    :param value: a host name or address.
    :return: ``value`` with ``\\``, ``:`` and ``=`` backslash-escaped.
    """
    return value.replace("\\", "\\\\").replace(":", "\\:").replace("=", "\\=")


def _format_address(host: str, port: int) -> str:
    """Format a client address as ``HOST:PORT``, bracketing IPv6 literals.

    :param host: a host name or address.
    :param port: a TCP port.
    """
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


@attrs.frozen(field_transformer=_validate_settings)
class ServerConfig:
    """One server of the cluster, a ``[[servers]]`` entry: where clients and
    peers reach it.  Each field's :class:`Setting` says what it is."""

    id: int = attrs.field(metadata=_setting(int, "the server's id: 1, 2 or 3"))
    host: str = attrs.field(metadata=_setting(str, "where clients connect", host=True))
    port: int = attrs.field(metadata=_setting(int, "where clients connect", PORT))
    peer_host: str = attrs.field(
        metadata=_setting(str, "where peers connect (default: host)", host=True)
    )
    peer_port: int = attrs.field(
        metadata=_setting(int, "where peers connect (default: port)", PORT)
    )
    listen: str = attrs.field(
        metadata=_setting(
            str, "the endpoint string it listens on (default: tcp:PORT:interface=HOST)"
        )
    )
    data: str = attrs.field(
        metadata=_setting(
            str, "its data directory, relative to the working directory (default: replgame-data/ID)"
        )
    )
    metrics: str | None = attrs.field(
        default=None,
        metadata=_setting(
            str,
            "the endpoint string of its HTTP /metrics, /livez and /readyz (default: none)",
        ),
    )

    @peer_host.default
    def _peer_host_default(self) -> str:
        return self.host

    @peer_port.default
    def _peer_port_default(self) -> int:
        return self.port

    @listen.default
    def _listen_default(self) -> str:
        return f"tcp:{self.port}:interface={_escape_endpoint(self.host)}"

    @data.default
    def _data_default(self) -> str:
        return f"replgame-data/{self.id}"

    @property
    def client_address(self) -> tuple[str, int]:
        """``(host, port)``: where clients connect."""
        return (self.host, self.port)

    @property
    def peer_address(self) -> tuple[str, int]:
        """``(peer_host, peer_port)``: where peers connect."""
        return (self.peer_host, self.peer_port)

    def describe(self) -> str:
        """A short human-readable name, e.g. ``server 2 (127.0.0.1:7302)``."""
        return f"server {self.id} ({_format_address(self.host, self.port)})"


def _seconds(default: float, description: str) -> Any:
    """A field of :class:`Tuning` that is a positive number of seconds."""
    return attrs.field(default=default, metadata=_setting(float, description, POSITIVE_NUMBER))


def _limit(default: int, description: str) -> Any:
    """A field of :class:`Tuning` that is a positive integer."""
    return attrs.field(default=default, metadata=_setting(int, description, POSITIVE_INTEGER))


@attrs.frozen(field_transformer=_validate_settings)
class Tuning:
    """Timeouts (seconds) and limits (bytes, connections) of the cluster, the
    ``[tuning]`` table.  Each field's :class:`Setting` says what it is."""

    startup_wait: float = _seconds(
        3.0, "a server with an existing database serves alone after this if no peer answers"
    )
    catchup_timeout: float = _seconds(5.0, "how long a catch-up from a peer may take")
    anti_entropy_interval: float = _seconds(5.0, "time between anti-entropy rounds")
    heartbeat: float = _seconds(10.0, "time between heartbeats on an idle link")
    request_timeout: float = _seconds(5.0, "how long a client waits for an answer")
    max_box_bytes: int = _limit(262144, "the largest AMP box accepted")
    max_connections: int = _limit(10_000, "the most connections a server accepts at once")
    clock_skew: float = _seconds(
        2.0, "how far a timed request's time may be from the server's clock"
    )
    flag_grace: float = _seconds(
        5.0, "how long past a deadline a server waits before it ends the game itself"
    )

    def __attrs_post_init__(self) -> None:
        # A server's own timeout must come after every move it could still
        # accept as stamped in time (docs/architecture.md, "Time").
        if not self.flag_grace > self.clock_skew:
            raise ConfigError(
                f'Tuning "flag_grace" ({self.flag_grace:g}) must be greater than '
                f'"clock_skew" ({self.clock_skew:g})'
            )


@attrs.frozen(kw_only=True, field_transformer=_validate_settings)
class ClusterConfig:
    """A whole cluster: three servers, the shared secret, TLS and tuning.

    :ivar secret: the ``[cluster]`` secret shared by the servers, or
        ``None`` (allowed for clients; servers call :meth:`require_secret`).
    :ivar tls_ca: the ``[cluster]`` CA certificate that servers are verified
        against (absolute, resolved relative to the configuration file), or
        ``None`` for plain TCP.
    :ivar servers: the three servers, sorted by id (1, 2, 3).
    :ivar tuning: timeouts and limits.
    :ivar source: where this came from: a file path, ``--servers ...`` or
        :data:`DEFAULT_SOURCE`.
    """

    # Not in repr: a logged configuration must not leak the secret.
    secret: str | None = attrs.field(
        default=None, repr=False, metadata=_setting(str, "the secret shared by the servers")
    )
    tls_ca: str | None = attrs.field(
        default=None,
        metadata=_setting(str, "the CA certificate servers are verified against"),
    )
    servers: tuple[ServerConfig, ...]
    tuning: Tuning = attrs.field(factory=Tuning)
    source: str = DEFAULT_SOURCE

    def server(self, id: int) -> ServerConfig:
        """The server with this id.

        :param id: a server id.
        :raises ConfigError: if there is no such server.
        """
        for server in self.servers:
            if server.id == id:
                return server
        ids = ", ".join(str(s.id) for s in self.servers)
        raise ConfigError(f"{self.source}: no server with id {id!r}; the server ids are {ids}")

    def peers_of(self, id: int) -> tuple[ServerConfig, ...]:
        """The servers other than the one with this id.

        :param id: a server id.
        :raises ConfigError: if there is no such server.
        """
        self.server(id)
        return tuple(s for s in self.servers if s.id != id)

    def require_secret(self) -> str:
        """The cluster secret, which every server needs.

        :raises ConfigError: if the configuration has no secret.
        """
        if self.secret is None:
            raise ConfigError(
                f"{self.source} has no [cluster] secret; servers need one shared by all "
                f'three (add secret = "a long random string" under [cluster])'
            )
        return self.secret

    @property
    def cluster_id(self) -> str:
        """A short stable identifier of the cluster, for client-side files.

        The first 16 hex digits of the SHA-256 of the sorted client addresses
        (``HOST:PORT``, host lower-cased), one per line.  It does not involve
        the secret, so clients that have none compute the same value.
        """
        addresses = sorted(_format_address(s.host.lower(), s.port) for s in self.servers)
        digest = hashlib.sha256("\n".join(addresses).encode("utf-8")).hexdigest()
        return digest[:16]


# -- reading TOML ------------------------------------------------------------------------

_TABLES: Final = ("cluster", "servers", "tuning")


def _check_keys(table: Mapping[str, object], known: Iterable[str], where: str) -> None:
    """Refuse keys that are not in ``known``.

    :param where: the table's name, e.g. ``[[servers]] entry 2``.
    :raises ConfigError: naming the first unknown key.
    """
    allowed = tuple(known)
    for key in table:
        if key not in allowed:
            raise ConfigError(f'unknown key "{key}" in {where} (known keys: {", ".join(allowed)})')


def _read_table(cls: type[attrs.AttrsInstance], value: object, where: str) -> dict[str, Any]:
    """Check a TOML table against the settings of ``cls``.

    :param value: the parsed table.
    :param where: the table's name, e.g. ``[[servers]] entry 2``.
    :return: the values the table gives, by field name, for ``cls(**values)``
        (the fields' defaults stand for the keys it leaves out).
    :raises ConfigError: naming the table and the key.
    """
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a table, not {_toml_type(value)}")
    settings = _settings(cls)
    _check_keys(value, (field.name for field, _ in settings), where)
    values: dict[str, Any] = {}
    for field, setting in settings:
        if field.name not in value:
            if field.default is attrs.NOTHING:
                raise ConfigError(f'{where} has no "{field.name}" ({setting.description})')
            continue
        problem = setting.problem(value[field.name])
        if problem is not None:
            raise ConfigError(f'"{field.name}" in {where} {problem}')
        values[field.name] = setting.parse(value[field.name])
    return values


def _read_servers(document: Mapping[str, Any]) -> tuple[ServerConfig, ...]:
    """Every ``[[servers]]`` entry, checked as a cluster and sorted by id."""
    if "servers" not in document:
        raise ConfigError("no [[servers]] entries; a cluster has exactly three (ids 1, 2, 3)")
    entries = document["servers"]
    if not isinstance(entries, list):
        raise ConfigError(
            f'"servers" must be an array of tables ([[servers]]), not {_toml_type(entries)}'
        )
    return _check_cluster(
        [
            ServerConfig(**_read_table(ServerConfig, entry, f"[[servers]] entry {number}"))
            for number, entry in enumerate(entries, 1)
        ]
    )


def _check_cluster(servers: list[ServerConfig]) -> tuple[ServerConfig, ...]:
    """Check that ``servers`` form a cluster; return them sorted by id.

    :param servers: the servers, in the order they were given.
    :raises ConfigError: if there are not exactly three servers with ids
        1, 2 and 3, or two share a client address, a peer address or a
        listen endpoint.
    """
    if len(servers) != len(SERVER_IDS):
        raise ConfigError(
            f"a cluster has exactly three servers (ids 1, 2, 3), but {len(servers)} are given"
        )
    seen: dict[int, int] = {}
    for number, server in enumerate(servers, 1):
        if server.id in seen:
            raise ConfigError(
                f"[[servers]] entries {seen[server.id]} and {number} have the same id {server.id}"
            )
        seen[server.id] = number
    if sorted(seen) != list(SERVER_IDS):
        given = ", ".join(str(i) for i in sorted(seen))
        raise ConfigError(f"server ids must be exactly 1, 2 and 3, not {given}")
    ordered = tuple(sorted(servers, key=lambda s: s.id))
    for i, first in enumerate(ordered):
        for second in ordered[i + 1 :]:
            pair = f"servers {first.id} and {second.id}"
            if first.host.lower() == second.host.lower() and first.port == second.port:
                address = _format_address(first.host, first.port)
                raise ConfigError(f"{pair} have the same client address {address}")
            if first.peer_host.lower() == second.peer_host.lower() and (
                first.peer_port == second.peer_port
            ):
                address = _format_address(first.peer_host, first.peer_port)
                raise ConfigError(f"{pair} have the same peer address {address}")
            if first.listen == second.listen:
                raise ConfigError(f'{pair} have the same listen endpoint "{first.listen}"')
    return ordered


def _read_toml(source: str) -> dict[str, Any]:
    """The parsed file.

    :raises ConfigError: if it is missing, unreadable or not TOML.
    """
    try:
        with open(source, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {source}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: not valid TOML: {e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{source}: not valid TOML: not UTF-8 text ({e.reason})") from None
    except OSError as e:
        raise ConfigError(f"cannot read configuration file {source}: {e.strerror}") from None


def load_config(path: str | os.PathLike[str]) -> ClusterConfig:
    """Read and check a cluster configuration file.

    :param path: the TOML file.  ``tls_ca`` in it is relative to the file's
        directory; ``data`` stays relative to the working directory.
    :return: the cluster, with ``source`` set to ``path``.
    :raises ConfigError: if the file is missing, unreadable, not TOML, or
        not a valid cluster.
    """
    source = os.fspath(path)
    document = _read_toml(source)
    try:
        _check_keys(document, _TABLES, "the top-level table")
        cluster = _read_table(ClusterConfig, document.get("cluster", {}), "[cluster]")
        if "tls_ca" in cluster:
            base = os.path.dirname(os.path.abspath(source))
            cluster["tls_ca"] = os.path.normpath(os.path.join(base, cluster["tls_ca"]))
        servers = _read_servers(document)
        tuning = Tuning(**_read_table(Tuning, document.get("tuning", {}), "[tuning]"))
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None
    return ClusterConfig(servers=servers, tuning=tuning, source=source, **cluster)


def default_config() -> ClusterConfig:
    """The built-in local cluster: 127.0.0.1 ports 7301-7303 (metrics on
    7401-7403), a development secret.

    :return: a cluster whose ``source`` is :data:`DEFAULT_SOURCE`.
    """
    servers = tuple(
        ServerConfig(
            id=server_id,
            host=_DEFAULT_HOST,
            port=port,
            metrics=f"tcp:{metrics_port}:interface={_DEFAULT_HOST}",
        )
        for server_id, port, metrics_port in zip(
            SERVER_IDS, _DEFAULT_PORTS, _DEFAULT_METRICS_PORTS, strict=True
        )
    )
    return ClusterConfig(secret=DEVELOPMENT_SECRET, servers=servers, source=DEFAULT_SOURCE)


# -- --servers HOST:PORT,HOST:PORT,HOST:PORT ----------------------------------------------


def _parse_address(text: str) -> tuple[str, int]:
    """Parse ``HOST:PORT`` or ``[IPV6]:PORT``.

    :param text: one address of a ``--servers`` list.
    :raises ConfigError: if it is not one.
    """
    if text.startswith("["):
        close = text.find("]")
        if close == -1:
            raise ConfigError(f'"{text}" has no closing bracket (expected [IPV6]:PORT)')
        host, rest = text[1:close], text[close + 1 :]
        if not rest.startswith(":"):
            raise ConfigError(f'"{text}" has no port (expected [IPV6]:PORT)')
        port_text = rest[1:]
    else:
        host, colon, port_text = text.rpartition(":")
        if not colon:
            raise ConfigError(f'"{text}" has no port (expected HOST:PORT)')
        if ":" in host:
            raise ConfigError(f'"{text}": write an IPv6 address in brackets, e.g. [::1]:7301')
    if not host or any(c.isspace() or c in "[]" for c in host):
        raise ConfigError(f'"{text}" has no valid host (expected HOST:PORT)')
    if not port_text:
        raise ConfigError(f'"{text}" has no port (expected HOST:PORT)')
    if not (port_text.isascii() and port_text.isdigit()):
        raise ConfigError(f'"{text}" has an invalid port "{port_text}" (expected 1-65535)')
    port = int(port_text)
    if not PORT.holds(port):
        raise ConfigError(f'"{text}" has an invalid port {port} (expected 1-65535)')
    return host, port


def _servers_from_spec(spec: str) -> tuple[ServerConfig, ...]:
    """The servers of a ``--servers`` list, checked as a cluster."""
    parts = [part.strip() for part in spec.split(",")]
    if any(not part for part in parts):
        raise ConfigError(f'"{spec}" has an empty address (expected HOST:PORT,HOST:PORT,HOST:PORT)')
    if len(parts) != len(SERVER_IDS):
        raise ConfigError(
            f"a cluster has exactly three servers, but {len(parts)} are given in "
            f'"{spec}" (expected HOST:PORT,HOST:PORT,HOST:PORT)'
        )
    servers = []
    for server_id, part in zip(SERVER_IDS, parts, strict=True):
        host, port = _parse_address(part)
        servers.append(ServerConfig(id=server_id, host=host, port=port))
    return _check_cluster(servers)


def config_from_servers(spec: str) -> ClusterConfig:
    """A client-side cluster from ``--servers HOST:PORT,HOST:PORT,HOST:PORT``.

    The servers get ids 1, 2 and 3 in the order given; there is no secret,
    no TLS and the default tuning.  IPv6 literals go in brackets:
    ``[::1]:7301``.

    :param spec: the comma-separated list of exactly three addresses.
    :raises ConfigError: if ``spec`` is not three distinct valid addresses.
    """
    try:
        servers = _servers_from_spec(spec)
    except ConfigError as error:
        raise ConfigError(f"--servers: {error}") from None
    return ClusterConfig(servers=servers, source=f"--servers {spec}")
