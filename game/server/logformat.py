"""``twistd replgame --log-format json``: one JSON object per line
(:func:`twisted.logger.jsonFileLogObserver`), for log shippers.

twistd looks for an :class:`~twisted.logger.ILogObserver` component on its
application before it falls back to its own text observer
(``twisted.application.app.AppLogger.start``); the service tree's root sets
one (:meth:`game.server.service.ServerService.setServiceParent`).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import IO, Any

from twisted.logger import ILogObserver, LogEvent, jsonFileLogObserver
from twisted.python.logfile import LogFile
from zope.interface import implementer

#: The values of ``--log-format`` (text, twistd's own, stays the default).
LOG_FORMATS = ("text", "json")


def json_log_observer(out: IO[Any]) -> ILogObserver:
    """Each event as one line of JSON (no record separator: one object a line)."""
    return jsonFileLogObserver(out, recordSeparator="")


@implementer(ILogObserver)
class JsonLog:
    """The JSON observer on the file twistd's text would go to: ``--logfile``;
    stdout for ``-`` or for none with ``--nodaemon``; else ``twistd.log``.
    The file is opened by the first event (twistd starts logging after
    ``makeService``).

    :param twistd_options: twistd's own options (``logfile``, ``nodaemon``).
    """

    def __init__(self, twistd_options: Mapping[str, Any]) -> None:
        self.twistd_options = twistd_options
        self._observer: ILogObserver | None = None

    def __call__(self, event: LogEvent) -> None:
        if self._observer is None:
            self._observer = json_log_observer(self._open())
        self._observer(event)

    def _open(self) -> IO[Any]:
        name = self.twistd_options.get("logfile")
        if name == "-" or (not name and self.twistd_options.get("nodaemon")):
            return sys.stdout
        opened: IO[Any] = LogFile.fromFullPath(name or "twistd.log")  # type: ignore[no-untyped-call]
        return opened
