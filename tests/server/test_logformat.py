"""Tests for ``twistd replgame --log-format`` (game.server.logformat): the
option, where twistd finds the observer, and the shape of what it writes."""

from __future__ import annotations

import json
from pathlib import Path

from twisted.application.service import Application
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import ILogObserver, Logger, LogLevel, eventFromJSON
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from game.server.logformat import JsonLog
from game.server.tap import Options, makeService


def parsed(*args: str) -> Options:
    options = Options()
    options.parseOptions(["--id", "1", *args])
    return options


class OptionTests(SynchronousTestCase):
    def test_text_is_the_default(self) -> None:
        self.assertEqual(parsed()["log-format"], "text")
        self.assertEqual(parsed("--log-format", "json")["log-format"], "json")

    def test_anything_else_is_a_usage_error(self) -> None:
        with self.assertRaises(usage.UsageError) as raised:
            parsed("--log-format", "xml")
        self.assertIn("text or json", str(raised.exception))

    def observer_of(self, *args: str) -> object:
        options = parsed("--data", self.mktemp(), *args)
        application = Application("replgame")
        makeService(options, reactor=MemoryReactorClock()).setServiceParent(application)
        return application.getComponent(ILogObserver, None)

    def test_json_gives_twistd_an_observer(self) -> None:
        self.assertIsInstance(self.observer_of("--log-format", "json"), JsonLog)

    def test_text_leaves_twistd_its_own(self) -> None:
        self.assertIsNone(self.observer_of())


class OutputTests(SynchronousTestCase):
    def test_one_json_object_per_line_in_the_logfile(self) -> None:
        path = Path(self.mktemp())
        path.parent.mkdir(parents=True, exist_ok=True)
        observer = JsonLog({"logfile": str(path), "nodaemon": True})
        log = Logger(namespace="replgame.test", observer=observer)
        log.info("listening on {address}", address="127.0.0.1:7301")
        log.warn("a second line\nwith a newline in it")
        lines = path.read_text("utf-8").splitlines()
        self.assertEqual(len(lines), 2)
        first, second = (json.loads(line) for line in lines)
        self.assertEqual(first["log_namespace"], "replgame.test")
        self.assertEqual(first["log_format"], "listening on {address}")
        self.assertEqual(first["address"], "127.0.0.1:7301")
        self.assertIn("log_time", first)
        self.assertEqual(eventFromJSON(lines[1])["log_level"], LogLevel.warn)
        self.assertEqual(second["log_format"], "a second line\nwith a newline in it")
