"""A chaos run: three real servers behind fault proxies, bots, faults, the checker.

:class:`ChaosRun` does, in order:

1. start nine :class:`~tests.chaos.proxy.FaultProxy` ports (client and peer
   side of each server), pick three real ports, write the cluster config
   (``host``/``port`` and ``peer_host``/``peer_port`` are proxies, ``listen``
   the real port) and start three ``twistd replgame`` servers, each with its
   own clock offset drawn from the seed (:func:`tests.chaos.timed.server_offsets`);
2. start the bots (:mod:`tests.chaos.bots`), a share of whose games are
   timed, and inject the faults of the seeded plan
   (:mod:`tests.chaos.schedule`) while they play;
3. at the end of the duration, stop the bots, end every fault (restart,
   SIGCONT, links back to pass): that is the last heal; with timed games,
   wait too until every timed game of the bots is past its deadline plus
   ``flag_grace`` (:func:`tests.chaos.timed.timed_settle`), the last change
   the servers make on their own, and count from the later of the two;
4. wait until the three servers serve with equal clocks and digests and
   byte-identical games, then run :func:`tests.chaos.checker.check` over the
   recorded history and that final state, and print the summary.

Every wait has a deadline, and every server process is killed and reaped at
the end, whatever happens.
"""

from __future__ import annotations

import collections
import gzip
import json
import random
import secrets
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TextIO

import attrs
from twisted.internet import defer
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import globalLogPublisher
from twisted.protocols import amp
from twisted.python.failure import Failure

from game import protocol as p
from game.client.client import ReplicatedClient
from game.config import load_config
from tests.chaos import schedule as s
from tests.chaos.bots import ChaosBot
from tests.chaos.checker import CheckResult, FinalServer, FinalState, check, summary_table
from tests.chaos.history import Recorder, monotonic_clock
from tests.chaos.processes import (
    HOST,
    AddressInUse,
    ServerProcess,
    StartFailed,
    free_port,
    snapshot_code,
)
from tests.chaos.proxy import BLACKHOLE, CUT, DELAY, PASS, FaultProxy
from tests.chaos.timed import (
    TimedPlay,
    catch_up_bound,
    describe_offsets,
    server_offsets,
    timed_lead,
    timed_settle,
)

#: Tuning for fast convergence (seconds).
TUNING: Final = {
    "startup_wait": 1,
    "anti_entropy_interval": 1,
    "catchup_timeout": 2,
    "heartbeat": 2,
    "request_timeout": 2,
    "clock_skew": 2,
    "flag_grace": 5,
}
IDS: Final = (1, 2, 3)
#: Games whose whole story violations.txt tells (the first ones with a violation).
STORIES: Final = 20


@attrs.frozen
class Options:
    seed: int
    duration: float = 600.0
    games: int = 50
    faults_per_minute: float = 24.0
    directory: Path | None = None
    keep: bool = False
    think: tuple[float, float] = (0.1, 0.4)
    convergence_limit: float = 30.0
    #: How long to keep waiting for convergence past the limit, to report it.
    convergence_wait: float = 90.0
    verbose: bool = False
    #: How the bots play timed games (None: untimed games only).
    timed: TimedPlay | None = attrs.Factory(TimedPlay)


@attrs.define
class RunReport:
    seed: int
    result: CheckResult
    faults: dict[str, int]
    skipped: int
    directory: Path
    table: str

    @property
    def ok(self) -> bool:
        return self.result.ok


def _without_now(statuses: dict[int, dict[str, Any] | None]) -> dict[int, Any]:
    """Status answers without ``now`` (the wall clock moves on)."""
    return {
        sid: None if status is None else {k: v for k, v in status.items() if k != "now"}
        for sid, status in statuses.items()
    }


def _sleep(reactor: Any, seconds: float) -> defer.Deferred[None]:
    return deferLater(reactor, max(0.0, seconds), lambda: None)


