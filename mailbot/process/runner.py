"""Work through pending inbound rows: claim a batch, file it in groups (one savepoint per message), retry, quarantine."""

from __future__ import annotations

import logging
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from mailbot import failpoints, telemetry
from mailbot.core.backoff import backoff
from mailbot.core.ticket_states import InboundStatus
from mailbot.customers.lookup import candidates
from mailbot.logs import log
from mailbot.outbox.enqueue import reply_target
from mailbot.process.analysis_worker import Analyzer, Attempt, Prepared
from mailbot.process.desk import Desk, RunnerContext
from mailbot.process.filing import Filed, GroupTickets, file_message
from mailbot.process.prepare_ahead import PrepareAhead
from mailbot.process.thread_lookup import named_ids, opens_ticket
from mailbot.store.db import unit_of_work
from mailbot.store.group_reads import GroupReads, read_for_group
from mailbot.store.id_blocks import TicketNumbers
from mailbot.store.journal import add_event
from mailbot.store.models import Inbound, InboundRaw
from mailbot.store.writer import Writer

logger = logging.getLogger("mailbot.process")

# Called inside the message's savepoint after it is filed: later stages (rules, replies) hook in here.
AfterFiling = Callable[[Writer, int, Filed, datetime], object]


class Outcome(Enum):
    """What became of one claimed message."""

    FILED = "filed"
    DUPLICATE = "duplicate"
    RETRY = "retry"  # failed this time; tried again after a back-off
    QUARANTINED = "quarantined"
    SKIPPED = "skipped"  # another worker finished it first


@dataclass
class RunStats:
    done: int = 0
    duplicates: int = 0
    retried: int = 0
    quarantined: int = 0

    @property
    def handled(self) -> int:
        return self.done + self.duplicates + self.retried + self.quarantined

    def add(self, other: RunStats) -> None:
        self.done += other.done
        self.duplicates += other.duplicates
        self.retried += other.retried
        self.quarantined += other.quarantined


@dataclass(frozen=True)
class Claim:
    row_id: int
    raw: bytes
    attempts: int
    received_at: datetime
    history: bool = False  # intake found it in the folder when mailbot first saw the folder


CLAIM_BATCH = 100
# With the analysis worker, up to this many claim batches (and this many raw bytes) are claimed and analysed ahead
# of the one being filed: while intake fetches, filing shares the daemon's interpreter lock with it and falls
# behind, and the worker would otherwise wait for it with most of a core idle. Their analyses take about as much
# memory again as their raw bytes.
AHEAD_BATCHES = 4
AHEAD_BYTES = 16 << 20
CLAIM_BYTES = 8 << 20  # a batch's raw messages are held in memory: it ends at this size (one message always goes)


