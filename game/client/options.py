"""The command-line options that name a cluster, shared by ``replgame`` and
``replgame-play``: ``--config PATH`` or ``--servers HOST:PORT,HOST:PORT,HOST:PORT``,
and without either the built-in local cluster."""

from __future__ import annotations

import argparse
import shlex

from game.config import ClusterConfig, config_from_servers, default_config, load_config

__all__ = ["add_cluster_options", "cluster_options_text", "resolve_config"]


def add_cluster_options(
    parser: argparse.ArgumentParser, *, suppress_defaults: bool = False
) -> None:
    """Add ``--config`` and ``--servers``, which exclude each other.

    :param suppress_defaults: leave an option out of the namespace unless it
        is given (for subparsers: an option given before the subcommand is
        then not reset by the subparser's default); otherwise it is ``None``.
    """
    default = argparse.SUPPRESS if suppress_defaults else None
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--config",
        metavar="PATH",
        default=default,
        help="the cluster's TOML configuration (default: the built-in local cluster "
        "on 127.0.0.1 ports 7301-7303)",
    )
    source.add_argument(
        "--servers",
        metavar="HOST:PORT,HOST:PORT,HOST:PORT",
        default=default,
        help="the three servers' client addresses, instead of --config",
    )


def resolve_config(args: argparse.Namespace) -> ClusterConfig:
    """The cluster the options name: ``--servers``, ``--config`` or the
    built-in local cluster.

    :raises ConfigError: the file or the ``--servers`` list is wrong.
    """
    servers: str | None = getattr(args, "servers", None)
    config: str | None = getattr(args, "config", None)
    if servers:
        return config_from_servers(servers)
    if config:
        return load_config(config)
    return default_config()


def cluster_options_text(args: argparse.Namespace) -> str:
    """The cluster options as given, to append to a suggested command line:
    `` --config PATH``, `` --servers LIST`` or nothing (shell-quoted)."""
    for option in ("config", "servers"):
        value: str | None = getattr(args, option, None)
        if value:
            return f" --{option} {shlex.quote(value)}"
    return ""
