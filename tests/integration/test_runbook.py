"""docs/operations.md, followed step by step against real servers while bots play.

Each test is one procedure of the runbook, its steps in the runbook's order
and with the runbook's commands: ``replgame status`` (its ``agree:`` line),
``GET /readyz`` on each server's metrics endpoint, ``replgame-admin
backup``/``restore``; stopping a server is SIGTERM (``systemctl stop``), a
dead machine is SIGKILL.  Meanwhile bots (:func:`game.client.bots.run_bots`)
play rounds of games through a :class:`ReplicatedClient` built from the
clients' config file at each round, and every acknowledged change (two
servers gave the same successful answer) is recorded.  At the end: every
acknowledged change is in the final document of its game on all three
servers, the three agree (``replgame status --json``), and no request ever
had fewer than two servers answering (the clients kept a majority).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import defer, reactor
from twisted.internet.error import ConnectError
from twisted.web.client import Agent, readBody

from game import protocol as p
from game.client.bots import BotReport, run_bots
from game.client.client import Outcome, ReplicatedClient
from game.client.document import GameDocument
from game.config import load_config
from game.localcluster import free_ports
from tests.integration.cli_helpers import REPLGAME, Collector
from tests.integration.cluster import ALL, HOST, Cluster, Server, sleep, timed_test
from tests.integration.conftest import clusters_made

ADMIN = Path(sys.executable).with_name("replgame-admin")
#: Games each round of bots plays at once (connect4: at most 44 requests each).
GAMES_PER_ROUND = 3
#: The bots' pause before each move: players, not a load test, so that the
#: three servers are often at the same clock when ``replgame status`` asks.
THINK = 0.03
#: How long the runbook's waits may take here (the runbook says a minute).
WAIT = 20
#: Acknowledged changes the bots make between two steps that need traffic.
TRAFFIC = 25
AGREE = re.compile(r"^agree: yes, all 3 serve the same games at clock (\d+)$", re.M)


# -- the cluster: each server has a metrics endpoint, and its own config file --------


class RunbookCluster(Cluster):
    """Three servers with ``metrics`` endpoints (for ``/readyz``); a server can move
    to new ports in a new config (:meth:`moved_config`), as a new machine would."""

    def __init__(self, root: Path, **tuning: float | int) -> None:
        self.metrics: dict[int, int] = {}
        super().__init__(root, **tuning)

    def _assign_ports(self) -> None:
        ports = free_ports(6)  # in one call: no two alike
        for server_id, port, metrics in zip(ALL, ports[:3], ports[3:], strict=True):
            server = self.servers.get(server_id)
            if server is None:
                self.servers[server_id] = Server(self, server_id, port)
            else:
                server.port = port
            self.metrics[server_id] = metrics
        self.write_config(self.config_path)

    def config_text(self, secret: str | None = None, **extra_tuning: Any) -> str:
        lines = ["[cluster]", f"secret = {json.dumps(secret or self.secret)}", ""]
        for server in self.servers.values():
            endpoint = f"tcp:{self.metrics[server.id]}:interface={HOST}"
            lines += [
                "[[servers]]",
                f"id = {server.id}",
                f'host = "{HOST}"',
                f"port = {server.port}",
                f'metrics = "{endpoint}"',
                "",
            ]
        lines.append("[tuning]")
        lines += [f"{key} = {value}" for key, value in {**self.tuning, **extra_tuning}.items()]
        return "\n".join(lines) + "\n"

    def moved_config(self, server_id: int, path: Path) -> Path:
        """Runbook 2, step 2: a copy of the config where ``server_id`` has new ports."""
        port, metrics = free_ports(2)
        self[server_id].port = port
        self.metrics[server_id] = metrics
        return self.write_config(path)


# -- the runbook's commands ------------------------------------------------------------


class Command:
    """A console script run as a child of the reactor (the bots play on meanwhile)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def run(self, program: Path, *args: str) -> tuple[int, str, str]:
        child = Collector()
        argv = [str(program), *args]
        env = dict(os.environ, XDG_CONFIG_HOME=str(self.root / "xdg"), PYTHONUNBUFFERED="1")
        reactor.spawnProcess(child, str(program), argv, env=env, path=str(self.root))
        timer = reactor.callLater(60, child.signal, "KILL")
        code = await child.ended
        if timer.active():
            timer.cancel()
        return code, child.stdout, child.stderr

    async def status(self, config: Path, *args: str) -> str:
        """``replgame status --config CONFIG``: its output (it exits 0 while any server answers)."""
        code, out, err = await self.run(REPLGAME, "status", "--config", str(config), *args)
        assert code == 0, f"replgame status exited {code}: {out}{err}"
        return out

    async def admin(self, *args: str) -> tuple[int, str, str]:
        return await self.run(ADMIN, *args)