def _claim(sessions: sessionmaker[Session], ctx: RunnerContext, history_only: bool = False) -> list[Claim]:
    """Take due rows and count the attempt *before* processing, in its own commit.

    A message that kills the process (not just raises) is then still retried later and, after
    max_attempts, quarantined, instead of crashing every restart. Fresh rows are taken up to
    CLAIM_BATCH (and CLAIM_BYTES) at a time; a row that was tried before is taken alone, so after a crash the
    one message that keeps killing the process cannot use up its batch-mates' attempts. On PostgreSQL, SKIP LOCKED
    lets several workers claim different rows; the retry time doubles as their lease.
    """
    now = ctx.clock.now()
    desk = ctx.desk
    with unit_of_work(sessions) as session:
        due = [Inbound.status == InboundStatus.RECEIVED, Inbound.next_attempt_at <= now]
        rows = session.execute(
            select(Inbound.id, Inbound.attempts, Inbound.fetched_at, Inbound.history, Inbound.size)
            .where(*due, *([Inbound.history.is_(True)] if history_only else []))
            .order_by(Inbound.id)
            .limit(CLAIM_BATCH)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return []
        if rows[0].attempts > 0:
            taken = rows[:1]
        else:
            taken, size = [], 0
            for row in rows:
                size += row.size
                if row.attempts > 0 or (taken and size > CLAIM_BYTES):
                    break
                taken.append(row)
        attempts = taken[0].attempts + 1
        retry_at = now + backoff(attempts, desk.retry_base_seconds, desk.retry_max_seconds)
        ids = [r.id for r in taken]
        session.execute(update(Inbound).where(Inbound.id.in_(ids)).values(attempts=attempts, next_attempt_at=retry_at))
        found = session.execute(select(InboundRaw.inbound_id, InboundRaw.raw).where(InboundRaw.inbound_id.in_(ids)))
        raws = {row_id: raw for row_id, raw in found}
        return [Claim(row_id=r.id, raw=raws[r.id], attempts=attempts, received_at=r.fetched_at, history=r.history) for r in taken]


def _quarantine(session: Session, row: Inbound, now: datetime, reason: str) -> None:
    row.status = InboundStatus.QUARANTINED
    row.last_error = reason
    row.processed_at = now
    add_event(session, None, "inbound.quarantined", now, inbound_id=row.id, reason=reason[:2000])
    log(logger, logging.WARNING, "inbound.quarantined", inbound=row.id, attempts=row.attempts, reason=reason[:300])


def _record_failure(
    session: Session, ctx: RunnerContext, claim: Claim, reason: str, permanent: bool, stopped_in: str | None = None,
) -> Outcome:
    """Record why processing failed: retried after its back-off, or quarantined after the last attempt."""
    now = ctx.clock.now()
    row = session.get_one(Inbound, claim.row_id)
    if stopped_in is not None:
        # The worker was stopped (a time limit) or died: say so every time, not only at quarantine.
        add_event(session, None, "inbound.analysis_stopped", now, inbound_id=row.id, step=stopped_in, attempt=row.attempts, reason=reason)
    if permanent or row.attempts >= ctx.desk.max_attempts:
        _quarantine(session, row, now, reason)
        session.flush()  # now, not inside the next message's savepoint
        return Outcome.QUARANTINED
    row.last_error = reason
    session.flush()
    log(
        logger, logging.WARNING, "inbound.retry", inbound=row.id, attempt=row.attempts,
        next_attempt=row.next_attempt_at.isoformat(), error=reason.splitlines()[0][:300],
    )
    return Outcome.RETRY


class AlreadyHandled(Exception):
    """Another worker finished this row first (its lease ran out while we worked): roll ours back."""


# A group is filed in one transaction: what the analysis worker has ready, up to GROUP_MAX messages, waiting
# at most GROUP_LINGER_SECONDS after the first for more (never when the claim batch has no more: a lone
# message is filed at once). A group commits once it has taken GROUP_MAX_SECONDS, and the rest of it goes into
# the next: on SQLite the transaction holds the one write lock that intake and the sender wait for, and a crash
# takes back at most that much work.
#
# A group is first filed straight through: no savepoint, write-only rows and the inbound marks sent once at
# the end. If anything in it raises (or another worker finished one of its messages first), the whole
# transaction is rolled back and the group filed again carefully, one savepoint per message, everything sent
# after each message: the message that raises rolls back only itself and is retried or quarantined. Filing
# depends only on the database and the prepared analysis, so the second pass decides what the first would have.
GROUP_MAX = 50
GROUP_LINGER_SECONDS = 0.1
GROUP_MAX_SECONDS = 0.25
# PostgreSQL's deadlock and serialization failures: two workers' groups met on the same tickets in a different
# order. Not the message's fault: it is given back without using an attempt.
_TRANSIENT_SQLSTATES = {"40P01", "40001"}


# Built once: it runs for every message. Only a row still waiting is marked (another worker may have won).
_MARK_DONE = (
    update(Inbound)
    .where(Inbound.id == bindparam("row_pk"), Inbound.status == InboundStatus.RECEIVED)
    .values(status=bindparam("new_status"), ticket_id=bindparam("ticket_pk"), processed_at=bindparam("done_at"), last_error=None)
)


@dataclass
class _Result:
    claim: Claim
    outcome: Outcome
    filed: Filed | None = None
    now: datetime | None = None

    def mark(self) -> dict[str, object]:
        """The parameters of _MARK_DONE for a filed message."""
        assert self.filed is not None
        status = InboundStatus.DUPLICATE if self.filed.duplicate else InboundStatus.FILED
        return {"row_pk": self.claim.row_id, "new_status": status.value, "ticket_pk": self.filed.ticket_id, "done_at": self.now}


class _FiledElsewhere(Exception):
    """Straight through, a group found that another worker had finished one of its messages: file it carefully."""


def _file_one(
    writer: Writer, ctx: RunnerContext, claim: Claim, prepared: Prepared, after: AfterFiling | None, now: datetime,
    tickets: GroupTickets | None,
) -> _Result:
    """File one message; straight through (`tickets` given) its ticket is saved and its rows sent with the
    group's (or before a statement that may read them), carefully (`tickets` None) everything is written and the inbound row marked now."""
    careful = tickets is None
    filed = file_message(
        writer, claim.row_id, prepared.mail, ctx.desk, now, received_at=claim.received_at, analysis=prepared.analysis, history=claim.history,
        tickets=tickets,
    )
    if after is not None and not filed.duplicate:
        after(writer, claim.row_id, filed, now)
    if not filed.duplicate and (filed.ticket.changes or not filed.new_ticket):
        if tickets is not None:
            tickets.touched(filed.ticket, now)
        else:
            filed.ticket.save(writer.conn, now)
    result = _Result(claim, Outcome.DUPLICATE if filed.duplicate else Outcome.FILED, filed, now)
    if careful:
        writer.flush()
        if writer.conn.execute(_MARK_DONE, result.mark()).rowcount != 1:
            raise AlreadyHandled()
    failpoints.reached("process.before_commit")
    return result


def _transient(exc: Exception) -> bool:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) in _TRANSIENT_SQLSTATES or getattr(orig, "pgcode", None) in _TRANSIENT_SQLSTATES


