"""Tests for what ``replgame status`` shows beyond ``Status``: the ServerInfo
answer parsed (game.client.serverinfo), where a metrics endpoint is dialled,
the ``/livez`` probe (game.client.livez), the details table and ``--json``
(game.client.reports), and the command over the in-process cluster."""

from __future__ import annotations

import io
import json
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.test.iosim import FakeTransport, connect
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.server import Site

from game import protocol as p
from game.client import reports
from game.client.cli.commands import COMMANDS
from game.client.cli.parser import build_parser
from game.client.cli.session import Session
from game.client.client import ServerStatus
from game.client.livez import check_metrics, livez_url, probe_livez
from game.client.serverinfo import (
    CatchUp,
    MetricsCheck,
    NotHttpTcp,
    ServerDetails,
    ServerInfo,
    http_target,
)
from game.config import default_config
from game.server.health import Livez
from tests.server.grid import SERVERS, Grid, Match

NOW = 1_700_000_000_000


def info_fields(server_id: int = 1, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "server_id": server_id,
        "state": "serving",
        "reason": None,
        "started": NOW - 3_600_000 * 76,
        "now": NOW,
        "uptime": 3600.0 * 76,
        "connections": 2,
        "watches": 1,
        "peers": [2, 3],
        "last_catch_up": {
            "at": NOW - 12_000,
            "trigger": "startup",
            "peers": [2],
            "games": 40,
            "events": 113,
            "bytes": 18_500,
            "seconds": 0.25,
        },
        "metrics": "tcp:7401:interface=127.0.0.1",
    }
    fields.update(changes)
    return fields


def info_of(**changes: Any) -> ServerInfo:
    return ServerInfo.from_text(p.canonical_info(info_fields(**changes)))


class ParseTests(SynchronousTestCase):
    def test_parsed_once(self) -> None:
        info = info_of()
        self.assertEqual(
            info.last_catch_up, CatchUp(NOW - 12_000, "startup", (2,), 40, 113, 18_500, 0.25)
        )
        self.assertEqual((info.peers, info.uptime, info.reason), ((2, 3), 3600.0 * 76, None))
        self.assertEqual(info.fields, info_fields())

    def test_later_fields_pass_through(self) -> None:
        info = info_of(disk="ok", last_catch_up=None, metrics=None)
        self.assertIsNone(info.last_catch_up)
        self.assertEqual(info.fields["disk"], "ok")

    def test_not_an_info(self) -> None:
        for text in ("[]", "{}", "not json", json.dumps({**info_fields(), "peers": None})):
            with self.assertRaises(ValueError, msg=text):
                ServerInfo.from_text(text)


class HttpTargetTests(SynchronousTestCase):
    def test_tcp_endpoints(self) -> None:
        cases = {
            "tcp:7401:interface=127.0.0.1": ("127.0.0.1", 7401),
            "tcp:9301": ("db1.example", 9301),
            "tcp:port=9301:interface=10.0.0.5": ("10.0.0.5", 9301),
            "tcp:9301:10.0.0.6": ("10.0.0.6", 9301),
            "tcp:9301:interface=0.0.0.0": ("db1.example", 9301),
            "tcp6:9301:interface=\\:\\:1": ("::1", 9301),
            "tcp:9301:backlog=5": ("db1.example", 9301),
        }
        for endpoint, expected in cases.items():
            self.assertEqual(http_target(endpoint, "db1.example"), expected, endpoint)

    def test_others_are_not_http_tcp(self) -> None:
        for endpoint in ("unix:/run/replgame.sock", "ssl:9301:privateKey=k.pem", "tcp:", "tcp:x",
                         "tcp:70000", "9301"):  # fmt: skip
            with self.assertRaises(NotHttpTcp) as raised:
                http_target(endpoint, "db1.example")
            self.assertEqual(str(raised.exception), f"not an HTTP tcp endpoint: {endpoint}")

    def test_url(self) -> None:
        self.assertEqual(livez_url("127.0.0.1", 7401), b"http://127.0.0.1:7401/livez")
        self.assertEqual(livez_url("::1", 7401), b"http://[::1]:7401/livez")


class ProbeTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()

    def probe(self, endpoint: str = "tcp:7401:interface=127.0.0.2") -> Deferred[MetricsCheck]:
        checked = probe_livez(self.reactor, endpoint, "server.example")
        self.reactor.advance(0)
        return checked

    def answer_with(self, livez: Resource | None) -> None:
        """Serve the pending connection with a site of ``livez`` (none: 404)."""
        factory = self.reactor.tcpClients[-1][2]
        root = Resource()
        if livez is not None:
            root.putChild(b"livez", livez)
        server = Site(root).buildProtocol(None)
        client = factory.buildProtocol(None)
        pump = connect(
            server, FakeTransport(server, isServer=True), client,
            FakeTransport(client, isServer=False),
        )  # fmt: skip
        pump.flush()

    def test_answers(self) -> None:
        checked = self.probe()
        # (The memory reactor resolves every host to 127.0.0.1: http_target's tests
        # check the host.)
        self.assertEqual(self.reactor.tcpClients[-1][1], 7401)
        self.answer_with(Livez())
        check = self.successResultOf(checked)
        self.assertEqual(check, MetricsCheck("tcp:7401:interface=127.0.0.2", True))
        self.assertEqual(check.text(), "yes")

    def test_not_found(self) -> None:
        checked = self.probe()
        self.answer_with(None)
        self.assertEqual(self.successResultOf(checked).text(), "no (HTTP 404)")

    def test_refused(self) -> None:
        checked = self.probe("tcp:7401")
        factory = self.reactor.tcpClients[-1][2]
        connector = self.reactor.connectors[-1]
        factory.clientConnectionFailed(connector, Failure(ConnectionRefusedError()))
        self.reactor.advance(0.5)  # HostnameEndpoint's delay before its next attempt
        self.assertEqual(self.successResultOf(checked).text(), "no (connection refused)")

    def test_no_answer_in_time(self) -> None:
        checked = self.probe()
        self.assertNoResult(checked)
        self.reactor.advance(2)
        self.assertEqual(self.successResultOf(checked).text(), "no (no answer within 2 s)")

    def test_not_tcp(self) -> None:
        check = self.successResultOf(self.probe("unix:/run/replgame.sock"))
        self.assertEqual(check.text(), "no (not an HTTP tcp endpoint: unix:/run/replgame.sock)")
        self.assertEqual(self.reactor.tcpClients, [])

    def test_each_server_the_endpoint_it_reports_else_the_configured_one(self) -> None:
        config = default_config()
        infos = {1: info_of(metrics=None), 2: info_of(server_id=2, metrics="tcp:9402"), 3: None}
        checked = check_metrics(self.reactor, config, infos)
        self.assertEqual([client[1] for client in self.reactor.tcpClients], [9402, 7403])
        self.reactor.advance(2)
        checks = self.successResultOf(checked)
        self.assertEqual(checks[1], MetricsCheck(None))
        self.assertEqual(checks[1].text(), "not configured")
        self.assertEqual(checks[3].endpoint, "tcp:7403:interface=127.0.0.1")


