"""Writers of one process take SQLite's write lock in the order they asked for it, not by luck.

SQLite's busy handler retries a waiting writer after sleeps of up to 100 ms. A writer that commits and begins
again at once — filing, group after group, in a burst — finds the lock free first nearly every time, and the
sender's or intake's transaction waits until filing has nothing left. Within one process the writers queue here
first: a transaction takes its turn before BEGIN IMMEDIATE and gives it up when it commits or rolls back, and the
turn passes to the writer that has waited longest. Writers in other processes (the CLI, a second daemon refused
by its lock file) still meet in SQLite's busy handler. A turn not granted within the wait limit is not waited
for any longer: the writer goes on to SQLite's own lock, as it would without this.
"""

from __future__ import annotations

import threading
from collections import deque


class WriteTurns:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken = False
        self._waiting: deque[threading.Event] = deque()

    def take(self, timeout: float) -> bool:
        """Wait for the turn (at most `timeout` seconds); False when it was not granted in time."""
        with self._lock:
            if not self._taken:
                self._taken = True
                return True
            granted = threading.Event()
            self._waiting.append(granted)
        if granted.wait(timeout):
            return True
        with self._lock:
            if granted.is_set():  # granted just as the wait ended: it is ours
                return True
            self._waiting.remove(granted)
            return False

    def give(self) -> None:
        """Pass the turn to the longest waiter, or free it."""
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()
            else:
                self._taken = False

    @property
    def waiting(self) -> int:
        return len(self._waiting)