async def readyz(cluster: RunbookCluster, server_id: int) -> tuple[int | None, str]:
    """``curl http://HOST:METRICS/readyz``: the status code and the body (None: no answer)."""
    url = f"http://{HOST}:{cluster.metrics[server_id]}/readyz".encode()
    try:
        response = await Agent(reactor, connectTimeout=2).request(b"GET", url)
        with warnings.catch_warnings():
            # readBody warns that Agent's own response transport cannot abort.
            warnings.simplefilter("ignore", DeprecationWarning)
            reading = readBody(response)
        body = await reading
    except (ConnectError, defer.TimeoutError) as error:
        return None, repr(error)
    return response.code, body.decode("utf-8").strip()


async def wait_ready(
    cluster: RunbookCluster, server_id: int, seen: list[str] | None = None
) -> None:
    """Poll ``/readyz`` until 200 (the runbook's ``wait_ready``)."""
    deadline = time.monotonic() + WAIT
    while True:
        code, body = await readyz(cluster, server_id)
        if code == 200:
            assert body == "ok", body
            return
        if seen is not None and (not seen or seen[-1] != body):
            seen.append(body)
        server = cluster[server_id]
        assert server.running, f"server {server_id} exited: {server.poll()}\n{server.tail()}"
        assert time.monotonic() < deadline, f"/readyz of {server_id}: {code} {body}"
        await sleep(0.2)


async def wait_agree(command: Command, config: Path) -> int:
    """The runbook's check: every server's /readyz 200 is checked by the caller;
    ``replgame status`` says ``agree: yes`` (run again while digests differ)."""
    deadline = time.monotonic() + WAIT
    while True:
        out = await command.status(config)
        found = AGREE.search(out)
        if found:
            return int(found[1])
        assert time.monotonic() < deadline, f"replgame status never agreed:\n{out}"
        await sleep(0.3)


async def wait_agree_without(command: Command, config: Path, missing: int) -> None:
    """Runbook 2 and 3, step 1: the two others serve with the same digest, the
    line says only that the missing server is unreachable."""
    expected = f"agree: no, server {missing} unreachable\n"
    deadline = time.monotonic() + WAIT
    while True:
        out = await command.status(config)
        if expected in out:
            return
        assert time.monotonic() < deadline, f"the two others do not agree:\n{out}"
        await sleep(0.3)


async def check_all_ready(cluster: RunbookCluster, servers: Sequence[int] = ALL) -> None:
    for server_id in servers:
        code, body = await readyz(cluster, server_id)
        assert code == 200, f"/readyz of server {server_id}: {code} {body}"


# -- bots that record what was acknowledged ----------------------------------------------


