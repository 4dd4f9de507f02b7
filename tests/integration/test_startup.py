"""Starting a server: the built-in config, bad configs, bad databases, a taken port."""

from __future__ import annotations

import re
import socket

import pytest

from game import protocol as p
from game.server.storage import DATABASE_NAME, META_KEY, Storage
from tests.integration.cluster import (
    HOST,
    Match,
    ServerFailed,
    eventually,
    port_is_free,
    sleep,
    spawn_twistd,
    timed_test,
)

DEFAULT_PORTS = (7301, 7302, 7303)
#: The built-in cluster's metrics endpoints (server 1 listens on 7401 too).
METRICS_PORTS = (7401, 7402, 7403)


@timed_test(30)
async def test_without_config_uses_the_built_in_local_cluster(tmp_path):
    busy = [port for port in (*DEFAULT_PORTS, *METRICS_PORTS) if not port_is_free(port)]
    if busy:
        # Another cluster on this machine (a developer's) owns them: starting a
        # server of the built-in cluster would join it.
        pytest.skip(f"ports {busy} of the built-in local cluster are in use")
    log = tmp_path / "server.log"
    process = spawn_twistd(
        ["-n", "--pidfile", "server.pid", "--logfile", str(log), "replgame", "--id", "1"],
        cwd=tmp_path,
        output=tmp_path / "out",
    )
    try:

        async def started():
            text = log.read_text() if log.exists() else ""
            assert process.poll() is None, f"exited with {process.returncode}: {text}"
            assert "replgame server 1 using built-in local cluster" in text, text
            assert "listening on" in text and "port=7301" in text, text

        await eventually(started, timeout=10)
        assert (tmp_path / "replgame-data" / "1").is_dir()
    finally:
        process.kill()
        process.wait(timeout=10)


@timed_test(30)
async def test_unreadable_database_exits_2_and_rebuild_recovers(make_cluster, clients_for):
    cluster = make_cluster()
    database = cluster[1].data / "games.sqlite"
    database.parent.mkdir(parents=True)
    garbage = b"this is not an sqlite database, not even close\n" * 100
    database.write_bytes(garbage)

    cluster[1].spawn()
    assert await cluster[1].wait_exit(10) == 2
    # twistd sends the server's stderr into its log file.
    log = cluster[1].log()
    assert f"cannot read database {database}" in log, log
    assert database.read_bytes() == garbage  # left as it was

    # --rebuild moves it aside and copies the games from the peers.
    for i in (2, 3):
        cluster[i].spawn()
    for i in (2, 3):
        await cluster[i].wait_serving()
    clients = clients_for(cluster)
    game = Match(clients, "reversi")
    await game.start(servers=(2, 3))
    await game.move("f5", servers=(2, 3))
    await cluster[1].start("--rebuild")
    assert (cluster[1].data / "games.sqlite.broken-1").read_bytes() == garbage
    assert "moved the old database aside" in cluster[1].log()
    assert await clients.game(p.GetGame, game_id=game.id) == game.doc
    await clients.assert_converged()


@timed_test(30)
async def test_a_database_of_the_older_format_exits_2(make_cluster):
    # Format 1 (index entries without their tree bucket and leaf) is refused, not misread.
    cluster = make_cluster()
    storage = Storage.open(cluster[1].data)
    storage.stage("i/g1", (1, "connect4", "open", ("alice", None), 1, b"d" * 32, b"h" * 32, "{}"))
    storage.stage(META_KEY, {"format": 1, "initialized": True, "clock": 1, "digest": "0" * 64})
    storage.commit()
    storage.close()
    cluster[1].spawn()
    assert await cluster[1].wait_exit(10) == 2
    log = cluster[1].log()
    database = cluster[1].data / DATABASE_NAME
    assert f"cannot read database {database}: its format 1 is older" in log, log
    assert "--rebuild" in log, log


@timed_test(30)
async def test_config_mistakes_fail_with_a_clear_message(make_cluster):
    cluster = make_cluster()
    text = cluster.config_text().replace("[tuning]\n", "[tuning]\nanti_entropy = 5\n")
    unknown_key = cluster.root / "unknown-key.toml"
    unknown_key.write_text(text)
    cases = [
        (unknown_key, "1", f'{unknown_key}: unknown key "anti_entropy" in [tuning]'),
        (cluster.config_path, "4", f"{cluster.config_path}: no server with id 4"),
    ]
    for config, server_id, message in cases:
        process = spawn_twistd(
            [
                "-n",
                "--pidfile",
                "x.pid",
                "--logfile",
                "x.log",
                "replgame",
                "--id",
                server_id,
                "--config",
                str(config),
            ],
            cwd=cluster.root,
            output=cluster.root / "out",
        )
        for _ in range(200):
            if process.poll() is not None:
                break
            await sleep(0.05)
        else:
            process.kill()
            raise ServerFailed(f"twistd still runs with {config.name} --id {server_id}")
        output = (cluster.root / "out").read_text()
        assert process.returncode != 0, output
        assert message in output, output


@timed_test(30)
async def test_taken_port_exits_with_status_1(make_cluster):
    cluster = make_cluster()
    with socket.socket() as squatter:
        squatter.bind((HOST, cluster[1].port))
        squatter.listen()
        cluster[1].spawn()
        try:
            status = await cluster[1].wait_exit(5)
        finally:
            log = cluster[1].log()
        assert status == 1, log
    # The endpoint as configured: tcp:, or ssl: when the suite runs over TLS.
    (line,) = [line for line in log.splitlines() if "cannot listen on" in line]
    assert re.search(rf"cannot listen on (tcp|ssl):{cluster[1].port}:", line), line
    assert "interface=127.0.0.1" in line, line
    assert "serving clients" not in log
