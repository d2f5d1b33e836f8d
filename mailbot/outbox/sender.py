"""Send queued outbox rows over up to `[smtp] connections` SMTP connections side by side (or into a Maildir).

Each connection claims a few due rows in one transaction (up to ROWS_PER_CLAIM, each leased: attempts + 1, its
next attempt pushed out), sends them one after another, then settles them all in one transaction. 4xx replies
retry with exponential backoff until the row's deadline; 5xx marks it failed. A server that cannot be reached
stops every connection and pauses sending (doubling, capped); each row not yet sent goes back as it was: only a
server's answer counts as an attempt.

Crash bound: a connection marks its batch sent before it claims the next, and a flush records what the server
accepted but the database could not (an outage) before it sends anything. So after kill -9 a row the server
accepted is sent again only if it was in a connection's last batch, not yet marked: at most `connections` ×
ROWS_PER_CLAIM rows (4 with the defaults), each with the same bytes and Message-ID (`raw` is stored). Nothing
else sends twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from mailbot import failpoints
from mailbot.config import SmtpConfig
from mailbot.core.backoff import backoff
from mailbot.logs import log
from mailbot.outbox.claims import Claim, Outcome, OutboxRows, Refused
from mailbot.outbox.throttle import Throttle
from mailbot.outbox.transports import ConnectionTrouble, PermanentFailure, TemporaryFailure, Transport, TransportPool
from mailbot.outbox.transports import SmtpTransport as SmtpTransport  # where callers found it before the split
from mailbot.time_source import Clock

logger = logging.getLogger("mailbot.outbox")

# Rows one connection claims (and then marks sent) per transaction: fewer transactions per message, against
# more mail sent twice after a crash (see the crash bound above) and a longer lease.
ROWS_PER_CLAIM = 2


@dataclass
class SendStats:
    sent: int = 0
    retry: int = 0
    failed: int = 0
    unreachable: bool = False  # the server could not be used; nothing was counted against any row


@dataclass
class _Round:
    """One flush, shared by its connections: the hourly cap's count, and whether they must all stop."""

    should_stop: Callable[[], bool]
    cap: Throttle
    automatic_sent: int  # in the last hour, this flush's sends included
    automatic_claimed: int = 0  # claimed by a connection and not yet settled
    outage: str | None = None  # the first connection trouble: every connection stops
    broken: bool = False  # a connection raised (the database, say): the others stop too
    # The connections' transactions one at a time: the hourly cap's room is not handed out twice, and on SQLite
    # they queue here instead of in its busy handler, which sleeps between tries.
    database: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def halted(self) -> bool:
        return self.outage is not None or self.broken

    def room(self) -> int | None:
        """How many automatic rows may still be claimed (None: no cap)."""
        if self.cap.limit == 0:
            return None
        return max(self.cap.limit - self.automatic_sent - self.automatic_claimed, 0)