class _Ending:
    """Sleeps that end early when the run ends."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self.ended = False
        self._waiters: set[defer.Deferred[None]] = set()

    async def hold(self, seconds: float) -> None:
        if self.ended:
            return
        waiter: defer.Deferred[None] = defer.Deferred()
        timer = self.reactor.callLater(seconds, lambda: waiter.called or waiter.callback(None))
        self._waiters.add(waiter)
        try:
            await waiter
        finally:
            self._waiters.discard(waiter)
            if timer.active():
                timer.cancel()

    def end(self) -> None:
        self.ended = True
        for waiter in list(self._waiters):
            if not waiter.called:
                waiter.callback(None)


class ChaosRun:
    def __init__(self, options: Options, reactor: Any, out: TextIO) -> None:
        self.options = options
        self.reactor = reactor
        self.out = out
        self.now: Callable[[], float] = monotonic_clock()
        self.recorder = Recorder(self.now)
        self.root = options.directory or Path(tempfile.mkdtemp(prefix="replgame-chaos-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.config_path = self.root / "cluster.toml"
        self.secret = "chaos-" + secrets.token_hex(16)
        self.client_proxies: dict[int, FaultProxy] = {}
        self.peer_proxies: dict[int, FaultProxy] = {}
        self.servers: dict[int, ServerProcess] = {}
        #: Each server's clock offset in ms (``--clock-offset-ms``).
        self.offsets = server_offsets(options.seed, TUNING["clock_skew"], IDS)
        #: Whether each server should be running (False while a fault holds it down).
        self.wanted: dict[int, bool] = dict.fromkeys(IDS, True)
        self.starting: set[int] = set()
        self.busy: set[str] = set()
        self.bots: list[ChaosBot] = []
        self.bot_runs: list[defer.Deferred[None]] = []
        self.ending = _Ending(reactor)
        self.faults_done: collections.Counter[str] = collections.Counter()
        self.skipped = 0
        self.wipes = 0
        self.sweeps = 0
        self.auditor_stopping = False
        self.audit_run: defer.Deferred[None] = defer.succeed(None)
        #: When the last fault was undone (a restart, SIGCONT, a link back to pass).
        self.last_restore = 0.0
        self.incidents: list[str] = []
        self.schedule_lines: list[str] = []
        self.harness_errors: list[str] = []
        self._monitor = LoopingCall(self._check_processes)
        self._monitor.clock = reactor
        self._observer = self._observe_harness_log

    # -- output -------------------------------------------------------------------

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def note(self, text: str, show: bool = False) -> None:
        line = f"[{self.now():7.2f}] {text}"
        self.schedule_lines.append(line)
        if show or self.options.verbose:
            self.say(line)

    def _observe_harness_log(self, event: dict[str, Any]) -> None:
        # Failures logged in this process (the client library, the proxy):
        # a client-side traceback is a finding too.
        failure = event.get("log_failure")
        if failure is not None or event.get("isError"):
            text = failure.getTraceback() if failure is not None else str(event)
            self.harness_errors.append(f"[{self.now():.2f}] {text}")

    # -- set-up ---------------------------------------------------------------------

    def _setup(self) -> None:
        code = self.root / "code"
        digest = snapshot_code(code)
        self.say(f"servers run a copy of game/ taken now (sha256 {digest}), in {code}")
        for sid in IDS:
            self.client_proxies[sid] = FaultProxy(self.reactor, f"client-{sid}")
            self.peer_proxies[sid] = FaultProxy(self.reactor, f"peer-{sid}")
            self.client_proxies[sid].listen()
            self.peer_proxies[sid].listen()
        used = {proxy.port for proxy in self._proxies()}
        for sid in IDS:
            port = free_port()
            while port in used:
                port = free_port()
            used.add(port)
            self.servers[sid] = ServerProcess(
                self.root, sid, self.config_path, port, code, self.offsets[sid]
            )
        self._write_config()

    def _proxies(self) -> list[FaultProxy]:
        return [*self.client_proxies.values(), *self.peer_proxies.values()]

    def _write_config(self) -> None:
        lines = ["[cluster]", f"secret = {json.dumps(self.secret)}", ""]
        for sid, server in self.servers.items():
            lines += [
                "[[servers]]",
                f"id = {sid}",
                f'host = "{HOST}"',
                f"port = {self.client_proxies[sid].port}",
                f'peer_host = "{HOST}"',
                f"peer_port = {self.peer_proxies[sid].port}",
                f'listen = "tcp:{server.port}:interface={HOST}"',
                f'data = "data/server-{sid}"',
                "",
            ]
            self.client_proxies[sid].target_port = server.port
            self.peer_proxies[sid].target_port = server.port
        lines.append("[tuning]")
        lines += [f"{key} = {value}" for key, value in TUNING.items()]
        self.config_path.write_text("\n".join(lines) + "\n")

    # -- server processes -----------------------------------------------------------

    async def start_server(self, sid: int) -> None:
        """Start a server and wait until it listens (not until it serves).

        On a taken port, retry once; then move it to a new port (the proxies
        follow, the config is rewritten for its later starts).
        """
        server = self.servers[sid]
        self.starting.add(sid)
        try:
            for attempt in range(4):
                if server.running:
                    return
                server.spawn()
                try:
                    await server.wait_listening(20)
                    return
                except AddressInUse:
                    self.note(f"server {sid}: port {server.port} in use (attempt {attempt + 1})")
                    if attempt >= 1:
                        server.port = free_port()
                        self._write_config()
                    await _sleep(self.reactor, 0.5)
                except StartFailed as error:
                    self.incidents.append(f"server {sid} failed to start: {error}")
                    self.note(f"server {sid} failed to start", show=True)
                    await _sleep(self.reactor, 1.0)
            raise StartFailed(f"server {sid} could not be started\n{server.tail()}")
        finally:
            self.starting.discard(sid)

    def _check_processes(self) -> None:
        for sid, server in self.servers.items():
            if sid in self.starting:
                continue
            status = server.check_exit()
            if status is not None:
                self.incidents.append(
                    f"server {sid} exited on its own with status {status} "
                    f"(run {server.runs})\n{server.tail()}"
                )
                self.note(f"server {sid} exited on its own with status {status}", show=True)
            if self.wanted[sid] and not server.running and sid not in self.starting:
                defer.ensureDeferred(self.start_server(sid)).addErrback(
                    lambda f, sid=sid: self.incidents.append(
                        f"server {sid} restart failed: {f.getErrorMessage()}"
                    )
                )

    async def _direct(self, sid: int, timeout: float = 3.0) -> amp.AMP:
        endpoint = TCP4ClientEndpoint(self.reactor, HOST, self.servers[sid].port, timeout=timeout)
        d = connectProtocol(endpoint, amp.AMP())
        return await d.addTimeout(timeout, self.reactor)

    async def _status(self, sid: int) -> dict[str, Any] | None:
        try:
            connection = await self._direct(sid)
        except Exception:
            return None
        try:
            answer = await connection.callRemote(p.Status).addTimeout(3, self.reactor)
            return dict(answer)
        except Exception:
            return None
        finally:
            connection.transport.abortConnection()

    async def _documents(self, sid: int) -> dict[str, str] | None:
        """Every game a server holds (ListGames pages, then GetGame of each)."""
        try:
            connection = await self._direct(sid)
        except Exception:
            return None
        try:
            ids: list[str] = []
            after = ""
            while True:
                page = await connection.callRemote(p.ListGames, limit=100, after=after).addTimeout(
                    10, self.reactor
                )
                ids += [json.loads(summary)["id"] for summary in page["games"]]
                after = page["next"]
                if not after:
                    break
            # A few requests at a time: a server closes a connection that
            # lets more than 1 MiB of answers pile up unread.
            documents: dict[str, str] = {}
            queue = iter(ids)

            async def worker() -> None:
                for gid in queue:
                    answer = await connection.callRemote(p.GetGame, game_id=gid).addTimeout(
                        20, self.reactor
                    )
                    documents[gid] = answer["game"]

            await defer.gatherResults(
                [defer.ensureDeferred(worker()) for _ in range(16)], consumeErrors=True
            )
            return {gid: documents[gid] for gid in ids}
        except Exception:
            return None
        finally:
            connection.transport.abortConnection()

    async def wait_serving_all(self, timeout: float) -> None:
        deadline = self.now() + timeout
        while self.now() < deadline:
            statuses = [await self._status(sid) for sid in IDS]
            if all(status is not None and status["serving"] for status in statuses):
                return
            await _sleep(self.reactor, 0.2)
        raise StartFailed(f"the cluster did not serve within {timeout} s")

    async def _show_offsets(self) -> None:
        """Say how far each server's ``Status.now`` is from our clock (the
        injected offset, give or take the round trip)."""
        seen = []
        for sid in IDS:
            status = await self._status(sid)
            if status is not None and "now" in status:
                seen.append(f"server {sid} {status['now'] - round(time.time() * 1000):+d} ms")
        self.say(f"server clocks measured: {', '.join(seen)}")

    # -- faults ---------------------------------------------------------------------

    async def _acquire(self, resources: tuple[str, ...], timeout: float = 15.0) -> bool:
        deadline = self.now() + timeout
        while any(r in self.busy for r in resources):
            if self.now() > deadline or self.ending.ended:
                return False
            await _sleep(self.reactor, 0.1)
        self.busy.update(resources)
        return True

    async def run_fault(self, fault: s.PlannedFault) -> None:
        resources = fault.resources()
        if not await self._acquire(resources):
            self.skipped += 1
            self.note(f"skipped {fault.describe()} (its servers or links were still busy)")
            return
        self.faults_done[fault.kind] += 1
        self.note(f"start {fault.describe()}")
        try:
            await self._inject(fault)
        except Exception:
            self.incidents.append(f"fault {fault.describe()} failed:\n{traceback.format_exc()}")
        finally:
            self.busy.difference_update(resources)
            self.last_restore = self.now()
            self.note(f"end   #{fault.number} {fault.kind}")

    async def _inject(self, fault: s.PlannedFault) -> None:
        kind = fault.kind
        if kind in (s.KILL_RESTART, s.TWO_DOWN, s.ALL_KILLED, s.WIPE_RESTART):
            for sid in fault.servers:
                self.wanted[sid] = False
                self.servers[sid].kill()
            if kind == s.WIPE_RESTART:
                (sid,) = fault.servers
                self.servers[sid].wipe()
                self.recorder.wiped(sid)
                self.wipes += 1
            await self.ending.hold(fault.hold)
            for sid in fault.servers:
                self.wanted[sid] = True
            await defer.gatherResults(
                [defer.ensureDeferred(self.start_server(sid)) for sid in fault.servers],
                consumeErrors=True,
            )
        elif kind == s.STOP_CONT:
            (sid,) = fault.servers
            self.servers[sid].pause()
            try:
                await self.ending.hold(fault.hold)
            finally:
                self.servers[sid].resume()
        else:
            (sid,) = fault.servers
            proxies = self.client_proxies if kind.endswith("_client") else self.peer_proxies
            proxy = proxies[sid]
            mode = {"cut": CUT, "blackhole": BLACKHOLE, "delay": DELAY}[kind.split("_")[0]]
            assert fault.direction is not None
            proxy.set_mode(fault.direction, mode, (fault.delay_ms or 0) / 1000)
            try:
                await self.ending.hold(fault.hold)
            finally:
                proxy.set_mode(fault.direction, PASS)

    async def inject_plan(self, plan: list[s.PlannedFault], started: float) -> None:
        running: list[defer.Deferred[None]] = []
        duration = self.options.duration
        for fault in plan:
            wait = started + fault.at - self.now()
            if wait > 0:
                await _sleep(self.reactor, wait)
            if self.now() - started >= duration:
                break
            running.append(defer.ensureDeferred(self.run_fault(fault)))
        rest = started + duration - self.now()
        if rest > 0:
            await _sleep(self.reactor, rest)
        self.faults_pending = running

    # -- progress -----------------------------------------------------------------

    def _progress(self, started: float) -> None:
        requests = self.recorder.history.requests
        acks = sum(1 for r in requests if r.decision == "ack" and r.is_change)
        self.say(
            f"[{self.now() - started:6.0f} s] faults {sum(self.faults_done.values())}, "
            f"requests {len(requests)}, acknowledged changes {acks}, "
            f"games {sum(len(bot.games) for bot in self.bots)}"
        )

    # -- the run ------------------------------------------------------------------

    def make_plan(self) -> list[s.PlannedFault]:
        options = self.options
        return s.make_plan(options.seed, options.duration, options.faults_per_minute)

    async def run(self) -> RunReport:
        options = self.options
        self.say(f"chaos seed: {options.seed}")
        plan = self.make_plan()
        kinds = collections.Counter(f.kind for f in plan)
        self.say(
            f"chaos run in {self.root}: {options.duration:g} s, {options.games} games, "
            f"{len(plan)} faults planned ({options.faults_per_minute:g}/min): "
            + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        )
        self.say(f"server clock offsets: {describe_offsets(self.offsets)}")
        timed = options.timed
        if timed is not None:
            self.say(
                f"timed games: {timed.share:.0%} of the games, {', '.join(timed.controls)}; "
                f"{timed.flag_rate:.0%} of them flagged on purpose, "
                f"{timed.claim_rate:.0%} of those claimed"
            )
        (self.root / "plan.txt").write_text("\n".join(f"{f.at:8.2f} {f.describe()}" for f in plan))
        globalLogPublisher.addObserver(self._observer)
        progress = None
        heal_at: float | None = None
        converged_at: float | None = None
        final_servers: list[FinalServer] = []
        try:
            self._setup()
            await defer.gatherResults(
                [defer.ensureDeferred(self.start_server(sid)) for sid in IDS], consumeErrors=True
            )
            await self.wait_serving_all(30)
            await self._show_offsets()
            self._monitor.start(0.5, now=False)
            config = load_config(self.config_path)
            started = self.now()
            self.note("bots start", show=True)
            timed_until = started + options.duration
            if options.timed is not None:
                timed_until -= timed_lead(options.timed, TUNING["clock_skew"])
            for index in range(options.games):
                rng = random.Random(f"{options.seed}-bot-{index}")
                bot = ChaosBot(
                    index,
                    config,
                    self.reactor,
                    self.recorder,
                    rng,
                    options.think,
                    options.timed,
                    timed_until,
                )
                self.bots.append(bot)
                self.bot_runs.append(defer.ensureDeferred(bot.run()))
            self.audit_run = defer.ensureDeferred(self._audit(config))
            progress = LoopingCall(self._progress, started)
            progress.clock = self.reactor
            progress.start(30, now=False)
            self.faults_pending: list[defer.Deferred[None]] = []
            await self.inject_plan(plan, started)
            self.note("duration over: stopping the bots", show=True)
            self.auditor_stopping = True
            await self._stop_bots(20)
            await self._within(self.audit_run, 20, "the auditor to stop")
            self.note("ending the faults", show=True)
            self.ending.end()
            await self._within(defer.DeferredList(self.faults_pending), 60, "faults to end")
            heal_at = await self._heal()
            if options.timed is not None:
                heal_at = await self._settle(started, heal_at)
            self.note("healed; waiting for convergence", show=True)
            converged_at, final_servers = await self._converge(heal_at)
            if converged_at is not None:
                self.note(
                    f"converged {converged_at - heal_at:.2f} s after the last heal", show=True
                )
        finally:
            self.auditor_stopping = True
            if progress is not None and progress.running:
                progress.stop()
            if self._monitor.running:
                self._monitor.stop()
            for bot in self.bots:
                bot.stop()
            await self._within(
                defer.DeferredList([bot.client.stop() for bot in self.bots]), 10, "clients"
            )
            for server in self.servers.values():
                server.terminate(timeout=10)
            for proxy in self._proxies():
                proxy.stop()
            globalLogPublisher.removeObserver(self._observer)
        return self._finish(heal_at, converged_at, final_servers)

    async def _within(
        self, d: defer.Deferred[Any], timeout: float, what: str, incident: bool = True
    ) -> bool:
        """Wait for ``d`` at most ``timeout`` seconds (without cancelling it:
        a cancelled DeferredList waits for all its parts); whether it fired."""
        waiter: defer.Deferred[bool] = defer.Deferred()
        timer = self.reactor.callLater(timeout, lambda: waiter.called or waiter.callback(False))

        def fired(result: object) -> None:
            if not waiter.called:
                waiter.callback(True)
            if isinstance(result, Failure):
                self.incidents.append(f"harness: {what} failed: {result.getTraceback()}")

        d.addBoth(fired)
        done = await waiter
        if timer.active():
            timer.cancel()
        if not done:
            if incident:
                self.incidents.append(f"harness: {what} did not finish within {timeout} s")
            self.note(f"{what} did not finish within {timeout} s", show=True)
        return done

    async def _stop_bots(self, timeout: float) -> None:
        for bot in self.bots:
            bot.stop()
        if await self._within(defer.DeferredList(self.bot_runs), timeout, "bots to stop"):
            return
        # Say what the bots that did not stop wait for: a request whose
        # Outcome never came would be a client library bug.
        for bot in self.bots:
            if not bot.done:
                self.incidents.append(f"bot {bot.index} did not stop; it was: {bot.doing}")
        for record in self.recorder.history.requests:
            if record.decided is None and record.decision != "noservers":
                self.incidents.append(
                    f"a request was never decided by the client: {record.describe()}"
                )

    async def _audit(self, config: Any) -> None:
        """After every wipe, read every game until two servers agree on it.

        Such a read confirms again the changes its document holds, from two
        servers that (unless wiped later) keep them: an acknowledgement that
        relied on a wiped server and is still there is then counted on again
        by the checker.  One that a wipe did undo is not in these documents,
        so it stays excused.  The plan has no wipe in the last fifth of the
        run, so the last sweep ends while the bots still play.
        """
        auditor = ReplicatedClient(config, self.reactor)
        self.recorder.tap(auditor)
        auditor.start()
        swept = 0
        try:
            while not self.auditor_stopping:
                if self.wipes == swept:
                    await _sleep(self.reactor, 0.5)
                    continue
                wipes = self.wipes
                await self._sweep(auditor)
                swept = wipes
        finally:
            await self._within(auditor.stop(), 10, "the auditor to stop")

    async def _sweep(self, auditor: ReplicatedClient, budget: float = 120, width: int = 16) -> None:
        """Read every game, again and again for those that two servers did
        not answer alike, until all are confirmed, ``budget`` seconds pass,
        a new wipe starts a new sweep, or the run ends."""
        pending = [game_id for bot in self.bots for game_id in bot.games]
        started = self.now()
        wipes = self.wipes
        self.note(f"audit sweep: reading {len(pending)} games", show=self.options.verbose)

        def stop() -> bool:
            return self.auditor_stopping or self.wipes != wipes

        async def read(game_id: str) -> bool:
            try:
                outcome = await self.recorder.request(auditor, p.GetGame, {"game_id": game_id})
            except Exception:
                self.incidents.append(f"the auditor's read failed:\n{traceback.format_exc()}")
                return True
            return outcome is not None and outcome.error is None and not outcome.provisional

        rounds = 0
        while pending and not stop() and self.now() - started < budget:
            # A few workers that each await their reads: no DeferredSemaphore,
            # whose releases recurse when many reads fail at once.
            rounds += 1
            games = iter(pending)
            unconfirmed: list[str] = []

            async def worker(games: Any = games, unconfirmed: list[str] = unconfirmed) -> None:
                for game_id in games:
                    if stop():
                        unconfirmed.append(game_id)
                        continue
                    if not await read(game_id):
                        unconfirmed.append(game_id)

            await defer.gatherResults([defer.ensureDeferred(worker()) for _ in range(width)])
            pending = unconfirmed
            if pending:
                await _sleep(self.reactor, 1.0)
        self.sweeps += 1
        self.note(
            f"audit sweep done in {self.now() - started:.1f} s, {rounds} round(s); "
            f"{len(pending)} games unconfirmed",
            show=self.options.verbose,
        )

    async def _heal(self) -> float:
        """Undo whatever is still broken; when the last fault was undone."""
        for proxy in self._proxies():
            if not proxy.healthy:
                proxy.heal()
                self.last_restore = self.now()
        for sid, server in self.servers.items():
            self.wanted[sid] = True
            if server.paused:
                server.resume()
                self.last_restore = self.now()
        for sid, server in self.servers.items():
            if not server.running:
                try:
                    await self.start_server(sid)
                except StartFailed as error:
                    self.incidents.append(
                        f"server {sid} could not be restarted at the end: {error}"
                    )
                self.last_restore = self.now()
        heal_at = self.last_restore or self.now()  # no fault at all: now
        self.note(f"last heal at {heal_at:.2f}", show=True)
        return heal_at

    async def _settle(self, started: float, heal_at: float) -> float:
        """Wait until every timed game of the bots is past its deadline plus
        ``flag_grace`` on every server's clock: after that the servers make
        no change of their own.  The later of that and ``heal_at``."""
        settled = (
            started
            + self.options.duration
            + timed_settle(TUNING["flag_grace"], TUNING["clock_skew"])
        )
        if settled > heal_at:
            self.note(f"timed games settled at {settled:.2f}", show=True)
            await _sleep(self.reactor, settled - self.now())
            return settled
        return heal_at

    async def _converge(self, heal_at: float) -> tuple[float | None, list[FinalServer]]:
        deadline = heal_at + self.options.convergence_limit + self.options.convergence_wait
        final: list[FinalServer] = []
        while True:
            round_started = self.now()
            statuses = {sid: await self._status(sid) for sid in IDS}
            keys = {
                (st["clock"], st["games"], st["digest"]) if st and st["serving"] else None
                for st in statuses.values()
            }
            if (len(keys) == 1 and None not in keys) or self.now() >= deadline:
                documents = {sid: await self._documents(sid) for sid in IDS}
                final = [FinalServer(sid, statuses[sid], documents[sid] or {}) for sid in IDS]
                texts = [documents[sid] for sid in IDS]
                if None not in texts and texts[0] == texts[1] == texts[2] and len(keys) == 1:
                    again = {sid: await self._status(sid) for sid in IDS}
                    if _without_now(again) == _without_now(statuses):
                        return round_started, final
                if self.now() >= deadline:
                    return None, final
            await _sleep(self.reactor, 0.5)

    def _finish(
        self, heal_at: float | None, converged_at: float | None, final_servers: list[FinalServer]
    ) -> RunReport:
        logs: dict[str, str] = {}
        for server in self.servers.values():
            logs.update(server.all_logs())
        incidents = list(self.incidents)
        for bot in self.bots:
            incidents += [f"bot {bot.index} raised:\n{error}" for error in bot.errors]
        incidents += [f"harness process logged an error: {e}" for e in self.harness_errors]
        final = FinalState(
            tuple(final_servers),
            logs,
            heal_at,
            converged_at,
            self.options.convergence_limit,
            tuple(incidents),
            overdue_after=TUNING["flag_grace"] + catch_up_bound(TUNING),
        )
        history = self.recorder.history
        result = check(history, final)
        extra = [
            ("seed", self.options.seed),
            ("games started by the bots", sum(len(bot.games) for bot in self.bots)),
            ("games finished by the bots", sum(bot.finished_games for bot in self.bots)),
            ("faults skipped (busy)", self.skipped),
            ("audit sweeps after wipes", self.sweeps),
            ("timed games started by the bots", sum(bot.timed_games for bot in self.bots)),
            ("  flagged on purpose", sum(bot.flagged_on_purpose for bot in self.bots)),
            ("  given up waiting for", sum(len(bot.given_up) for bot in self.bots)),
            *[(f"clock offset of server {sid} (ms)", f"{o:+d}") for sid, o in self.offsets.items()],
        ]
        table = summary_table(result, dict(self.faults_done), extra)
        report = RunReport(
            self.options.seed, result, dict(self.faults_done), self.skipped, self.root, table
        )
        self._write_files(result, history, final, table)
        return report

    def _write_files(
        self, result: CheckResult, history: Any, final: FinalState, table: str
    ) -> None:
        final_servers = list(final.servers)
        (self.root / "schedule.log").write_text("\n".join(self.schedule_lines) + "\n")
        with gzip.open(self.root / "history.json.gz", "wt") as out:
            json.dump(history.to_json(), out)
        (self.root / "final.json").write_text(
            json.dumps(
                {
                    str(f.server_id): {"status": f.status, "documents": f.documents}
                    for f in final_servers
                }
            )
        )
        (self.root / "harness-errors.log").write_text("\n".join(self.harness_errors))
        lines = []
        told: set[str] = set()
        for violation in result.violations:
            lines.append(f"== check {violation.check} {violation.kind}: {violation.message}")
            game_id = violation.game_id
            if game_id is not None and game_id not in told and len(told) < STORIES:
                told.add(game_id)
                lines.append(self.game_story(game_id, history, final_servers, final.logs))
        (self.root / "violations.txt").write_text("\n".join(lines) + "\n")
        (self.root / "notes.txt").write_text("\n".join(result.notes) + "\n")
        report = {
            "seed": self.options.seed,
            "offsets": {str(sid): offset for sid, offset in self.offsets.items()},
            "overdue_after": final.overdue_after,
            "options": {
                "duration": self.options.duration,
                "games": self.options.games,
                "faults_per_minute": self.options.faults_per_minute,
            },
            "faults": dict(self.faults_done),
            "skipped": self.skipped,
            "heal_at": final.heal_at,
            "converged_at": final.converged_at,
            "incidents": list(final.incidents),
            "counts": result.counts(),
            "violations": [attrs.asdict(v) for v in result.violations],
            "table": table,
            "directory": str(self.root),
        }
        (self.root / "report.json").write_text(json.dumps(report, indent=2))

    def game_story(
        self,
        game_id: str,
        history: Any,
        final_servers: list[FinalServer],
        logs: dict[str, str] | Any,
    ) -> str:
        """Everything about one game: its requests, its final documents, the
        server log lines that name it, and the faults around it."""
        records = [r for r in history.requests if r.game_id == game_id]
        lines = [f"-- history of {game_id} ({len(records)} requests)"]
        lines += ["  " + r.describe() for r in records]
        lines.append("-- final documents")
        for final in final_servers:
            lines.append(f"  server {final.server_id}: {final.documents.get(game_id)}")
        lines.append("-- server log lines naming it")
        for name, text in sorted(logs.items()):
            for number, line in enumerate(text.splitlines(), 1):
                if game_id in line:
                    lines.append(f"  {name}:{number}: {line}")
        if records:
            start, end = records[0].sent - 5, (records[-1].decided or records[-1].sent) + 5
            lines.append(f"-- schedule from {start:.1f} to {end:.1f} s")
            for line in self.schedule_lines:
                try:
                    at = float(line[1:8])
                except ValueError:
                    continue
                if start <= at <= end:
                    lines.append("  " + line)
        return "\n".join(lines)

    def cleanup(self, report: RunReport | None) -> None:
        if report is not None and report.ok and not self.options.keep:
            shutil.rmtree(self.root, ignore_errors=True)
