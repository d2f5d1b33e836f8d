"""A database outage as the daemon lives through it: noticed once (one error line), asked `SELECT 1` again with a
doubling delay while jobs wait (debug lines), and over once it answers (one info line)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from sqlalchemy import Engine

from mailbot.core.backoff import backoff
from mailbot.logs import log
from mailbot.store import reachability

logger = logging.getLogger("mailbot.store.outage")


class OutageWatch:
    def __init__(self, engine: Engine, retry_max_seconds: float, on_restored: Callable[[], None]) -> None:
        self.engine = engine
        self.retry_max_seconds = retry_max_seconds
        self.on_restored = on_restored
        self.down_since: float | None = None  # monotonic time the database stopped answering
        self.checks = 0
        self._next_check = 0.0
        self._lock = asyncio.Lock()

    def _delay(self) -> float:
        return backoff(self.checks, 1.0, self.retry_max_seconds).total_seconds()

    async def lost(self, job: str, exc: BaseException) -> bool:
        """After an error in `job`: whether it means the database is down (then the outage starts, logged once)."""
        if not reachability.may_be_unreachable(exc):
            return False
        async with self._lock:
            if self.down_since is not None:
                return True
            reason = await asyncio.to_thread(reachability.probe, self.engine)
            if reason is None:
                return False  # it answers: the job itself failed
            self.down_since, self.checks = time.monotonic(), 1
            self._next_check = self.down_since + self._delay()
            log(logger, logging.ERROR, "db.unavailable", job=job, error=reason, next_check_in_s=self._delay())
            return True

    async def answers(self) -> bool:
        """True unless the database is down; while it is, ask it again once the delay has passed."""
        if self.down_since is None:
            return True
        async with self._lock:
            if self.down_since is None:
                return True
            now = time.monotonic()
            if now < self._next_check:
                return False
            reason = await asyncio.to_thread(reachability.probe, self.engine)
            if reason is not None:
                self.checks += 1
                self._next_check = time.monotonic() + self._delay()
                log(logger, logging.DEBUG, "db.still_unavailable", error=reason, checks=self.checks, next_check_in_s=self._delay())
                return False
            log(logger, logging.INFO, "db.available", down_s=round(now - self.down_since, 1), checks=self.checks)
            self.down_since = None
        self.on_restored()
        return True
