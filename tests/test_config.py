"""Tests for :mod:`game.config`."""

from __future__ import annotations

import os
import textwrap

import attrs
from twisted.trial.unittest import SynchronousTestCase

from game.config import (
    DEFAULT_SOURCE,
    DEVELOPMENT_SECRET,
    ClusterConfig,
    ConfigError,
    ServerConfig,
    Tuning,
    config_from_servers,
    default_config,
    load_config,
)

# The example of the wire contract, with servers 2 and 3 written out.
EXAMPLE = """\
[cluster]
secret = "a long random string shared by the three servers"
# tls_ca = "ca.pem"

[[servers]]
id = 1
host = "127.0.0.1"        # where clients connect
port = 7301

[[servers]]
id = 2
host = "127.0.0.1"
port = 7302

[[servers]]
id = 3
host = "127.0.0.1"
port = 7303
"""

SERVER_1 = '[[servers]]\nid = 1\nhost = "127.0.0.1"\nport = 7301\n'
SERVER_2 = '[[servers]]\nid = 2\nhost = "127.0.0.1"\nport = 7302\n'
SERVER_3 = '[[servers]]\nid = 3\nhost = "127.0.0.1"\nport = 7303\n'
SECRET = '[cluster]\nsecret = "s3cret"\n'


def three_servers(*, first: str = "", second: str = "", third: str = "") -> str:
    """Three valid server entries, each with extra lines appended."""
    return f"{SERVER_1}{first}\n{SERVER_2}{second}\n{SERVER_3}{third}\n"


class ConfigTestCase(SynchronousTestCase):
    def write(self, text: str, name: str = "cluster.toml") -> str:
        """Write ``text`` to a new file in a new temporary directory."""
        directory = self.mktemp()
        os.makedirs(directory)
        path = os.path.join(directory, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(text))
        return path

    def load(self, text: str) -> ClusterConfig:
        return load_config(self.write(text))

    def assert_error(self, text: str, *fragments: str) -> str:
        """Loading ``text`` fails with a message naming the file and ``fragments``."""
        path = self.write(text)
        error = self.assertRaises(ConfigError, load_config, path)
        message = str(error)
        self.assertIn(path, message)
        for fragment in fragments:
            self.assertIn(fragment, message)
        return message


