"""Credential redaction: once a flagged message's time has come, its passwords are removed from what mailbot
stores. A scheduled job of its own; it reads only messages whose redaction is due (indexed)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from mailbot.core.credentials import REDACTED, redact
from mailbot.core.credentials import find as find_credentials
from mailbot.logs import log
from mailbot.parse import MalformedMail, parse_mail
from mailbot.store.db import unit_of_work
from mailbot.store.models import InboundRaw, TicketMessage
from mailbot.store.writer import Writer

logger = logging.getLogger("mailbot.redaction")


@dataclass(frozen=True)
class _Redacted:
    row_id: int
    ticket_id: int
    inbound_id: int | None
    text: str
    html: str | None
    removed: int
    raw: bytes | None  # the original bytes with the secrets removed, or None to leave them
    raw_note: str


BATCH = 500


class CredentialRedaction:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def run(self, now: datetime) -> int:
        """Remove the passwords from messages whose redaction time has come: text, HTML and original bytes.

        Read, then think (find, replace, re-parse the original) with no transaction open, then write: the
        database's write lock is held only for the writes."""
        with unit_of_work(self.sessions) as session:
            due = session.execute(
                select(TicketMessage.id, TicketMessage.ticket_id, TicketMessage.inbound_id, TicketMessage.text, TicketMessage.html)
                .where(TicketMessage.redact_at <= now).limit(BATCH)
            ).all()
            inbound_ids = [row.inbound_id for row in due if row.inbound_id]
            raws = dict(session.execute(select(InboundRaw.inbound_id, InboundRaw.raw).where(InboundRaw.inbound_id.in_(inbound_ids))).tuples().all()) if inbound_ids else {}
        work = [self._redact(row_id, ticket_id, inbound_id, text, html, raws.get(inbound_id) if inbound_id else None)
                for row_id, ticket_id, inbound_id, text, html in due]
        done = 0
        with unit_of_work(self.sessions) as session:
            writer = Writer(session.connection())
            for item in work:
                changed = writer.conn.execute(
                    update(TicketMessage).where(TicketMessage.id == item.row_id, TicketMessage.redact_at.is_not(None))
                    .values(text=item.text, html=item.html, redact_at=None)
                )
                if changed.rowcount != 1:
                    continue  # another worker redacted it meanwhile
                if item.raw is not None and item.inbound_id:
                    writer.conn.execute(update(InboundRaw).where(InboundRaw.inbound_id == item.inbound_id).values(raw=item.raw))
                writer.event(item.ticket_id, "credentials.redacted", now, message=item.row_id, removed=item.removed, original=item.raw_note)
                done += 1
            writer.flush()
        if done:
            log(logger, logging.INFO, "credentials.redacted", messages=done)
        return done

    def _redact(self, row_id: int, ticket_id: int, inbound_id: int | None, text: str | None, html: str | None, raw: bytes | None) -> _Redacted:
        found = find_credentials(text or "")
        secrets = found.secrets if found else ()
        new_text, n_text = redact(text or "", secrets)
        new_html, _ = redact(html, secrets) if html else (html, 0)
        if not inbound_id:
            return _Redacted(row_id, ticket_id, inbound_id, new_text, new_html, n_text, None, "no original kept")
        new_raw, note = self._redact_raw(raw, secrets)
        return _Redacted(row_id, ticket_id, inbound_id, new_text, new_html, n_text, new_raw, note)

    def _redact_raw(self, raw: bytes | None, secrets: tuple[str, ...]) -> tuple[bytes | None, str]:
        if raw is None or not secrets:
            return None, "unchanged"
        text = raw.decode("utf-8", "surrogateescape")
        new, count = redact(text, secrets)
        result = new.encode("utf-8", "surrogateescape")
        try:
            still = find_credentials(parse_mail(result).text)
        except MalformedMail:
            still = None
        if still is not None and set(still.secrets) - {REDACTED}:
            # Encoded (base64, quoted-printable): keep the headers, replace the body with what we stored.
            head = result.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in result else result.split(b"\n\n", 1)[0]
            result = head + b"\r\n\r\n[original body removed: it contained credentials; the redacted text is kept on the ticket]\r\n"
            return result, "original body replaced"
        return result, f"{count} occurrence(s) removed from the original"
