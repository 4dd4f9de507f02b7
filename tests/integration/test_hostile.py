"""Scenario 8: a peer without the secret, garbage and oversized boxes."""

from __future__ import annotations

import os

from twisted.internet.protocol import Protocol

from game import errors as wire
from game import protocol as p
from game.server.peers import proof
from tests.integration.cluster import (
    Match,
    call,
    connect,
    error_tag,
    eventually,
    sleep,
    timed_test,
)


class Raw(Protocol):
    """A connection that sends bytes as they are and notes when it is closed."""

    def __init__(self) -> None:
        self.received = b""
        self.closed = False

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: object) -> None:
        self.closed = True


def box(**values: bytes) -> bytes:
    """One AMP box, framed by hand (no length checks)."""
    out = b""
    for key, value in values.items():
        out += len(key).to_bytes(2, "big") + key.encode() + len(value).to_bytes(2, "big") + value
    return out + b"\x00\x00"


#: Inputs that must close their connection, and only it.
GARBAGE = {
    "not AMP framing": b"GET / HTTP/1.1\r\nHost: example\r\n\r\n",
    "a key over 255 bytes": b"\x01\x00" + b"k" * 256,
    "a box with no command": box(hello=b"world"),
    "a box over max_box_bytes": box(
        _command=b"Status", _ask=b"1", **{f"k{n}": b"x" * 60_000 for n in range(5)}
    ),
}


async def closed_soon(connection: Raw, timeout: float = 3) -> None:
    async def check():
        assert connection.closed, "the server kept the connection open"

    await eventually(check, timeout, interval=0.05)


@timed_test(30)
async def test_peer_with_a_wrong_secret_is_refused_and_logged(make_cluster):
    cluster = make_cluster()
    await cluster.start_all()
    impostor = await connect(cluster[1].port)
    nonce = os.urandom(32).hex()
    hello = await call(impostor, p.PeerHello, server_id=2, nonce=nonce)
    # The server proves itself with the real secret ...
    assert hello["server_id"] == 1
    assert hello["proof"] == proof(cluster.secret, "callee", nonce, hello["nonce"], 2, 1)
    # ... and refuses a proof made with another one.
    wrong = proof("not-the-cluster-secret", "caller", nonce, hello["nonce"], 2, 1)
    try:
        await call(impostor, p.PeerProve, proof=wrong)
    except wire.PeerRefused:
        pass
    else:
        raise AssertionError("PeerProve with a wrong secret was accepted")
    try:
        await call(impostor, p.PeerStatus)
    except wire.NotPeer:
        pass
    else:
        raise AssertionError("PeerStatus answered on a refused connection")
    local_port = impostor.transport.getHost().port
    log = cluster[1].log()
    assert f"rejected peer from 127.0.0.1:{local_port} claiming to be server 2" in log
    # Replaying the handshake's second half with the right proof is refused too:
    # a nonce pair proves one connection once.
    right = proof(cluster.secret, "caller", nonce, hello["nonce"], 2, 1)
    refused = None
    try:
        await call(impostor, p.PeerProve, proof=right)
    except wire.PeerRefused as error:
        refused = error
    assert refused is not None, "a second PeerProve after a refusal was accepted"
    impostor.transport.abortConnection()


@timed_test(40)
async def test_server_with_a_wrong_secret_is_refused_both_ways(make_cluster, clients_for):
    cluster = make_cluster()
    await cluster.start_all()
    clients = clients_for(cluster)
    game = Match(clients, "connect4")
    await game.start()

    await cluster[3].stop()
    wrong = cluster.write_config(cluster.root / "wrong-secret.toml", secret="another-secret-xyz")
    cluster[3].data = cluster.root / "impostor-data"
    cluster[3].spawn(config=wrong)
    await cluster[3].wait_listening()

    # Each side dials the other and checks the callee's proof first: the
    # refusal is logged by the dialling side, before any PeerProve is sent.
    async def refused_everywhere():
        for i in (1, 2):
            expected = f"peer 3 at 127.0.0.1:{cluster[3].port} failed to prove the cluster secret"
            assert expected in cluster[i].log(), f"server {i} did not log: {expected}"
            assert f"peer {i} at 127.0.0.1:{cluster[i].port} failed to prove" in cluster[3].log()

    await eventually(refused_everywhere, timeout=10)
    # A new database never serves from peers it cannot trust.
    status = await cluster[3].status()
    assert status["serving"] is False and status["games"] == 0
    # Servers 1 and 2 play on.
    await game.move("4", servers=(1, 2))


@timed_test(30)
async def test_garbage_and_oversized_boxes_close_only_their_connection(make_cluster, clients_for):
    cluster = make_cluster()
    await cluster.start_all()
    clients = clients_for(cluster)
    game = Match(clients, "connect4")
    await game.start()
    before = await clients.connection(1)  # a client connected before, kept open
    port = cluster[1].port
    bystander = await connect(port, factory=Raw)  # idle but open meanwhile

    for why, data in GARBAGE.items():
        bad = await connect(port, factory=Raw)
        bad.transport.write(data)
        try:
            await closed_soon(bad)
        except AssertionError as error:
            raise AssertionError(f"{why}: {error}") from None
        # The others are still served.
        assert (await call(before, p.Status))["serving"], why
        assert not bystander.closed, why
    assert "a box over max_box_bytes=262144" in cluster[1].log()

    # A malformed argument answers BAD_REQUEST and keeps the connection open.
    answer = await clients.call_each(p.GetGame, servers=(1,), game_id="not a game id!")
    assert error_tag(answer[1]) == "BAD_REQUEST", answer
    assert (await call(before, p.Status))["serving"]

    after = await connect(port)
    assert await call(after, p.GetGame, game_id=game.id) == {"game": game.doc_text()}
    after.transport.abortConnection()
    await sleep(0)
    bystander.transport.abortConnection()


@timed_test(30)
async def test_every_connection_closed_for_bad_input_is_logged_with_its_reason(make_cluster):
    """The server's log says "closing connection from HOST:PORT: why" for each close."""
    cluster = make_cluster()
    await cluster.start_all()
    unlogged = []
    for why, data in GARBAGE.items():
        bad = await connect(cluster[1].port, factory=Raw)
        local = bad.transport.getHost().port
        bad.transport.write(data)
        await closed_soon(bad)
        await sleep(0.2)
        if f"closing connection from 127.0.0.1:{local}:" not in cluster[1].log():
            unlogged.append(why)
    assert not unlogged, f"closed without a 'closing connection from' line: {unlogged}"
