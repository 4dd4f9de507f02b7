"""``replgame-admin``: an operator's commands on one server's data directory.

- ``replgame-admin backup [--config C] --id N [--data DIR] FILE``: copy the
  database of server N (running or not) into FILE, checked, atomically;
- ``replgame-admin restore FILE [--config C] --id N [--data DIR]``: put a
  backup in place in an empty data directory, for the next ``twistd
  replgame`` start to catch up from the peers.

The data directory is found as ``twistd replgame`` finds it: ``--data``, or
the config's ``data`` of server N (the built-in local cluster without
``--config``).  Success prints one line; a failure prints
``replgame-admin: REASON`` on stderr and exits 1 (2: a usage error).  The
procedures that use them are in docs/operations.md; the work is done by
:mod:`game.server.backup`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final, NoReturn

from game.config import ConfigError, default_config, load_config
from game.server.backup import BackupError, Snapshot, copy_database, restore_database
from game.server.storage import DATABASE_NAME

PROG: Final = "replgame-admin"
#: Hex digits of the digest printed (as ``replgame status`` shows 16).
DIGEST_SHOWN: Final = 16


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Back up and restore a replgame server's database (docs/operations.md).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    backup = commands.add_parser(
        "backup",
        help="copy a server's database (running or not) into FILE, checked",
        description="Copy the database of server N into FILE without stopping the server: "
        "one consistent snapshot, checked as a start-up checks it, written atomically.",
    )
    backup.add_argument("file", metavar="FILE", type=Path, help="the backup file to write")
    restore = commands.add_parser(
        "restore",
        help="put a backup in place in an empty data directory",
        description="Check FILE and put it in place as the database of an empty data "
        "directory; the next start of the server catches up from its peers.",
    )
    restore.add_argument("file", metavar="FILE", type=Path, help="the backup file to restore")
    for command in (backup, restore):
        command.add_argument("--config", metavar="PATH", help="the cluster's TOML config file")
        command.add_argument("--id", type=int, help="the server's id in the config: 1, 2 or 3")
        command.add_argument(
            "--data", metavar="DIR", type=Path, help="data directory (overrides the config's)"
        )
    return parser


def data_directory(args: argparse.Namespace) -> Path:
    """``--data``, or the config's ``data`` of server ``--id``.

    :raises ConfigError: no way to tell, or a bad config or id.
    """
    if args.data is not None:
        if args.config is not None:
            load_config(args.config)  # a wrong config is an error even when unused
        return Path(args.data)
    if args.id is None:
        raise ConfigError("give --id N (the server's data directory is in the config) or --data")
    config = load_config(args.config) if args.config is not None else default_config()
    return Path(config.server(args.id).data)


def describe(snapshot: Snapshot) -> str:
    return (
        f"{snapshot.games} games, clock {snapshot.clock}, "
        f"digest {snapshot.digest[:DIGEST_SHOWN]}, {snapshot.size} bytes"
    )


def backup(args: argparse.Namespace, directory: Path) -> str:
    started = time.monotonic()
    snapshot = copy_database(directory / DATABASE_NAME, args.file)
    seconds = time.monotonic() - started
    who = f"server {args.id}" if args.id is not None else str(directory)
    return f"backed up {who} to {args.file}: {describe(snapshot)} in {seconds:.2f} s"


def restore(args: argparse.Namespace, directory: Path) -> str:
    started = time.monotonic()
    snapshot = restore_database(args.file, directory)
    seconds = time.monotonic() - started
    who = f"server {args.id}" if args.id is not None else "the server"
    return (
        f"restored {args.file} into {directory / DATABASE_NAME}: {describe(snapshot)} in "
        f"{seconds:.2f} s; start {who} now: it catches up from its peers before it serves"
    )


def fail(message: str) -> NoReturn:
    sys.stderr.write(f"{PROG}: {message}\n")
    sys.stderr.flush()
    raise SystemExit(1)


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        directory = data_directory(args)
    except ConfigError as error:
        fail(str(error))
    run = backup if args.command == "backup" else restore
    try:
        line = run(args, directory)
    except (BackupError, OSError) as error:
        fail(f"{args.command} failed: {error}")
    print(line, flush=True)


if __name__ == "__main__":
    main()