class RecordingBots:
    """Rounds of bot games, each round with a client built from ``config`` as it
    is then (handing clients a new config: write this file)."""

    def __init__(self, config: Path, seed: int) -> None:
        self.config = config
        self.rng = random.Random(seed)
        #: Every acknowledged change: the document two servers answered.
        self.acknowledged: list[GameDocument] = []
        #: Requests answered by fewer than two servers (the clients lost their majority).
        self.without_majority: list[str] = []
        self.reports: list[BotReport] = []
        self.rounds = 0
        self._stopping = False
        self._running: defer.Deferred[None] | None = None

    def start(self) -> None:
        self._running = defer.ensureDeferred(self._play())

    async def stop(self) -> None:
        self._stopping = True
        assert self._running is not None
        await self._running

    async def traffic(self, changes: int = TRAFFIC) -> None:
        """Wait until the bots have made ``changes`` more acknowledged changes."""
        target = len(self.acknowledged) + changes
        deadline = time.monotonic() + WAIT
        while len(self.acknowledged) < target:
            assert time.monotonic() < deadline, (
                f"only {len(self.acknowledged)} acknowledged; without a majority: "
                f"{len(self.without_majority)}, e.g. {self.without_majority[-3:]}"
            )
            await sleep(0.05)

    async def next_round(self) -> None:
        """Wait until a round has started after now (with the config as it is now)."""
        target = self.rounds + 1
        deadline = time.monotonic() + WAIT
        while self.rounds < target:
            assert time.monotonic() < deadline, "the bots' round does not end"
            await sleep(0.05)

    async def _play(self) -> None:
        while not self._stopping:
            self.rounds += 1
            client = ReplicatedClient(load_config(self.config), reactor)
            self._tap(client)
            client.start()
            try:
                await client.settled()
                report = await run_bots(
                    client,
                    GAMES_PER_ROUND,
                    kind="connect4",
                    rng=random.Random(self.rng.random()),
                    concurrency=GAMES_PER_ROUND,
                    stall_timeout=WAIT,
                )
                self.reports.append(report)
            finally:
                await client.stop()

    def _tap(self, client: ReplicatedClient) -> None:
        """Record each change's outcome (an instance attribute over the method;
        the client's code is unchanged); a pause before each move."""

        def tapped(send: Callable[..., defer.Deferred[Outcome]], think: float) -> Any:
            def request(*args: Any, **kwargs: Any) -> defer.Deferred[Outcome]:
                paused = sleep(think)
                paused.addCallback(lambda _: send(*args, **kwargs))
                return paused.addCallback(self._record)

            return request

        client.create_game = tapped(client.create_game, 0)  # type: ignore[method-assign]
        client.join_game = tapped(client.join_game, 0)  # type: ignore[method-assign]
        client.make_move = tapped(client.make_move, THINK)  # type: ignore[method-assign]

    def _record(self, outcome: Outcome) -> Outcome:
        answered = len(outcome.agreed) + len(outcome.differed)
        if answered < 2:
            self.without_majority.append(
                f"{outcome.command}: answered by {outcome.agreed + outcome.differed}, "
                f"failed {outcome.failed}"
            )
        if outcome.error is None and not outcome.provisional and len(outcome.agreed) >= 2:
            self.acknowledged.append(outcome.game_document())
        return outcome

    def abandoned(self) -> list[Any]:
        return [game for report in self.reports for game in report.abandoned]


async def assert_nothing_lost(
    cluster: RunbookCluster, clients: Any, bots: RecordingBots, command: Command, config: Path
) -> None:
    """The end of every procedure: the three agree, and every acknowledged change
    is in the final document of its game on each of them."""
    deadline = time.monotonic() + WAIT
    while True:
        out = await command.status(config, "--json")
        data = json.loads(out)
        if data["agree"]:
            break
        assert time.monotonic() < deadline, f"no agreement at the end: {out}"
        await sleep(0.3)
    assert all(s["serving"] for s in data["servers"]), data
    assert len({s["digest"] for s in data["servers"]}) == 1, data
    game_ids = sorted({doc.game_id for doc in bots.acknowledged})
    final: dict[int, dict[str, GameDocument]] = {i: {} for i in ALL}
    for server_id in ALL:
        for game_id in game_ids:
            answer = await clients.call(server_id, p.GetGame, game_id=game_id)
            final[server_id][game_id] = GameDocument.from_json(answer["game"])
    lost = []
    for doc in bots.acknowledged:
        for server_id in ALL:
            held = final[server_id][doc.game_id]
            if not (
                held.version >= doc.version
                and held.moves[: len(doc.moves)] == doc.moves
                and (doc.players[1] is None or held.players == doc.players)
            ):
                lost.append((server_id, doc.game_id, doc.version, held.version))
    assert lost == [], f"{len(lost)} acknowledged change(s) lost, e.g. {lost[:5]}"
    assert bots.without_majority == [], bots.without_majority[:5]
    assert bots.abandoned() == [], bots.abandoned()[:3]
    print(
        f"{len(bots.acknowledged)} acknowledged changes in {len(game_ids)} games, "
        f"none lost; final clock {data['servers'][0]['clock']}"
    )


