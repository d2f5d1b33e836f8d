"""The desk's reply-token secrets, kept in the database so every worker signs and verifies alike: adopted from the
config (or the legacy state-folder file) the first time, generated when there is none, rotated with a grace period."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mailbot.core.tokens import Signer, fingerprint
from mailbot.store.db import unit_of_work
from mailbot.store.models import DeskSecret


@dataclass(frozen=True)
class SecretSet:
    current: bytes
    previous: tuple[bytes, ...]  # rotated out, still accepted until their grace period ends

    def signer(self) -> Signer:
        return Signer(self.current, self.previous)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.current)


class SecretMismatch(Exception):
    """The secret in this worker's config is not the one the desk's database signs with."""

    def __init__(self, configured: str, stored: str) -> None:
        super().__init__(
            f"disagrees with the desk's secret in the database (fingerprint {configured} here, {stored} in the "
            "database): every worker of a desk must sign with the same secret, or replies to one worker's mail open "
            "new tickets on another. Remove the key to use the database's secret, or give the same secret"
        )


def _rows(session: Session) -> list[DeskSecret]:
    return list(session.scalars(select(DeskSecret).order_by(DeskSecret.id)))


def resolve(sessions: sessionmaker[Session], configured: bytes | None, legacy: bytes | None, now: datetime) -> SecretSet:
    """The desk's secrets; the first worker to start stores the configured (or legacy, or a new random) secret."""
    with unit_of_work(sessions) as session:
        rows = _rows(session)
    if not rows:
        value = configured or legacy or secrets.token_urlsafe(32).encode()
        try:
            with unit_of_work(sessions) as session:
                # id 1, given explicitly: two workers starting at once on an empty database cannot both store one.
                session.add(DeskSecret(id=1, secret=value.decode(), fingerprint=fingerprint(value), created_at=now))
        except IntegrityError:
            pass  # another worker stored its secret first; read it below
        with unit_of_work(sessions) as session:
            rows = _rows(session)
    current = rows[-1]
    if configured is not None and fingerprint(configured) != current.fingerprint:
        raise SecretMismatch(fingerprint(configured), current.fingerprint)
    previous = tuple(r.secret.encode() for r in rows[:-1] if r.verify_until is None or r.verify_until > now)
    return SecretSet(current.secret.encode(), previous)


def rotate(sessions: sessionmaker[Session], now: datetime, grace: timedelta) -> tuple[str, str]:
    """Make a new secret the one that signs; the old one keeps verifying for `grace`. Returns (old, new) fingerprints."""
    value = secrets.token_urlsafe(32).encode()
    with unit_of_work(sessions) as session:
        rows = _rows(session)
        if not rows:
            raise LookupError("the database holds no secret yet (start mailbot once, or run `mailbot db upgrade`)")
        old = rows[-1]
        old.verify_until = now + grace
        session.add(DeskSecret(id=old.id + 1, secret=value.decode(), fingerprint=fingerprint(value), created_at=now))
        return old.fingerprint, fingerprint(value)


def listing(sessions: sessionmaker[Session], now: datetime) -> list[tuple[str, str, datetime, datetime | None]]:
    """(fingerprint, role, created, verify_until) per stored secret, newest last; role is signing, verifying or expired."""
    with unit_of_work(sessions) as session:
        rows = _rows(session)
    out = []
    for i, r in enumerate(rows):
        role = "signing" if i == len(rows) - 1 else ("verifying" if r.verify_until is None or r.verify_until > now else "expired")
        out.append((r.fingerprint, role, r.created_at, r.verify_until))
    return out
