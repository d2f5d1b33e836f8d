"""Response clocks: deadlines, warning times, pauses, and what the sweep does next."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from mailbot.core.business_calendar import BusinessCalendar
from mailbot.core.sla import Level, ResponseClock, format_span

H = timedelta(hours=1)
BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = BusinessCalendar("office", BERLIN, tuple([((540, 1020),)] * 5 + [(), ()]))
LEVELS = (Level("warning-50", 0.5, ("team",)), Level("warning-75", 0.75, ("team",)), Level("warning-90", 0.9, ("lead",)), Level("breach", 1.0, ("lead",)))


def t(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def test_deadline_and_warning_times() -> None:
    clock = ResponseClock("first", t(2026, 3, 6, 17, 0), 24 * H, OFFICE)  # Friday 17:00
    assert clock.deadline == t(2026, 3, 11, 17, 0)
    times = {level.name: when for level, when in clock.schedule(LEVELS)}
    assert times["warning-50"] == t(2026, 3, 10, 13, 0)  # 12 h: Monday 8 h + Tuesday 4 h
    assert times["warning-75"] == t(2026, 3, 11, 11, 0)  # 18 h
    assert times["warning-90"] == t(2026, 3, 11, 14, 36)  # 21.6 h
    assert times["breach"] == clock.deadline


def test_due_levels_and_next_check() -> None:
    clock = ResponseClock("first", t(2026, 3, 6, 17, 0), 24 * H, OFFICE)
    now = t(2026, 3, 11, 12, 0)
    assert [level.name for level, _ in clock.due(LEVELS, now)] == ["warning-50", "warning-75"]
    assert clock.next_check(LEVELS, now) == t(2026, 3, 11, 14, 36)
    assert clock.next_check(LEVELS, t(2026, 3, 11, 18, 0)) is None
    assert clock.left(now) == 5 * H and format_span(clock.left(now)) == "5 h"
    assert format_span(clock.left(t(2026, 3, 12, 10, 30))) == "-1 h 30 min"


def test_pause_banks_the_used_time_and_resume_moves_the_deadline() -> None:
    clock = ResponseClock("first", t(2026, 3, 9, 9, 0), 24 * H, OFFICE)  # Monday morning: due Wednesday 17:00
    paused = clock.pause(t(2026, 3, 9, 13, 0))  # 4 h used, waiting on the customer
    assert paused.deadline is None and paused.schedule(LEVELS) == []
    assert paused.used(t(2026, 3, 12, 9, 0)) == 4 * H
    resumed = paused.resume(t(2026, 3, 10, 9, 0))  # the customer answered Tuesday morning
    assert resumed.deadline == t(2026, 3, 12, 13, 0)  # 20 h left: Tue 8, Wed 8, Thu 4
    # A warning whose share was already used before the pause fires at once when counting resumes.
    early = ResponseClock("first", t(2026, 3, 9, 9, 0), 4 * H, OFFICE).pause(t(2026, 3, 9, 12, 0)).resume(t(2026, 3, 10, 9, 0))
    assert early.time_of(0.5) == t(2026, 3, 10, 9, 0)


def test_breakdown_is_day_by_day() -> None:
    clock = ResponseClock("first", t(2026, 3, 6, 16, 0), 10 * H, OFFICE)
    rows = [(d.day.isoformat(), d.counted) for d in clock.breakdown()]
    zero = timedelta(0)
    assert rows == [("2026-03-06", H), ("2026-03-07", zero), ("2026-03-08", zero), ("2026-03-09", 8 * H), ("2026-03-10", H)]