@pytest.fixture
def runbook_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], RunbookCluster]]:
    """Clusters killed at teardown, their logs printed if the test failed."""

    def build() -> RunbookCluster:
        cluster = RunbookCluster(tmp_path_factory.mktemp("runbook"))
        shutil.copy(cluster.config_path, cluster.root / "clients.toml")  # the clients' copy
        return cluster

    yield from clusters_made(request, build)


# -- the three procedures -----------------------------------------------------------------


class Steps:
    """Says which step of the runbook the test is at, and when (the tests' output)."""

    def __init__(self, procedure: int) -> None:
        self.procedure = procedure
        self.started = time.monotonic()

    def __call__(self, step: str) -> None:
        print(f"[{time.monotonic() - self.started:5.1f} s] {self.procedure}.{step}")


@timed_test(90)
async def test_rolling_restart(runbook_cluster: Any, clients_for: Any) -> None:
    """Runbook 1: one server at a time, each after the check."""
    cluster = runbook_cluster()
    await cluster.start_all()
    command = Command(cluster.root)
    config = cluster.config_path
    bots = RecordingBots(cluster.root / "clients.toml", seed=1)
    bots.start()
    step = Steps(1)
    try:
        await bots.traffic()
        for server_id in ALL:
            step(f"1 server {server_id}: the check")
            await check_all_ready(cluster)
            await wait_agree(command, config)
            step(f"2 stop server {server_id} (systemctl stop: SIGTERM)")
            assert await cluster[server_id].stop() == -signal.SIGTERM  # a clean stop
            await bots.traffic()  # the two others go on
            step(f"3-4 (upgrade), start server {server_id}")
            await cluster[server_id].start(serving=False)
            step(f"5 wait until server {server_id} is ready")
            await wait_ready(cluster, server_id)
            await bots.traffic()
        step("6 the check after the last server")
        await check_all_ready(cluster)
        await wait_agree(command, config)
    finally:
        await bots.stop()
    await assert_nothing_lost(cluster, clients_for(cluster), bots, command, config)
    step("end: nothing lost")


