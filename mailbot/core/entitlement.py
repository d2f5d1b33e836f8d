"""What a sender has paid for, and what that promises, decided from their purchases at a given instant.

Two kinds of plan, after two real vendors' terms:
- support period: each payment buys N days from its own payment date; periods that overlap or touch
  merge (an extension bought early adds no gap and counts no day twice);
- license: any license means support, but a response-time guarantee only within N days of the most
  recent purchase.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo

from dateutil.relativedelta import relativedelta

ACTIVE, EXPIRED, LAPSED, UNKNOWN = "active", "expired", "guarantee-lapsed", "unknown"
KINDS = ("support_period", "license")


@dataclass(frozen=True)
class Promise:
    """A first-response promise: `hours` of business time on `calendar` (or of calendar time)."""

    hours: float
    business_hours: bool
    calendar: str
    # "Usually the same day": a message that arrives on a business day before this time (minutes after local
    # midnight on the promise's calendar) is told it will usually be answered that day. None: never said.
    same_day_before: int | None = None

    def describe(self) -> str:
        if self.business_hours:
            return f"{self.hours:g} business hours on the {self.calendar} calendar"
        return f"{self.hours:g} hours"


_PERIOD = re.compile(r"\s*(\d{1,4})\s*(day|days|week|weeks|month|months|year|years)\s*")
_UNIT_DAYS = {"day": 1, "week": 7}
_UNIT_MONTHS = {"month": 1, "year": 12}


@dataclass(frozen=True)
class Period:
    """A length of support: calendar months (a year is twelve) and days, counted on the desk's calendar."""

    months: int = 0
    days: int = 0

    def after(self, start: datetime, zone: tzinfo) -> datetime:
        """The instant the period that begins at `start` ends (exclusive). Months are calendar months in `zone`:
        paid 1 March, one month runs to the end of 31 March; paid 31 January, to the end of 28 February (a
        month too short for the day runs to its end: the customer never loses a day to the calendar)."""
        local = start.astimezone(zone)
        end: datetime = local + relativedelta(months=self.months)
        if end.day < local.day:
            end += timedelta(days=1)
        end += timedelta(days=self.days)  # wall-clock days in `zone`: a DST change does not shift the end hour
        return end.astimezone(start.tzinfo or timezone.utc)

    def bounds(self) -> tuple[timedelta, timedelta]:
        """The shortest and the longest this period can be (months have 28 to 31 days; a DST change moves an hour)."""
        return timedelta(days=self.months * 28 + self.days, hours=-1), timedelta(days=self.months * 31 + self.days, hours=1)

    def describe(self) -> str:
        parts = []
        if self.months:
            years, months = divmod(self.months, 12)
            parts += [f"{years} year{'s' if years != 1 else ''}"] if years and not months else [f"{self.months} month{'s' if self.months != 1 else ''}"]
        if self.days:
            parts.append(f"{self.days} day{'s' if self.days != 1 else ''}")
        return " and ".join(parts) or "no time"


def parse_period(text: str) -> Period:
    """'1 month', '3 months', '30 days', '2 weeks', '1 year' → Period. Raises ValueError naming the text."""
    m = _PERIOD.fullmatch(text)
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"{text!r} is not a period such as '1 month', '3 months', '30 days' or '1 year'")
    count, unit = int(m.group(1)), m.group(2).rstrip("s")
    return Period(months=count * _UNIT_MONTHS[unit]) if unit in _UNIT_MONTHS else Period(days=count * _UNIT_DAYS[unit])


def last_day(end: datetime, zone: tzinfo) -> date:
    """The last day a period that ends (exclusively) at `end` covers, as a date in `zone`."""
    return (end.astimezone(zone) - timedelta(microseconds=1)).date()


@dataclass(frozen=True)
class PlanTerms:
    name: str
    kind: str
    period_days: int | None = None  # support_period: days each payment buys (or `period`)
    guarantee_days: int | None = None  # license: days after the latest purchase the promise holds
    promise: Promise | None = None
    description: str = ""
    period: Period | None = None  # support_period: what each payment buys, in calendar months or days

    @property
    def length(self) -> Period:
        return self.period or Period(days=self.period_days or 0)


@dataclass(frozen=True)
class Purchase:
    product: str
    kind: str
    plan: str
    paid_at: datetime
    starts_at: datetime | None = None
    ends_at: datetime | None = None


@dataclass(frozen=True)
class Entitlement:
    state: str
    plan: str | None
    product: str | None
    reason: str
    valid_until: datetime | None = None  # end of support (support period) or of the guarantee (license)
    promise: Promise | None = None