class ExampleTests(ConfigTestCase):
    def test_example_with_defaults(self) -> None:
        path = self.write(EXAMPLE)
        config = load_config(path)
        self.assertEqual(config.secret, "a long random string shared by the three servers")
        self.assertIsNone(config.tls_ca)
        self.assertEqual(config.source, path)
        self.assertEqual(config.tuning, Tuning())
        self.assertEqual(
            config.tuning,
            Tuning(
                startup_wait=3,
                catchup_timeout=5,
                anti_entropy_interval=5,
                heartbeat=10,
                request_timeout=5,
                max_box_bytes=262144,
                max_connections=10_000,
            ),
        )
        self.assertEqual(
            config.servers,
            tuple(
                ServerConfig(
                    id=i,
                    host="127.0.0.1",
                    port=7300 + i,
                    peer_host="127.0.0.1",
                    peer_port=7300 + i,
                    listen=f"tcp:{7300 + i}:interface=127.0.0.1",
                    data=f"replgame-data/{i}",
                )
                for i in (1, 2, 3)
            ),
        )
        self.assertEqual(config.require_secret(), config.secret)

    def test_servers_sorted_by_id(self) -> None:
        config = self.load(SECRET + SERVER_3 + SERVER_1 + SERVER_2)
        self.assertEqual([s.id for s in config.servers], [1, 2, 3])
        self.assertEqual([s.port for s in config.servers], [7301, 7302, 7303])

    def test_server_lookup(self) -> None:
        config = self.load(EXAMPLE)
        self.assertEqual(config.server(2).port, 7302)
        self.assertEqual([s.id for s in config.peers_of(2)], [1, 3])
        error = self.assertRaises(ConfigError, config.server, 4)
        self.assertIn("no server with id 4", str(error))
        self.assertIn("1, 2, 3", str(error))
        self.assertRaises(ConfigError, config.peers_of, 0)

    def test_every_optional_key(self) -> None:
        path = self.write(
            """\
            [cluster]
            secret = "s"
            tls_ca = "certs/ca.pem"

            [[servers]]
            id = 1
            host = "game1.example.org"
            port = 7301
            peer_host = "10.0.0.1"
            peer_port = 7401
            listen = "ssl:7301:interface=0.0.0.0:privateKey=key.pem"
            data = "/var/lib/replgame"

            [[servers]]
            id = 2
            host = "::1"
            port = 7302

            [[servers]]
            id = 3
            host = "game3.example.org"
            port = 7303

            [tuning]
            startup_wait = 0.5
            catchup_timeout = 6
            anti_entropy_interval = 7.25
            heartbeat = 11
            request_timeout = 2
            max_box_bytes = 100000
            max_connections = 64
            """
        )
        config = load_config(path)
        directory = os.path.dirname(os.path.abspath(path))
        self.assertEqual(config.tls_ca, os.path.join(directory, "certs", "ca.pem"))
        self.assertTrue(os.path.isabs(config.tls_ca or ""))
        self.assertEqual(
            config.server(1),
            ServerConfig(
                id=1,
                host="game1.example.org",
                port=7301,
                peer_host="10.0.0.1",
                peer_port=7401,
                listen="ssl:7301:interface=0.0.0.0:privateKey=key.pem",
                data="/var/lib/replgame",
            ),
        )
        self.assertEqual(config.server(1).client_address, ("game1.example.org", 7301))
        self.assertEqual(config.server(1).peer_address, ("10.0.0.1", 7401))
        # An IPv6 host is escaped in the default endpoint string.
        self.assertEqual(config.server(2).listen, "tcp:7302:interface=\\:\\:1")
        self.assertEqual(
            config.tuning,
            Tuning(
                startup_wait=0.5,
                catchup_timeout=6.0,
                anti_entropy_interval=7.25,
                heartbeat=11.0,
                request_timeout=2.0,
                max_box_bytes=100000,
                max_connections=64,
            ),
        )
        self.assertIsInstance(config.tuning.catchup_timeout, float)

    def test_data_stays_relative(self) -> None:
        config = self.load(SECRET + three_servers(first='data = "d/one"\n'))
        self.assertEqual(config.server(1).data, "d/one")

    def test_tls_ca_absolute(self) -> None:
        absolute = os.path.abspath(os.path.join(self.mktemp(), "ca.pem"))
        config = self.load(f'[cluster]\ntls_ca = "{absolute}"\n' + three_servers())
        self.assertEqual(config.tls_ca, absolute)

    def test_path_like(self) -> None:
        from pathlib import Path

        path = Path(self.write(EXAMPLE))
        self.assertEqual(load_config(path).source, str(path))

    def test_frozen(self) -> None:
        config = self.load(EXAMPLE)
        self.assertRaises(attrs.exceptions.FrozenInstanceError, setattr, config, "secret", "x")
        self.assertRaises(
            attrs.exceptions.FrozenInstanceError, setattr, config.servers[0], "port", 1
        )

    def test_secret_not_in_repr(self) -> None:
        self.assertNotIn("shared by the three", repr(self.load(EXAMPLE)))


class SecretTests(ConfigTestCase):
    def test_missing_secret_allowed_for_clients(self) -> None:
        for text in (three_servers(), "[cluster]\n" + three_servers()):
            path = self.write(text)
            config = load_config(path)
            self.assertIsNone(config.secret)
            error = self.assertRaises(ConfigError, config.require_secret)
            self.assertIn(path, str(error))
            self.assertIn("has no [cluster] secret; servers need one", str(error))

    def test_secret_type(self) -> None:
        self.assert_error(
            "[cluster]\nsecret = 12\n" + three_servers(),
            '"secret" in [cluster] must be a string, not an integer',
        )

    def test_secret_empty(self) -> None:
        self.assert_error(
            '[cluster]\nsecret = ""\n' + three_servers(), '"secret" in [cluster] must not be empty'
        )

    def test_tls_ca_type(self) -> None:
        self.assert_error(
            "[cluster]\ntls_ca = true\n" + three_servers(),
            '"tls_ca" in [cluster] must be a string, not a boolean',
        )


