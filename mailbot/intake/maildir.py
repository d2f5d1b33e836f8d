"""Maildir intake: a file in new/ is read, committed, and only then moved to cur/."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from mailbot import failpoints
from mailbot.config import MaildirConfig
from mailbot.intake.inbound import Fetched, store_raw
from mailbot.logs import log
from mailbot.store.db import unit_of_work
from mailbot.time_source import Clock

logger = logging.getLogger("mailbot.intake.maildir")


@dataclass
class MaildirResult:
    source: str
    ok: bool
    fetched: int = 0
    stored: int = 0
    error: str | None = None


def ensure_maildir(path: Path) -> None:
    for sub in ("new", "cur", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)


class MaildirSource:
    def __init__(self, source: MaildirConfig, sessions: sessionmaker[Session], clock: Clock, batch_size: int = 200):
        self.source = source
        self.sessions = sessions
        self.clock = clock
        self.batch_size = batch_size

    @property
    def name(self) -> str:
        return self.source.name

    def close(self) -> None:
        """Nothing to close; present so every source can be shut down the same way."""

    def poll(self) -> MaildirResult:
        result = MaildirResult(self.name, ok=True)
        path = self.source.path
        try:
            ensure_maildir(path)
            names = sorted(os.listdir(path / "new"))
        except OSError as exc:
            result.ok, result.error = False, f"{type(exc).__name__}: {exc}"
            log(logger, logging.WARNING, "maildir.unavailable", source=self.name, path=str(path), error=result.error)
            return result
        for start in range(0, len(names), self.batch_size):
            batch = []
            for name in names[start : start + self.batch_size]:
                try:
                    raw = (path / "new" / name).read_bytes()
                except FileNotFoundError:
                    continue  # another reader took it
                except OSError as exc:
                    log(logger, logging.WARNING, "maildir.unreadable", source=self.name, file=name, error=str(exc))
                    continue
                batch.append(Fetched(raw=raw, folder="new", location=name))
            result.fetched += len(batch)
            with unit_of_work(self.sessions) as session:
                result.stored += store_raw(session, self.name, batch, self.clock.now())
                failpoints.reached("intake.before_commit")
            failpoints.reached("intake.after_commit")
            for item in batch:
                self._settle(path, item.location or "")
        if result.fetched:
            log(logger, logging.INFO, "maildir.polled", source=self.name, fetched=result.fetched, stored=result.stored)
        return result

    def _settle(self, path: Path, name: str) -> None:
        """Move a committed file to cur/, keeping its unique name and any flags it already had."""
        base, _, info = name.partition(":")
        try:
            os.rename(path / "new" / name, path / "cur" / f"{base}:{info or '2,'}")
        except FileNotFoundError:
            pass
