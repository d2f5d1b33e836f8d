"""The vendors' terms the presets now keep to the letter, each sentence a scenario on the real daemon (real
Dovecot, real SMTP, SQLite and PostgreSQL) with a frozen `--now`: calendar months and the last day of support,
renewal reminders in the customer's language, Saturdays the government makes working days, "usually the same
day"."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.dovecot import Dovecot
from tests.support.preset_desk import DeskUnderTest, diafan, flynax, smtp, to  # noqa: F401  (fixtures)
from tests.support.smtp import SmtpServer

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]


# --- support period (Flynax-style) -------------------------------------------------------------------------

def test_a_month_of_support_is_a_calendar_month_and_the_last_day_is_named(flynax: DeskUnderTest) -> None:
    """"One month of free support from the payment date": paid 31 January, supported to the end of 28 February
    (a month too short for the 31st runs to its end); on 1 March the answer names 28 February as the last day."""
    flynax.write("gus@month-end.example", "Search broken", "The search returns nothing since this morning.")
    mails = [m for m in to(flynax.run("2026-02-28 20:00"), "gus@month-end.example") if "[#1]" in m.header("Subject")]
    assert "You will have our answer by Sunday 1 March, 20:00 CET." in mails[0].text
    flynax.write("gus@month-end.example", "Search still broken", "The search still returns nothing.")
    [expired] = [m for m in to(flynax.run("2026-03-01 09:00"), "gus@month-end.example") if "[#2]" in m.header("Subject")]
    assert "The last day of your support period for Classifieds was 28 February 2026." in expired.text
    assert flynax.ticket(2).sla_due_at is None and "its last day was 2026-02-28" in flynax.ticket(2).entitlement["reason"]


LANGUAGE_CUSTOMERS = (
    "customer,name,email,language,product,plan,paid\n"
    "R1,Вера,vera@ru-shop.example,ru,Classifieds,basic,2026-03-01\n"
    "R2,Walt,walt@shop.example,,Classifieds,basic,2026-03-01\n"
    "R3,Xena,xena@shop.example,,Classifieds,basic,2026-03-01\n"
)


@pytest.fixture
def multilingual(tmp_path: Path, db_url: str, dovecot: Dovecot, smtp: SmtpServer) -> DeskUnderTest:
    return DeskUnderTest("support-period", tmp_path, db_url, dovecot, smtp, "Europe/Berlin", LANGUAGE_CUSTOMERS)


def test_the_renewal_reminder_is_written_in_the_customers_language(multilingual: DeskUnderTest) -> None:
    """The reminder before the period ends speaks the customer's language: the `language` column, else the
    language of what they last wrote, else the desk's."""
    multilingual.write("walt@shop.example", "Вопрос", "Здравствуйте! Как добавить новую категорию объявлений в каталог?")
    multilingual.run("2026-03-10 12:00")
    mails = multilingual.run("2026-03-25 12:00")
    subjects = {m.rcpt_tos[0]: m.header("Subject") for m in mails if "Classifieds" in m.header("Subject")}
    assert subjects == {
        "vera@ru-shop.example": "Последний день периода поддержки для Classifieds — 31 марта 2026",
        "walt@shop.example": "Последний день периода поддержки для Classifieds — 31 марта 2026",
        "xena@shop.example": "The last day of your support period for Classifieds is 31 March 2026",
    }


# --- license age (DIAFAN-style) ------------------------------------------------------------------------------

def test_a_saturday_made_a_working_day_by_decree_counts_without_any_special_entry(diafan: DeskUnderTest) -> None:
    """"The 24 hours count on business days only": in 2027 Russia works on Saturday 20 February (the day off
    moves to Monday 22nd). A question sent Friday 19 February at 19:00 is due that Saturday at 18:00."""
    diafan.write("irina@site.example", "Корзина", "После обновления корзина не открывается, ошибка 500.")
    mails = diafan.run("2027-02-19 19:00")
    assert "Мы ответим вам до 20 февраля (суббота), 18:00 MSK." in to(mails, "irina@site.example")[0].text


@pytest.mark.parametrize(
    "now, same_day",
    [
        ("2026-11-10 11:00", True),  # Tuesday morning, before 15:00
        ("2026-11-10 16:00", False),  # Tuesday afternoon: after the cut-off
        ("2026-11-07 11:00", False),  # Saturday: not a business day
        ("2026-11-04 11:00", False),  # Unity Day, a public holiday
    ],
)
def test_usually_the_same_day_only_when_the_question_arrives_early_on_a_business_day(diafan: DeskUnderTest, now: str, same_day: bool) -> None:
    """"As a rule, the answer comes the same day": said to a licence holder whose question arrives on a business
    day before 15:00 Moscow time; the promise itself stays one business day."""
    diafan.write("irina@site.example", "Доставка", "Как настроить модуль доставки для двух складов?")
    text = to(diafan.run(now), "irina@site.example")[0].text
    assert ("Обычно мы отвечаем в тот же день." in text) is same_day
    assert "Мы ответим вам до" in text
