"""Credential redaction: once a flagged message's time has come, its passwords leave no copy in what mailbot
stores. A scheduled job of its own; it reads only messages whose redaction is due (indexed).

A secret is removed from everything of the ticket it was sent on: the ticket's subject, every message's
subject, text and HTML (follow-ups that quote it, agents' replies), the original bytes of every inbound message
(the hash kept for de-duplication is of the original), text attachments, the outbox (subjects and raw
messages) and the event log. Mail mailbot writes never carried it (it is masked), but old rows are scrubbed too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from email.header import Header
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.orm import Session, sessionmaker

from mailbot.core.credentials import REDACTED, find_in_mail, redact, text_of
from mailbot.logs import log
from mailbot.parse import MalformedMail, parse_mail
from mailbot.store.db import unit_of_work
from mailbot.store.models import Attachment, Blob, Event, InboundRaw, Outbox, Ticket, TicketMessage
from mailbot.store.writer import Writer

logger = logging.getLogger("mailbot.redaction")

Secrets = tuple[str, ...]


def _text_attachments(conn: Connection, message_ids: Iterable[int]) -> list[tuple[str, bytes, str]]:
    """(sha256, data, content type) of the messages' attachments that are text."""
    rows = conn.execute(
        select(Blob.sha256, Blob.data, Attachment.content_type).join(Attachment, Attachment.sha256 == Blob.sha256)
        .where(Attachment.ticket_message_id.in_(list(message_ids)))
    ).all()
    return [(sha, data, ctype) for sha, data, ctype in rows if text_of(data, ctype) is not None]


