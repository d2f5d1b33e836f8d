"""Entitlement decisions at a fixed instant: periods, extensions, overlaps, exact expiry, license age."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from mailbot.core.entitlement import (
    ACTIVE,
    EXPIRED,
    LAPSED,
    UNKNOWN,
    PlanTerms,
    Promise,
    Purchase,
    Period,
    decide_entitlement,
    last_day,
    parse_period,
    support_periods,
)

UTC = timezone.utc
PROMISE = Promise(hours=24, business_hours=True, calendar="office")
PLANS = {
    "standard": PlanTerms("standard", "support_period", period_days=30, promise=PROMISE),
    "commercial": PlanTerms("commercial", "license", guarantee_days=365, promise=PROMISE),
}


def day(y: int, m: int, d: int, h: int = 0) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


def period(paid: datetime, plan: str = "standard", product: str = "shop") -> Purchase:
    return Purchase(product=product, kind="support_period", plan=plan, paid_at=paid)


def test_inside_the_period_is_active_with_the_promise() -> None:
    e = decide_entitlement([period(day(2026, 3, 1))], PLANS, day(2026, 3, 15))
    assert e.state == ACTIVE and e.plan == "standard" and e.promise == PROMISE
    assert e.valid_until == day(2026, 3, 31)
    assert "2026-03-01 to 2026-03-30 (the last day" in e.reason and "30 days each" in e.reason


def test_expiry_at_the_exact_instant() -> None:
    purchases = [period(day(2026, 3, 1))]
    assert decide_entitlement(purchases, PLANS, day(2026, 3, 31) - timedelta(microseconds=1)).state == ACTIVE
    at_end = decide_entitlement(purchases, PLANS, day(2026, 3, 31))
    assert at_end.state == EXPIRED and at_end.promise is None
    assert "its last day was 2026-03-30" in at_end.reason


def test_an_early_extension_adds_no_gap_and_counts_no_day_twice() -> None:
    # Paid again on day 20 of 30: the new period starts on its own payment date and the two merge.
    purchases = [period(day(2026, 3, 1)), period(day(2026, 3, 21))]
    [(start, end, payments)] = support_periods(purchases, PLANS["standard"])
    assert (start, end, len(payments)) == (day(2026, 3, 1), day(2026, 4, 20), 2)
    e = decide_entitlement(purchases, PLANS, day(2026, 4, 10))
    assert e.state == ACTIVE and e.valid_until == day(2026, 4, 20)


def test_renewal_after_a_lapse_restarts_from_its_payment() -> None:
    purchases = [period(day(2026, 1, 1)), period(day(2026, 3, 1))]
    assert len(support_periods(purchases, PLANS["standard"])) == 2
    assert decide_entitlement(purchases, PLANS, day(2026, 2, 15)).state == EXPIRED
    assert decide_entitlement(purchases, PLANS, day(2026, 3, 2)).state == ACTIVE


def test_overlapping_purchases_of_two_products_pick_the_best() -> None:
    purchases = [period(day(2026, 1, 1), product="old"), period(day(2026, 3, 1), product="new")]
    e = decide_entitlement(purchases, PLANS, day(2026, 3, 10))
    assert e.state == ACTIVE and e.product == "new"


def test_explicit_end_date_wins_over_the_plan_length() -> None:
    p = Purchase("shop", "support_period", "standard", paid_at=day(2026, 3, 1), ends_at=day(2026, 6, 1))
    assert decide_entitlement([p], PLANS, day(2026, 5, 15)).state == ACTIVE


def test_license_younger_than_a_year_has_the_guarantee() -> None:
    lic = Purchase("cms", "license", "commercial", paid_at=day(2026, 1, 10))
    e = decide_entitlement([lic], PLANS, day(2026, 7, 29))
    assert e.state == ACTIVE and e.promise == PROMISE and "200 days ago" in e.reason


def test_license_older_than_365_days_keeps_support_without_the_guarantee() -> None:
    lic = Purchase("cms", "license", "commercial", paid_at=day(2025, 1, 10))
    e = decide_entitlement([lic], PLANS, day(2026, 1, 10, 1))
    assert e.state == LAPSED and e.promise is None
    assert "support continues" in e.reason and "ended 2026-01-10" in e.reason
    # Buying again (an upgrade, a second license) restores it: the most recent purchase counts.
    again = Purchase("cms", "license", "commercial", paid_at=day(2025, 12, 1))
    assert decide_entitlement([lic, again], PLANS, day(2026, 1, 10, 1)).state == ACTIVE


def test_unknown_senders_and_unknown_plans() -> None:
    assert decide_entitlement([], PLANS, day(2026, 1, 1)).state == UNKNOWN
    odd = decide_entitlement([period(day(2026, 1, 1), plan="gold")], PLANS, day(2026, 1, 2))
    assert odd.state == UNKNOWN and "gold" in odd.reason


# --- calendar months and the last day of support --------------------------------------------------------

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    "text, period",
    [("1 month", Period(months=1)), ("3 months", Period(months=3)), ("30 days", Period(days=30)), ("1 year", Period(months=12)), ("2 weeks", Period(days=14))],
)
def test_periods_are_read_as_written(text: str, period: Period) -> None:
    assert parse_period(text) == period


@pytest.mark.parametrize("text", ["a month", "0 months", "1 fortnight", "1 month 2 days", ""])
def test_a_period_that_cannot_be_read_is_an_error_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="is not a period such as '1 month'"):
        parse_period(text)


@pytest.mark.parametrize(
    "paid, last",
    [
        (date(2026, 3, 1), date(2026, 3, 31)),  # "a month" is the calendar month from the payment date
        (date(2026, 1, 31), date(2026, 2, 28)),  # a month too short for the day: to its end
        (date(2028, 1, 31), date(2028, 2, 29)),  # a leap year
        (date(2026, 1, 28), date(2026, 2, 27)),
        (date(2026, 3, 15), date(2026, 4, 14)),
        (date(2026, 10, 1), date(2026, 10, 31)),  # across the end of summer time: still whole days
    ],
)
def test_one_calendar_month_of_support_ends_on_the_last_day_in_the_desks_zone(paid: date, last: date) -> None:
    plans = {"basic": PlanTerms("basic", "support_period", period=Period(months=1), promise=PROMISE)}
    paid_at = datetime.combine(paid, datetime.min.time(), tzinfo=BERLIN)
    [(start, end, _)] = support_periods([period(paid_at, "basic")], plans["basic"], BERLIN)
    assert last_day(end, BERLIN) == last and end.astimezone(BERLIN).time() == datetime.min.time()
    inside = decide_entitlement([period(paid_at, "basic")], plans, end - timedelta(seconds=1), BERLIN)
    assert inside.state == ACTIVE and f"to {last} (the last day" in inside.reason and "1 month each" in inside.reason
    after = decide_entitlement([period(paid_at, "basic")], plans, end, BERLIN)
    assert after.state == EXPIRED and f"its last day was {last}" in after.reason


def test_a_year_of_support_and_an_extension_in_months() -> None:
    plans = {"premium": PlanTerms("premium", "support_period", period=Period(months=12), promise=PROMISE)}
    paid = [period(datetime(2026, 2, 28, tzinfo=BERLIN), "premium"), period(datetime(2026, 12, 1, tzinfo=BERLIN), "premium")]
    [(_, end, _)] = support_periods(paid, plans["premium"], BERLIN)
    assert last_day(end, BERLIN) == date(2027, 11, 30)
