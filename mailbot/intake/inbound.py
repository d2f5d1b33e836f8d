"""Commit raw messages to the inbound table; the unique hash makes a re-fetch of the same bytes a no-op."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert as core_insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mailbot.core.ticket_states import InboundStatus
from mailbot.store.models import Inbound, InboundRaw

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Fetched:
    """One message as a source handed it over, with where it came from."""

    raw: bytes
    folder: str
    uidvalidity: int | None = None
    uid: int | None = None
    location: str | None = None
    history: bool = False  # held by the folder when mailbot first saw it (intake/first_sight.py)


def content_hash(raw: bytes) -> str:
    """SHA-256 of the message with line endings normalised, so IMAP (CRLF) and Maildir (LF) copies match."""
    return hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()


def sniff_message_id(raw: bytes) -> str:
    """The Message-ID from the header block, cheaply and without a full parse (for listing and dedup)."""
    end = _HEADER_END.search(raw)
    head = raw[: end.start()] if end else raw[:65536]
    m = _MESSAGE_ID.search(head)
    if not m:
        return ""
    value = re.sub(rb"\s+", b"", m.group(1)).decode("utf-8", "replace")
    return value.strip("<>")[:998]


insert_raw = core_insert(InboundRaw)


def store_raw(session: Session, source: str, items: list[Fetched], now: datetime) -> int:
    """Insert the messages not stored yet; returns how many were new. Runs inside the caller's transaction."""
    if not items:
        return 0
    rows = []
    raws: dict[str, bytes] = {}
    for item in items:
        digest = content_hash(item.raw)
        if digest in raws:
            continue
        raws[digest] = item.raw
        rows.append(
            {
                "source": source,
                "folder": item.folder,
                "uidvalidity": item.uidvalidity,
                "uid": item.uid,
                "location": item.location,
                "raw_sha256": digest,
                "message_id": sniff_message_id(item.raw),
                "size": len(item.raw),
                "fetched_at": now,
                "status": InboundStatus.RECEIVED,
                "attempts": 0,
                "next_attempt_at": now,
                "history": item.history,
            }
        )
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Inbound).on_conflict_do_nothing(index_elements=["raw_sha256"])
    new = session.execute(stmt.returning(Inbound.id, Inbound.raw_sha256), rows).all()
    if new:
        session.execute(insert_raw, [{"inbound_id": row_id, "raw": raws[digest]} for row_id, digest in new])
    return len(new)