class FileErrorTests(ConfigTestCase):
    def test_not_found(self) -> None:
        path = os.path.join(self.mktemp(), "missing.toml")
        error = self.assertRaises(ConfigError, load_config, path)
        self.assertEqual(str(error), f"configuration file not found: {path}")

    def test_unreadable(self) -> None:
        directory = self.mktemp()
        os.makedirs(directory)
        # A directory cannot be read as a file, whoever runs the tests.
        error = self.assertRaises(ConfigError, load_config, directory)
        self.assertIn(f"cannot read configuration file {directory}", str(error))

    def test_syntax_error(self) -> None:
        message = self.assert_error(EXAMPLE + "\nport = = 3\n", "not valid TOML", "line 20")
        self.assertNotIn("Traceback", message)

    def test_duplicate_key_is_syntax_error(self) -> None:
        self.assert_error(SECRET + three_servers(first="port = 7309\n"), "not valid TOML")

    def test_not_utf8(self) -> None:
        path = self.write("")
        with open(path, "wb") as f:
            f.write(b'[cluster]\nsecret = "\xff"\n')
        error = self.assertRaises(ConfigError, load_config, path)
        self.assertIn("not valid TOML", str(error))

    def test_is_value_error(self) -> None:
        self.assertTrue(issubclass(ConfigError, ValueError))


class UnknownKeyTests(ConfigTestCase):
    def test_top_level(self) -> None:
        self.assert_error(
            EXAMPLE + "\n[servers_extra]\nx = 1\n",
            'unknown key "servers_extra" in the top-level table',
        )

    def test_top_level_value(self) -> None:
        self.assert_error("secret = 'x'\n" + EXAMPLE, 'unknown key "secret" in the top-level table')

    def test_cluster(self) -> None:
        self.assert_error(
            '[cluster]\nsecret = "s"\nsecrets = "t"\n' + three_servers(),
            'unknown key "secrets" in [cluster]',
        )

    def test_server_entry(self) -> None:
        self.assert_error(
            SECRET + three_servers(second="prot = 7302\n"),
            'unknown key "prot" in [[servers]] entry 2',
        )

    def test_server_entry_position_is_file_order(self) -> None:
        self.assert_error(
            SECRET + SERVER_3 + SERVER_1 + "peer = 1\n" + SERVER_2,
            'unknown key "peer" in [[servers]] entry 2',
        )

    def test_tuning(self) -> None:
        self.assert_error(
            EXAMPLE + "[tuning]\nheartbeats = 3\n", 'unknown key "heartbeats" in [tuning]'
        )

    def test_known_keys_listed(self) -> None:
        self.assert_error(
            EXAMPLE + "[tuning]\nheartbeats = 3\n", "known keys: startup_wait", "max_connections"
        )


class TypeErrorTests(ConfigTestCase):
    def test_port_string(self) -> None:
        self.assert_error(
            SECRET + three_servers().replace("port = 7303", 'port = "7303"'),
            '"port" in [[servers]] entry 3 must be an integer, not a string',
        )

    def test_id_boolean(self) -> None:
        self.assert_error(
            SECRET + three_servers().replace("id = 1", "id = true"),
            '"id" in [[servers]] entry 1 must be an integer, not a boolean',
        )

    def test_id_float(self) -> None:
        self.assert_error(
            SECRET + three_servers().replace("id = 2", "id = 2.0"),
            '"id" in [[servers]] entry 2 must be an integer, not a float',
        )

    def test_peer_port_boolean(self) -> None:
        self.assert_error(
            SECRET + three_servers(first="peer_port = false\n"),
            '"peer_port" in [[servers]] entry 1 must be an integer, not a boolean',
        )

    def test_host_integer(self) -> None:
        self.assert_error(
            SECRET
            + three_servers().replace('host = "127.0.0.1"\nport = 7302', "host = 1\nport = 7302"),
            '"host" in [[servers]] entry 2 must be a string, not an integer',
        )

    def test_peer_host_date(self) -> None:
        self.assert_error(
            SECRET + three_servers(third="peer_host = 1979-05-27\n"),
            '"peer_host" in [[servers]] entry 3 must be a string, not a date',
        )

    def test_listen_and_data_types(self) -> None:
        self.assert_error(
            SECRET + three_servers(first="listen = 7301\n"),
            '"listen" in [[servers]] entry 1 must be a string, not an integer',
        )
        self.assert_error(
            SECRET + three_servers(first="data = []\n"),
            '"data" in [[servers]] entry 1 must be a string, not an array',
        )

    def test_tuning_string(self) -> None:
        self.assert_error(
            EXAMPLE + '[tuning]\nheartbeat = "10"\n',
            '"heartbeat" in [tuning] must be a number, not a string',
        )

    def test_tuning_boolean(self) -> None:
        self.assert_error(
            EXAMPLE + "[tuning]\nstartup_wait = true\n",
            '"startup_wait" in [tuning] must be a number, not a boolean',
        )

    def test_tuning_integer_needed(self) -> None:
        self.assert_error(
            EXAMPLE + "[tuning]\nmax_box_bytes = 1000.5\n",
            '"max_box_bytes" in [tuning] must be an integer, not a float',
        )
        self.assert_error(
            EXAMPLE + "[tuning]\nmax_connections = true\n",
            '"max_connections" in [tuning] must be an integer, not a boolean',
        )

    def test_cluster_not_table(self) -> None:
        self.assert_error('cluster = "x"\n' + three_servers(), "[cluster] must be a table")

    def test_tuning_not_table(self) -> None:
        self.assert_error("tuning = 3\n" + EXAMPLE, "[tuning] must be a table")

    def test_servers_not_array(self) -> None:
        self.assert_error(
            SECRET + '[servers]\nid = 1\nhost = "h"\nport = 1\n',
            '"servers" must be an array of tables ([[servers]]), not a table',
        )

    def test_server_entry_not_table(self) -> None:
        self.assert_error(
            "servers = [1, 2, 3]\n" + SECRET,
            "[[servers]] entry 1 must be a table, not an integer",
        )


