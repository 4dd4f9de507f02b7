"""One load-generator process of :mod:`bench.players`: many lean clients.

``python -m bench.playersworker '<json options>'`` holds its share of the
benchmark's clients, each connected to all three servers as the real client
is (one AMP connection per server, ``Status`` every ``heartbeat`` seconds),
and obeys one JSON command per line on stdin, answering one JSON line on
stdout per command (``{"event": <command>, ...}``):

- ``connect``: open every connection (at most ``in_flight`` connects at
  once, at most ``rate`` per second), each checked by a first ``Status``;
- ``games``: the players create their games (pairs of this process's
  players) and join them, each change acknowledged by two servers;
- ``watch`` (``games``: every game id of the run): each watcher picks one
  game at random and sends ``Watch`` to all three servers;
- ``moves`` (``rate``): moves at that rate (paced), each to all three
  servers, acknowledged at the second identical answer;
- ``stop``: no more moves; answers once every move sent has all its answers;
- ``report``: what was measured (below); ``exit``.

A client here is lean: hand-encoded AMP boxes and :class:`game.ampframe.BoxParser`
instead of one ``amp.AMP`` and ``ReplicatedClient`` per client, so that the
generator is not the bottleneck; the commands and their majority are the
real client's.  Every time is ``time.monotonic()``, which all processes of
a Linux machine share.
"""

from __future__ import annotations

import contextlib
import json
import random
import resource
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from twisted.internet import reactor, stdio
from twisted.internet.error import ReactorNotRunning
from twisted.internet.protocol import ClientFactory, Protocol, connectionDone
from twisted.internet.task import LoopingCall
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from game.ampframe import BoxParser
from game.rules import Position, new_game

HOST = "127.0.0.1"
KIND = "reversi"  # long games: few end within the windows
#: Keys kept from the servers' boxes (the rest are skipped unparsed).
KEYS = frozenset(
    {b"_answer", b"_error", b"_error_code", b"_error_description", b"_command", b"game"}
)
WHEEL_TICK = 0.1
MOVE_TICK = 0.01
#: A move's answers not all in after this: counted, and the game moves on.
ANSWER_TIMEOUT = 10.0

Answer = tuple[bool, bytes]  # (ok, the game document or the error code)


def encode(*pairs: tuple[bytes, bytes]) -> bytes:
    """An AMP box (without ``_ask``): each key and value with its 2-byte length."""
    out = []
    for key, value in pairs:
        out += [len(key).to_bytes(2, "big"), key, len(value).to_bytes(2, "big"), value]
    out.append(b"\x00\x00")
    return b"".join(out)


STATUS = encode((b"_command", b"Status"))
LOST = (False, b"CONNECTION_LOST")


def version_of(document: bytes) -> int:
    """The ``version`` of a canonical game document (its keys are unique)."""
    at = document.index(b'"version":') + 10
    end = at
    while document[end : end + 1].isdigit():
        end += 1
    return int(document[at:end])


class Lean(Protocol):
    """One AMP connection to one server: calls with callbacks, pushes to its owner."""

    def __init__(self, owner: Client, server: int) -> None:
        self.owner = owner
        self.server = server
        self.parser = BoxParser(self._box, KEYS, 1 << 22)
        self.pending: dict[bytes, Callable[[Answer], None]] = {}
        self.asked = 0
        self.live = False
        #: Called once connected (the first ``Status`` of the connect phase).
        self.on_connect: Callable[[], None] = lambda: None

    def connectionMade(self) -> None:
        self.live = True
        self.on_connect()

    def dataReceived(self, data: bytes) -> None:
        self.parser.feed(data)
        while self.parser.parse():
            pass

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.live = False
        pending, self.pending = self.pending, {}
        for callback in pending.values():
            callback(LOST)
        self.owner.lost(self)

    def call(self, box: bytes, callback: Callable[[Answer], None]) -> None:
        if not self.live or self.transport is None:
            callback(LOST)
            return
        self.asked += 1
        tag = b"%x" % self.asked
        self.pending[tag] = callback
        self.transport.write(b"\x00\x04_ask" + len(tag).to_bytes(2, "big") + tag + box)

    def _box(self, box: Any) -> None:
        tag = box.get(b"_answer")
        if tag is not None:
            self.pending.pop(tag, _ignore)((True, box.get(b"game", b"")))
            return
        tag = box.get(b"_error")
        if tag is not None:
            code = box.get(b"_error_code", b"") + b": " + box.get(b"_error_description", b"")
            self.pending.pop(tag, _ignore)((False, code))
            return
        if box.get(b"_command") == b"GameChanged":
            self.owner.pushed(self.server, box[b"game"])


def _ignore(answer: Answer) -> None:
    pass


