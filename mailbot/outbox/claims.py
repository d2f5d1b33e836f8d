"""The sender's database side: claim a few due outbox rows in one transaction, settle or give them back in one."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailbot import telemetry
from mailbot.config import SmtpConfig
from mailbot.core.backoff import backoff
from mailbot.logs import log
from mailbot.outbox.throttle import AUTOMATIC_KINDS, Throttle, throttle
from mailbot.store.db import unit_of_work
from mailbot.store.journal import add_event
from mailbot.store.models import Outbox
from mailbot.time_source import Clock

logger = logging.getLogger("mailbot.outbox")

Refused = dict[str, tuple[int, str]]  # recipients refused while others were accepted: address → (code, text)


@dataclass(frozen=True)
class Claim:
    """A row taken for sending, with what sending needs and what giving it back restores."""

    id: int
    mail_from: str
    recipients: list[str]
    raw: bytes
    kind: str
    due: datetime  # its next attempt before the claim pushed it out by the lease

    @property
    def automatic(self) -> bool:
        return self.kind in AUTOMATIC_KINDS


@dataclass(frozen=True)
class Outcome:
    """The server's answer for one claimed row: "sent", "retry" (4xx) or "failed" (5xx)."""

    row_id: int
    result: str
    error: str | None = None
    refused: Refused = field(default_factory=dict)


class OutboxRows:
    def __init__(self, sessions: sessionmaker[Session], cfg: SmtpConfig, clock: Clock, lease: timedelta) -> None:
        self.sessions = sessions
        self.cfg = cfg
        self.clock = clock
        self.lease = lease

    def claim(self, size: int, room: int | None) -> list[Claim]:
        """Take up to `size` due rows, oldest first, each leased (attempts + 1, next attempt pushed out) so no
        other worker takes it meanwhile. At most `room` of them automatic (None: no limit); past it,
        acknowledgements and notifications are left waiting and only mail written by people goes."""
        now = self.clock.now()
        with unit_of_work(self.sessions) as s:
            query = select(Outbox).where(Outbox.status == "queued", Outbox.next_attempt_at <= now)
            if room == 0:
                query = query.where(Outbox.kind.not_in(AUTOMATIC_KINDS))
            rows = s.scalars(query.order_by(Outbox.id).limit(size).with_for_update(skip_locked=True)).all()
            claims = []
            for row in rows:
                if room is not None and row.kind in AUTOMATIC_KINDS:
                    if room == 0:
                        continue
                    room -= 1
                claims.append(Claim(row.id, row.mail_from, list(row.recipients), row.raw, row.kind, row.next_attempt_at))
                row.attempts += 1
                row.next_attempt_at = now + self.lease
            return claims

    def throttle(self) -> Throttle:
        with unit_of_work(self.sessions) as s:
            return throttle(s.connection(), self.clock.now(), self.cfg.max_automatic_per_hour)

    def settle(self, outcomes: list[Outcome], unsent: list[Claim], why: str | None) -> list[str]:
        """One transaction: record each answer (returns each row's state after it: "sent", "retry" or "failed",
        a retry past the row's deadline being "failed"), and give each unsent row back as it was before its
        claim, with `why` as its last error (None: the last error stays)."""
        now = self.clock.now()
        with unit_of_work(self.sessions) as s:
            settled = [self._settle_row(s, outcome, now) for outcome in outcomes]
            for claim in unsent:
                row = s.get_one(Outbox, claim.id)
                if row.status == "queued":
                    row.attempts = max(row.attempts - 1, 0)
                    row.next_attempt_at = claim.due
                    if why is not None:
                        row.last_error = why
            return settled

    def _settle_row(self, s: Session, outcome: Outcome, now: datetime) -> str:
        row = s.get_one(Outbox, outcome.row_id)
        result, error = outcome.result, outcome.error
        if result == "sent":
            row.status, row.sent_at, row.last_error = "sent", now, None
            if outcome.refused:
                row.last_error = "; ".join(f"{a}: {c} {m}" for a, (c, m) in outcome.refused.items())
                self._requeue_refused(s, row, outcome.refused, now)
            add_event(s, row.ticket_id, "mail.sent", now, outbox=row.id, kind=row.kind, to=row.recipients, refused=row.last_error)
            telemetry.SENT_LATENCY.observe(max((now - row.created_at).total_seconds(), 0.0))
        elif result == "failed" or now >= row.expires_at:
            row.status, row.last_error = "failed", error
            add_event(s, row.ticket_id, "mail.failed", now, outbox=row.id, kind=row.kind, to=row.recipients, error=error)
            result = "failed"
        else:
            row.last_error = error
            row.next_attempt_at = min(now + backoff(row.attempts, self.cfg.retry_base_seconds, self.cfg.retry_max_seconds), row.expires_at)
        level = logging.INFO if result == "sent" else logging.WARNING
        log(logger, level, f"outbox.{result}", outbox=row.id, kind=row.kind, to=",".join(row.recipients), attempt=row.attempts, error=error)
        return result

    def _requeue_refused(self, s: Session, row: Outbox, refused: Refused, now: datetime) -> None:
        """Recipients refused with 4xx while others were accepted get a row of their own, same Message-ID."""
        later = [a for a, (code, _m) in refused.items() if 400 <= code < 500]
        if later:
            s.add(
                Outbox(
                    ticket_id=row.ticket_id, kind=row.kind, dedupe_key=None, message_id=row.message_id,
                    mail_from=row.mail_from, recipients=later, subject=row.subject, raw=row.raw, automatic=row.automatic,
                    status="queued", attempts=0, next_attempt_at=now + backoff(1, self.cfg.retry_base_seconds, self.cfg.retry_max_seconds),
                    expires_at=row.expires_at, created_at=now,
                )
            )
