"""Business-calendar arithmetic with fixed instants: weekends, holidays, half days, split days, DST, New Year."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest

from mailbot.core.business_calendar import (
    BusinessCalendar,
    CalendarError,
    check_intervals,
    parse_hours,
    round_the_clock,
)

H = timedelta(hours=1)
NINE_TO_FIVE = ((540, 1020),)
WEEKDAYS = tuple([NINE_TO_FIVE] * 5 + [(), ()])


def cal(zone: str = "Europe/Berlin", week=WEEKDAYS, country: str | None = None, overrides=None) -> BusinessCalendar:
    hol = holidays.country_holidays(country) if country else None
    return BusinessCalendar(
        name="test", zone=ZoneInfo(zone), week=week,
        holiday=(lambda d: hol.get(d)) if hol is not None else (lambda d: None),
        overrides=overrides or {},
    )


def local(zone: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone))


def test_friday_five_pm_plus_24_business_hours_is_wednesday_five_pm() -> None:
    c = cal()
    start = local("Europe/Berlin", 2026, 3, 6, 17, 0)  # a Friday
    assert c.add(start, 24 * H) == local("Europe/Berlin", 2026, 3, 11, 17, 0)


def test_start_outside_hours_rolls_to_the_next_opening() -> None:
    c = cal()
    assert c.add(local("Europe/Berlin", 2026, 3, 6, 19, 30), timedelta(0)) == local("Europe/Berlin", 2026, 3, 9, 9, 0)
    assert c.add(local("Europe/Berlin", 2026, 3, 7, 11, 0), 2 * H) == local("Europe/Berlin", 2026, 3, 9, 11, 0)
    assert c.add(local("Europe/Berlin", 2026, 3, 9, 7, 0), 1 * H) == local("Europe/Berlin", 2026, 3, 9, 10, 0)
    assert c.add(local("Europe/Berlin", 2026, 3, 9, 10, 0), timedelta(0)) == local("Europe/Berlin", 2026, 3, 9, 10, 0)


def test_between_and_count() -> None:
    c = cal()
    a, b = local("Europe/Berlin", 2026, 3, 6, 16, 0), local("Europe/Berlin", 2026, 3, 9, 10, 30)
    assert c.between(a, b) == 2.5 * H
    days = c.count(a, b)
    assert [(d.day, d.counted, d.note) for d in days] == [
        (date(2026, 3, 6), H, ""), (date(2026, 3, 7), timedelta(0), "closed"), (date(2026, 3, 8), timedelta(0), "closed"),
        (date(2026, 3, 9), 1.5 * H, ""),
    ]
    assert c.between(b, a) == timedelta(0)


def test_public_holidays_do_not_count() -> None:
    c = cal(country="DE")
    # Good Friday 2026-04-03 and Easter Monday 2026-04-06 are German public holidays.
    start = local("Europe/Berlin", 2026, 4, 2, 9, 0)  # Thursday
    assert c.add(start, 16 * H) == local("Europe/Berlin", 2026, 4, 7, 17, 0)
    notes = {d.day: d.note for d in c.count(start, c.add(start, 16 * H))}
    assert "Good Friday" in notes[date(2026, 4, 3)]


def test_local_closure_half_day_and_extra_working_day() -> None:
    c = cal(overrides={
        date(2026, 3, 10): (),  # closed (a local closure)
        date(2026, 3, 11): ((540, 780),),  # half day 09:00-13:00
        date(2026, 3, 14): ((600, 840),),  # an extra Saturday 10:00-14:00
    })
    start = local("Europe/Berlin", 2026, 3, 9, 9, 0)  # Monday
    # Mon 8 h, Tue closed, Wed 4 h, Thu 8 h, Fri 8 h, Sat 4 h
    assert c.add(start, 28 * H) == local("Europe/Berlin", 2026, 3, 13, 17, 0)
    assert c.add(start, 30 * H) == local("Europe/Berlin", 2026, 3, 14, 12, 0)


def test_several_intervals_a_day() -> None:
    split = ((540, 780), (840, 1080))  # 09:00-13:00 and 14:00-18:00
    c = cal(week=tuple([split] * 5 + [(), ()]))
    start = local("Europe/Berlin", 2026, 3, 9, 12, 0)
    assert c.add(start, 2 * H) == local("Europe/Berlin", 2026, 3, 9, 15, 0)  # lunch does not count
    assert c.add(local("Europe/Berlin", 2026, 3, 9, 13, 30), timedelta(0)) == local("Europe/Berlin", 2026, 3, 9, 14, 0)


DST_DAYS = {"Europe/Berlin": (date(2026, 3, 29), date(2026, 10, 25)), "America/New_York": (date(2026, 3, 8), date(2026, 11, 1))}


def at(zone: str, day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=ZoneInfo(zone))


@pytest.mark.parametrize("zone", sorted(DST_DAYS))
def test_dst_changes_round_the_clock(zone: str) -> None:
    c = round_the_clock(ZoneInfo(zone))
    spring, autumn = DST_DAYS[zone]
    day = timedelta(days=1)
    # The spring-forward day has 23 real hours, the fall-back day 25: business time is real time.
    assert c.between(at(zone, spring, 0), at(zone, spring + day, 0)) == 23 * H
    assert c.between(at(zone, autumn, 0), at(zone, autumn + day, 0)) == 25 * H
    # 24 hours from noon before the change land at 13:00 (spring) / 11:00 (autumn) local time.
    assert c.add(at(zone, spring - day, 12), 24 * H).astimezone(ZoneInfo(zone)).hour == 13
    assert c.add(at(zone, autumn - day, 12), 24 * H).astimezone(ZoneInfo(zone)).hour == 11


@pytest.mark.parametrize("zone", sorted(DST_DAYS))
def test_dst_change_keeps_local_opening_times(zone: str) -> None:
    c = cal(zone=zone, week=tuple([NINE_TO_FIVE] * 7))  # open every day, so the change falls on a work day
    for change in DST_DAYS[zone]:
        # 1 h on the day before the change, 1 h the next morning from 09:00 local time, whatever the offset.
        due = c.add(at(zone, change - timedelta(days=1), 16), 2 * H)
        assert due == at(zone, change, 10)
        assert c.between(at(zone, change, 0), at(zone, change + timedelta(days=1), 0)) == 8 * H


def test_moscow_has_no_dst_and_russian_holidays() -> None:
    c = cal(zone="Europe/Moscow", week=tuple([((540, 1080),)] * 5 + [(), ()]), country="RU")
    start = local("Europe/Moscow", 2026, 10, 23, 19, 0)  # Friday evening
    # Mon 9 h, Tue 9 h, then 6 h on Wednesday.
    assert c.add(start, 24 * H) == local("Europe/Moscow", 2026, 10, 28, 15, 0)
    # Unity Day (2026-11-04, a Wednesday) does not count.
    assert c.add(local("Europe/Moscow", 2026, 11, 3, 18, 0), 9 * H) == local("Europe/Moscow", 2026, 11, 5, 18, 0)


def test_year_boundary() -> None:
    c = cal(country="DE", overrides={date(2026, 12, 24): (), date(2026, 12, 31): ((540, 720),)})
    start = local("Europe/Berlin", 2026, 12, 23, 16, 0)
    # Wed 23rd 1 h; 24th closed; 25th/26th holidays; Sunday; Mon 28, Tue 29, Wed 30 8 h each;
    # Thu 31st a half day 09:00-12:00; Fri 1 Jan New Year's Day; weekend; Mon 4 Jan.
    assert c.add(start, 25 * H) == local("Europe/Berlin", 2026, 12, 30, 17, 0)
    assert c.add(start, 26 * H) == local("Europe/Berlin", 2026, 12, 31, 10, 0)
    assert c.add(start, 28 * H) == local("Europe/Berlin", 2026, 12, 31, 12, 0)
    assert c.add(start, 29 * H) == local("Europe/Berlin", 2027, 1, 4, 10, 0)


def test_utc_instants_in_and_out() -> None:
    c = cal()
    start = datetime(2026, 3, 6, 16, 0, tzinfo=timezone.utc)  # 17:00 Berlin, Friday closing time
    due = c.add(start, 8 * H)
    assert due.tzinfo is not None and due == local("Europe/Berlin", 2026, 3, 9, 17, 0)


def test_calendar_without_hours_fails_clearly() -> None:
    c = cal(week=tuple([()] * 7))
    with pytest.raises(CalendarError, match="no business hours"):
        c.add(local("Europe/Berlin", 2026, 3, 6, 9, 0), H)


def test_interval_parsing() -> None:
    assert parse_hours("09:00-17:30") == (540, 1050)
    assert parse_hours("00:00-24:00") == (0, 1440)
    for bad in ("17:00-09:00", "9-5", "25:00-26:00", "09:60-10:00", "09:00"):
        with pytest.raises(ValueError):
            parse_hours(bad)
    with pytest.raises(ValueError, match="overlap"):
        check_intervals(((540, 780), (720, 900)))
