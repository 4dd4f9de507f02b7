"""Peer commands need the cluster secret; a peer without it never moves state.

A client connection (or anyone who does not know the secret) can neither read
token hashes (``PeerEvents``, ``PeerDump``, ``PeerBucket``) nor take part in
replication; partial, reflected and replayed handshakes are refused; every
refusal is logged; a server started with the wrong secret is never a source,
however much state it holds.
"""

from __future__ import annotations

import os
from typing import Any

from game import protocol as p
from game.server.peers import proof
from tests.hostile import support
from tests.hostile.ampwire import answer_tag, connect_raw, list_of
from tests.integration.cluster import (
    ALL,
    Match,
    error_tag,
    eventually,
    sleep,
    timed_test,
)

ZERO = b"0" * 64
PEER_READS = [
    (b"PeerStatus", {}),
    (b"PeerTree", {"prefixes": list_of(["", "0", "ab"])}),
    (b"PeerBucket", {"prefix": b"0000"}),
    (b"PeerBuckets", {"prefixes": list_of(["0000", "abcd"])}),
    (b"PeerEvents", {"game_id": b"GAME", "since": b"0", "head": ZERO}),
    (b"PeerDump", {}),
]


def without_now(statuses: dict[int, Any]) -> dict[int, Any]:
    """Status answers without ``now`` (the servers' wall clock moves on)."""
    return {i: {k: v for k, v in status.items() if k != "now"} for i, status in statuses.items()}


async def assert_peer_reads_refused(connection, game_id: str) -> list[str]:
    """Every state-reading peer command answers NOT_PEER on ``connection``."""
    tags = []
    for name, arguments in PEER_READS:
        arguments = {k: v.replace(b"GAME", game_id.encode()) for k, v in arguments.items()}
        box = await connection.call(name, **arguments)
        tags.append(answer_tag(box))
        assert answer_tag(box) == "NOT_PEER", f"{name.decode()} answered {box}"
        assert b"_answer" not in box
    return tags


def hello_values(box) -> tuple[int, str]:
    return int(box[b"server_id"]), box[b"nonce"].decode()


@timed_test(60)
async def test_peer_commands_without_the_secret_are_refused_and_logged(make_cluster, clients_for):
    cluster = make_cluster()
    await cluster.start_all()
    clients = clients_for(cluster)
    game = Match(clients, "checkers")
    await game.start()
    await game.moves(["11-15", "22-18"])
    before = await support.documents(clients, [game.id])
    statuses = without_now(await clients.statuses())
    secret = cluster.secret
    port = cluster[1].port

    # 1. A plain client connection.
    plain = await connect_raw(port)
    await assert_peer_reads_refused(plain, game.id)
    local = plain.transport.getHost().port
    # 2. PeerProve with no PeerHello; PeerHello claiming the callee's own id.
    assert answer_tag(await plain.call(b"PeerProve", proof=ZERO)) == "PEER_REFUSED"
    nonce = os.urandom(32).hex().encode()
    assert answer_tag(await plain.call(b"PeerHello", server_id=b"1", nonce=nonce)) == (
        "PEER_REFUSED"
    )
    # 3. A PeerHello alone proves nothing.
    hello = await plain.call(b"PeerHello", server_id=b"2", nonce=nonce)
    assert answer_tag(hello) == "OK"
    await assert_peer_reads_refused(plain, game.id)
    # 4. The callee's own proof reflected back, and a proof for another caller id.
    assert hello_values(hello)[0] == 1
    reflected = hello[b"proof"]
    assert answer_tag(await plain.call(b"PeerProve", proof=reflected)) == "PEER_REFUSED"
    hello = await plain.call(b"PeerHello", server_id=b"2", nonce=nonce)
    _, their_nonce = hello_values(hello)
    as_three = proof(secret, "caller", nonce.decode(), their_nonce, 3, 1).encode()
    assert answer_tag(await plain.call(b"PeerProve", proof=as_three)) == "PEER_REFUSED"
    await assert_peer_reads_refused(plain, game.id)

    # 5. A proof seen on one connection replayed on another (fresh nonces each time).
    seen = await connect_raw(port)
    hello = await seen.call(b"PeerHello", server_id=b"2", nonce=nonce)
    _, their_nonce = hello_values(hello)
    valid_there = proof(secret, "caller", nonce.decode(), their_nonce, 2, 1).encode()
    replay = await connect_raw(port)
    assert answer_tag(await replay.call(b"PeerHello", server_id=b"2", nonce=nonce)) == "OK"
    assert answer_tag(await replay.call(b"PeerProve", proof=valid_there)) == "PEER_REFUSED"
    await assert_peer_reads_refused(replay, game.id)
    # ... while on its own connection, once, it is the real thing (the test is sound).
    assert answer_tag(await seen.call(b"PeerProve", proof=valid_there)) == "OK"
    assert answer_tag(await seen.call(b"PeerStatus")) == "OK"
    assert answer_tag(await seen.call(b"PeerProve", proof=valid_there)) == "PEER_REFUSED"

    log = cluster[1].log()
    for name, _ in PEER_READS:
        assert f"refused {name.decode()} from 127.0.0.1:{local}" in log, name
    assert f"refused PeerProve from 127.0.0.1:{local}: no PeerHello first" in log
    assert "claiming our own id" in log
    assert f"rejected peer from 127.0.0.1:{local} claiming to be server 2" in log
    assert f"rejected peer from 127.0.0.1:{replay.transport.getHost().port}" in log
    for connection in (plain, seen, replay):
        connection.abort()
    assert await support.documents(clients, [game.id]) == before
    assert without_now(await clients.statuses()) == statuses


