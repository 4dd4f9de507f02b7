"""The open-file limit a server needs for its ``max_connections``.

Each client connection is a file descriptor, and so are the listening
ports, the peer links, the database (with its WAL and shared memory) and
the log.  Linux starts most processes with a soft limit of 1,024, far
below the default ``max_connections`` of 10,000, so the server raises its
soft limit at start, up to the hard limit; if even the hard limit is too
low it refuses to start and says which limit to raise, rather than
failing at the 1,000th player.
"""

from __future__ import annotations

import resource
from collections.abc import Callable
from typing import Final

#: Descriptors beside the client connections: ports, peer links (both
#: ways), the database files, the lock, the log, an operator's scrape.
SPARE_DESCRIPTORS: Final = 64

Limits = tuple[int, int]


class FileLimitTooLow(Exception):
    """The hard limit on open files is below what ``max_connections`` needs."""


def needed(max_connections: int) -> int:
    """Open files a server with ``max_connections`` may hold at once."""
    return max_connections + SPARE_DESCRIPTORS


def raise_file_limit(
    max_connections: int,
    get: Callable[[], Limits] = lambda: resource.getrlimit(resource.RLIMIT_NOFILE),
    set_soft: Callable[[Limits], None] = lambda limits: resource.setrlimit(
        resource.RLIMIT_NOFILE, limits
    ),
) -> tuple[int, int]:
    """Raise the soft limit on open files to what ``max_connections`` needs.

    :returns: the soft limit before and after (equal when it was enough).
    :raises FileLimitTooLow: the hard limit is lower than that; the message
        says what to change.
    """
    want = needed(max_connections)
    soft, hard = get()
    if soft == resource.RLIM_INFINITY or soft >= want:
        return soft, soft
    if hard != resource.RLIM_INFINITY and hard < want:
        raise FileLimitTooLow(
            f"max_connections = {max_connections} needs {want} open files, but this "
            f"process may open at most {hard} (the hard RLIMIT_NOFILE): raise it "
            f"(`ulimit -Hn {want}` as root, or LimitNOFILE={want} in the systemd unit) "
            f"or lower max_connections in the config's [tuning]"
        )
    set_soft((want, hard))
    return soft, want
