"""Job health: back-off after failures, and which jobs count as stuck or overdue (the watchdog's question)."""

from __future__ import annotations

from mailbot.core.job_health import JobHealth


def health() -> JobHealth:
    h = JobHealth(started=0.0, stall_seconds=60, backoff_cap=300)
    h.add("process", 5)
    h.add("poll", 60)
    return h


def test_a_failing_job_backs_off_doubling_up_to_the_cap() -> None:
    h = health()
    delays, now = [], 0.0
    for _ in range(8):
        assert h.may_run("process", now)
        h.begin("process", now)
        delays.append(h.end("process", now, ok=False))
        assert not h.may_run("process", now + delays[-1] - 0.1)
        now += delays[-1]
    assert delays == [5, 10, 20, 40, 80, 160, 300, 300]
    h.begin("process", now)
    assert h.end("process", now, ok=True) == 0 and h.may_run("process", now)


def test_a_job_without_progress_is_stalled_one_that_reports_progress_is_not() -> None:
    h = health()
    h.begin("process", 10)
    h.begin("poll", 10)
    h.progress("poll", 65)  # a long poll that keeps moving between folders
    assert h.stalled(69) == []
    assert h.stalled(75) == [("process", 65)]
    h.end("process", 76, ok=True)
    assert [name for name, _ in h.stalled(76)] == []


def test_turns_that_stop_coming_are_overdue_unless_the_job_waits_legitimately() -> None:
    h = health()
    h.begin("process", 0)
    h.end("process", 1, ok=True)
    h.begin("poll", 0)
    h.end("poll", 1, ok=True)
    assert h.stalled(60) == []
    assert [name for name, _ in h.stalled(70)] == ["process"]  # 5 s interval + 60 s allowance passed
    h.waited("process", 70)  # its turn came while the database was down
    assert h.stalled(71) == []
    h.begin("process", 71)
    h.end("process", 71, ok=False)  # backing off now: still its turns come, and count
    assert not h.may_run("process", 72) and h.stalled(72) == []


def test_progress_of_an_untracked_job_is_ignored() -> None:
    health().progress("sync", 1.0)  # `run --once` runs jobs the daemon never registered