@timed_test(90)
async def test_a_server_with_the_wrong_secret_never_spreads_its_state(make_cluster, clients_for):
    """Server 3 holds games the others lack (one new, one a move ahead); started
    with the wrong secret, none of it reaches servers 1 and 2.  Restarted with the
    right secret (the control), it does."""
    cluster = make_cluster()
    await cluster.start_all()
    clients = clients_for(cluster)
    shared = Match(clients, "connect4", "shared-game")
    await shared.start()
    await shared.move("4")
    # Only server 3 is up: it alone takes a new game and a move of the shared one.
    await cluster[1].stop()
    await cluster[2].stop()
    lonely = Match(clients, "reversi", "only-on-three")
    await lonely.create(servers=(3,))
    ahead = await clients.game(p.MakeMove, servers=(3,), game_id=shared.id,
                               version=shared.version, move="3",
                               token=shared.mover().token)  # fmt: skip
    await cluster[3].stop()
    # Servers 1 and 2 come back without it (they serve after startup_wait).
    await cluster[1].start(serving=False)
    await cluster[2].start(serving=False)
    await cluster[1].wait_serving()
    await cluster[2].wait_serving()
    honest = await support.documents(clients, [shared.id])
    wrong = cluster.write_config(cluster.root / "wrong-secret.toml", secret="not-the-secret-123")
    cluster[3].spawn(config=wrong)
    await cluster[3].wait_listening()

    async def refused_both_ways():
        for i in (1, 2):
            assert f"peer 3 at 127.0.0.1:{cluster[3].port} failed to prove" in cluster[i].log()

    await eventually(refused_both_ways, timeout=10)
    await sleep(4 * cluster.tuning["anti_entropy_interval"])
    for i in (1, 2):
        answers = await clients.call_each(p.GetGame, servers=(i,), game_id=lonely.id)
        assert error_tag(answers[i]) == "UNKNOWN_GAME", f"server {i}: {answers[i]}"
        answers = await clients.call_each(p.SyncGame, servers=(i,), game_id=shared.id)
        assert answers[i]["game"] == honest[shared.id][i], f"server {i} took server 3's move"
    answers = await clients.call_each(p.Status, servers=(1, 2))
    assert answers[1]["games"] == answers[2]["games"] == 1
    assert "only-on-three" not in cluster[1].log() + cluster[2].log()

    # Control: with the right secret, server 3 is a peer again and its state counts.
    await cluster[3].stop()
    await cluster[3].start()

    async def spread():
        for i in ALL:
            answers = await clients.call_each(p.GetGame, servers=(i,), game_id=lonely.id)
            assert error_tag(answers[i]) is None, f"server {i}: {answers[i]}"

    await eventually(spread, timeout=15, what="the game spreads once the secret is right")
    assert ahead["version"] == shared.version + 1
    for i in ALL:
        assert not support.log_problems(cluster[i].log())
