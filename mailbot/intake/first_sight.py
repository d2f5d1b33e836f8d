"""What a folder held when mailbot first saw it is history: intake marks those inbound rows, and processing
files them into tickets without answering, notifying or starting a clock.

The window is stored with the folder's cursor in its own commit before anything is fetched, so a first import
that crashes half-way goes on as history after a restart. IMAP: every UID below the UIDNEXT of the first
SELECT. Maildir (no UIDs): everything new/ holds until the first full pass over it has ended. With
`history_before`, only mail received before it is history; later mail is handled as new.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.config import Intake
from mailbot.core.mail_age import mail_time
from mailbot.logs import log
from mailbot.store.models import Inbound, MailboxCursor

logger = logging.getLogger("mailbot.intake.history")


@dataclass(frozen=True)
class HistoryWindow:
    """Which messages of a folder being imported for the first time are history."""

    upto_uid: int | None  # IMAP: the highest UID that can be history; None: every message of the pass
    cutoff: datetime | None  # history_before: mail received at or after it is new mail

    def covers(self, uid: int | None, raw: bytes, now: datetime) -> bool:
        if self.upto_uid is not None and (uid is None or uid > self.upto_uid):
            return False
        if self.cutoff is None:
            return True
        headers = BytesHeaderParser(policy=compat32).parsebytes(raw).items()
        received = mail_time(headers, now).at
        return received is None or received < self.cutoff  # undated mail the folder held counts as old


def window_of(row: MailboxCursor, intake: Intake, zone: str) -> HistoryWindow | None:
    """The folder's history window while its import is unfinished, else None."""
    if row.first_seen_at is None or row.history_done_at is not None:
        return None
    return HistoryWindow(row.history_upto_uid, intake.history_cutoff(zone))


def first_cursor(
    session: Session, source: str, folder: str, uidvalidity: int, upto_uid: int | None, intake: Intake, now: datetime,
) -> MailboxCursor:
    """The cursor of a folder seen for the first time, with its history window.

    A folder some of whose mail is already stored (a Maildir read before history import existed, a cursor
    removed by hand) gets no window: what it holds now arrived while mailbot was reading it."""
    stored = session.scalar(select(Inbound.id).where(Inbound.source == source, Inbound.folder == folder).limit(1))
    importing = intake.history and stored is None and (upto_uid is None or upto_uid > 0)
    row = MailboxCursor(
        source=source, folder=folder, uidvalidity=uidvalidity, last_uid=0, updated_at=now, first_seen_at=now,
        history_upto_uid=upto_uid if importing else None, history_done_at=None if importing else now,
    )
    session.add(row)
    why = "importing what it holds as history" if importing else (
        "history import is off" if not intake.history else "mail from it is stored already" if stored is not None else "it is empty"
    )
    log(logger, logging.INFO, "intake.first_seen", source=source, folder=folder, history=importing, upto_uid=upto_uid, why=why)
    return row


def history_finished(session: Session, source: str, folder: str, now: datetime) -> None:
    """The first pass over the folder has ended: from now on everything in it is new mail."""
    row = session.scalars(select(MailboxCursor).where(MailboxCursor.source == source, MailboxCursor.folder == folder)).one()
    if row.first_seen_at is not None and row.history_done_at is None:
        row.history_done_at = now
        log(logger, logging.INFO, "intake.history_done", source=source, folder=folder)
