"""Tests for the example deployment files of ``contrib/``: the Grafana
dashboard's queries name only metrics a real server exports, the Prometheus
scrape config targets the built-in cluster's metrics ports, and the systemd
unit runs one server per instance and does not restart an unreadable
database."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from game.server.metrics import FAMILIES
from tests.server.helpers import ConnectionTestCase
from tests.server.test_metrics import metered

CONTRIB = Path(__file__).resolve().parents[2] / "contrib"
DASHBOARD = CONTRIB / "grafana" / "replgame.json"
SCRAPE_CONFIG = CONTRIB / "prometheus" / "replgame.yml"
UNIT = CONTRIB / "systemd" / "replgame@.service"

#: A metric name in PromQL: ``replgame_`` then name characters (a label
#: value such as ``"MakeMove"`` cannot match: it does not start so).
METRIC_NAME = re.compile(r"\breplgame_[a-zA-Z0-9_:]*")
#: The sample names of a family of each type, by suffix (Prometheus's text
#: format; a counter family's name has no ``_total``).
FAMILY_SUFFIXES = {
    "gauge": ("",),
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, also those inside rows."""
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return [panel for panel in found if panel.get("type") != "row"]


def metric_names(expr: str) -> set[str]:
    """The ``replgame_`` metric names a PromQL expression uses."""
    return set(METRIC_NAME.findall(expr))


def exported_names(case: ConnectionTestCase) -> set[str]:
    """The names a real server's registry exports (built as the service tree
    wires it, cleaned up with ``case``): its sample names, and for each
    family the names of Prometheus's suffix rules, since a labelled family
    has no sample until a label is bound (no peers, no games here)."""
    _, metrics = metered(case)
    metrics.command(b"MakeMove").answered(metrics.timer())
    metrics.committed(0.001, 3)
    names = set()
    for family in metrics.registry.collect():
        names.update(sample.name for sample in family.samples)
        names.update(family.name + suffix for suffix in FAMILY_SUFFIXES[family.type])
    return names


class MetricNameTests(ConnectionTestCase):
    """The PromQL name parsing the dashboard's check relies on."""

    def test_names_in_an_expression(self) -> None:
        expr = (
            "histogram_quantile(0.99, sum by (le)"
            ' (rate(replgame_commit_duration_seconds_bucket{job="x"}[5m])))'
            ' / replgame_serving{command="replgame_not_a_name"}'
        )
        self.assertEqual(
            metric_names(expr),
            {"replgame_commit_duration_seconds_bucket", "replgame_serving", "replgame_not_a_name"},
        )

    def test_every_family_is_exported(self) -> None:
        """Each family of PROTOCOL.md is among the names (a counter's with its
        ``_total``, a histogram's with its ``_bucket``)."""
        names = exported_names(self)
        for family in FAMILIES:
            self.assertTrue({family, family + "_bucket"} & names, family)
        self.assertIn("replgame_requests_total", names)
        self.assertIn("replgame_commit_duration_seconds_count", names)
        self.assertNotIn("replgame_serving_total", names)


