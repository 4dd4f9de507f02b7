"""The fuzzer: 10,000 hostile inputs against one server of a real cluster.

Inputs (seeded; the seed is printed, ``REPLGAME_FUZZ_SEED=N`` replays a run,
``REPLGAME_FUZZ_INPUTS=N`` changes the count): random bytes; valid AMP framing
with random keys and values; known commands with every argument valid, at
its limit, past it, of the wrong type, empty, invalid UTF-8 or huge; boxes
over ``max_box_bytes`` (few huge values, or many tiny keys); requests padded
with thousands of tiny unknown keys up to ``max_box_bytes`` (answered);
keys over 255 bytes; truncated boxes then a close;
unknown commands; slow senders (a byte at a time); then hundreds of
connections at once.

Throughout, the server must stay up; a client connected before the attack
(``monitor.py``, its own process) must get every answer within 1 s;
afterwards the games created before must be byte-identical on all three
servers, the server's memory must have grown by under 20 MB, and no log may
show a traceback or an INTERNAL answer.
"""

from __future__ import annotations

import collections
import hashlib
import os
import random
import time
from typing import Any

from twisted.internet import defer

from tests.hostile import support
from tests.hostile.ampwire import BoxDecoder, RawConnection, answer_tag, connect_raw, sleep
from tests.hostile.fuzz import Fuzzer, Job, describe_expectation
from tests.integration.cluster import ALL, Match, eventually, timed_test

INPUTS = int(os.environ.get("REPLGAME_FUZZ_INPUTS", "10000"))
#: REPLGAME_FUZZ_ONLY=CATEGORY runs one category alone (to chase a problem).
ONLY = os.environ.get("REPLGAME_FUZZ_ONLY")
MIX = {
    "fuzzed arguments": 0.36,
    "unknown commands": 0.08,
    "random bytes": 0.16,
    "random framing": 0.08,
    "bad framing": 0.02,
    "oversized boxes": 0.01,
    "many tiny keys": 0.01,
    "truncated boxes": 0.20,
    "slow senders": 0.03,
}
#: Jobs in flight at once (each its own connection), fast and slow ones.
PARALLEL = 40
PARALLEL_SLOW = 40
#: Connections held open at once in the "many connections" phase (well under max_connections).
MANY = 400
ANSWER_TIMEOUT = 15
CLOSE_TIMEOUT = 10
MAX_LATENCY = 1.0
MAX_RSS_GROWTH_KIB = 20 * 1024
#: Tags that are a bug in any answer: our INTERNAL, and AMP's own for an
#: exception nobody handled (it also drops the connection).
NEVER = {"INTERNAL", "UNKNOWN"}


class Run:
    """The results of running jobs: counts and every broken expectation."""

    def __init__(self, secrets: list[bytes]) -> None:
        #: Seat tokens of the protected games and their stored hashes: never sent.
        self.secrets = secrets
        self.inputs: collections.Counter[str] = collections.Counter()
        self.answers: collections.Counter[str] = collections.Counter()
        self.failures: list[str] = []

    def fail(self, job: Job, why: str) -> None:
        self.failures.append(f"[{job.category}] {why}")

    def check_boxes(self, job: Job, connection: RawConnection) -> None:
        received = bytes(connection.received)
        for secret in self.secrets:
            if secret in received:
                self.fail(job, f"a token or token hash was sent: {secret!r}")
        for box in connection.boxes:
            tag = answer_tag(box)
            if tag in NEVER:
                description = box.get(b"_error_description", b"")
                self.fail(job, f"answered {tag} ({description!r}) to {job.description}")


async def run_pipeline(job: Job, port: int, run: Run) -> None:
    connection = await connect_raw(port)
    try:
        connection.transport.setTcpNoDelay(True)
        if job.mode == "slow":
            await send_slowly(connection, b"".join(r.data for r in job.requests), job.pause)
        else:
            connection.write(b"".join(r.data for r in job.requests))
        for request in job.requests:
            if request.ask is None:
                continue
            try:
                box = await connection.answer(request.ask, ANSWER_TIMEOUT)
            except Exception as error:
                run.fail(job, f"no answer to {request.description}: {error!r}")
                continue
            tag = answer_tag(box)
            run.answers[f"{request.command}: {tag}"] += 1
            if tag not in request.expect:
                description = box.get(b"_error_description", b"").decode("utf-8", "replace")
                run.fail(
                    job,
                    f"{request.description} answered {tag} ({description}); "
                    f"expected {describe_expectation(request.expect)}",
                )
        if connection.closed:
            run.fail(job, f"the server closed the connection after {len(job.requests)} requests")
        run.check_boxes(job, connection)
    finally:
        connection.abort()