class ServerErrorTests(ConfigTestCase):
    def test_no_servers(self) -> None:
        self.assert_error(SECRET, "no [[servers]] entries")

    def test_two_servers(self) -> None:
        self.assert_error(SECRET + SERVER_1 + SERVER_2, "exactly three servers", "but 2 are given")

    def test_four_servers(self) -> None:
        fourth = '[[servers]]\nid = 4\nhost = "127.0.0.1"\nport = 7304\n'
        self.assert_error(SECRET + three_servers() + fourth, "but 4 are given")

    def test_missing_required_key(self) -> None:
        for key, line in (("id", "id = 2\n"), ("host", 'host = "127.0.0.1"\n')):
            self.assert_error(
                SECRET + SERVER_1 + SERVER_2.replace(line, "") + SERVER_3,
                f'[[servers]] entry 2 has no "{key}"',
            )
        # The message says what the missing key is for.
        self.assert_error(
            SECRET + SERVER_1 + SERVER_2 + SERVER_3.replace("port = 7303\n", ""),
            '[[servers]] entry 3 has no "port" (where clients connect)',
        )

    def test_wrong_ids(self) -> None:
        self.assert_error(
            SECRET + three_servers().replace("id = 3", "id = 4"),
            "server ids must be exactly 1, 2 and 3, not 1, 2, 4",
        )
        self.assert_error(
            SECRET + three_servers().replace("id = 1", "id = 0"),
            "server ids must be exactly 1, 2 and 3, not 0, 2, 3",
        )

    def test_duplicate_id(self) -> None:
        self.assert_error(
            SECRET + three_servers().replace("id = 3", "id = 1"),
            "[[servers]] entries 1 and 3 have the same id 1",
        )

    def test_port_range(self) -> None:
        for port in (0, 65536, -1):
            self.assert_error(
                SECRET + three_servers().replace("port = 7302", f"port = {port}"),
                f'"port" in [[servers]] entry 2 must be a port from 1 to 65535, not {port}',
            )
        self.assert_error(
            SECRET + three_servers(third="peer_port = 70000\n"),
            '"peer_port" in [[servers]] entry 3 must be a port from 1 to 65535, not 70000',
        )

    def test_port_bounds_accepted(self) -> None:
        config = self.load(
            SECRET
            + three_servers()
            .replace("port = 7301", "port = 1")
            .replace("port = 7302", "port = 65535")
        )
        self.assertEqual([s.port for s in config.servers], [1, 65535, 7303])

    def test_empty_host(self) -> None:
        self.assert_error(
            SECRET
            + three_servers().replace('host = "127.0.0.1"\nport = 7302', 'host = ""\nport = 7302'),
            '"host" in [[servers]] entry 2 must not be empty',
        )
        self.assert_error(
            SECRET + three_servers(first='peer_host = " "\n'),
            '"peer_host" in [[servers]] entry 1 must not be empty',
        )

    def test_bracketed_host(self) -> None:
        self.assert_error(
            SECRET
            + three_servers().replace(
                'host = "127.0.0.1"\nport = 7301', 'host = "[::1]"\nport = 7301'
            ),
            '"host" in [[servers]] entry 1 must be written without brackets',
        )

    def test_empty_listen_and_data(self) -> None:
        self.assert_error(
            SECRET + three_servers(second='listen = ""\n'),
            '"listen" in [[servers]] entry 2 must not be empty',
        )
        self.assert_error(
            SECRET + three_servers(second='data = ""\n'),
            '"data" in [[servers]] entry 2 must not be empty',
        )

    def test_same_client_address(self) -> None:
        self.assert_error(
            SECRET + three_servers().replace("port = 7303", "port = 7301"),
            "servers 1 and 3 have the same client address 127.0.0.1:7301",
        )

    def test_same_client_address_differing_peer(self) -> None:
        # Distinct peer addresses and listen endpoints do not excuse it.
        self.assert_error(
            SECRET
            + three_servers(
                second='listen = "tcp:8302"\npeer_port = 8302\n',
                third='listen = "tcp:8303"\npeer_port = 8303\n',
            ).replace("port = 7303", "port = 7302"),
            "servers 2 and 3 have the same client address 127.0.0.1:7302",
        )

    def test_same_listen(self) -> None:
        self.assert_error(
            SECRET + three_servers(first='listen = "tcp:7301"\n', second='listen = "tcp:7301"\n'),
            'servers 1 and 2 have the same listen endpoint "tcp:7301"',
        )

    def test_same_peer_address(self) -> None:
        self.assert_error(
            SECRET + three_servers(third='peer_host = "127.0.0.1"\npeer_port = 7301\n'),
            "servers 1 and 3 have the same peer address 127.0.0.1:7301",
        )

    def test_same_port_different_hosts(self) -> None:
        config = self.load(
            SECRET
            + three_servers().replace(
                'host = "127.0.0.1"\nport = 7302', 'host = "127.0.0.2"\nport = 7301'
            )
        )
        self.assertEqual(config.server(2).client_address, ("127.0.0.2", 7301))


