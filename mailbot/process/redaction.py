"""Credential redaction: once a flagged message's time has come, its passwords are removed from what mailbot
stores. A scheduled job of its own; it reads only messages whose redaction is due (indexed)."""

from __future__ import annotations

import logging
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


class CredentialRedaction:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def run(self, now: datetime) -> int:
        """Remove the passwords from messages whose redaction time has come: text, HTML and original bytes."""
        done = 0
        with unit_of_work(self.sessions) as session:
            writer = Writer(session.connection())
            due = writer.conn.execute(
                select(TicketMessage.id, TicketMessage.ticket_id, TicketMessage.inbound_id, TicketMessage.text, TicketMessage.html)
                .where(TicketMessage.redact_at <= now).limit(500)
            ).all()
            for row_id, ticket_id, inbound_id, text, html in due:
                found = find_credentials(text or "")
                secrets = found.secrets if found else ()
                new_text, n_text = redact(text or "", secrets)
                new_html, _ = redact(html, secrets) if html else (html, 0)
                writer.conn.execute(
                    update(TicketMessage).where(TicketMessage.id == row_id).values(text=new_text, html=new_html, redact_at=None)
                )
                raw_note = self._redact_raw(writer, inbound_id, secrets) if inbound_id else "no original kept"
                writer.event(ticket_id, "credentials.redacted", now, message=row_id, removed=n_text, original=raw_note)
                done += 1
            writer.flush()
        if done:
            log(logger, logging.INFO, "credentials.redacted", messages=done)
        return done

    def _redact_raw(self, writer: Writer, inbound_id: int, secrets: tuple[str, ...]) -> str:
        raw = writer.conn.execute(select(InboundRaw.raw).where(InboundRaw.inbound_id == inbound_id)).scalar_one_or_none()
        if raw is None or not secrets:
            return "unchanged"
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
            note = "original body replaced"
        else:
            note = f"{count} occurrence(s) removed from the original"
        writer.conn.execute(update(InboundRaw).where(InboundRaw.inbound_id == inbound_id).values(raw=result))
        return note

