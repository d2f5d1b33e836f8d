"""Response clocks: when a promised response is due, when each warning fires, and how that was computed.

A clock counts business time on a calendar from when it (re)started; pauses (the ticket waits on the
customer) bank what was used so far. Everything is recomputed from these stored facts and `now`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from mailbot.core.business_calendar import BusinessCalendar, DayCount


@dataclass(frozen=True)
class Level:
    """A point of the promised time at which someone is told: a warning (fraction < 1) or the breach (1)."""

    name: str
    fraction: float
    notify: tuple[str, ...]


@dataclass(frozen=True)
class ResponseClock:
    kind: str  # first | next
    started_at: datetime
    total: timedelta  # the promised business time
    calendar: BusinessCalendar
    consumed: timedelta = timedelta(0)  # business time used before resumed_at
    resumed_at: datetime | None = None  # when counting last (re)started; None: at started_at
    paused_at: datetime | None = None  # set while the ticket waits on the customer

    @property
    def counting_since(self) -> datetime:
        return self.resumed_at or self.started_at

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    def time_of(self, fraction: float) -> datetime | None:
        """When `fraction` of the promised time will have been used (None while paused)."""
        if self.paused:
            return None
        target = self.total * fraction
        if target <= self.consumed:
            return self.counting_since
        return self.calendar.add(self.counting_since, target - self.consumed)

    @property
    def deadline(self) -> datetime | None:
        return self.time_of(1.0)

    def used(self, now: datetime) -> timedelta:
        if self.paused:
            return self.consumed
        return self.consumed + self.calendar.between(self.counting_since, now)

    def left(self, now: datetime) -> timedelta:
        """Business time left before the deadline (negative once it has passed)."""
        return self.total - self.used(now)

    def pause(self, at: datetime) -> "ResponseClock":
        if self.paused:
            return self
        return ResponseClock(self.kind, self.started_at, self.total, self.calendar, self.used(at), at, at)

    def resume(self, at: datetime) -> "ResponseClock":
        if not self.paused:
            return self
        return ResponseClock(self.kind, self.started_at, self.total, self.calendar, self.consumed, at, None)

    def schedule(self, levels: tuple[Level, ...]) -> list[tuple[Level, datetime]]:
        """Each level with the instant it fires, earliest first (empty while paused)."""
        out = [(level, when) for level in levels if (when := self.time_of(level.fraction)) is not None]
        return sorted(out, key=lambda pair: (pair[1], pair[0].fraction))

    def due(self, levels: tuple[Level, ...], now: datetime) -> list[tuple[Level, datetime]]:
        return [(level, when) for level, when in self.schedule(levels) if when <= now]

    def next_check(self, levels: tuple[Level, ...], now: datetime) -> datetime | None:
        """When the sweep next has something to do for this clock: the first level still in the future."""
        future = [when for _, when in self.schedule(levels) if when > now]
        return min(future) if future else None

    def breakdown(self) -> list[DayCount]:
        """The business time counted towards the deadline, day by day, since counting last started."""
        deadline = self.deadline
        if deadline is None:
            return []
        return self.calendar.count(self.counting_since, deadline)


def format_span(span: timedelta) -> str:
    """'3 h 20 min', '-1 h 5 min' (overdue), '45 min'."""
    sign = "-" if span < timedelta(0) else ""
    minutes = round(abs(span).total_seconds() / 60)
    hours, mins = divmod(minutes, 60)
    if hours and mins:
        return f"{sign}{hours} h {mins} min"
    return f"{sign}{hours} h" if hours else f"{sign}{mins} min"