class FieldsTests(ConfigTestCase):
    """The reader and the validators follow the attrs fields."""

    def test_every_tuning_field_is_a_key(self) -> None:
        fields = attrs.fields(Tuning)
        lines = "".join(f"{field.name} = {field.default}\n" for field in fields)
        self.assertEqual(self.load(EXAMPLE + "[tuning]\n" + lines).tuning, Tuning())
        self.assert_error(
            EXAMPLE + "[tuning]\nnot_a_key = 1\n",
            f"(known keys: {', '.join(field.name for field in fields)})",
        )

    def test_values_built_in_python_are_checked(self) -> None:
        for make, message in (
            (
                lambda: ServerConfig(id=1, host="h", port=0),
                'ServerConfig "port" must be a port from 1 to 65535, not 0',
            ),
            (
                lambda: ServerConfig(id=1, host="h", port=1, peer_host="[::1]"),
                'ServerConfig "peer_host" must be written without brackets',
            ),
            (
                lambda: ServerConfig(id=True, host="h", port=1),
                'ServerConfig "id" must be an integer, not a boolean',
            ),
            (lambda: Tuning(heartbeat=0), 'Tuning "heartbeat" must be a positive number, not 0'),
            (
                lambda: attrs.evolve(default_config(), secret=""),
                'ClusterConfig "secret" must not be empty',
            ),
        ):
            error = self.assertRaises(ConfigError, make)
            self.assertIn(message, str(error))

    def test_no_secret_allowed(self) -> None:
        # A client's configuration may have none: None passes where it is the default.
        self.assertIsNone(attrs.evolve(default_config(), secret=None, tls_ca=None).secret)