def _file_group(
    sessions: sessionmaker[Session], ctx: RunnerContext, group: list[tuple[Claim, Attempt]], after: AfterFiling | None,
    should_stop: Callable[[], bool], numbers: TicketNumbers,
) -> tuple[list[_Result], list[tuple[Claim, Attempt]]]:
    """File a group of prepared messages in one transaction, straight through, or carefully if that raised.
    Returns the results and what was not filed: the daemon is stopping, or the transaction has run for
    GROUP_MAX_SECONDS (the caller files the rest)."""
    try:
        return _file_group_pass(sessions, ctx, group, after, should_stop, numbers, careful=False)
    except Exception as exc:
        log(logger, logging.DEBUG, "inbound.group_refiled", messages=len(group), error=type(exc).__name__)
    return _file_group_pass(sessions, ctx, group, after, should_stop, numbers, careful=True)


def _read_for_group(writer: Writer, group: list[tuple[Claim, Attempt]], now: datetime) -> GroupReads:
    """What the group's messages will look up, in one query each: the stored Message-IDs they name, their
    senders' customer addresses, and the automatic replies and suppressions of the addresses answers go to."""
    ids: list[str] = []
    values: list[str] = []
    targets: list[str] = []
    for _, attempt in group:
        if attempt.prepared is not None:
            mail = attempt.prepared.analysis.mail
            named, own = named_ids(mail)
            ids += named + own
            if mail.sender is not None:
                values += [value for _, value in candidates(mail.sender.addr)]
            if (target := reply_target(mail.reply_to, mail.sender)) is not None:
                targets.append(target.addr)
    return read_for_group(writer.conn, now, ids, values, targets)


def _sure_to_open(desk: Desk, group: list[tuple[Claim, Attempt]], reads: GroupReads) -> int:
    """How many new tickets the group is sure to open (their ids are drawn with the group's first block of ids)."""
    opening = 0
    earlier: set[str] = set()
    for _, attempt in group:
        if attempt.prepared is not None:
            analysis = attempt.prepared.analysis
            mail = analysis.mail
            if opens_ticket(mail, analysis.token_candidates, desk.signer, desk.support_address, desk.message_id_domain, reads.refs, earlier):
                opening += 1
            if mail.message_id:
                earlier.add(mail.message_id)
    return opening


