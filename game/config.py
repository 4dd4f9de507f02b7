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
    "ClusterConfig",
    "ConfigError",
    "ServerAddress",
    "ServerConfig",
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


class ConfigError(ValueError):
    """A cluster configuration is missing, unreadable or wrong.

    The message says what is wrong and where (file, table, key).
    """


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


@attrs.frozen
class ServerConfig:
    """One server of the cluster: where clients and peers reach it.

    :ivar id: 1, 2 or 3.
    :ivar host: where clients connect.
    :ivar port: where clients connect.
    :ivar peer_host: where peers connect (default ``host``).
    :ivar peer_port: where peers connect (default ``port``).
    :ivar listen: the Twisted server endpoint string the server listens on
        (default ``tcp:PORT:interface=HOST``).
    :ivar data: the data directory, relative to the working directory
        (default ``replgame-data/ID``).
    """

    id: int
    host: str
    port: int
    peer_host: str = attrs.field()
    peer_port: int = attrs.field()
    listen: str = attrs.field()
    data: str = attrs.field()

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


#: The same class under the name some callers use for it.
ServerAddress = ServerConfig


@attrs.frozen
class Tuning:
    """Timeouts (seconds) and limits (bytes, connections) of the cluster.

    :ivar startup_wait: a server with an existing database serves alone
        after this if no peer answers.
    :ivar catchup_timeout: how long a catch-up from a peer may take.
    :ivar anti_entropy_interval: time between anti-entropy rounds.
    :ivar heartbeat: time between heartbeats on an idle link.
    :ivar request_timeout: how long a client waits for a server's answer.
    :ivar max_box_bytes: the largest AMP box accepted.
    :ivar max_connections: the most connections a server accepts at once.
    """

    startup_wait: float = 3.0
    catchup_timeout: float = 5.0
    anti_entropy_interval: float = 5.0
    heartbeat: float = 10.0
    request_timeout: float = 5.0
    max_box_bytes: int = 262144
    max_connections: int = 512


@attrs.frozen
class ClusterConfig:
    """A whole cluster: three servers, the shared secret, TLS and tuning.

    :ivar secret: the secret shared by the servers, or ``None`` (allowed
        for clients; servers call :meth:`require_secret`).
    :ivar tls_ca: the path of the CA certificate that servers are verified
        against (absolute, resolved relative to the configuration file), or
        ``None`` for plain TCP.
    :ivar servers: the three servers, sorted by id (1, 2, 3).
    :ivar tuning: timeouts and limits.
    :ivar source: where this came from: a file path, ``--servers ...`` or
        :data:`DEFAULT_SOURCE`.
    """

    # Not in repr: a logged configuration must not leak the secret.
    secret: str | None = attrs.field(repr=False)
    tls_ca: str | None
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


# -- reading TOML --------------------------------------------------------------

_TOP_KEYS: Final = ("cluster", "servers", "tuning")
_CLUSTER_KEYS: Final = ("secret", "tls_ca")
_SERVER_KEYS: Final = ("id", "host", "port", "peer_host", "peer_port", "listen", "data")
_REQUIRED_SERVER_KEYS: Final = ("id", "host", "port")
_TUNING_FLOATS: Final = (
    "startup_wait",
    "catchup_timeout",
    "anti_entropy_interval",
    "heartbeat",
    "request_timeout",
)
_TUNING_INTS: Final = ("max_box_bytes", "max_connections")


def _toml_type(value: object) -> str:
    """The TOML name of a parsed value's type, for error messages."""
    # bool before int: bool is a subclass of int.
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime.datetime):
        return "a date-time"
    if isinstance(value, datetime.date):
        return "a date"
    if isinstance(value, datetime.time):
        return "a time"
    return type(value).__name__


