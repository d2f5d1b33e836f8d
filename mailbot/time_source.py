"""Injected time: the system clock for the daemon, a fixed or movable clock for tests and `--now`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


@dataclass
class FixedClock:
    """A clock that stands still until moved; used by tests and by `--now`."""

    at: datetime = field(default_factory=lambda: datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc))

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at = self.at + delta

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self.at = at


@dataclass
class OffsetClock:
    """The system clock shifted by a fixed offset (`mailbot run --now` on a long-running daemon)."""

    offset: timedelta

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset


def parse_moment(text: str, zone: str) -> datetime:
    """'2026-12-04 17:30' in the desk's time zone `zone`, or an ISO 8601 time with its own offset."""
    from zoneinfo import ZoneInfo

    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a time such as '2026-12-04 17:30'") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=ZoneInfo(zone))
