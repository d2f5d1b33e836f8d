"""Entitlement decisions at a fixed instant: periods, extensions, overlaps, exact expiry, license age."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from mailbot.core.entitlement import (
    ACTIVE,
    EXPIRED,
    LAPSED,
    UNKNOWN,
    PlanTerms,
    Promise,
    Purchase,
    decide_entitlement,
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
    assert "2026-03-01 to 2026-03-31" in e.reason


def test_expiry_at_the_exact_instant() -> None:
    purchases = [period(day(2026, 3, 1))]
    assert decide_entitlement(purchases, PLANS, day(2026, 3, 31) - timedelta(microseconds=1)).state == ACTIVE
    at_end = decide_entitlement(purchases, PLANS, day(2026, 3, 31))
    assert at_end.state == EXPIRED and at_end.promise is None
    assert "ended 2026-03-31" in at_end.reason


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