class _Reader:
    """Checks parsed TOML, raising errors that name the file, table and key.

    :ivar source: the file name used as the prefix of every message.
    """

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, message: str) -> ConfigError:
        """A :class:`ConfigError` prefixed with the file name."""
        return ConfigError(f"{self.source}: {message}")

    def check_keys(self, table: Mapping[str, Any], known: Iterable[str], where: str) -> None:
        """Reject keys that are not in ``known``.

        :param table: a parsed TOML table.
        :param known: the keys allowed in it.
        :param where: the table's name, e.g. ``[[servers]] entry 2``.
        :raises ConfigError: naming the first unknown key.
        """
        allowed = tuple(known)
        for key in table:
            if key not in allowed:
                raise self.error(
                    f'unknown key "{key}" in {where} (known keys: {", ".join(allowed)})'
                )

    def table(self, value: object, where: str) -> dict[str, Any]:
        """``value`` if it is a table.

        :raises ConfigError: if it is not.
        """
        if not isinstance(value, dict):
            raise self.error(f"{where} must be a table, not {_toml_type(value)}")
        return value

    def string(self, value: object, key: str, where: str) -> str:
        """``value`` if it is a non-empty string.

        :raises ConfigError: if it is not.
        """
        if not isinstance(value, str):
            raise self.error(f'"{key}" in {where} must be a string, not {_toml_type(value)}')
        if not value.strip():
            raise self.error(f'"{key}" in {where} must not be empty')
        return value

    def host(self, value: object, key: str, where: str) -> str:
        """``value`` if it is a usable host name or address.

        :raises ConfigError: if it is not.
        """
        host = self.string(value, key, where)
        if host != host.strip() or any(c.isspace() for c in host):
            raise self.error(f'"{key}" in {where} must not contain spaces: {host!r}')
        if host.startswith("[") or host.endswith("]"):
            raise self.error(
                f'"{key}" in {where} must be written without brackets: {host!r} '
                f'(e.g. "::1", not "[::1]")'
            )
        return host

    def integer(self, value: object, key: str, where: str) -> int:
        """``value`` if it is an integer (booleans are not).

        :raises ConfigError: if it is not.
        """
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f'"{key}" in {where} must be an integer, not {_toml_type(value)}')
        return value

    def port(self, value: object, key: str, where: str) -> int:
        """``value`` if it is a TCP port, 1-65535.

        :raises ConfigError: if it is not.
        """
        port = self.integer(value, key, where)
        if not 1 <= port <= 65535:
            raise self.error(f'"{key}" in {where} must be a port from 1 to 65535, not {port}')
        return port

    def positive_float(self, value: object, key: str, where: str) -> float:
        """``value`` as a float if it is a positive finite number.

        :raises ConfigError: if it is not.
        """
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f'"{key}" in {where} must be a number, not {_toml_type(value)}')
        if not (math.isfinite(value) and value > 0):
            raise self.error(f'"{key}" in {where} must be a positive number, not {value}')
        return float(value)

    def positive_int(self, value: object, key: str, where: str) -> int:
        """``value`` if it is a positive integer.

        :raises ConfigError: if it is not.
        """
        number = self.integer(value, key, where)
        if number <= 0:
            raise self.error(f'"{key}" in {where} must be a positive integer, not {number}')
        return number

    def cluster(self, document: Mapping[str, Any], base: str) -> tuple[str | None, str | None]:
        """The ``[cluster]`` table: ``(secret, tls_ca)``.

        :param document: the whole parsed file.
        :param base: the directory ``tls_ca`` is relative to.
        """
        where = "[cluster]"
        table = self.table(document.get("cluster", {}), where)
        self.check_keys(table, _CLUSTER_KEYS, where)
        secret = None
        if "secret" in table:
            secret = self.string(table["secret"], "secret", where)
        tls_ca = None
        if "tls_ca" in table:
            tls_ca = os.path.normpath(
                os.path.join(base, self.string(table["tls_ca"], "tls_ca", where))
            )
        return secret, tls_ca

    def server(self, value: object, number: int) -> ServerConfig:
        """One ``[[servers]]`` entry.

        :param value: the parsed entry.
        :param number: its position in the file, from 1.
        """
        where = f"[[servers]] entry {number}"
        entry = self.table(value, where)
        self.check_keys(entry, _SERVER_KEYS, where)
        for key in _REQUIRED_SERVER_KEYS:
            if key not in entry:
                raise self.error(f'{where} has no "{key}"')
        server_id = self.integer(entry["id"], "id", where)
        host = self.host(entry["host"], "host", where)
        port = self.port(entry["port"], "port", where)
        optional: dict[str, Any] = {}
        if "peer_host" in entry:
            optional["peer_host"] = self.host(entry["peer_host"], "peer_host", where)
        if "peer_port" in entry:
            optional["peer_port"] = self.port(entry["peer_port"], "peer_port", where)
        if "listen" in entry:
            optional["listen"] = self.string(entry["listen"], "listen", where)
        if "data" in entry:
            optional["data"] = self.string(entry["data"], "data", where)
        return ServerConfig(id=server_id, host=host, port=port, **optional)

    def servers(self, document: Mapping[str, Any]) -> tuple[ServerConfig, ...]:
        """Every ``[[servers]]`` entry, checked as a cluster and sorted by id."""
        if "servers" not in document:
            raise self.error("no [[servers]] entries; a cluster has exactly three (ids 1, 2, 3)")
        entries = document["servers"]
        if not isinstance(entries, list):
            raise self.error(
                f'"servers" must be an array of tables ([[servers]]), not {_toml_type(entries)}'
            )
        servers = [self.server(entry, number) for number, entry in enumerate(entries, 1)]
        return _check_cluster(servers, self.error)

    def tuning(self, document: Mapping[str, Any]) -> Tuning:
        """The optional ``[tuning]`` table."""
        where = "[tuning]"
        table = self.table(document.get("tuning", {}), where)
        self.check_keys(table, _TUNING_FLOATS + _TUNING_INTS, where)
        values: dict[str, Any] = {}
        for key in _TUNING_FLOATS:
            if key in table:
                values[key] = self.positive_float(table[key], key, where)
        for key in _TUNING_INTS:
            if key in table:
                values[key] = self.positive_int(table[key], key, where)
        return Tuning(**values)