class DashboardTests(ConnectionTestCase):
    def setUp(self) -> None:
        self.dashboard = json.loads(DASHBOARD.read_text())

    def test_loads_with_a_datasource_input(self) -> None:
        self.assertGreaterEqual(self.dashboard["schemaVersion"], 36)
        inputs = {entry["name"]: entry for entry in self.dashboard["__inputs"]}
        self.assertEqual(inputs["DS_PROMETHEUS"]["pluginId"], "prometheus")

    def test_every_panel_has_a_query(self) -> None:
        found = panels(self.dashboard)
        self.assertGreater(len(found), 0)
        for panel in found:
            exprs = [target.get("expr", "") for target in panel.get("targets", [])]
            self.assertTrue(exprs, panel["title"])
            for expr in exprs:
                self.assertTrue(expr.strip(), panel["title"])
            # Some may query Prometheus's own (``up``), not all.
            self.assertTrue(set().union(*map(metric_names, exprs)), panel["title"])

    def test_every_query_names_an_exported_metric(self) -> None:
        samples = exported_names(self)
        used: set[str] = set()
        for panel in panels(self.dashboard):
            for target in panel["targets"]:
                for name in metric_names(target["expr"]):
                    self.assertIn(name, samples, f"{panel['title']}: {target['expr']!r}")
                    used.add(name)
        for variable in self.dashboard["templating"]["list"]:
            for name in metric_names(variable["definition"]):
                self.assertIn(name, samples, variable["name"])

    def test_panels_named_by_the_issue(self) -> None:
        """Moves/s, latencies, changes per commit, peers, serving, catch-ups,
        connections, watches and timeouts each have a panel querying them."""
        exprs = " ".join(
            target["expr"] for panel in panels(self.dashboard) for target in panel["targets"]
        )
        self.assertIn('command="MakeMove", result="ok"', exprs)
        for name in (
            "replgame_request_duration_seconds_bucket",
            "replgame_commit_duration_seconds_bucket",
            "replgame_changes_per_commit",
            "replgame_peer_up",
            "replgame_serving",
            "replgame_catch_ups_total",
            "replgame_client_connections",
            "replgame_watches",
            "replgame_timeouts_total",
        ):
            self.assertIn(name, exprs)
        self.assertIn("0.99", exprs)
        self.assertIn("0.5", exprs)


class ScrapeConfigTests(ConnectionTestCase):
    def setUp(self) -> None:
        self.text = SCRAPE_CONFIG.read_text()

    def test_parses(self) -> None:
        """As YAML if PyYAML happens to be installed (it is no dependency);
        else the targets and labels textually."""
        try:
            import yaml  # type: ignore[import-untyped]
        except ImportError:
            targets = re.findall(
                r'targets: \["([^"]+)"\]\n\s+labels:\n\s+server: "(\d)"', self.text
            )
            self.assertEqual(
                targets, [("127.0.0.1:7401", "1"), ("127.0.0.1:7402", "2"), ("127.0.0.1:7403", "3")]
            )
            self.assertIn("metrics_path: /metrics", self.text)
            self.assertNotIn("\t", self.text)
            return
        config = yaml.safe_load(self.text)
        (job,) = config["scrape_configs"]
        self.assertEqual(job["metrics_path"], "/metrics")
        self.assertEqual(
            [(group["targets"], group["labels"]["server"]) for group in job["static_configs"]],
            [(["127.0.0.1:7401"], "1"), (["127.0.0.1:7402"], "2"), (["127.0.0.1:7403"], "3")],
        )


class SystemdUnitTests(ConnectionTestCase):
    def setUp(self) -> None:
        # Continuation lines joined, as systemd reads them.
        self.unit = UNIT.read_text().replace("\\\n", " ")

    def directives(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for line in self.unit.splitlines():
            if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
                key, _, value = line.partition("=")
                found.setdefault(key.strip(), []).append(value.strip())
        return found

    def test_one_server_per_instance(self) -> None:
        (exec_start,) = self.directives()["ExecStart"]
        command = " ".join(exec_start.split())
        self.assertIn("twistd --nodaemon --pidfile= --logfile - replgame --id %i", command)
        self.assertIn("--data /var/lib/replgame/%i", command)

    def test_restarts_on_failure_but_not_an_unreadable_database(self) -> None:
        directives = self.directives()
        self.assertEqual(directives["Restart"], ["on-failure"])
        self.assertEqual(directives["RestartPreventExitStatus"], ["2"])

    def test_hardened(self) -> None:
        directives = self.directives()
        self.assertEqual(directives["ProtectSystem"], ["strict"])
        self.assertEqual(directives["ReadWritePaths"], ["/var/lib/replgame"])
        self.assertEqual(directives["RestrictAddressFamilies"], ["AF_INET AF_INET6 AF_UNIX"])
        for flag in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices"):
            self.assertEqual(directives[flag], ["yes"], flag)
        self.assertNotIn("root", directives["User"])
