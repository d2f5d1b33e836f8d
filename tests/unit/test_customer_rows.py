"""One customer row, checked before anything is stored: the `language` column (renewal reminders' language)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from mailbot.core.entitlement import PlanTerms
from mailbot.customers.importer import RowError, check_row

PLANS = {"basic": PlanTerms("basic", "support_period", period_days=30)}
ROW = {"customer": "C1", "email": "vera@shop.example", "product": "Shop", "plan": "basic", "paid": "2026-03-01"}


def test_a_language_is_kept_in_lower_case_and_is_optional() -> None:
    assert check_row({**ROW, "language": "RU"}, PLANS, ZoneInfo("UTC")).language == "ru"
    assert check_row(ROW, PLANS, ZoneInfo("UTC")).language is None
    assert check_row({**ROW, "language": ""}, PLANS, ZoneInfo("UTC")).language is None


@pytest.mark.parametrize("value", ["russian", "r", "ru-RU", "12"])
def test_a_language_that_is_not_a_two_letter_code_is_refused_by_name(value: str) -> None:
    with pytest.raises(RowError, match=f"language: '{value}' is not a two-letter language code"):
        check_row({**ROW, "language": value}, PLANS, ZoneInfo("UTC"))