def _check_cluster(
    servers: list[ServerConfig], error: Callable[[str], ConfigError]
) -> tuple[ServerConfig, ...]:
    """Check that ``servers`` form a cluster; return them sorted by id.

    :param servers: the servers, in the order they were given.
    :param error: makes a :class:`ConfigError` from a message.
    :raises ConfigError: if there are not exactly three servers with ids
        1, 2 and 3, or two share a client address, a peer address or a
        listen endpoint.
    """
    if len(servers) != len(SERVER_IDS):
        raise error(
            f"a cluster has exactly three servers (ids 1, 2, 3), but {len(servers)} are given"
        )
    seen: dict[int, int] = {}
    for number, server in enumerate(servers, 1):
        if server.id in seen:
            raise error(
                f"[[servers]] entries {seen[server.id]} and {number} have the same id {server.id}"
            )
        seen[server.id] = number
    if sorted(seen) != list(SERVER_IDS):
        given = ", ".join(str(i) for i in sorted(seen))
        raise error(f"server ids must be exactly 1, 2 and 3, not {given}")
    ordered = tuple(sorted(servers, key=lambda s: s.id))
    for i, first in enumerate(ordered):
        for second in ordered[i + 1 :]:
            pair = f"servers {first.id} and {second.id}"
            if first.host.lower() == second.host.lower() and first.port == second.port:
                address = _format_address(first.host, first.port)
                raise error(f"{pair} have the same client address {address}")
            if first.peer_host.lower() == second.peer_host.lower() and (
                first.peer_port == second.peer_port
            ):
                address = _format_address(first.peer_host, first.peer_port)
                raise error(f"{pair} have the same peer address {address}")
            if first.listen == second.listen:
                raise error(f'{pair} have the same listen endpoint "{first.listen}"')
    return ordered


