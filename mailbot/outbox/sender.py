"""Send queued outbox rows: SMTP over one reused aiosmtplib connection (or a Maildir for the embedded default).

4xx replies retry with exponential backoff until the row's deadline; 5xx marks it failed. A server that cannot
be reached pauses sending (doubling, capped) and leaves the row as it was: only a server's answer counts as an
attempt. A row is claimed (its retry time pushed out as a lease) before sending and marked sent after, so a
crash in between can resend it — with the same Message-ID — but nothing else sends twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import aiosmtplib
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailbot import failpoints, telemetry
from mailbot.config import SmtpConfig
from mailbot.core.backoff import backoff
from mailbot.logs import log
from mailbot.outbox.throttle import AUTOMATIC_KINDS, Throttle, throttle
from mailbot.signin.smtp_signin import sign_in_smtp
from mailbot.store.db import unit_of_work
from mailbot.store.journal import add_event
from mailbot.store.models import Outbox
from mailbot.time_source import Clock

logger = logging.getLogger("mailbot.outbox")


class TemporaryFailure(Exception):
    """Try again later (4xx, connection trouble, authentication that a config fix will cure)."""


class ConnectionTrouble(TemporaryFailure):
    """The server cannot be reached or used at all: stop this flush, every row would fail the same way."""


class PermanentFailure(Exception):
    """The server refused for good (5xx)."""


@dataclass(frozen=True)
class Accepted:
    refused: dict[str, tuple[int, str]]  # recipients refused while others were accepted


class Transport(Protocol):
    async def send(self, mail_from: str, recipients: list[str], raw: bytes) -> Accepted: ...

    async def close(self) -> None: ...


class SmtpTransport:
    """One SMTP connection kept open between messages and flushes; reconnects when the server drops it."""

    def __init__(self, cfg: SmtpConfig) -> None:
        self.cfg = cfg
        self._client: aiosmtplib.SMTP | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _usable(self) -> bool:
        """Whether the open connection can carry the next message (it belongs to this event loop)."""
        if self._client is None:
            return False
        if self._loop is not asyncio.get_running_loop():
            self._discard()  # made by an earlier asyncio.run(); its loop is gone
            return False
        return self._client.is_connected

    def _discard(self) -> None:
        client, self._client, self._loop = self._client, None, None
        if client is not None:
            try:
                client.close()
            except RuntimeError:  # its event loop is already closed; the socket goes with it
                pass

    def _tls(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.cfg.ca_file) if self.cfg.ca_file else None)
        if not self.cfg.verify_tls:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    async def _connect(self) -> aiosmtplib.SMTP:
        cfg = self.cfg
        client = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.effective_port,
            use_tls=cfg.security == "tls",
            # True: STARTTLS is required, and its absence is an error rather than a silent plaintext session.
            start_tls=True if cfg.security == "starttls" else False,
            tls_context=self._tls() if cfg.security != "plain" else None,
            timeout=cfg.timeout_seconds,
        )
        await client.connect()
        try:
            await sign_in_smtp(client, cfg)  # password or OAuth2; a refusal is an SMTPAuthenticationError
        except BaseException:
            client.close()
            raise
        return client

    async def send(self, mail_from: str, recipients: list[str], raw: bytes) -> Accepted:
        for attempt in (1, 2):
            try:
                client = self._client
                if client is None or not self._usable():
                    client = self._client = await self._connect()
                    self._loop = asyncio.get_running_loop()
                errors, _response = await client.sendmail(mail_from, recipients, raw)
                return Accepted(refused={addr: (resp.code, resp.message) for addr, resp in errors.items()})
            except aiosmtplib.SMTPServerDisconnected as exc:
                # An idle connection the server closed: reconnect once before calling it a failure.
                await self.close()
                if attempt == 2:
                    raise ConnectionTrouble(f"connection lost: {exc}") from exc
            except aiosmtplib.SMTPRecipientsRefused as exc:
                codes = [r.code for r in exc.recipients]
                detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
                if all(400 <= c < 500 for c in codes):
                    raise TemporaryFailure(detail) from exc
                raise PermanentFailure(detail) from exc
            except aiosmtplib.SMTPAuthenticationError as exc:
                await self.close()
                what = "auth settings ([smtp.oauth2])" if self.cfg.auth == "oauth2" else "username/password"
                error = f"SMTP sign-in failed ({exc.code} {exc.message}); check [smtp] {what}"
                if not getattr(exc, "temporary", False):  # refused credentials are a configuration error
                    log(logger, logging.ERROR, "smtp.signin_failed", host=self.cfg.host, username=self.cfg.username, auth=self.cfg.auth, error=error)
                raise ConnectionTrouble(error) from exc
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code >= 500:
                    raise PermanentFailure(f"{exc.code} {exc.message}") from exc
                if exc.code == 421:  # the server is closing the connection: it is unavailable, not this message
                    await self.close()
                    raise ConnectionTrouble(f"{exc.code} {exc.message}") from exc
                raise TemporaryFailure(f"{exc.code} {exc.message}") from exc
            except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
                await self.close()
                raise ConnectionTrouble(f"{type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if not self._usable():
            self._discard()
            return
        client, self._client, self._loop = self._client, None, None
        assert client is not None
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError):
            client.close()


class MaildirTransport:
    """Writes each message into a Maildir (the embedded default's outgoing mail, readable by any mail client)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def send(self, mail_from: str, recipients: list[str], raw: bytes) -> Accepted:
        for sub in ("new", "cur", "tmp"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now().timestamp():.6f}.{os.getpid()}.{abs(hash(raw))}.mailbot"
        head = f"Return-Path: <{mail_from}>\r\nX-Envelope-To: {', '.join(recipients)}\r\n".encode()
        tmp = self.path / "tmp" / name
        tmp.write_bytes(head + raw)
        os.rename(tmp, self.path / "new" / name)
        return Accepted(refused={})

    async def close(self) -> None:
        """Nothing to close."""


@dataclass
class SendStats:
    sent: int = 0
    retry: int = 0
    failed: int = 0
    unreachable: bool = False  # the server could not be used; nothing was counted against any row


class OutboxSender:
    def __init__(self, sessions: sessionmaker[Session], cfg: SmtpConfig, clock: Clock, transport: Transport) -> None:
        self.sessions = sessions
        self.cfg = cfg
        self.clock = clock
        self.transport = transport
        # A claimed row is not taken again before this, unless it was sent: long enough for one send.
        self.lease = timedelta(seconds=cfg.timeout_seconds * 4)
        self._paused_until: datetime | None = None
        self.throttled = False  # the hourly cap on automatic mail was reached at the last look
        self.outages = 0  # consecutive flushes that found the server unusable
        self._unrecorded: list[tuple[int, dict[str, tuple[int, str]]]] = []  # sent, not yet marked sent

    def _claim(self, automatic: bool = True) -> tuple[int, str, list[str], bytes, str, datetime] | None:
        """Take the next due row, one at a time, so a lease only ever covers a single send. Without
        `automatic`, automatic mail (acknowledgements, notifications) is left waiting."""
        now = self.clock.now()
        with unit_of_work(self.sessions) as s:
            query = select(Outbox).where(Outbox.status == "queued", Outbox.next_attempt_at <= now)
            if not automatic:
                query = query.where(Outbox.kind.not_in(AUTOMATIC_KINDS))
            row = s.scalars(query.order_by(Outbox.id).limit(1).with_for_update(skip_locked=True)).one_or_none()
            if row is None:
                return None
            due = row.next_attempt_at
            row.attempts += 1
            row.next_attempt_at = now + self.lease
            return row.id, row.mail_from, list(row.recipients), row.raw, row.kind, due

    def _throttle(self) -> Throttle:
        with unit_of_work(self.sessions) as s:
            return throttle(s.connection(), self.clock.now(), self.cfg.max_automatic_per_hour)

    def _note_throttle(self, active: bool, state: Throttle) -> None:
        """One warning when the cap is reached, one line when sending resumes."""
        if active and not self.throttled:
            log(logger, logging.WARNING, "outbox.throttled", sent_last_hour=state.sent, limit=state.limit, waiting=state.waiting)
        elif not active and self.throttled:
            log(logger, logging.INFO, "outbox.unthrottled", limit=state.limit)
        self.throttled = active

    def _release(self, row_id: int, due: datetime, error: str) -> None:
        """Give back a row the server never answered for: attempts and next attempt as they were, and why."""
        with unit_of_work(self.sessions) as s:
            row = s.get_one(Outbox, row_id)
            if row.status == "queued":
                row.attempts = max(row.attempts - 1, 0)
                row.next_attempt_at = due
                row.last_error = f"not sent, server unavailable: {error}"

    def _unreachable(self, error: str) -> None:
        """Pause sending, doubling the pause each time; the outage is a warning once, then debug lines."""
        self.outages += 1
        pause = backoff(self.outages, max(self.cfg.retry_base_seconds, 1.0), self.cfg.retry_max_seconds)
        self._paused_until = self.clock.now() + pause
        level = logging.WARNING if self.outages == 1 else logging.DEBUG
        log(logger, level, "smtp.unavailable", host=self.cfg.host, error=error, attempt=self.outages, retry_in_s=pause.total_seconds())

    def _settle(self, row_id: int, outcome: str, error: str | None = None, refused: dict[str, tuple[int, str]] | None = None) -> str:
        now = self.clock.now()
        with unit_of_work(self.sessions) as s:
            row = s.get_one(Outbox, row_id)
            if outcome == "sent":
                row.status, row.sent_at, row.last_error = "sent", now, None
                if refused:
                    row.last_error = "; ".join(f"{a}: {c} {m}" for a, (c, m) in refused.items())
                    self._requeue_refused(s, row, refused, now)
                add_event(s, row.ticket_id, "mail.sent", now, outbox=row.id, kind=row.kind, to=row.recipients, refused=row.last_error)
                telemetry.SENT_LATENCY.observe(max((now - row.created_at).total_seconds(), 0.0))
            elif outcome == "failed" or now >= row.expires_at:
                row.status, row.last_error = "failed", error
                add_event(s, row.ticket_id, "mail.failed", now, outbox=row.id, kind=row.kind, to=row.recipients, error=error)
                outcome = "failed"
            else:
                row.last_error = error
                row.next_attempt_at = min(now + backoff(row.attempts, self.cfg.retry_base_seconds, self.cfg.retry_max_seconds), row.expires_at)
            level = logging.INFO if outcome == "sent" else logging.WARNING
            log(logger, level, f"outbox.{outcome}", outbox=row.id, kind=row.kind, to=",".join(row.recipients), attempt=row.attempts, error=error)
            return outcome

    def _requeue_refused(self, s: Session, row: Outbox, refused: dict[str, tuple[int, str]], now: datetime) -> None:
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

    async def flush(self, should_stop: Callable[[], bool] = lambda: False) -> SendStats:
        """Send every due row until none is due, the server is unusable, or `should_stop()`."""
        stats = SendStats()
        # Mail the server accepted while the database could not record it (an outage): record it first,
        # before its lease runs out and it would be sent again.
        while self._unrecorded:
            row_id, refused = self._unrecorded[0]
            await asyncio.to_thread(self._settle, row_id, "sent", None, refused)
            self._unrecorded.pop(0)
            stats.sent += 1
        if self._paused_until is not None and self.clock.now() < self._paused_until:
            return stats  # the server was unreachable a moment ago: do not hammer it
        self._paused_until = None
        state = await asyncio.to_thread(self._throttle)  # one count per flush; this flush's sends are added below
        automatic_sent = state.sent
        while not should_stop():
            allowed = state.limit == 0 or automatic_sent < state.limit
            self._note_throttle(not allowed, state)
            claimed = await asyncio.to_thread(self._claim, allowed)
            if claimed is None:
                break
            row_id, mail_from, recipients, raw, kind, due = claimed
            try:
                accepted = await self.transport.send(mail_from, recipients, raw)
            except PermanentFailure as exc:
                outcome = await asyncio.to_thread(self._settle, row_id, "failed", str(exc))
            except ConnectionTrouble as exc:
                # Not this row's fault, and every other row would fail the same way: leave them all as they
                # were and wait before trying again.
                await asyncio.to_thread(self._release, row_id, due, str(exc))
                self._unreachable(str(exc))
                stats.unreachable = True
                return stats
            except TemporaryFailure as exc:
                outcome = await asyncio.to_thread(self._settle, row_id, "retry", str(exc))
            else:
                failpoints.reached("outbox.after_send")
                self._unrecorded.append((row_id, accepted.refused))
                outcome = await asyncio.to_thread(self._settle, row_id, "sent", None, accepted.refused)
                self._unrecorded.pop()
            if self.outages:
                log(logger, logging.INFO, "smtp.available", host=self.cfg.host, attempts=self.outages)
                self.outages = 0
            if outcome == "sent":
                stats.sent += 1
                automatic_sent += kind in AUTOMATIC_KINDS
            elif outcome == "failed":
                stats.failed += 1
            else:
                stats.retry += 1
        return stats


def make_transport(cfg: SmtpConfig, outgoing_maildir: Path) -> Transport:
    return SmtpTransport(cfg) if cfg.transport == "smtp" else MaildirTransport(outgoing_maildir)
