"""Business-calendar arithmetic: opening hours per weekday, public holidays, local closures and extra days.

Pure: every function takes the instants it works on. Intervals are built in the calendar's time zone and
compared in UTC, so a day with a DST change counts the hours that really passed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

Minutes = tuple[int, int]  # an opening interval as minutes after local midnight, end exclusive (1440 = 24:00)
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SEARCH_DAYS = 3700  # ten years: further than any deadline; a calendar with no hours at all fails here


class CalendarError(Exception):
    """The calendar cannot produce the answer (no business hours within ten years)."""


@dataclass(frozen=True)
class DayCount:
    """One day of a business-time computation: what counted, for `explain`."""

    day: date
    counted: timedelta
    intervals: tuple[tuple[datetime, datetime], ...]
    note: str = ""


@dataclass(frozen=True)
class BusinessCalendar:
    name: str
    zone: ZoneInfo
    week: tuple[tuple[Minutes, ...], ...]  # seven entries, Monday first
    holiday: Callable[[date], str | None] = lambda d: None  # the public holiday on `d`, if any
    overrides: Mapping[date, tuple[Minutes, ...]] = field(default_factory=dict)  # closures, half days, extra days
    # A weekend day made a working day by decree (the day off moved to a weekday), if `d` is one: why. It opens
    # with `workday_hours`, the hours of an ordinary working day.
    moved_workday: Callable[[date], str | None] = lambda d: None
    # Days already turned into instants: the sweep asks about the same few days for every ticket.
    _cache: dict[date, list[tuple[datetime, datetime]]] = field(default_factory=dict, compare=False, repr=False)

    def hours_on(self, day: date) -> tuple[tuple[Minutes, ...], str]:
        """The day's opening intervals and why they differ from the weekday's, if they do."""
        if day in self.overrides:
            hours = self.overrides[day]
            return hours, "closed (local closure)" if not hours else "special hours"
        name = self.holiday(day)
        if name:
            return (), f"public holiday: {name}"
        hours = self.week[day.weekday()]
        if not hours:
            moved = self.moved_workday(day)
            if moved:
                return self.workday_hours, f"working day: {moved}"
        return hours, ""

    def same_day(self, at: datetime, before: int) -> bool:
        """Whether `at` falls on a business day of this calendar, before `before` minutes after local midnight
        and before that day's closing: a message that can usually be answered the same day."""
        local = at.astimezone(self.zone)
        hours, _ = self.hours_on(local.date())
        minute = local.hour * 60 + local.minute
        return bool(hours) and minute < before and minute < hours[-1][1]

    @property
    def workday_hours(self) -> tuple[Minutes, ...]:
        """The hours most working weekdays have (what a weekend day worked by decree opens with)."""
        days = [h for h in self.week if h]
        return max(days, key=days.count) if days else ()

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's opening intervals as UTC instants."""
        found = self._cache.get(day)
        if found is None:
            hours, _ = self.hours_on(day)
            found = [(self._instant(day, a), self._instant(day, b)) for a, b in hours]
            if len(self._cache) > 20_000:
                self._cache.clear()
            self._cache[day] = found
        return found

    def _instant(self, day: date, minutes: int) -> datetime:
        if minutes >= 1440:
            day, minutes = day + timedelta(days=1), minutes - 1440
        local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=self.zone)
        return local.astimezone(timezone.utc)

    def _days_from(self, at: datetime) -> Iterator[date]:
        # Start a day early: an interval of the previous local day may run past midnight.
        day = at.astimezone(self.zone).date() - timedelta(days=1)
        for _ in range(SEARCH_DAYS):
            yield day
            day += timedelta(days=1)
        raise CalendarError(f"calendar {self.name!r} has no business hours within ten years of {at.isoformat()}")

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when `duration` of business time has passed since `start`.

        A start outside business hours counts from the next opening; a deadline that falls exactly on a
        closing time stays there (Friday 17:00 + 24 h on a 9–17 week is Wednesday 17:00).
        """
        if duration < timedelta(0):
            raise ValueError("duration must not be negative")
        remaining = duration
        for day in self._days_from(start):
            for a, b in self.intervals(day):
                if b <= start:
                    continue
                begin = max(a, start)
                if remaining <= b - begin:
                    return begin + remaining
                remaining -= b - begin
        raise AssertionError("unreachable")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time from `start` to `end` (zero if `end` is not after `start`)."""
        return sum((c.counted for c in self.count(start, end)), timedelta(0))

    def count(self, start: datetime, end: datetime) -> list[DayCount]:
        """Business time from `start` to `end`, day by day (days with nothing counted are listed when notable)."""
        out: list[DayCount] = []
        if end <= start:
            return out
        for day in self._days_from(start):
            if self._instant(day, 0) >= end:
                break
            hours, note = self.hours_on(day)
            if not hours and not note:
                note = "closed"
            used = []
            counted = timedelta(0)
            for a, b in self.intervals(day):
                lo, hi = max(a, start), min(b, end)
                if hi > lo:
                    used.append((lo, hi))
                    counted += hi - lo
            if counted or (note and self._instant(day, 1440) > start):
                out.append(DayCount(day, counted, tuple(used), note))
        return out


def parse_hours(text: str) -> Minutes:
    """'09:00-17:30' → (540, 1050). '24:00' is allowed as an end."""
    try:
        a, b = (part.strip() for part in text.split("-"))
        start, end = _minutes(a), _minutes(b)
    except ValueError:
        raise ValueError(f"{text!r} is not an interval like '09:00-17:00'") from None
    if not 0 <= start < end <= 1440:
        raise ValueError(f"{text!r}: the end must come after the start, within one day")
    return start, end


def _minutes(text: str) -> int:
    hh, mm = text.split(":")
    if not (hh.isdigit() and mm.isdigit() and len(mm) == 2):
        raise ValueError(text)
    value = int(hh) * 60 + int(mm)
    if int(mm) > 59 or value > 1440:
        raise ValueError(text)
    return value


def check_intervals(hours: tuple[Minutes, ...]) -> tuple[Minutes, ...]:
    """Sort a day's intervals and refuse overlapping ones."""
    ordered = tuple(sorted(hours))
    for (a1, b1), (a2, _b2) in zip(ordered, ordered[1:]):
        if a2 < b1:
            raise ValueError(f"intervals {a1 // 60:02d}:{a1 % 60:02d}-{b1 // 60:02d}:{b1 % 60:02d} and the next overlap")
    return ordered


ROUND_THE_CLOCK = tuple(((0, 1440),) for _ in range(7))


def round_the_clock(zone: ZoneInfo = ZoneInfo("UTC")) -> BusinessCalendar:
    """Calendar hours: every hour counts."""
    return BusinessCalendar(name="24x7", zone=zone, week=ROUND_THE_CLOCK)
