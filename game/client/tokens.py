"""Seat tokens, kept per user so that a player can resume a game later.

A token is a secret the client makes with :mod:`secrets`; the servers keep
only its hash.  The file lives under the user's config directory
(``$XDG_CONFIG_HOME/replgame/seats.json``, by default
``~/.config/replgame/seats.json``), keyed by cluster, game and seat, and is
rewritten atomically (temporary file, fsync, rename) with owner-only
permissions.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

import attrs

TOKEN_BYTES = 24  # 32 URL-safe characters, well inside PROTOCOL.md's 16-128


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def default_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "replgame" / "seats.json"


@attrs.frozen
class Seat:
    """A seat this user holds: enough to play on after a restart."""

    cluster: str
    game_id: str
    seat: int
    player: str
    token: str
    kind: str = ""


class TokenStore:
    """The seats of one user, in one JSON file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return {"seats": []}
        except (OSError, ValueError) as error:
            raise OSError(
                f"cannot read the seat tokens in {self.path}: {error}; move the file aside "
                "to start afresh (seats it held cannot be resumed)"
            ) from error
        if not isinstance(data, dict) or not isinstance(data.get("seats"), list):
            raise OSError(f"{self.path} is not a replgame seat file; move it aside")
        return data

    def seats(self, cluster: str | None = None) -> list[Seat]:
        found = []
        for entry in self._read()["seats"]:
            try:
                seat = Seat(**entry)
            except TypeError:
                continue
            if cluster is None or seat.cluster == cluster:
                found.append(seat)
        return found

    def find(self, cluster: str, game_id: str, seat: int | None = None) -> list[Seat]:
        return [
            s
            for s in self.seats(cluster)
            if s.game_id == game_id and (seat is None or s.seat == seat)
        ]

    def add(self, seat: Seat) -> None:
        """Remember a seat (replacing an earlier token for the same seat)."""
        data = self._read()
        key = (seat.cluster, seat.game_id, seat.seat)
        kept = [
            entry
            for entry in data["seats"]
            if (entry.get("cluster"), entry.get("game_id"), entry.get("seat")) != key
        ]
        kept.append(attrs.asdict(seat))
        data["seats"] = kept
        self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        text = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False)
        # mkstemp creates the file 0600; rename makes the swap atomic.
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".seats-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
