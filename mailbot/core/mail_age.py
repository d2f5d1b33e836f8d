"""How old a message is by its own timestamps (Date and the newest Received header), judged sceptically.

A timestamp counts only when it parses, carries a time zone, is not before 1990 and is not after the moment
mailbot received the message (plus a little clock skew). The message's time is the newest timestamp that
counts: one wrong clock (a sender's PC) must not make fresh mail look old, while mail restored from a backup
or left in a mailbox for days is old by every timestamp it carries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

EARLIEST = datetime(1990, 1, 1, tzinfo=timezone.utc)
# A server or sender clock this far ahead of ours is still believed (and read as "just now").
SKEW = timedelta(minutes=15)
_UNFOLD = re.compile(r"\r?\n[ \t]+")


@dataclass(frozen=True)
class Stamp:
    header: str  # "Date" or "Received"
    value: str  # as written
    at: datetime | None  # None when it does not count
    problem: str | None = None  # why it does not count


@dataclass(frozen=True)
class MailTime:
    """The message's own time (None when no timestamp counts), and every stamp that was looked at."""

    at: datetime | None
    stamps: tuple[Stamp, ...]

    def explain(self) -> str:
        return "; ".join(f"{s.header} {s.value!r}" + (f" ({s.problem})" if s.problem else "") for s in self.stamps)


def _parse(text: str) -> datetime | None:
    try:
        at = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return at


def _stamp(header: str, value: str, received_at: datetime) -> Stamp:
    # A Received header ends with "; <date-time>"; a Date header is the date-time.
    text = _UNFOLD.sub(" ", value).strip()
    when = text.rpartition(";")[2] if header == "Received" else text
    at = _parse(when) if when.strip() else None
    shown = when.strip()[:80]
    if at is None:
        return Stamp(header, shown, None, "not a date")
    if at.tzinfo is None:
        return Stamp(header, shown, None, "no time zone")
    if at < EARLIEST:
        return Stamp(header, shown, None, "before 1990")
    if at > received_at + SKEW:
        return Stamp(header, shown, None, "after mailbot received it")
    return Stamp(header, shown, min(at.astimezone(timezone.utc), received_at))


def mail_time(headers: Iterable[tuple[str, str]], received_at: datetime) -> MailTime:
    """The newest of the Date header and the first Received header (the newest hop) with a usable date."""
    stamps: list[Stamp] = []
    date_done = received_done = False
    for name, value in headers:
        key = name.strip().lower()
        if key == "date" and not date_done:
            stamps.append(_stamp("Date", str(value), received_at))
            date_done = True
        elif key == "received" and not received_done:
            stamp = _stamp("Received", str(value), received_at)
            if stamp.at is not None or stamp.problem != "not a date":
                stamps.append(stamp)
                received_done = True  # later Received headers are older hops
    counted = [s.at for s in stamps if s.at is not None]
    return MailTime(max(counted) if counted else None, tuple(stamps))


def too_old_to_acknowledge(headers: Iterable[tuple[str, str]], received_at: datetime, max_age_hours: float) -> str | None:
    """Why a message must not be acknowledged because of its age, or None (young, undated, or check off)."""
    if max_age_hours <= 0:
        return None
    found = mail_time(headers, received_at)
    if found.at is None:
        return None  # no timestamp to go by: nothing proves it old
    age = received_at - found.at
    if age <= timedelta(hours=max_age_hours):
        return None
    hours = age.total_seconds() / 3600
    return (
        f"the message is {hours:.0f} hours old by its own timestamps (limit {max_age_hours:g}): "
        f"too late to acknowledge; {found.explain()}"
    )