def _day(at: datetime | None, zone: tzinfo = timezone.utc) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d") if at else "?"


def support_periods(purchases: Iterable[Purchase], terms: PlanTerms, zone: tzinfo = timezone.utc) -> list[tuple[datetime, datetime, list[Purchase]]]:
    """The merged support periods bought by `purchases`, oldest first, each with the payments that made it.
    Calendar months are counted in `zone` (the desk's)."""
    spans = []
    for p in purchases:
        start = p.starts_at or p.paid_at
        end = p.ends_at or terms.length.after(start, zone)
        if end > start:
            spans.append((start, end, p))
    spans.sort(key=lambda s: (s[0], s[1]))
    merged: list[tuple[datetime, datetime, list[Purchase]]] = []
    for start, end, p in spans:
        if merged and start <= merged[-1][1]:
            last_start, last_end, payments = merged[-1]
            merged[-1] = (last_start, max(last_end, end), [*payments, p])
        else:
            merged.append((start, end, [p]))
    return merged


def _support_period(product: str, purchases: list[Purchase], terms: PlanTerms, now: datetime, zone: tzinfo) -> Entitlement:
    periods = support_periods(purchases, terms, zone)
    for start, end, payments in periods:
        if start <= now < end:
            paid = ", ".join(_day(p.paid_at, zone) for p in payments)
            reason = (
                f"support period {_day(start, zone)} to {last_day(end, zone)} (the last day; payments {paid}, "
                f"{terms.length.describe()} each, plan {terms.name})"
            )
            return Entitlement(ACTIVE, terms.name, product, reason, valid_until=end, promise=terms.promise)
    past = [p for p in periods if p[1] <= now]
    if past:
        end = past[-1][1]
        reason = f"support period ended: its last day was {last_day(end, zone)} (last payment {_day(past[-1][2][-1].paid_at, zone)}, plan {terms.name})"
        return Entitlement(EXPIRED, terms.name, product, reason, valid_until=end)
    first = periods[0][0] if periods else None
    reason = f"support period starts {_day(first, zone)}" if first else "no support period bought"
    return Entitlement(EXPIRED, terms.name, product, reason, valid_until=None)


def _license(product: str, purchases: list[Purchase], terms: PlanTerms, now: datetime, zone: tzinfo) -> Entitlement:
    latest = max(p.paid_at for p in purchases)
    until = latest + timedelta(days=terms.guarantee_days or 0)
    age = (now - latest).days
    if now < until:
        reason = f"license bought {_day(latest, zone)}, {age} days ago: response guaranteed until {_day(until, zone)} (plan {terms.name})"
        return Entitlement(ACTIVE, terms.name, product, reason, valid_until=until, promise=terms.promise)
    reason = (
        f"license bought {_day(latest, zone)}, {age} days ago: support continues, the response-time guarantee "
        f"ended {_day(until, zone)} ({terms.guarantee_days} days after the latest purchase; plan {terms.name})"
    )
    return Entitlement(LAPSED, terms.name, product, reason, valid_until=until)


def decide_entitlement(purchases: Iterable[Purchase], plans: Mapping[str, PlanTerms], now: datetime, zone: tzinfo = timezone.utc) -> Entitlement:
    """The sender's best entitlement now: a promise beats none, then the one that lasts longest.
    Dates in the reasons are days in `zone` (the desk's)."""
    by_product: dict[tuple[str, str], list[Purchase]] = {}
    unknown_plans: list[str] = []
    for p in purchases:
        if p.plan not in plans:
            unknown_plans.append(p.plan)
            continue
        by_product.setdefault((p.product, p.plan), []).append(p)
    found: list[Entitlement] = []
    for (product, plan), group in by_product.items():
        terms = plans[plan]
        judge = _support_period if terms.kind == "support_period" else _license
        found.append(judge(product, group, terms, now, zone))
    if not found:
        why = "no purchases on record" if not unknown_plans else f"purchases only under unknown plans: {', '.join(sorted(set(unknown_plans)))}"
        return Entitlement(UNKNOWN, None, None, why)
    return max(found, key=_preference)


def _preference(e: Entitlement) -> tuple[int, float]:
    order = {ACTIVE: 3 if e.promise else 2, LAPSED: 2, EXPIRED: 1, UNKNOWN: 0}[e.state]
    return order, e.valid_until.timestamp() if e.valid_until else 0.0