def _file_group_pass(
    sessions: sessionmaker[Session], ctx: RunnerContext, group: list[tuple[Claim, Attempt]], after: AfterFiling | None,
    should_stop: Callable[[], bool], numbers: TicketNumbers, careful: bool,
) -> tuple[list[_Result], list[tuple[Claim, Attempt]]]:
    results: list[_Result] = []
    rest: list[tuple[Claim, Attempt]] = []
    began = time.monotonic()
    with unit_of_work(sessions) as session:
        writer = Writer(session.connection())
        writer.number_tickets(numbers)
        tickets: GroupTickets | None = None
        if not careful:
            # Rows wait until a statement may read them: most messages send nothing of their own before the end.
            writer.send_when_read(block=len(group))
            writer.reads = _read_for_group(writer, group, ctx.clock.now())
            if writer.numbers_tickets:
                numbers.expect(_sure_to_open(ctx.desk, group, writer.reads))
            tickets = GroupTickets()
            tickets.read(writer.conn, list(writer.reads.refs.values()))
        for i, (claim, attempt) in enumerate(group):
            if should_stop() or (i and time.monotonic() - began > GROUP_MAX_SECONDS):
                rest = group[i:]
                break
            if attempt.prepared is None:
                outcome = _record_failure(session, ctx, claim, attempt.failure or "analysis failed", attempt.permanent, attempt.stopped_in)
                results.append(_Result(claim, outcome))
                continue
            now = ctx.clock.now()
            if tickets is not None:
                results.append(_file_one(writer, ctx, claim, attempt.prepared, after, now, tickets))
                continue
            mark = writer.mark()
            try:
                with writer.conn.begin_nested():
                    results.append(_file_one(writer, ctx, claim, attempt.prepared, after, now, None))
            except AlreadyHandled:
                results.append(_Result(claim, Outcome.SKIPPED))
            except Exception as exc:
                writer.back_to(mark)  # whatever the failed message had collected is gone
                status = session.scalar(select(Inbound.status).where(Inbound.id == claim.row_id))
                if status is not None and status != InboundStatus.RECEIVED:
                    # Another worker filed it while we worked (its claim ran out, or ours did): their commit stands.
                    log(logger, logging.DEBUG, "inbound.handled_elsewhere", inbound=claim.row_id, error=type(exc).__name__)
                    results.append(_Result(claim, Outcome.SKIPPED))
                elif _transient(exc):
                    log(logger, logging.INFO, "inbound.retry_conflict", inbound=claim.row_id, error=str(exc).splitlines()[0][:300])
                    _give_back(session, [claim])
                    results.append(_Result(claim, Outcome.RETRY))
                else:
                    reason = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"
                    results.append(_Result(claim, _record_failure(session, ctx, claim, reason, permanent=False)))
        if tickets is not None:
            tickets.save_all(writer.conn)
            writer.flush()
            marks = [r.mark() for r in results if r.filed is not None]
            if marks and writer.conn.execute(_MARK_DONE, marks).rowcount != len(marks):
                raise _FiledElsewhere()
    return results, rest


def _filed(result: _Result) -> None:
    """Say what became of a message, once its transaction is committed."""
    filed, now = result.filed, result.now
    if filed is None or now is None:
        return
    claim = result.claim
    log(
        logger, logging.INFO, "inbound.filed", inbound=claim.row_id, ticket=filed.ticket_id,
        new=filed.new_ticket, duplicate=filed.duplicate, thread=filed.thread.how if filed.thread else "duplicate",
    )
    if result.outcome is Outcome.FILED:
        telemetry.FILED_LATENCY.observe(max((now - claim.received_at).total_seconds(), 0.0))


def _count(stats: RunStats, outcome: Outcome) -> None:
    if outcome is Outcome.FILED:
        stats.done += 1
    elif outcome is Outcome.DUPLICATE:
        stats.duplicates += 1
    elif outcome is Outcome.RETRY:
        stats.retried += 1
    elif outcome is Outcome.QUARANTINED:
        stats.quarantined += 1


@dataclass
class _Batch:
    """A claim batch being prepared: the claims still to file, in order, and their analyses on the way."""

    live: list[Claim]
    ahead: PrepareAhead

    @property
    def raw_bytes(self) -> int:
        return sum(len(c.raw) for c in self.live)


def _open_batch(
    sessions: sessionmaker[Session], ctx: RunnerContext, analyzer: Analyzer, should_stop: Callable[[], bool], stats: RunStats,
    history_only: bool, after: PrepareAhead | None = None,
) -> _Batch | None:
    """Claim the next batch and start preparing it; None when nothing is due. A claim whose attempts are used
    up (the process died on it each time) is quarantined here, without being analysed again."""
    claims = _claim(sessions, ctx, history_only)
    if not claims:
        return None
    live: list[Claim] = []
    for claim in claims:
        if claim.attempts > ctx.desk.max_attempts:
            with unit_of_work(sessions) as session:
                _count(stats, _record_failure(session, ctx, claim, "gave up: the process died while handling it", permanent=True))
        else:
            live.append(claim)
    return _Batch(live, PrepareAhead(analyzer, [c.raw for c in live], should_stop, after))