def load_config(path: str | os.PathLike[str]) -> ClusterConfig:
    """Read and check a cluster configuration file.

    :param path: the TOML file.  ``tls_ca`` in it is relative to the file's
        directory; ``data`` stays relative to the working directory.
    :return: the cluster, with ``source`` set to ``path``.
    :raises ConfigError: if the file is missing, unreadable, not TOML, or
        not a valid cluster.
    """
    source = os.fspath(path)
    try:
        with open(source, "rb") as f:
            document = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {source}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: not valid TOML: {e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{source}: not valid TOML: not UTF-8 text ({e.reason})") from None
    except OSError as e:
        raise ConfigError(f"cannot read configuration file {source}: {e.strerror}") from None

    reader = _Reader(source)
    reader.check_keys(document, _TOP_KEYS, "the top-level table")
    base = os.path.dirname(os.path.abspath(source))
    secret, tls_ca = reader.cluster(document, base)
    servers = reader.servers(document)
    tuning = reader.tuning(document)
    return ClusterConfig(
        secret=secret, tls_ca=tls_ca, servers=servers, tuning=tuning, source=source
    )


def default_config() -> ClusterConfig:
    """The built-in local cluster: 127.0.0.1 ports 7301-7303, a development secret.

    :return: a cluster whose ``source`` is :data:`DEFAULT_SOURCE`.
    """
    servers = tuple(
        ServerConfig(id=server_id, host=_DEFAULT_HOST, port=port)
        for server_id, port in zip(SERVER_IDS, _DEFAULT_PORTS, strict=True)
    )
    return ClusterConfig(
        secret=DEVELOPMENT_SECRET,
        tls_ca=None,
        servers=servers,
        tuning=Tuning(),
        source=DEFAULT_SOURCE,
    )


def _parse_address(text: str, error: Callable[[str], ConfigError]) -> tuple[str, int]:
    """Parse ``HOST:PORT`` or ``[IPV6]:PORT``.

    :param text: one address of a ``--servers`` list.
    :param error: makes a :class:`ConfigError` from a message.
    """
    if text.startswith("["):
        close = text.find("]")
        if close == -1:
            raise error(f'"{text}" has no closing bracket (expected [IPV6]:PORT)')
        host, rest = text[1:close], text[close + 1 :]
        if not rest.startswith(":"):
            raise error(f'"{text}" has no port (expected [IPV6]:PORT)')
        port_text = rest[1:]
    else:
        host, colon, port_text = text.rpartition(":")
        if not colon:
            raise error(f'"{text}" has no port (expected HOST:PORT)')
        if ":" in host:
            raise error(f'"{text}": write an IPv6 address in brackets, e.g. [::1]:7301')
    if not host or any(c.isspace() or c in "[]" for c in host):
        raise error(f'"{text}" has no valid host (expected HOST:PORT)')
    if not port_text:
        raise error(f'"{text}" has no port (expected HOST:PORT)')
    if not (port_text.isascii() and port_text.isdigit()):
        raise error(f'"{text}" has an invalid port "{port_text}" (expected 1-65535)')
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise error(f'"{text}" has an invalid port {port} (expected 1-65535)')
    return host, port


def config_from_servers(spec: str) -> ClusterConfig:
    """A client-side cluster from ``--servers HOST:PORT,HOST:PORT,HOST:PORT``.

    The servers get ids 1, 2 and 3 in the order given; there is no secret,
    no TLS and the default tuning.  IPv6 literals go in brackets:
    ``[::1]:7301``.

    :param spec: the comma-separated list of exactly three addresses.
    :raises ConfigError: if ``spec`` is not three distinct valid addresses.
    """
    source = f"--servers {spec}"

    def error(message: str) -> ConfigError:
        return ConfigError(f"--servers: {message}")

    parts = [part.strip() for part in spec.split(",")]
    if any(not part for part in parts):
        raise error(f'"{spec}" has an empty address (expected HOST:PORT,HOST:PORT,HOST:PORT)')
    if len(parts) != len(SERVER_IDS):
        raise error(
            f"a cluster has exactly three servers, but {len(parts)} are given in "
            f'"{spec}" (expected HOST:PORT,HOST:PORT,HOST:PORT)'
        )
    servers = []
    for server_id, part in zip(SERVER_IDS, parts, strict=True):
        host, port = _parse_address(part, error)
        servers.append(ServerConfig(id=server_id, host=host, port=port))
    return ClusterConfig(
        secret=None,
        tls_ca=None,
        servers=_check_cluster(servers, error),
        tuning=Tuning(),
        source=source,
    )