async def send_slowly(connection: RawConnection, data: bytes, pause: float) -> None:
    """A byte at a time (or ~300 pieces for longer data), with a pause after each."""
    step = max(1, len(data) // 300)
    for at in range(0, len(data), step):
        connection.write(data[at : at + step])
        await sleep(pause)


async def run_closed(job: Job, port: int, run: Run) -> None:
    connection = await connect_raw(port)
    try:
        connection.write(job.data)
        if not await connection.wait_closed(CLOSE_TIMEOUT):
            run.fail(job, f"the server kept the connection open after {job.description}")
        run.check_boxes(job, connection)
    finally:
        connection.abort()


async def run_any(job: Job, port: int, run: Run) -> None:
    connection = await connect_raw(port)
    try:
        connection.write(job.data)
        connection.transport.loseWriteConnection()
        if not await connection.wait_closed(CLOSE_TIMEOUT):
            run.fail(job, f"the server did not close after our EOF ({job.description})")
        run.check_boxes(job, connection)
    finally:
        connection.abort()


async def run_truncated(job: Job, port: int, run: Run, rng: random.Random) -> None:
    connection = await connect_raw(port)
    connection.write(job.data)
    if rng.random() < 0.5:
        connection.transport.loseConnection()
    else:
        connection.abort()
    await connection.wait_closed(CLOSE_TIMEOUT)
    run.check_boxes(job, connection)


async def run_job(job: Job, port: int, run: Run, rng: random.Random) -> None:
    try:
        if job.mode in ("pipeline", "slow"):
            await run_pipeline(job, port, run)
        elif job.mode == "closed":
            await run_closed(job, port, run)
        elif job.mode == "any":
            await run_any(job, port, run)
        elif job.mode == "truncated":
            await run_truncated(job, port, run, rng)
        else:
            raise AssertionError(f"unknown mode {job.mode}")
    except Exception as error:
        run.fail(job, f"{job.description}: {error!r}")
    run.inputs[job.category] += job.inputs


async def many_connections(port: int, count: int, run: Run) -> None:
    """``count`` connections open at once, each answered; then all closed."""
    connections = await defer.gatherResults(
        [defer.ensureDeferred(connect_raw(port)) for _ in range(count)], consumeErrors=True
    )
    job = Job("many connections", "pipeline", count, description=f"{count} connections")
    try:
        asks = [c.request(b"Status") for c in connections]
        answers = await defer.gatherResults(
            [c.answer(ask, ANSWER_TIMEOUT) for c, ask in zip(connections, asks, strict=True)],
            consumeErrors=True,
        )
        tags = collections.Counter(answer_tag(box) for box in answers)
        if tags != {"OK": count}:
            run.fail(job, f"Status on {count} connections answered {dict(tags)}")
        closed = sum(c.closed for c in connections)
        if closed:
            run.fail(job, f"{closed} of {count} connections were closed")
    finally:
        for connection in connections:
            connection.abort()
    run.inputs["many connections"] += count


async def own_games(clients: Any, count: int) -> tuple[list[str], list[str]]:
    """Games of the fuzzer's own, whose tokens it may use."""
    ids, tokens = [], []
    for n in range(count):
        match = Match(clients, ("connect4", "reversi", "checkers")[n % 3], f"fz-own-{n}")
        await match.start()
        ids.append(match.id)
        tokens += [player.token for player in match.players]
    return ids, tokens


@timed_test(150)
async def test_ten_thousand_hostile_inputs(make_cluster, clients_for):
    seed = int(os.environ.get("REPLGAME_FUZZ_SEED", random.randrange(2**32)))
    print(f"\nfuzz seed {seed} (replay: REPLGAME_FUZZ_SEED={seed}), {INPUTS} inputs")
    cluster = make_cluster()
    await cluster.start_all()
    clients = clients_for(cluster)
    protected = await support.protected_games(clients)
    fuzz_ids, fuzz_tokens = await own_games(clients, 6)
    target = cluster[1]
    # The open protected game is not named: anyone may join an open game.
    named = [i for i, entry in protected.items() if not entry["open"]] + fuzz_ids
    fuzzer = Fuzzer(seed, named, fuzz_tokens, target_id=1, max_box_bytes=262_144)
    jobs = fuzzer.jobs(INPUTS - MANY, {ONLY: 1.0} if ONLY else MIX)
    rng = random.Random(seed)

    monitor = support.Monitor(target.port, "protected-c4-active")
    rss_before = support.rss_kib(target.pid)
    secrets = []
    for entry in protected.values():
        match = entry["match"]
        for seat, player in enumerate(match.players):
            stored = hashlib.sha256(f"{match.id}\0{seat}\0{player.token}".encode()).hexdigest()
            secrets += [player.token.encode(), stored.encode()]
    run = Run(secrets)
    started = time.monotonic()
    try:
        fast = defer.DeferredSemaphore(PARALLEL)
        slow = defer.DeferredSemaphore(PARALLEL_SLOW)
        await defer.gatherResults(
            [
                (slow if job.mode == "slow" else fast).run(
                    lambda job=job: defer.ensureDeferred(run_job(job, target.port, run, rng))
                )
                for job in jobs
            ]
        )
        fuzz_seconds = time.monotonic() - started
        rss_fuzzed = support.rss_kib(target.pid)
        await many_connections(target.port, MANY, run)
        assert target.running, f"the server died\n{target.tail()}"
        await sleep(0.5)
        rss_after = support.rss_kib(target.pid)
        rss_peak = support.rss_kib(target.pid, "VmHWM")
    finally:
        report = monitor.stop()
    total = sum(run.inputs.values())
    growth = rss_after - rss_before
    print(
        f"{total} inputs in {fuzz_seconds:.1f} s (+{MANY} connections): {dict(run.inputs)}\n"
        f"server 1 RSS {rss_before} -> {rss_fuzzed} (fuzzed) -> {rss_after} KiB "
        f"(growth {growth} KiB, peak {rss_peak})\n"
        f"monitor: {report['requests']} requests, slowest answer {report['max_latency']:.3f} s"
    )
    print("answers:", dict(sorted(run.answers.items())))

    problems = []
    if run.failures:
        problems.append(
            f"{len(run.failures)} broken expectations, e.g.:\n" + "\n".join(run.failures[:25])
        )
    if report["problems"]:
        problems.append(f"the connected client saw: {report['problems'][:10]}")
    if report["max_latency"] > MAX_LATENCY:
        problems.append(f"answers over {MAX_LATENCY} s: {report['slow'][:10]}")
    if growth >= MAX_RSS_GROWTH_KIB:
        problems.append(f"RSS grew by {growth} KiB")
    now = await support.documents(clients, list(protected))
    for game_id, entry in protected.items():
        for server_id in ALL:
            if now[game_id][server_id] != entry["doc"]:
                problems.append(
                    f"{game_id} on server {server_id} changed:\n  before {entry['doc']}\n"
                    f"  after  {now[game_id][server_id]}"
                )
    for server_id, text in support.cluster_logs(cluster).items():
        found = support.log_problems(text)
        if found:
            problems.append(f"server {server_id} log: {len(found)} bug lines, e.g.\n" + found[0])
    assert not problems, f"seed {seed}:\n" + "\n\n".join(problems)
    assert total >= INPUTS
    # The games the fuzzer created reach every server, and they converge.
    await eventually(clients.assert_converged, timeout=20, what="the servers converge")


def test_the_tiny_key_shapes():
    """The fuzzer's issue-6 boxes: legal ones under the limit, whose own keys
    come through; oversized ones over it (pure, no cluster)."""
    fuzzer = Fuzzer(7, ["g1"], ["t" * 20], target_id=1, max_box_bytes=262_144)
    for _ in range(20):
        job = fuzzer.tiny_keys()
        request = job.requests[0]
        assert len(request.data) <= 262_144
        [box] = BoxDecoder().feed(request.data)
        assert box[b"_command"].decode() == request.command and box[b"_ask"] == b"1"
        assert sum(len(key) <= 3 for key in box) > 100
    shapes = collections.Counter()
    for _ in range(60):
        job = fuzzer.oversized()
        shapes[job.description.split(",")[0]] += 1
        assert len(job.data) > 262_144 and job.mode == "closed"
    assert shapes["many tiny keys"] > 5