@timed_test(90)
async def test_replace_a_dead_server(runbook_cluster: Any, clients_for: Any) -> None:
    """Runbook 2: server 3's machine dies; a new machine (new port, empty disk) replaces it."""
    cluster = runbook_cluster()
    root = cluster.root
    await cluster.start_all()
    command = Command(root)
    old_config = cluster.config_path
    bots = RecordingBots(root / "clients.toml", seed=2)
    bots.start()
    step = Steps(2)
    try:
        await bots.traffic()
        cluster[3].kill()  # the machine is gone, and its disk with it
        await bots.traffic()  # servers 1 and 2 go on
        step("1 the two others serve and agree")
        await check_all_ready(cluster, (1, 2))
        await wait_agree_without(command, old_config, 3)
        step("2 the new config: server 3 on its new machine (new ports), read by status")
        new_config = cluster.moved_config(3, root / "cluster-new.toml")
        out = await command.status(new_config)
        assert "agree: no, server 3 unreachable" in out, out
        step("3 the new machine: the new config, an empty data directory")
        cluster[3].config_path = new_config
        cluster[3].data = root / "new-machine" / "data-3"
        step("4 start the new server 3, wait until it is ready")
        await cluster[3].start(serving=False)
        seen: list[str] = []
        await wait_ready(cluster, 3, seen)
        assert "rebuilt" in cluster[3].log(), cluster[3].tail()
        print(f"server 3 said before serving: {seen}")
        step("5 the clients get the new config (and start again with it)")
        shutil.copy(new_config, root / "clients.toml")
        await bots.next_round()
        step("6 the check, with the new config")
        await check_all_ready(cluster)
        await wait_agree(command, new_config)
        for server_id in (1, 2):
            step(f"7 server {server_id}: the check, the new config, restart, ready")
            await check_all_ready(cluster)
            await wait_agree(command, new_config)
            cluster[server_id].config_path = new_config
            assert await cluster[server_id].stop() == -signal.SIGTERM  # a clean stop
            await bots.traffic()  # servers 3 and the other go on
            await cluster[server_id].start(serving=False)
            await wait_ready(cluster, server_id)
        step("8 the check")
        await check_all_ready(cluster)
        await wait_agree(command, new_config)
        await bots.traffic()
    finally:
        await bots.stop()
    await assert_nothing_lost(cluster, clients_for(cluster), bots, command, new_config)
    step("end: nothing lost")


@timed_test(90)
async def test_backup_and_restore(runbook_cluster: Any, clients_for: Any) -> None:
    """Runbook 3: back up server 2 while it serves; its disk dies; restore onto an
    empty data directory; it catches up from both peers."""
    cluster = runbook_cluster()
    root = cluster.root
    await cluster.start_all()
    command = Command(root)
    config = cluster.config_path
    data = cluster[2].data
    backup = root / "backups" / "server-2.sqlite"
    backup.parent.mkdir()
    bots = RecordingBots(root / "clients.toml", seed=3)
    bots.start()
    step = Steps(3)
    try:
        await bots.traffic()
        step("backup 1: replgame-admin backup, the server serving")
        code, out, err = await command.admin(
            "backup", "--config", str(config), "--id", "2", "--data", str(data), str(backup)
        )
        assert code == 0, out + err
        found = re.fullmatch(
            rf"backed up server 2 to {re.escape(str(backup))}: (\d+) games, clock (\d+), "
            r"digest [0-9a-f]{16}, \d+ bytes in \d+\.\d\d s\n",
            out,
        )
        assert found, out
        backed_up_clock = int(found[2])
        await bots.traffic()  # changes the backup does not hold
        step("the disk of server 2 dies")
        cluster[2].kill()
        shutil.rmtree(data)
        await bots.traffic()
        step("restore 1: both peers serve and agree")
        await check_all_ready(cluster, (1, 3))
        await wait_agree_without(command, config, 2)
        step("restore 2-3: an empty data directory; replgame-admin restore")
        assert not data.exists()
        code, out, err = await command.admin(
            "restore", str(backup), "--config", str(config), "--id", "2", "--data", str(data)
        )
        assert code == 0, out + err
        assert out.startswith(f"restored {backup} into {data}/games.sqlite: "), out
        # A second restore is refused: the directory is no longer empty.
        code, out, err = await command.admin(
            "restore", str(backup), "--config", str(config), "--id", "2", "--data", str(data)
        )
        assert (code, out) == (1, ""), out + err
        assert "is not empty" in err and "Traceback" not in err, err
        step("restore 4: start server 2, wait until it is ready")
        seen: list[str] = []
        await cluster[2].start(serving=False)
        await wait_ready(cluster, 2, seen)
        log = cluster[2].log()
        assert "rebuilt" not in log and "caught up with server" in log, cluster[2].tail()
        print(f"server 2 said before serving: {seen}")
        step("restore 5: the check against the peers")
        clock = await wait_agree(command, config)
        assert clock > backed_up_clock
        await bots.traffic()
    finally:
        await bots.stop()
    await assert_nothing_lost(cluster, clients_for(cluster), bots, command, config)
    step("end: nothing lost")