class _Dial(ClientFactory):
    def __init__(self, protocol: Lean, failed: Callable[[], None]) -> None:
        self.protocol_ = protocol
        self.failed = failed

    def buildProtocol(self, addr: Any) -> Lean:
        return self.protocol_

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self.failed()


class Client:
    """One client: a connection to each server."""

    def __init__(self, worker: Worker, number: int) -> None:
        self.worker = worker
        self.number = number
        self.links = [Lean(self, s) for s in (1, 2, 3)]
        self.lost_links = 0

    def pushed(self, server: int, document: bytes) -> None:
        pass

    def lost(self, link: Lean) -> None:
        self.lost_links += 1
        self.worker.links_lost += 1

    def each(self, box: bytes, decided: Callable[[Answer | None], None]) -> Callable[[], bool]:
        """Send ``box`` to every server; ``decided`` gets the majority answer
        (the second identical success) or ``None``; the returned function
        says whether every answer is in."""
        answers: list[Answer] = []
        state = {"decided": False}
        sent = time.monotonic()

        def arrived(answer: Answer, server: int) -> None:
            answers.append(answer)
            now = time.monotonic()
            self.worker.answered.append([now, server, now - sent])
            if len(answers) == 3:
                self.worker.all_answered.append([now, now - sent])
            if not state["decided"]:
                if answer[0] and sum(1 for a in answers if a == answer) >= 2:
                    state["decided"] = True
                    decided(answer)
                elif len(answers) == 3:
                    state["decided"] = True
                    decided(None)
                    what = box[:80].decode("utf-8", "replace")
                    self.worker.failures.append(
                        [what, *(a[1][:200].decode("utf-8", "replace") for a in answers)]
                    )

        for link in self.links:
            link.call(box, lambda answer, server=link.server: arrived(answer, server))
        return lambda: len(answers) == 3


class Watcher(Client):
    """Watches one game on all three servers; remembers every push."""

    def __init__(self, worker: Worker, number: int) -> None:
        super().__init__(worker, number)
        self.game = ""
        #: Each server's version in its Watch answer (None: refused).
        self.first: dict[int, int | None] = {}
        self.received: dict[int, list[int]] = {1: [], 2: [], 3: []}
        self.seen: dict[int, int] = {}
        #: Version -> when the second server's push of it arrived (the watcher's majority).
        self.majority_at: dict[int, float] = {}

    def watch(self, game: str, done: Callable[[], None]) -> None:
        self.game = game
        box = encode((b"_command", b"Watch"), (b"game_id", game.encode()))
        left = [3]

        def answered(link: Lean, answer: Answer) -> None:
            self.first[link.server] = version_of(answer[1]) if answer[0] else None
            left[0] -= 1
            if not left[0]:
                done()

        for link in self.links:
            link.call(box, lambda answer, link=link: answered(link, answer))

    def pushed(self, server: int, document: bytes) -> None:
        version = version_of(document)
        self.received[server].append(version)
        count = self.seen.get(version, 0) + 1
        self.seen[version] = count
        if count == 2:
            self.majority_at[version] = time.monotonic()
        self.worker.pushes += 1

    def report(self) -> list[Any]:
        return [
            self.game,
            {str(s): v for s, v in self.first.items()},
            {str(s): v for s, v in self.received.items()},
            {str(v): t for v, t in self.majority_at.items()},
        ]


class Game:
    """Two of this process's players at one board."""

    def __init__(self, worker: Worker, seats: tuple[Client, Client], number: int) -> None:
        self.worker = worker
        self.seats = seats
        self.count = 0
        self.number = number
        self.tokens = (
            f"bench-players-{worker.index}-{number}-seat0",
            f"bench-players-{worker.index}-{number}-seat1",
        )
        self.game_id = ""
        self.version = 0
        self.position: Position = new_game(KIND)
        self.all_answered: Callable[[], bool] = lambda: True

    def new_id(self) -> str:
        self.count += 1
        return f"p{self.worker.index}-{self.number}-{self.count}-{self.worker.seed}"

    def start(self, done: Callable[[bool], None]) -> None:
        """Create and join a new game (each acknowledged by a majority)."""
        self.game_id = self.new_id()
        self.position = new_game(KIND)
        game_id = self.game_id.encode()
        create = encode(
            (b"_command", b"CreateGame"),
            (b"game_id", game_id),
            (b"kind", KIND.encode()),
            (b"player", b"seat0"),
            (b"token", self.tokens[0].encode()),
        )
        join = encode(
            (b"_command", b"JoinGame"),
            (b"game_id", game_id),
            (b"version", b"1"),
            (b"player", b"seat1"),
            (b"token", self.tokens[1].encode()),
        )

        def joined(answer: Answer | None) -> None:
            self.version = 2
            self.worker.finals[self.game_id] = 2
            done(answer is not None)

        def created(answer: Answer | None) -> None:
            if answer is None:
                done(False)
                return
            self.all_answered = self.seats[1].each(join, joined)

        self.all_answered = self.seats[0].each(create, created)

    def move(self) -> None:
        """Play one random legal move; the game is busy until every server answered."""
        position = self.position
        move = self.worker.rng.choice(position.legal_moves())
        seat = position.to_move
        version = self.version
        box = encode(
            (b"_command", b"MakeMove"),
            (b"game_id", self.game_id.encode()),
            (b"version", b"%d" % version),
            (b"move", move.encode()),
            (b"token", self.tokens[seat].encode()),
        )
        sent = time.monotonic()
        worker = self.worker

        def decided(answer: Answer | None) -> None:
            now = time.monotonic()
            if answer is None:
                return
            self.version = version + 1
            self.position = position.play(move)
            worker.finals[self.game_id] = self.version
            worker.acks.append([self.game_id, version + 1, now, now - sent])

        self.all_answered = self.seats[seat].each(box, decided)
        worker.sent += 1