def _process_batch(
    sessions: sessionmaker[Session], ctx: RunnerContext, batch: _Batch, after: AfterFiling | None,
    should_stop: Callable[[], bool], stats: RunStats, on_filed: Callable[[], object] | None, open_next: Callable[[], None],
    numbers: TicketNumbers,
) -> bool:
    """File a claim batch group by group as its analyses arrive; `open_next` is called after each group (the
    next batch is claimed while this one is filed). Returns False when the daemon is stopping."""
    live, ahead = batch.live, batch.ahead
    while ahead.left:
        start = len(live) - ahead.left
        attempts = ahead.take(GROUP_MAX, GROUP_LINGER_SECONDS)
        group = list(zip(live[start:start + len(attempts)], attempts))
        for _ in group:
            failpoints.reached("process.after_claim")
        stopped = [c for c, a in group if a.interrupted]
        group = [(c, a) for c, a in group if not a.interrupted]
        while group and not should_stop():
            results, group = _file_group(sessions, ctx, group, after, should_stop, numbers)
            for result in results:
                _filed(result)
                _count(stats, result.outcome)
            if on_filed is not None and any(r.outcome is Outcome.FILED for r in results):
                on_filed()
            open_next()
        if stopped or group or should_stop():
            _release(sessions, [c for c, _ in group] + stopped + live[start + len(attempts):])
            return False
    return True


def process_pending(
    sessions: sessionmaker[Session],
    ctx: RunnerContext,
    limit: int | None = None,
    after: AfterFiling | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    history_only: bool = False,
    on_filed: Callable[[], object] | None = None,
) -> RunStats:
    """Process due rows until none is left, `limit` is reached, or `should_stop()` says so (with
    `history_only`, only rows intake marked as history: `mailbot poll --history-only`). `on_filed` is
    called after each commit that filed mail (the daemon wakes the sender: answers go out during a burst).

    With the analysis worker, the next claim batch is claimed once the first group of the current one is
    filed, so the worker goes from one batch to the next without waiting for filing to finish the first."""
    stats = RunStats()
    analyzer = ctx.analysis()
    numbers = TicketNumbers()  # ticket ids drawn ahead (PostgreSQL), kept from one group to the next
    batch: _Batch | None = None
    following: deque[_Batch] = deque()  # claimed ahead, in order, each fed to the worker after the one before
    looked_ahead = False

    def open_next() -> None:
        nonlocal looked_ahead
        if looked_ahead or limit is not None or not analyzer.parallel or should_stop():
            return
        if len(following) >= AHEAD_BATCHES or sum(b.raw_bytes for b in following) >= AHEAD_BYTES:
            return
        last = following[-1] if following else batch
        claimed = _open_batch(sessions, ctx, analyzer, should_stop, stats, history_only, last.ahead if last is not None else None)
        if claimed is None:
            looked_ahead = True  # nothing due now: look again when the next batch starts
        else:
            following.append(claimed)

    try:
        while (limit is None or stats.handled < limit) and not should_stop():
            batch, looked_ahead = (following.popleft() if following else None), False
            if batch is None:
                batch = _open_batch(sessions, ctx, analyzer, should_stop, stats, history_only)
                if batch is None:
                    break
            done = _process_batch(sessions, ctx, batch, after, should_stop, stats, on_filed, open_next, numbers)
            batch.ahead.close()
            batch = None
            if not done:
                break
        while following:  # stopping: the batches claimed ahead go back untouched
            unused = following.pop()
            unused.ahead.close()
            _release(sessions, unused.live)
    finally:
        for left in (batch, *following):
            if left is not None:
                left.ahead.close()
    return stats


def _give_back(session: Session, claims: list[Claim]) -> None:
    """Put claims back as they were before they were taken: their attempt does not count."""
    for claim in claims:
        session.execute(
            update(Inbound).where(Inbound.id == claim.row_id, Inbound.status == InboundStatus.RECEIVED)
            .values(attempts=claim.attempts - 1, next_attempt_at=Inbound.fetched_at)
        )


def _release(sessions: sessionmaker[Session], claims: list[Claim]) -> None:
    if claims:
        with unit_of_work(sessions) as session:
            _give_back(session, claims)


def retry_quarantined(session: Session, ids: list[int] | None, now: datetime) -> int:
    """Put quarantined rows (all, or those in `ids`) back in the queue with a fresh attempt count."""
    query = select(Inbound).where(Inbound.status == InboundStatus.QUARANTINED)
    if ids:
        query = query.where(Inbound.id.in_(ids))
    rows = session.scalars(query).all()
    for row in rows:
        row.status = InboundStatus.RECEIVED
        row.attempts = 0
        row.next_attempt_at = now
        add_event(session, None, "inbound.requeued", now, inbound_id=row.id)
    return len(rows)