class FormatTests(SynchronousTestCase):
    config = default_config()

    def test_durations(self) -> None:
        cases = {0: "0s", 42.9: "42s", 312: "5m 12s", 3600 * 4 + 180: "4h 3m",
                 86400 * 3 + 3600 * 4 + 59: "3d 4h", -5: "0s"}  # fmt: skip
        for seconds, text in cases.items():
            self.assertEqual(reports.duration_text(seconds), text, seconds)

    def test_bytes(self) -> None:
        cases = {0: "0 B", 1023: "1023 B", 18_500: "18 KB", 3_565_158: "3.4 MB",
                 5 * 1024**3: "5.0 GB"}  # fmt: skip
        for count, text in cases.items():
            self.assertEqual(reports.bytes_text(count), text, count)

    def test_catch_up(self) -> None:
        self.assertEqual(
            reports.catch_up_text(info_of()), "12s ago from 2: 40 games, 113 events, 18 KB"
        )
        self.assertEqual(reports.catch_up_text(info_of(last_catch_up=None)), "none")
        one = {"at": NOW - 3_725_000, "trigger": "on_demand", "peers": [1, 3], "games": 1,
               "events": 1, "bytes": 300, "seconds": 0.0}  # fmt: skip
        self.assertEqual(
            reports.catch_up_text(info_of(last_catch_up=one)),
            "1h 2m ago from 1, 3: 1 game, 1 event, 300 B",
        )

    def test_state(self) -> None:
        self.assertEqual(reports.state_text(info_of()), "serving")
        waiting = info_of(state="waiting for a seeded peer", reason="server 1 is waiting for a "
                          "seeded peer")  # fmt: skip
        self.assertEqual(reports.state_text(waiting), "waiting for a seeded peer")
        failed = info_of(state="failed", reason="server 1 is failed: storage failed (a commit "
                         "failed)")  # fmt: skip
        self.assertEqual(reports.state_text(failed), "failed: storage failed (a commi...")
        self.assertEqual(len(reports.state_text(failed)), reports.STATE_WIDTH)

    def statuses(self) -> list[ServerStatus]:
        return [
            ServerStatus(1, True, True, 7, 2, "ab" * 32),
            ServerStatus(2, True, False, 0, 0, "00" * 32),
            ServerStatus(3, False, error="not connected"),
        ]

    def details(self) -> dict[int, ServerDetails]:
        catching_up = info_of(
            server_id=2, state="catching up", reason="server 2 is catching up from server(s) 1",
            uptime=312.0, connections=0, watches=0, last_catch_up=None,
        )  # fmt: skip
        return {
            1: ServerDetails(info_of(), MetricsCheck("tcp:7401:interface=127.0.0.1", True)),
            2: ServerDetails(catching_up, MetricsCheck(None)),
            3: ServerDetails(None, MetricsCheck("tcp:7403", False, "connection refused")),
        }

    def test_the_second_table(self) -> None:
        plain = reports.format_status(self.config, self.statuses())
        text = reports.format_status(self.config, self.statuses(), self.details())
        # The first table and the agree/PROVISIONAL lines as they were, then the details.
        self.assertTrue(text.startswith(plain + "\n\n"), text)
        self.assertEqual(
            text[len(plain) + 2 :].splitlines(),
            [
                "server  state                         uptime  conns  watches  "
                "last catch-up                                metrics",
                "1       serving                       3d 4h   2      1        "
                "12s ago from 2: 40 games, 113 events, 18 KB  yes",
                "2       catching up from server(s) 1  5m 12s  0      0        "
                "none                                         -",
                "3       -                             -       -      -        "
                "-                                            no (connection refused)",
            ],
        )

    def test_json(self) -> None:
        plain = reports.status_json(self.config, self.statuses())
        data = reports.status_json(self.config, self.statuses(), self.details())
        for before, after in zip(plain["servers"], data["servers"], strict=True):
            self.assertEqual({k: after[k] for k in before}, before)
            self.assertEqual(set(after) - set(before), {"info", "metrics_endpoint"})
        self.assertEqual({k: data[k] for k in plain if k != "servers"},
                         {k: plain[k] for k in plain if k != "servers"})  # fmt: skip
        first, second, third = data["servers"]
        self.assertEqual(first["info"], info_fields())
        self.assertEqual(
            first["metrics_endpoint"],
            {"configured": True, "endpoint": "tcp:7401:interface=127.0.0.1", "answers": True,
             "error": ""},
        )  # fmt: skip
        self.assertEqual(second["info"]["reason"], "server 2 is catching up from server(s) 1")
        self.assertEqual(second["metrics_endpoint"]["configured"], False)
        self.assertIsNone(third["info"])
        self.assertEqual(third["metrics_endpoint"]["error"], "connection refused")


class StatusCommandTests(SynchronousTestCase):
    """``replgame status`` over the in-process cluster: a real client, real servers."""

    def run_status(self, grid: Grid, *flags: str) -> str:
        args = build_parser().parse_args(["status", *flags])
        out = io.StringIO()
        # The probes dial the built-in metrics endpoints on a memory reactor: no answer.
        probes = MemoryReactorClock()
        session = Session(probes, args, grid.config, out=out, client=grid.client)
        done = Deferred.fromCoroutine(COMMANDS["status"](session))
        grid.quiet()
        self.assertEqual(sorted(client[1] for client in probes.tcpClients), [7401, 7402, 7403])
        probes.advance(2)
        self.successResultOf(done)
        return out.getvalue()

    def test_status_shows_every_server_details(self) -> None:
        grid = Grid(self)
        grid.start()
        game = Match(grid, "g1")
        game.start()
        watcher = grid.add_client("watcher")
        watcher.watch("g1", lambda update: None)
        grid.run(125)
        lines = self.run_status(grid).splitlines()
        self.assertEqual(lines[4], "agree: yes, all 3 serve the same games at clock 2")
        self.assertEqual(lines[5], "")
        self.assertEqual(
            lines[6].split(),
            ["server", "state", "uptime", "conns", "watches", "last", "catch-up", "metrics"],
        )
        for server_id, line in zip(SERVERS, lines[7:], strict=True):
            self.assertTrue(line.startswith(f"{server_id}       serving  2m 5s   2      1  "), line)
            self.assertTrue(line.endswith("no (no answer within 2 s)"), line)

        data = json.loads(self.run_status(grid, "--json"))
        for server_id, server in zip(SERVERS, data["servers"], strict=True):
            info = server["info"]
            self.assertEqual((info["server_id"], info["state"], info["reason"]),
                             (server_id, "serving", None))  # fmt: skip
            self.assertEqual((info["connections"], info["watches"]), (2, 1))
            self.assertEqual(info["peers"], [i for i in SERVERS if i != server_id])
            self.assertEqual(
                server["metrics_endpoint"],
                {"configured": True, "endpoint": grid.config.server(server_id).metrics,
                 "answers": False, "error": "no answer within 2 s"},
            )  # fmt: skip
