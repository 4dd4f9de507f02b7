"""The computer's searches off the reactor thread (game/client/searchpool.py):
a worker process answers as a Deferred; with no processes, a thread does."""

from __future__ import annotations

import threading
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from game.client import searchpool
from game.client.searchpool import PoolSearch
from game.rules import from_text, new_game


@implementer(IReactorFromThreads)
class ThreadReactor:
    """Runs what a worker's thread hands over at once, and says so."""

    def __init__(self) -> None:
        self.handed = threading.Event()

    def callFromThread(self, f: Any, *args: Any, **kwargs: Any) -> None:
        f(*args, **kwargs)
        self.handed.set()


class PoolSearchTests(SynchronousTestCase):
    def answer(self, search: PoolSearch, reactor: ThreadReactor, kind: str, text: str) -> str:
        results: list[Any] = []
        search.search(kind, text, 3, 0.5).addBoth(results.append)
        self.assertTrue(reactor.handed.wait(60), "no answer from the worker")
        [move] = results
        self.assertIsInstance(move, str, move)
        return str(move)

    def test_a_worker_process_answers_a_legal_move(self) -> None:
        reactor = ThreadReactor()
        search = PoolSearch(reactor)
        self.addCleanup(search.stop)
        position = new_game("checkers").play("11-15")
        move = self.answer(search, reactor, "checkers", position.to_text())
        self.assertIn(move, position.legal_moves())
        self.assertFalse(search.in_thread)

    def test_falls_back_to_a_thread_when_processes_cannot_start(self) -> None:
        def no_processes(*args: Any, **kwargs: Any) -> Any:
            raise OSError("no processes here")

        self.patch(searchpool, "ProcessPoolExecutor", no_processes)
        reactor = ThreadReactor()
        search = PoolSearch(reactor)
        self.addCleanup(search.stop)
        text = new_game("reversi").to_text()
        move = self.answer(search, reactor, "reversi", text)
        self.assertIn(move, from_text("reversi", text).legal_moves())
        self.assertTrue(search.in_thread)

    def test_a_cancelled_search_is_never_answered(self) -> None:
        reactor = ThreadReactor()
        search = PoolSearch(reactor, processes=False)
        self.addCleanup(search.stop)
        pending: Deferred[str] = search.search("connect4", new_game("connect4").to_text(), 5, 1.0)
        results: list[Any] = []
        pending.addBoth(results.append)
        pending.cancel()
        self.assertEqual(len(results), 1)  # the CancelledError, once
        reactor.handed.wait(10)
        self.assertEqual(len(results), 1)