class TuningErrorTests(ConfigTestCase):
    def test_not_positive(self) -> None:
        for key in (
            "startup_wait",
            "catchup_timeout",
            "anti_entropy_interval",
            "heartbeat",
            "request_timeout",
        ):
            for value in ("0", "-1", "-0.5"):
                self.assert_error(
                    EXAMPLE + f"[tuning]\n{key} = {value}\n",
                    f'"{key}" in [tuning] must be a positive number, not {value}',
                )
        for key in ("max_box_bytes", "max_connections"):
            for value in ("0", "-3"):
                self.assert_error(
                    EXAMPLE + f"[tuning]\n{key} = {value}\n",
                    f'"{key}" in [tuning] must be a positive integer, not {value}',
                )

    def test_not_finite(self) -> None:
        for value in ("inf", "nan"):
            self.assert_error(
                EXAMPLE + f"[tuning]\nheartbeat = {value}\n",
                '"heartbeat" in [tuning] must be a positive number',
            )

    def test_partial_tuning(self) -> None:
        config = self.load(EXAMPLE + "[tuning]\nrequest_timeout = 1.5\n")
        self.assertEqual(config.tuning, Tuning(request_timeout=1.5))


class TimeTuningTests(ConfigTestCase):
    def test_defaults(self) -> None:
        tuning = self.load(EXAMPLE).tuning
        self.assertEqual((tuning.clock_skew, tuning.flag_grace), (2.0, 5.0))

    def test_read(self) -> None:
        config = self.load(EXAMPLE + "[tuning]\nclock_skew = 1\nflag_grace = 3\n")
        self.assertEqual(config.tuning, Tuning(clock_skew=1.0, flag_grace=3.0))
        self.assertIsInstance(config.tuning.flag_grace, float)

    def test_not_positive(self) -> None:
        for key in ("clock_skew", "flag_grace"):
            self.assert_error(
                EXAMPLE + f"[tuning]\n{key} = 0\n",
                f'"{key}" in [tuning] must be a positive number, not 0',
            )

    def test_flag_grace_must_exceed_clock_skew(self) -> None:
        for skew, grace in (("5", "5"), ("3", "2.5"), ("10", "")):
            text = f"[tuning]\nclock_skew = {skew}\n" + (f"flag_grace = {grace}\n" if grace else "")
            self.assert_error(
                EXAMPLE + text, '"flag_grace"', "must be greater than", '"clock_skew"'
            )

    def test_rule_holds_for_values_built_in_python(self) -> None:
        error = self.assertRaises(ConfigError, Tuning, clock_skew=2.0, flag_grace=2.0)
        self.assertEqual(
            str(error), 'Tuning "flag_grace" (2) must be greater than "clock_skew" (2)'
        )


class ServersSpecTests(SynchronousTestCase):
    def test_three_addresses(self) -> None:
        config = config_from_servers("a.example:1,127.0.0.1:7302,b.example:65535")
        self.assertEqual(
            [(s.id, s.host, s.port) for s in config.servers],
            [(1, "a.example", 1), (2, "127.0.0.1", 7302), (3, "b.example", 65535)],
        )
        self.assertIsNone(config.secret)
        self.assertIsNone(config.tls_ca)
        self.assertEqual(config.tuning, Tuning())
        self.assertEqual(config.source, "--servers a.example:1,127.0.0.1:7302,b.example:65535")
        self.assertRaises(ConfigError, config.require_secret)

    def test_order_gives_ids(self) -> None:
        config = config_from_servers("h:3,h:2,h:1")
        self.assertEqual([(s.id, s.port) for s in config.servers], [(1, 3), (2, 2), (3, 1)])

    def test_spaces_around_commas(self) -> None:
        config = config_from_servers(" h:1 , h:2 ,h:3 ")
        self.assertEqual([s.host for s in config.servers], ["h", "h", "h"])

    def test_ipv6(self) -> None:
        config = config_from_servers("[::1]:7301,[::1]:7302,[fe80::1%eth0]:7303")
        self.assertEqual(
            [s.client_address for s in config.servers],
            [("::1", 7301), ("::1", 7302), ("fe80::1%eth0", 7303)],
        )

    def assert_bad(self, spec: str, *fragments: str) -> None:
        error = self.assertRaises(ConfigError, config_from_servers, spec)
        self.assertTrue(str(error).startswith("--servers: "), str(error))
        for fragment in fragments:
            self.assertIn(fragment, str(error))

    def test_two_addresses(self) -> None:
        self.assert_bad("h:1,h:2", "exactly three servers", "2 are given", '"h:1,h:2"')

    def test_four_addresses(self) -> None:
        self.assert_bad("h:1,h:2,h:3,h:4", "4 are given")

    def test_empty(self) -> None:
        self.assert_bad("", "empty address")
        self.assert_bad("h:1,,h:3", "empty address")
        self.assert_bad("h:1,h:2,h:3,", "empty address")

    def test_missing_port(self) -> None:
        self.assert_bad("h:1,h,h:3", '"h" has no port')
        self.assert_bad("h:1,h:,h:3", '"h:" has no port')
        self.assert_bad("h:1,[::1],h:3", '"[::1]" has no port')
        self.assert_bad("h:1,[::1]:,h:3", '"[::1]:" has no port')

    def test_bad_port(self) -> None:
        self.assert_bad("h:1,h:x,h:3", '"h:x" has an invalid port "x"')
        self.assert_bad("h:1,h:0,h:3", '"h:0" has an invalid port 0')
        self.assert_bad("h:1,h:65536,h:3", '"h:65536" has an invalid port 65536')
        self.assert_bad("h:1,h:-5,h:3", "invalid port")
        self.assert_bad("h:1,h:+5,h:3", "invalid port")
        self.assert_bad("h:1,h:\u0665,h:3", "invalid port")

    def test_missing_host(self) -> None:
        self.assert_bad(":1,h:2,h:3", '":1" has no valid host')
        self.assert_bad("[]:1,h:2,h:3", '"[]:1" has no valid host')

    def test_unbracketed_ipv6(self) -> None:
        self.assert_bad("::1:7301,h:2,h:3", "IPv6 address in brackets")

    def test_unclosed_bracket(self) -> None:
        self.assert_bad("[::1:7301,h:2,h:3", "no closing bracket")

    def test_duplicate_address(self) -> None:
        self.assert_bad("h:1,h:2,h:1", "servers 1 and 3 have the same client address h:1")