class Worker:
    """This process's clients and the commands it obeys."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.index: int = options["index"]
        self.seed: int = options["seed"]
        self.ports: list[int] = options["ports"]
        self.rng = random.Random(f"{self.seed}-worker-{self.index}")
        players: int = options["players"]
        watchers: int = options["watchers"]
        self.players = [Client(self, n) for n in range(players)]
        self.watchers = [Watcher(self, players + n) for n in range(watchers)]
        self.clients: list[Client] = [*self.players, *self.watchers]
        self.games = [
            Game(self, (self.players[2 * n], self.players[2 * n + 1]), n)
            for n in range(players // 2)
        ]
        self.heartbeat: float = options["heartbeat"]
        slots = max(1, round(self.heartbeat / WHEEL_TICK))
        self.wheel: list[list[Lean]] = [[] for _ in range(slots)]
        self.wheel_at = 0
        self.beats = LoopingCall(self._beat)
        self.links_lost = 0
        self.pushes = 0
        self.sent = 0
        self.acks: list[list[Any]] = []
        #: Every game's last acknowledged version (games restarted included).
        self.finals: dict[str, int] = {}
        self.failures: list[list[str]] = []
        self.idle: deque[Game] = deque()
        self.busy: list[Game] = []
        self.mover: LoopingCall | None = None
        self.owed = 0.0
        self.behind = 0
        self.lags: list[float] = []
        #: [when, seconds] of every request's third answer (the slowest server's).
        self.all_answered: list[list[float]] = []
        #: [when, server, seconds] of every answer to a request sent to all three.
        self.answered: list[list[float]] = []
        self.out: LineReceiver | None = None

    def say(self, event: str, **fields: Any) -> None:
        assert self.out is not None
        self.out.sendLine(json.dumps({"event": event, **fields}).encode())

    def command(self, message: dict[str, Any]) -> None:
        name = message["command"]
        if name == "connect":
            self.connect(message["rate"], message["in_flight"])
        elif name == "games":
            self.start_games()
        elif name == "watch":
            self.watch(message["games"])
        elif name == "moves":
            self.start_moves(message["rate"])
        elif name == "stop":
            self.stop_moves()
        elif name == "report":
            self.say("report", **self.report())
        elif name == "exit":
            with contextlib.suppress(ReactorNotRunning):
                reactor.stop()

    # -- connecting and heartbeats ---------------------------------------------

    def connect(self, rate: float, in_flight: int) -> None:
        links = [link for client in self.clients for link in client.links]
        queue = deque(links)
        started = time.monotonic()
        state = {"open": 0, "done": 0, "failed": 0, "refused": 0}

        def finished(link: Lean, answer: Answer | None) -> None:
            state["open"] -= 1
            state["done"] += 1
            if answer is None:
                state["failed"] += 1
            elif not answer[0]:
                state["refused"] += 1
            else:
                self.wheel[self.rng.randrange(len(self.wheel))].append(link)
            if state["done"] == len(links):
                ticker.stop()
                self.say(
                    "connect",
                    links=len(links),
                    seconds=time.monotonic() - started,
                    failed=state["failed"],
                    refused=state["refused"],
                )

        def dial(link: Lean) -> None:
            link.on_connect = lambda: link.call(STATUS, lambda answer: finished(link, answer))
            factory = _Dial(link, lambda: finished(link, None))
            reactor.connectTCP(HOST, self.ports[link.server - 1], factory, timeout=30)

        budget = [0.0]

        def tick() -> None:
            budget[0] = min(budget[0] + rate * 0.01, float(in_flight))
            while queue and state["open"] < in_flight and budget[0] >= 1:
                budget[0] -= 1
                state["open"] += 1
                dial(queue.popleft())

        # Heartbeats from the start: connecting 30,000 links can take longer
        # than the three silent heartbeats after which a server closes one.
        if not self.beats.running:
            self.beats.start(WHEEL_TICK, now=False)
        ticker = LoopingCall(tick)
        ticker.start(0.01)

    def _beat(self) -> None:
        slot = self.wheel[self.wheel_at]
        self.wheel_at = (self.wheel_at + 1) % len(self.wheel)
        for link in slot:
            if link.live:
                link.call(STATUS, _ignore)

    # -- games, watches, moves ---------------------------------------------------

    def start_games(self) -> None:
        left = [len(self.games)]
        failed = [0]
        queue = deque(self.games)

        def next_one() -> None:
            if queue:
                queue.popleft().start(started)

        def started(ok: bool) -> None:
            failed[0] += 0 if ok else 1
            left[0] -= 1
            reactor.callLater(0, next_one)
            if not left[0]:
                self.idle.extend(self.games)
                self.say("games", games=[g.game_id for g in self.games], failed=failed[0])

        if not self.games:
            self.say("games", games=[], failed=0)
        for _ in range(32):
            next_one()

    def watch(self, games: list[str]) -> None:
        left = [len(self.watchers)]
        started = time.monotonic()
        if not self.watchers:
            self.say("watch", seconds=0.0, refused=0)
            return

        def done() -> None:
            left[0] -= 1
            if not left[0]:
                refused = sum(1 for w in self.watchers for v in w.first.values() if v is None)
                self.say("watch", seconds=time.monotonic() - started, refused=refused)

        for watcher in self.watchers:
            watcher.watch(self.rng.choice(games), done)

    def start_moves(self, rate: float) -> None:
        self.rate = rate
        self.owed = 0.0
        self.last_tick = time.monotonic()
        self.mover = LoopingCall(self._move_tick)
        self.mover.start(MOVE_TICK)
        self.say("moves")

    def _move_tick(self) -> None:
        now = time.monotonic()
        # How late this tick runs: the generator's own reactor lag.
        self.lags.append(now - self.last_tick - MOVE_TICK)
        self.owed += self.rate * (now - self.last_tick)
        self.last_tick = now
        still = []
        for game in self.busy:
            if game.all_answered():
                if game.position.outcome() is None:
                    self.idle.append(game)
                else:
                    game.start(lambda ok, game=game: self.busy.append(game))
                continue
            still.append(game)
        self.busy = still
        while self.owed >= 1 and self.idle:
            self.owed -= 1
            game = self.idle.popleft()
            game.move()
            self.busy.append(game)
        if self.owed > 1:
            # Not enough idle games to keep the rate: count it, do not pile it up.
            self.behind += int(self.owed)
            self.owed -= int(self.owed)

    def stop_moves(self) -> None:
        if self.mover is not None and self.mover.running:
            self.mover.stop()
        started = time.monotonic()

        def check() -> None:
            if all(g.all_answered() for g in self.games) or (
                time.monotonic() - started > ANSWER_TIMEOUT
            ):
                waiting.stop()
                unanswered = sum(1 for g in self.games if not g.all_answered())
                self.say("stop", unanswered=unanswered)

        waiting = LoopingCall(check)
        waiting.start(0.01)

    def report(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "acks": self.acks,
            "all_answered": self.all_answered,
            "answered": self.answered,
            "finals": self.finals,
            "watchers": [w.report() for w in self.watchers],
            "failures": self.failures[:20],
            "failed_moves": len(self.failures),
            "sent": self.sent,
            "behind": self.behind,
            "lag_p99_ms": 1000 * sorted(self.lags)[int(0.99 * len(self.lags))]
            if self.lags
            else 0.0,
            "lag_max_ms": 1000 * max(self.lags, default=0.0),
            "links_lost": self.links_lost,
            "pushes": self.pushes,
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "max_rss_mb": usage.ru_maxrss / 1024,
        }


class Commands(LineReceiver):
    delimiter = b"\n"
    MAX_LENGTH = 1 << 20

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def connectionMade(self) -> None:
        self.worker.out = self
        self.worker.say("ready")

    def lineReceived(self, line: bytes) -> None:
        self.worker.command(json.loads(line))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        # The benchmark closed our input, or died: nobody is left to report to.
        with contextlib.suppress(ReactorNotRunning):
            reactor.stop()


def raise_open_files() -> int:
    """The soft limit on open files raised to the hard limit; the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def main() -> None:
    raise_open_files()
    worker = Worker(json.loads(sys.argv[1]))
    stdio.StandardIO(Commands(worker))
    reactor.run()


if __name__ == "__main__":
    main()
