"""Content-addressed attachment storage in the database: one row per distinct content, shared by every copy."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.store.journal import insert_ignoring_duplicates
from mailbot.store.models import Blob


def put_blob(session: Session, data: bytes) -> str:
    """Store `data` if it is not stored yet; return its SHA-256, the only name it is ever kept under."""
    digest = hashlib.sha256(data).hexdigest()
    insert_ignoring_duplicates(session, Blob, ["sha256"], sha256=digest, size=len(data), data=data)
    return digest


def get_blob(session: Session, digest: str) -> bytes | None:
    return session.scalars(select(Blob.data).where(Blob.sha256 == digest)).one_or_none()