class ClusterIdTests(ConfigTestCase):
    def test_stable(self) -> None:
        config = config_from_servers("127.0.0.1:7301,127.0.0.1:7302,127.0.0.1:7303")
        self.assertEqual(len(config.cluster_id), 16)
        int(config.cluster_id, 16)
        self.assertEqual(
            config.cluster_id,
            config_from_servers("127.0.0.1:7301,127.0.0.1:7302,127.0.0.1:7303").cluster_id,
        )
        # A fixed value: token files written by one release are found by the next.
        self.assertEqual(config.cluster_id, "de825b25b0238b70")

    def test_same_for_file_default_and_spec(self) -> None:
        spec = config_from_servers("127.0.0.1:7303,127.0.0.1:7301,127.0.0.1:7302")
        self.assertEqual(spec.cluster_id, default_config().cluster_id)
        self.assertEqual(self.load(EXAMPLE).cluster_id, default_config().cluster_id)

    def test_independent_of_secret_and_peers(self) -> None:
        other = self.load(
            '[cluster]\nsecret = "another"\n'
            + three_servers(first='peer_host = "10.1.1.1"\nlisten = "tcp:9000"\n')
        )
        self.assertEqual(other.cluster_id, self.load(EXAMPLE).cluster_id)

    def test_different_clusters(self) -> None:
        ids = {
            config_from_servers(spec).cluster_id
            for spec in (
                "127.0.0.1:7301,127.0.0.1:7302,127.0.0.1:7303",
                "127.0.0.1:7301,127.0.0.1:7302,127.0.0.1:7304",
                "127.0.0.2:7301,127.0.0.1:7302,127.0.0.1:7303",
                "[::1]:7301,[::1]:7302,[::1]:7303",
                "a:1,b:2,c:3",
            )
        }
        self.assertEqual(len(ids), 5)


class DefaultConfigTests(SynchronousTestCase):
    def test_builtin_local_cluster(self) -> None:
        config = default_config()
        self.assertEqual(config.source, DEFAULT_SOURCE)
        self.assertIn("built-in local cluster", config.source)
        self.assertEqual(config.secret, DEVELOPMENT_SECRET)
        self.assertEqual(config.require_secret(), DEVELOPMENT_SECRET)
        self.assertIsNone(config.tls_ca)
        self.assertEqual(config.tuning, Tuning())
        self.assertEqual(
            [(s.id, s.host, s.port, s.listen, s.data) for s in config.servers],
            [
                (
                    i,
                    "127.0.0.1",
                    7300 + i,
                    f"tcp:{7300 + i}:interface=127.0.0.1",
                    f"replgame-data/{i}",
                )
                for i in (1, 2, 3)
            ],
        )
        self.assertEqual(config, default_config())