class OutboxSender:
    def __init__(self, sessions: sessionmaker[Session], cfg: SmtpConfig, clock: Clock, transport: TransportPool) -> None:
        self.cfg = cfg
        self.clock = clock
        self.transport = transport  # the pool of connections; one per connection task
        # A claimed row is not taken again before this, unless it was sent: long enough for a batch's sends.
        self.lease = timedelta(seconds=cfg.timeout_seconds * 4 * ROWS_PER_CLAIM)
        self.rows = OutboxRows(sessions, cfg, clock, self.lease)
        self._paused_until: datetime | None = None
        self.throttled = False  # the hourly cap on automatic mail was reached at the last look
        self.outages = 0  # consecutive flushes that found the server unusable
        self._unrecorded: dict[int, Refused] = {}  # accepted by the server, not yet marked sent: row → refused

    def _note_throttle(self, active: bool, state: Throttle) -> None:
        """One warning when the cap is reached, one line when sending resumes."""
        if active and not self.throttled:
            log(logger, logging.WARNING, "outbox.throttled", sent_last_hour=state.sent, limit=state.limit, waiting=state.waiting)
        elif not active and self.throttled:
            log(logger, logging.INFO, "outbox.unthrottled", limit=state.limit)
        self.throttled = active

    def _unreachable(self, error: str) -> None:
        """Pause sending, doubling the pause each time; the outage is a warning once, then debug lines."""
        self.outages += 1
        pause = backoff(self.outages, max(self.cfg.retry_base_seconds, 1.0), self.cfg.retry_max_seconds)
        self._paused_until = self.clock.now() + pause
        level = logging.WARNING if self.outages == 1 else logging.DEBUG
        log(logger, level, "smtp.unavailable", host=self.cfg.host, error=error, attempt=self.outages, retry_in_s=pause.total_seconds())

    async def flush(self, should_stop: Callable[[], bool] = lambda: False) -> SendStats:
        """Send every due row until none is due, the server is unusable, or `should_stop()`."""
        stats = SendStats()
        if self._unrecorded:
            # Mail the server accepted while the database could not record it (an outage): record it first,
            # before its lease runs out and it would be sent again.
            accepted = [Outcome(row_id, "sent", refused=refused) for row_id, refused in self._unrecorded.items()]
            await asyncio.to_thread(self.rows.settle, accepted, [], None)
            self._unrecorded.clear()
            stats.sent += len(accepted)
        if self._paused_until is not None and self.clock.now() < self._paused_until:
            return stats  # the server was unreachable a moment ago: do not hammer it
        self._paused_until = None
        cap = await asyncio.to_thread(self.rows.throttle)  # one count per flush; this flush's sends are added
        turn = _Round(should_stop, cap, cap.sent)
        results = await asyncio.gather(
            *(self._connection(self.transport[i], turn, stats) for i in range(self.transport.size)), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return stats

    async def _connection(self, transport: Transport, turn: _Round, stats: SendStats) -> None:
        """One connection's share of a flush: claim a few rows, send them, settle them; again until none is due."""
        while not turn.halted and not turn.should_stop():
            async with turn.database:
                if turn.halted:
                    return
                self._note_throttle(turn.cap.limit > 0 and turn.automatic_sent >= turn.cap.limit, turn.cap)
                claims = await asyncio.to_thread(self.rows.claim, ROWS_PER_CLAIM, turn.room())
                turn.automatic_claimed += sum(c.automatic for c in claims)
            if not claims:
                return
            await self._send_batch(transport, claims, turn, stats)

    async def _send_batch(self, transport: Transport, claims: list[Claim], turn: _Round, stats: SendStats) -> None:
        outcomes: list[Outcome] = []
        unsent = list(claims)
        try:
            while unsent and not turn.halted:
                outcomes.append(await self._send(transport, unsent[0]))
                unsent.pop(0)
        except ConnectionTrouble as exc:
            # Not this row's fault, and every other row would fail the same way: every connection stops, every
            # row not sent goes back as it was, and sending waits before trying again.
            if turn.outage is None:
                turn.outage = str(exc)
                self._unreachable(str(exc))
            stats.unreachable = True
        except BaseException:
            turn.broken = True  # what was accepted stays in _unrecorded; the rest waits out its lease
            raise
        why = f"not sent, server unavailable: {turn.outage}" if turn.outage is not None else None
        try:
            async with turn.database:
                settled = await asyncio.to_thread(self.rows.settle, outcomes, unsent, why)
        except BaseException:
            turn.broken = True
            raise
        for outcome in outcomes:
            self._unrecorded.pop(outcome.row_id, None)
        automatic = {c.id for c in claims if c.automatic}
        turn.automatic_claimed -= len(automatic)
        for outcome, result in zip(outcomes, settled):
            if result == "sent":
                stats.sent += 1
                turn.automatic_sent += outcome.row_id in automatic
            elif result == "failed":
                stats.failed += 1
            else:
                stats.retry += 1

    async def _send(self, transport: Transport, claim: Claim) -> Outcome:
        """Send one row; its outcome, or ConnectionTrouble when the server gave no answer for it."""
        try:
            accepted = await transport.send(claim.mail_from, claim.recipients, claim.raw)
        except PermanentFailure as exc:
            outcome = Outcome(claim.id, "failed", str(exc))
        except ConnectionTrouble:
            raise
        except TemporaryFailure as exc:
            outcome = Outcome(claim.id, "retry", str(exc))
        else:
            failpoints.reached("outbox.after_send")
            self._unrecorded[claim.id] = accepted.refused
            outcome = Outcome(claim.id, "sent", refused=accepted.refused)
        if self.outages:
            log(logger, logging.INFO, "smtp.available", host=self.cfg.host, attempts=self.outages)
            self.outages = 0
        return outcome
