"""The desk's health judged from facts: each check's level against its thresholds, and the worst one wins."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from mailbot.core.desk_health import DeskFacts, Level, QueueFact, SourceFact, Thresholds, WorkerFact, judge, overall, spoken

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def facts(**changes: object) -> DeskFacts:
    healthy = DeskFacts(
        now=NOW, workers=[WorkerFact("h:1", "h", 1, "0.1.0", NOW - timedelta(hours=2), NOW - timedelta(seconds=10))],
        sources=[SourceFact("support", "imap", NOW - timedelta(seconds=30), None, None)],
        inbound=QueueFact(), outbox=QueueFact(), at_risk=0, breached=0,
    )
    return replace(healthy, **changes)  # type: ignore[arg-type]


def levels(f: DeskFacts, t: Thresholds = Thresholds()) -> dict[str, Level]:
    return {c.name: c.level for c in judge(f, t)}


def test_a_healthy_desk_is_ok() -> None:
    assert overall(judge(facts(), Thresholds())) is Level.OK
    assert list(levels(facts())) == ["workers", "source support", "inbound", "outbox", "deadlines"]


def test_no_worker_or_a_silent_one_is_critical() -> None:
    assert levels(facts(workers=[]))["workers"] is Level.CRITICAL
    quiet = [WorkerFact("h:1", "h", 1, "0", NOW, NOW - timedelta(minutes=5))]
    assert levels(facts(workers=quiet))["workers"] is Level.WARNING
    assert levels(facts(workers=quiet), Thresholds(heartbeat_warning=timedelta(minutes=6), heartbeat_critical=timedelta(minutes=7)))["workers"] is Level.OK


def test_a_failing_source_says_why() -> None:
    refused = SourceFact("support", "imap", NOW - timedelta(minutes=2), "authentication failed", NOW - timedelta(seconds=5))
    [check] = [c for c in judge(facts(sources=[refused]), Thresholds()) if c.name == "source support"]
    assert check.level is Level.WARNING and "authentication failed" in check.summary
    never = SourceFact("support", "imap", None, "connection refused", NOW)
    assert levels(facts(sources=[never]))["source support"] is Level.CRITICAL


def test_backlog_size_age_and_quarantine() -> None:
    assert levels(facts(inbound=QueueFact(waiting=60, oldest_at=NOW)))["inbound"] is Level.WARNING
    assert levels(facts(inbound=QueueFact(waiting=1, oldest_at=NOW - timedelta(hours=2))))["inbound"] is Level.CRITICAL
    assert levels(facts(inbound=QueueFact(failed=1)))["inbound"] is Level.WARNING
    assert levels(facts(outbox=QueueFact(failed=1)))["outbox"] is Level.WARNING
    assert levels(facts(outbox=QueueFact(waiting=600, oldest_at=NOW)))["outbox"] is Level.CRITICAL


def test_deadlines_and_the_worst_check_wins() -> None:
    assert levels(facts(at_risk=1))["deadlines"] is Level.WARNING
    assert levels(facts(at_risk=1, breached=1))["deadlines"] is Level.CRITICAL
    assert overall(judge(facts(at_risk=1, inbound=QueueFact(failed=1)), Thresholds())) is Level.WARNING
    assert int(overall(judge(facts(breached=2), Thresholds()))) == 2


def test_durations_read_as_a_person_says_them() -> None:
    assert [spoken(timedelta(seconds=s)) for s in (45, 720, 11100, 180000)] == ["45s", "12m", "3h05m", "2d02h"]
    assert spoken(None) == "-"
