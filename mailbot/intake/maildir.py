"""Maildir intake: a file in new/ is read, committed, and only then moved to cur/."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailbot import failpoints
from mailbot.config import Intake, MaildirConfig
from mailbot.intake.first_sight import HistoryWindow, first_cursor, history_finished, window_of
from mailbot.intake.inbound import Fetched, store_raw
from mailbot.intake.mail_source import FolderStats, HealthRecord, PollResult, PushWatcher, SourceHealth
from mailbot.logs import log
from mailbot.store.db import unit_of_work
from mailbot.store.models import MailboxCursor
from mailbot.time_source import Clock

logger = logging.getLogger("mailbot.intake.maildir")


def ensure_maildir(path: Path) -> None:
    for sub in ("new", "cur", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)


class MaildirSource:
    def __init__(
        self, source: MaildirConfig, sessions: sessionmaker[Session], clock: Clock, batch_size: int = 200,
        intake: Intake = Intake(), zone: str = "UTC",
    ):
        self.source = source
        self.sessions = sessions
        self.clock = clock
        self.batch_size = batch_size
        self.intake, self.zone = intake, zone
        self._health = HealthRecord(source.name, "maildir")

    @property
    def name(self) -> str:
        return self.source.name

    def health(self) -> SourceHealth:
        return self._health.snapshot()

    def watcher(self, wake: Callable[[], None]) -> PushWatcher | None:
        return None  # a local delivery is picked up at the next poll

    def close(self) -> None:
        """Nothing to close; present so every source can be shut down the same way."""

    def poll(self, should_stop: Callable[[], bool] = lambda: False, history_only: bool = False) -> PollResult:
        """Read new/ in batches; each batch is committed, then its files move to cur/."""
        return self._health.record(self._poll(should_stop, history_only), self.clock.now())

    def _window(self) -> HistoryWindow | None:
        """The history window of new/ while the first pass over it is unfinished (a cursor row marks it)."""
        with unit_of_work(self.sessions) as session:
            row = session.scalars(
                select(MailboxCursor).where(MailboxCursor.source == self.name, MailboxCursor.folder == "new")
            ).one_or_none()
            if row is None:
                row = first_cursor(session, self.name, "new", 0, None, self.intake, self.clock.now())
            return window_of(row, self.intake, self.zone)

    def _poll(self, should_stop: Callable[[], bool], history_only: bool = False) -> PollResult:
        result = PollResult(self.name, ok=True)
        stats = FolderStats("new")
        result.folders.append(stats)
        path = self.source.path
        try:
            ensure_maildir(path)
            names = sorted(os.listdir(path / "new"))
        except OSError as exc:
            result.ok, result.error = False, f"{type(exc).__name__}: {exc}"
            log(logger, logging.WARNING, "maildir.unavailable", source=self.name, path=str(path), error=result.error)
            return result
        window = self._window()
        if history_only and window is None:
            return result  # its history is imported (or it has none): new mail waits for `poll --once` or `run`
        complete = True
        batch: list[Fetched] = []
        size = 0
        for name in names:
            if should_stop():
                complete = False
                break
            try:
                raw = (path / "new" / name).read_bytes()
            except FileNotFoundError:
                continue  # another reader took it
            except OSError as exc:
                log(logger, logging.WARNING, "maildir.unreadable", source=self.name, file=name, error=str(exc))
                continue
            if batch and size + len(raw) > self.source.max_batch_bytes:
                self._commit(path, batch, stats)  # bounded in bytes as well as count: memory stays bounded
                batch, size = [], 0
            history = window is not None and window.covers(None, raw, self.clock.now())
            batch.append(Fetched(raw=raw, folder="new", location=name, history=history))
            size += len(raw)
            if len(batch) >= self.batch_size:
                self._commit(path, batch, stats)
                batch, size = [], 0
        if batch:
            self._commit(path, batch, stats)
        if window is not None and complete:
            with unit_of_work(self.sessions) as session:
                history_finished(session, self.name, "new", self.clock.now())
        if stats.fetched:
            log(logger, logging.INFO, "maildir.polled", source=self.name, fetched=stats.fetched, stored=stats.stored, history=stats.history)
        return result

    def _commit(self, path: Path, batch: list[Fetched], stats: FolderStats) -> None:
        """Store one batch in one transaction, then move its files to cur/."""
        stats.fetched += len(batch)
        stats.history += sum(1 for item in batch if item.history)
        with unit_of_work(self.sessions) as session:
            stats.stored += store_raw(session, self.name, batch, self.clock.now())
            failpoints.reached("intake.before_commit")
        failpoints.reached("intake.after_commit")
        for item in batch:
            self._settle(path, item.location or "")
        stats.settled += len(batch)

    def _settle(self, path: Path, name: str) -> None:
        """Move a committed file to cur/, keeping its unique name and any flags it already had."""
        base, _, info = name.partition(":")
        try:
            os.rename(path / "new" / name, path / "cur" / f"{base}:{info or '2,'}")
        except FileNotFoundError:
            pass
