"""A lifecycle: one state from an :class:`~enum.Enum`, changed only through
:meth:`Lifecycle.enter`, which refuses a transition its table does not allow
and logs every one it makes.

Used by the server's serving state (:class:`game.server.node.ServerState`)
and by a link's connection state (:class:`game.link.LinkState`): a reader
finds every state, every allowed change and, in the log, every change made.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Generic, TypeVar

from twisted.logger import Logger

State = TypeVar("State", bound=enum.Enum)


class InvalidTransition(Exception):
    """A state change its lifecycle's table does not allow (a bug)."""


class Lifecycle(Generic[State]):
    """The current state of one thing, and its logged changes.

    :param initial: the state it starts in.
    :param allowed: for each state, the states it may change to.
    :param log: where each change is logged, one event with the fields
        ``subject``, ``old``, ``new`` and ``reason``.
    :param subject: what the states are of, for the log line.
    """

    def __init__(
        self,
        initial: State,
        allowed: Mapping[State, frozenset[State]],
        log: Logger,
        subject: str,
    ) -> None:
        self._state = initial
        self._allowed = allowed
        self._log = log
        self.subject = subject

    @property
    def state(self) -> State:
        return self._state

    def enter(self, new: State, reason: str) -> None:
        """Change to ``new`` and log it.

        :raises InvalidTransition: the table does not allow it.
        """
        old = self._state
        if new not in self._allowed.get(old, frozenset()):
            raise InvalidTransition(f"{self.subject}: {old.value} -> {new.value} ({reason})")
        self._state = new
        self._log.info(
            "{subject}: {old} -> {new} ({reason})",
            subject=self.subject,
            old=old.value,
            new=new.value,
            reason=reason,
        )