def _scrub_json(value: Any, secrets: Secrets) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)[0]
    if isinstance(value, list):
        return [_scrub_json(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: _scrub_json(v, secrets) for k, v in value.items()}
    return value


def _bytes(data: bytes, secrets: Secrets) -> tuple[bytes, int]:
    text, count = redact(data.decode("utf-8", "surrogateescape"), secrets)
    return text.encode("utf-8", "surrogateescape"), count


def _still_there(raw: bytes, secrets: Secrets) -> bool:
    """Whether a secret survives in the message once decoded (base64, quoted-printable, an encoded subject)."""
    try:
        mail = parse_mail(raw)
    except MalformedMail:
        return False
    pieces = [mail.subject, mail.text, mail.html or "", *(text_of(p.payload, p.content_type) or "" for p in mail.parts)]
    return any(secret in piece for secret in secrets for piece in pieces)


def redact_raw(raw: bytes, secrets: Secrets, subject: str) -> tuple[bytes, str]:
    """The original message without the secrets: replaced where they stand in plain text; where they are
    encoded, the headers are kept (the Subject rewritten as stored) and the body replaced by a note."""
    result, count = _bytes(raw, secrets)
    if not _still_there(result, secrets):
        return result, f"{count} occurrence(s) removed from the original"
    sep = b"\r\n\r\n" if b"\r\n\r\n" in result else b"\n\n"
    head = result.split(sep, 1)[0]
    kept: list[bytes] = []
    in_subject = False
    for line in head.splitlines():
        if line[:1] in (b" ", b"\t") and in_subject:
            continue
        in_subject = line.lower().startswith(b"subject:")
        if not in_subject:
            kept.append(line)
    kept.append(b"Subject: " + Header(subject, "utf-8").encode().encode("ascii"))
    note = b"[original body removed: it contained credentials; the redacted text is kept on the ticket]"
    return b"\r\n".join(kept) + b"\r\n\r\n" + note + b"\r\n", "original body replaced"


class CredentialRedaction:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def run(self, now: datetime) -> int:
        """Remove the passwords of messages whose redaction time has come, from everything of their ticket."""
        done = 0
        with unit_of_work(self.sessions) as session:
            writer = Writer(session.connection())
            conn = writer.conn
            due = conn.execute(
                select(TicketMessage.id, TicketMessage.ticket_id, TicketMessage.subject, TicketMessage.text)
                .where(TicketMessage.redact_at <= now).limit(500)
            ).all()
            by_ticket: dict[int, list[str]] = {}
            for row_id, ticket_id, subject, text in due:
                files = tuple((data, ctype) for _, data, ctype in _text_attachments(conn, [row_id]))
                found = find_in_mail(subject or "", text or "", files)
                secrets = by_ticket.setdefault(ticket_id, [])
                secrets += [s for s in (found.secrets if found else ()) if s not in secrets and s != REDACTED]
                conn.execute(update(TicketMessage).where(TicketMessage.id == row_id).values(redact_at=None))
                done += 1
            for ticket_id, secrets in by_ticket.items():
                removed = self._scrub_ticket(conn, ticket_id, tuple(secrets)) if secrets else {}
                writer.event(ticket_id, "credentials.redacted", now, secrets=len(secrets), **removed)
            writer.flush()
        if done:
            log(logger, logging.INFO, "credentials.redacted", messages=done)
        return done

    def _scrub_ticket(self, conn: Connection, ticket_id: int, secrets: Secrets) -> dict[str, Any]:
        """Every stored copy of the secrets on this ticket; returns how many places changed, by kind."""
        counts = {"messages": 0, "originals": 0, "attachments": 0, "outbox": 0, "events": 0}
        notes: list[str] = []
        subject = conn.execute(select(Ticket.subject).where(Ticket.id == ticket_id)).scalar_one()
        conn.execute(update(Ticket).where(Ticket.id == ticket_id).values(subject=redact(subject, secrets)[0]))
        messages = conn.execute(
            select(TicketMessage.id, TicketMessage.inbound_id, TicketMessage.subject, TicketMessage.text, TicketMessage.html)
            .where(TicketMessage.ticket_id == ticket_id)
        ).all()
        for row_id, inbound_id, m_subject, text, html in messages:
            new_subject = redact(m_subject or "", secrets)[0]
            new_text = redact(text or "", secrets)[0]
            new_html = redact(html, secrets)[0] if html else html
            if (new_subject, new_text, new_html) != (m_subject or "", text or "", html):
                conn.execute(update(TicketMessage).where(TicketMessage.id == row_id).values(subject=new_subject, text=new_text, html=new_html))
                counts["messages"] += 1
            raw = conn.execute(select(InboundRaw.raw).where(InboundRaw.inbound_id == inbound_id)).scalar_one_or_none() if inbound_id else None
            if raw is not None and (any(s.encode() in raw for s in secrets) or _still_there(raw, secrets)):
                new, note = redact_raw(raw, secrets, new_subject)
                conn.execute(update(InboundRaw).where(InboundRaw.inbound_id == inbound_id).values(raw=new))
                counts["originals"] += 1
                notes.append(note)
        for sha, data, _ctype in _text_attachments(conn, [m[0] for m in messages]):
            new, n = _bytes(data, secrets)
            if n:
                conn.execute(update(Blob).where(Blob.sha256 == sha).values(data=new))
                counts["attachments"] += 1
        for out_id, out_subject, out_raw, error in conn.execute(
            select(Outbox.id, Outbox.subject, Outbox.raw, Outbox.last_error).where(Outbox.ticket_id == ticket_id)
        ).all():
            new_raw, n = _bytes(out_raw, secrets)
            clean_subject = redact(out_subject or "", secrets)[0]
            clean_error = redact(error, secrets)[0] if error else error
            if n or clean_subject != out_subject or clean_error != error:
                conn.execute(update(Outbox).where(Outbox.id == out_id).values(subject=clean_subject, raw=new_raw, last_error=clean_error))
                counts["outbox"] += 1
        for event_id, detail in conn.execute(select(Event.id, Event.detail).where(Event.ticket_id == ticket_id)).all():
            if any(s in json.dumps(detail, ensure_ascii=False) for s in secrets):
                conn.execute(update(Event).where(Event.id == event_id).values(detail=_scrub_json(detail, secrets)))
                counts["events"] += 1
        return {**counts, "original": "; ".join(dict.fromkeys(notes)) or "unchanged"}
