"""SQLite serves one daemon: `mailbot run` holds an exclusive lock on a file beside the database while it runs, so
a second daemon on the same file refuses to start and says why. CLI commands do not take it."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy.engine import make_url


class AlreadyRunning(Exception):
    pass


def lock_path(database_url: str) -> Path | None:
    """The lock file for a SQLite database URL; None for other databases (they serve several workers)."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        return None
    return Path(url.database + ".run-lock")


class DaemonLock:
    """Held for the life of the process (the kernel drops it when the process dies, even by SIGKILL)."""

    def __init__(self, database_url: str) -> None:
        self.path = lock_path(database_url)
        self._fd: int | None = None

    def acquire(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 100).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise AlreadyRunning(
                f"another `mailbot run` ({holder}) already uses the SQLite database {self.path.with_suffix('')}: SQLite "
                "serves one daemon. For several workers use PostgreSQL (README: Running several workers)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
