"""The desk's health as a monitoring check sees it: facts in, one level per check out (Nagios: 0 ok, 1 warning,
2 critical), judged against configurable thresholds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum


class Level(IntEnum):
    OK = 0
    WARNING = 1
    CRITICAL = 2

    @property
    def label(self) -> str:
        return self.name


@dataclass(frozen=True)
class Thresholds:
    """When each check turns warning or critical (the `[status]` table of the config)."""

    heartbeat_warning: timedelta = timedelta(minutes=2)
    heartbeat_critical: timedelta = timedelta(minutes=10)
    poll_warning: timedelta = timedelta(minutes=10)
    poll_critical: timedelta = timedelta(hours=1)
    backlog_warning: int = 50
    backlog_critical: int = 500
    backlog_age_warning: timedelta = timedelta(minutes=10)
    backlog_age_critical: timedelta = timedelta(hours=1)
    outbox_warning: int = 50
    outbox_critical: int = 500
    outbox_age_warning: timedelta = timedelta(minutes=30)
    outbox_age_critical: timedelta = timedelta(hours=4)
    quarantined_warning: int = 1
    failed_warning: int = 1
    at_risk_warning: int = 1
    breached_critical: int = 1
    risk_window: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class WorkerFact:
    worker: str
    host: str
    pid: int
    version: str
    started_at: datetime
    beat_at: datetime


@dataclass(frozen=True)
class SourceFact:
    source: str
    kind: str
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None

    @property
    def failing(self) -> bool:
        return self.last_error_at is not None and (self.last_success_at is None or self.last_error_at > self.last_success_at)


@dataclass(frozen=True)
class QueueFact:
    """Rows of one queue not yet done."""

    waiting: int = 0  # never tried, or due now
    retrying: int = 0  # tried and failed, waiting for the next attempt
    held: int = 0
    failed: int = 0  # inbound: quarantined; outbox: failed
    oldest_at: datetime | None = None  # when the oldest row still waiting or retrying arrived
    next_attempt_at: datetime | None = None  # the soonest retry


@dataclass(frozen=True)
class DeskFacts:
    now: datetime
    workers: list[WorkerFact]
    sources: list[SourceFact]
    inbound: QueueFact
    outbox: QueueFact
    at_risk: int  # tickets whose response deadline falls within the window
    breached: int  # tickets whose running response deadline has passed
    open_tickets: dict[tuple[str, str], int] = field(default_factory=dict)  # (queue, status) → count


@dataclass(frozen=True)
class Check:
    name: str
    level: Level
    summary: str


def _age(since: datetime | None, now: datetime) -> timedelta | None:
    return None if since is None else max(now - since, timedelta(0))


def spoken(delta: timedelta | None) -> str:
    """A duration as a person reads it: 45s, 12m, 3h05m, 2d04h."""
    if delta is None:
        return "-"
    s = int(delta.total_seconds())
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _by(value: float, warning: float, critical: float) -> Level:
    return Level.CRITICAL if value >= critical else Level.WARNING if value >= warning else Level.OK


def _by_age(age: timedelta | None, warning: timedelta, critical: timedelta) -> Level:
    return Level.OK if age is None else _by(age.total_seconds(), warning.total_seconds(), critical.total_seconds())


def check_workers(f: DeskFacts, t: Thresholds) -> Check:
    if not f.workers:
        return Check("workers", Level.CRITICAL, "no daemon has ever reported (is `mailbot run` running?)")
    freshest = min(_age(w.beat_at, f.now) or timedelta(0) for w in f.workers)
    level = _by_age(freshest, t.heartbeat_warning, t.heartbeat_critical)
    alive = [w for w in f.workers if (_age(w.beat_at, f.now) or timedelta(0)) < t.heartbeat_warning]
    return Check("workers", level, f"{len(alive)} alive of {len(f.workers)} known; last heartbeat {spoken(freshest)} ago")


def check_source(src: SourceFact, f: DeskFacts, t: Thresholds) -> Check:
    since = _age(src.last_success_at, f.now)
    level = _by_age(since, t.poll_warning, t.poll_critical) if since is not None else Level.CRITICAL
    text = f"last successful poll {spoken(since)} ago" if since is not None else "never polled successfully"
    if src.failing:
        level = max(level, Level.WARNING)
        text += f"; failing since {spoken(_age(src.last_error_at, f.now))} ago: {src.last_error or 'unknown error'}"
    return Check(f"source {src.source}", level, text)


def _queue_level(
    q: QueueFact, now: datetime, count: tuple[int, int], age_limits: tuple[timedelta, timedelta], failed_warning: int,
) -> tuple[Level, timedelta | None, str]:
    """A queue's level from its size, the age of its oldest row and its failed rows; its oldest age; its next retry."""
    age = _age(q.oldest_at, now)
    level = max(_by(q.waiting + q.retrying, *count), _by_age(age, *age_limits))
    if q.failed >= failed_warning:
        level = max(level, Level.WARNING)
    retry = f" (next {spoken(_age(now, q.next_attempt_at))})" if q.next_attempt_at and q.next_attempt_at > now else ""
    return level, age, retry


def check_inbound(f: DeskFacts, t: Thresholds) -> Check:
    q = f.inbound
    level, age, retry = _queue_level(
        q, f.now, (t.backlog_warning, t.backlog_critical), (t.backlog_age_warning, t.backlog_age_critical), t.quarantined_warning,
    )
    return Check("inbound", level, f"{q.waiting} pending, {q.retrying} retrying{retry}, {q.failed} quarantined; oldest {spoken(age)}")


def check_outbox(f: DeskFacts, t: Thresholds) -> Check:
    q = f.outbox
    level, age, retry = _queue_level(
        q, f.now, (t.outbox_warning, t.outbox_critical), (t.outbox_age_warning, t.outbox_age_critical), t.failed_warning,
    )
    return Check(
        "outbox", level, f"{q.waiting} queued, {q.retrying} retrying{retry}, {q.held} held, {q.failed} failed; oldest {spoken(age)}",
    )


def check_deadlines(f: DeskFacts, t: Thresholds) -> Check:
    level = Level.CRITICAL if f.breached >= t.breached_critical else Level.WARNING if f.at_risk >= t.at_risk_warning else Level.OK
    return Check("deadlines", level, f"{f.breached} breached, {f.at_risk} due within {spoken(t.risk_window)}")


def judge(f: DeskFacts, t: Thresholds) -> list[Check]:
    return [
        check_workers(f, t), *(check_source(s, f, t) for s in f.sources),
        check_inbound(f, t), check_outbox(f, t), check_deadlines(f, t),
    ]


def overall(checks: list[Check]) -> Level:
    return max((c.level for c in checks), default=Level.OK)
