"""Tests for ``twistd replgame``'s options (game.server.tap) and what it imports
before it starts (game.server.startup).  The service tree: test_service."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import attrs
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from game.config import default_config
from game.server.startup import uses_tls
from game.server.tap import Options

# Parses options and builds the service the way twistd does, then reports
# whether pyOpenSSL was imported.
_MAKE_SERVICE = textwrap.dedent(
    """
    import sys

    from game.server.tap import Options, makeService

    options = Options()
    options.parseOptions(["--id", "1", "--config", sys.argv[1], "--data", sys.argv[2]])
    makeService(options)
    import game.server.service  # everything startService uses

    print("OpenSSL" in sys.modules)
    """
)

_CONFIG = """\
[cluster]
secret = "a long random string shared by the three servers"
{cluster}
[[servers]]
id = 1
host = "127.0.0.1"
port = 47301
{listen}
[[servers]]
id = 2
host = "127.0.0.1"
port = 47302

[[servers]]
id = 3
host = "127.0.0.1"
port = 47303
"""


class OptionsTests(SynchronousTestCase):
    def test_id_is_required(self) -> None:
        with self.assertRaises(usage.UsageError) as error:
            Options().parseOptions([])
        self.assertIn("--id is required", str(error.exception))

    def test_data_defaults_to_the_configs(self) -> None:
        options = Options()
        options.parseOptions(["--id", "2"])
        self.assertEqual(options["data"], options.config.server(2).data)
        self.assertFalse(options["rebuild"])
        options = Options()
        options.parseOptions(["--id", "3", "--data", "elsewhere", "--rebuild"])
        self.assertEqual((options["data"], options["rebuild"]), ("elsewhere", True))

    def test_clock_offset_for_tests(self) -> None:
        options = Options()
        options.parseOptions(["--id", "1"])
        self.assertEqual(options["clock-offset-ms"], 0)
        options = Options()
        options.parseOptions(["--id", "1", "--clock-offset-ms", "-750"])
        self.assertEqual(options["clock-offset-ms"], -750)
        self.assertRaises(
            usage.UsageError, Options().parseOptions, ["--id", "1", "--clock-offset-ms", "x"]
        )

    def test_an_unknown_id_is_a_usage_error(self) -> None:
        with self.assertRaises(usage.UsageError):
            Options().parseOptions(["--id", "4"])


class UsesTlsTests(SynchronousTestCase):
    def test_plain_tcp(self) -> None:
        config = default_config()
        self.assertFalse(uses_tls(config, 1))
        servers = [attrs.evolve(s, listen="tcp6:7301:interface=\\:\\:1") for s in config.servers]
        self.assertFalse(uses_tls(attrs.evolve(config, servers=tuple(servers)), 2))

    def test_tls_ca_or_ssl_listen(self) -> None:
        config = default_config()
        self.assertTrue(uses_tls(attrs.evolve(config, tls_ca="ca.pem"), 1))
        servers = [attrs.evolve(s, listen="ssl:7301:privateKey=k.pem") for s in config.servers]
        self.assertTrue(uses_tls(attrs.evolve(config, servers=tuple(servers)), 3))


class ImportsTests(SynchronousTestCase):
    def imports_openssl(self, cluster: str = "", listen: str = "") -> bool:
        directory = Path(self.mktemp())
        directory.mkdir()
        config = directory / "cluster.toml"
        config.write_text(_CONFIG.format(cluster=cluster, listen=listen))
        result = subprocess.run(
            [sys.executable, "-c", _MAKE_SERVICE, str(config), str(directory / "data")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout.strip() == "True"

    def test_a_cluster_without_tls_never_imports_pyopenssl(self) -> None:
        self.assertFalse(self.imports_openssl())
        self.assertFalse(self.imports_openssl(listen='listen = "tcp:47301:interface=127.0.0.1"'))

    def test_a_cluster_with_tls_imports_it(self) -> None:
        self.assertTrue(self.imports_openssl(cluster='tls_ca = "ca.pem"'))
        self.assertTrue(self.imports_openssl(listen='listen = "ssl:47301:privateKey=key.pem"'))
