"""The cluster over TLS: ``ssl:`` listen endpoints and ``tls_ca`` in ``[cluster]``.

A whole game through the :class:`ReplicatedClient`, a server killed and
catching up, and every refusal: a plain-TCP client, a client trusting another
CA, a client expecting another host name, and a server whose certificate
another CA signed (its peers never link to it, so its state never spreads).
The whole integration suite runs over TLS with ``-p tests.security.over_tls``
(``test_the_integration_suite_runs_over_tls`` runs one scenario of it so).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import reactor

from game import protocol as p
from game.client.client import NoServers, ReplicatedClient
from game.client.document import Result
from game.config import load_config
from game.tlscerts import make_certificates
from tests.hostile import support
from tests.hostile.ampwire import connect_raw
from tests.integration.cluster import (
    ALL,
    call,
    eventually,
    new_game_id,
    new_token,
    sleep,
    timed_test,
)
from tests.security.tls import connect_tls

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def certificates(tmp_path_factory: pytest.TempPathFactory):
    def make(name: str = "certs") -> Path:
        directory = tmp_path_factory.mktemp(name)
        make_certificates(directory)
        return directory

    return make


async def refused_over_tls(port: int, ca: Path, hostname: str | None = None) -> str:
    """Connect over TLS and send Status; why it failed (it must fail)."""
    try:
        connection = await connect_tls(port, ca, timeout=3, hostname=hostname)
        answer = await call(connection, p.Status, timeout=3)
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    raise AssertionError(f"the server answered where TLS should have failed: {answer}")


async def play(client: ReplicatedClient, game_id: str, kind: str, moves: int | list[str]) -> Any:
    """Create, join and play a game through the client; every answer decided by two servers."""
    tokens = (new_token(), new_token())
    doc = (await client.create_game(game_id, kind, "alice", tokens[0])).game_document()
    outcome = await client.join_game(game_id, doc.version, "bob", tokens[1])
    doc = outcome.game_document()
    plan = moves if isinstance(moves, list) else [None] * moves
    agreed = []
    for move in plan:
        outcome = await client.make_move(
            game_id, doc.version, move or doc.legal[0], tokens[doc.to_move]
        )
        assert not outcome.provisional, outcome
        agreed.append(tuple(sorted(outcome.agreed)))
        doc = outcome.game_document()
    return doc, agreed


@timed_test(90)
async def test_a_game_and_a_catch_up_over_tls(make_tls_cluster, certificates):
    cluster = make_tls_cluster(certificates())
    await cluster.start_all()
    client = ReplicatedClient(load_config(cluster.config_path), reactor)
    client.start()
    try:
        assert sorted(await client.settled()) == [1, 2, 3]
        doc, _ = await play(client, new_game_id("tls"), "connect4", list("1212121"))
        assert doc.result == Result(winner=0, reason="four in a row")
        # Server 3 killed: servers 1 and 2 decide; restarted, it catches up over TLS.
        cluster[3].kill()
        second = new_game_id("tls")
        doc, agreed = await play(client, second, "reversi", 6)
        assert set(agreed) == {(1, 2)}, agreed
        await cluster[3].start()
        assert "caught up with server" in cluster[3].log()

        async def all_three_agree():
            answers = await client.ask_each(p.GetGame, game_id=second)
            texts = {i: a["game"] if isinstance(a, dict) else repr(a) for i, a in answers.items()}
            assert sorted(texts) == [1, 2, 3] and len(set(texts.values())) == 1, texts
            statuses = await client.statuses()
            assert len({(s.clock, s.digest, s.serving) for s in statuses}) == 1, statuses

        await eventually(all_three_agree, timeout=20, what="server 3 caught up over TLS")
    finally:
        await client.stop()
    for i in ALL:
        log = cluster[i].log(1) + cluster[i].log()
        for peer in set(ALL) - {i}:
            assert f"peer link to server {peer} authenticated" in log, (i, peer)
        assert not support.log_problems(log), support.log_problems(log)


@timed_test(60)
async def test_plain_tcp_another_ca_and_another_name_are_refused(make_tls_cluster, certificates):
    certs, other = certificates(), certificates("other-ca")
    cluster = make_tls_cluster(certs)
    await cluster.start_all()
    port = cluster[1].port
    # Plain TCP: the server takes the box for a broken TLS handshake and closes.
    plain = await connect_raw(port)
    plain.request(b"Status")
    assert await plain.wait_closed(5), "a plain-TCP connection stayed open"
    assert plain.boxes == [], plain.boxes
    # Trusting another CA, or expecting another name: verification fails.
    reasons = [
        await refused_over_tls(port, other / "ca.pem"),
        await refused_over_tls(port, certs / "ca.pem", hostname="replgame.example"),
    ]
    print("\nrefused:", reasons)
    # The replicated client trusting another CA reaches no server at all.
    wrong = cluster.root / "other-ca.toml"
    wrong.write_text(
        cluster.config_path.read_text().replace(str(cluster.ca), str(other / "ca.pem"))
    )
    client = ReplicatedClient(load_config(wrong), reactor)
    client.start()
    try:
        assert await client.settled() == []
        with pytest.raises(NoServers):
            await client.get_game("anything")
    finally:
        await client.stop()
    # The right CA works: the refusals above are not an accident of the setup.
    connection = await connect_tls(port, cluster.ca)
    assert (await call(connection, p.Status))["serving"]
    connection.transport.abortConnection()
    assert cluster[1].running and not support.log_problems(cluster[1].log())


@timed_test(60)
async def test_a_peer_certified_by_another_ca_is_never_linked(make_tls_cluster, certificates):
    certs, other = certificates(), certificates("other-ca")
    cluster = make_tls_cluster(certs, server_certificates={3: other / "server-3.pem"})
    for server in cluster.servers.values():
        server.spawn()
    for i in ALL:
        await cluster[i].wait_listening()
    await cluster[1].wait_serving()
    await cluster[2].wait_serving()
    # Server 3 trusts servers 1 and 2 and serves; a game only it holds, created by
    # a client that trusts server 3's CA.
    lonely = await connect_tls(cluster[3].port, other / "ca.pem")

    async def serving():
        assert (await call(lonely, p.Status, timeout=2))["serving"]

    await eventually(serving, timeout=15, what="server 3 serves")
    game_id = new_game_id("foreign")
    await call(lonely, p.CreateGame, game_id=game_id, kind="connect4", player="eve",
               token=new_token())  # fmt: skip
    await sleep(4 * cluster.tuning["anti_entropy_interval"])
    for i in (1, 2):
        assert "peer link to server 3 authenticated" not in cluster[i].log(), i
        connection = await connect_tls(cluster[i].port, cluster.ca)
        try:
            status = await call(connection, p.Status)
            assert status["serving"] and status["games"] == 0, (i, status)
        finally:
            connection.transport.abortConnection()
    lonely.transport.abortConnection()


def test_the_integration_suite_runs_over_tls(tmp_path):
    """One scenario of the integration suite, run unchanged over TLS by the plugin."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/integration/test_full_game.py",
         "-p", "tests.security.over_tls", "-p", "no:cacheprovider", "-q",
         f"--basetemp={tmp_path}"],
        cwd=ROOT, capture_output=True, text=True, timeout=80,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    configs = list(tmp_path.glob("**/cluster.toml"))
    assert configs, "the scenario wrote no cluster config"
    for config in configs:
        text = config.read_text()
        assert "tls_ca = " in text and text.count('listen = "ssl:') == 3, text
