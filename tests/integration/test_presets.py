"""The two shipped presets, scenario by scenario, on the real daemon with real Dovecot and SMTP and a moved
clock. Each test reads like a line of the vendor's support terms."""

from __future__ import annotations


import pytest
from sqlalchemy import select

from mailbot.store.db import make_engine, session_factory, unit_of_work
from mailbot.store.models import InboundRaw, TicketMessage
from tests.support.preset_desk import AGENT, DeskUnderTest, diafan, flynax, smtp, to  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]


# --- support period (Flynax-style) -------------------------------------------------------------------------



def test_within_the_period_the_answer_time_is_promised_in_the_customers_time(flynax: DeskUnderTest) -> None:
    """Inside the period, tickets get a first answer within 24 hours; the acknowledgement says by when."""
    flynax.write("Anna <anna@shop.example>", "Listing images not shown", "Since yesterday the listing images are not shown.")
    flynax.write("Ben <ben@us-shop.example>", "Search is slow", "The search takes ten seconds on our site, please check.")
    mails = flynax.run("2026-03-06 17:00")
    assert "You will have our answer by Saturday 7 March, 17:00 CET." in to(mails, "anna@shop.example")[0].text
    assert "You will have our answer by Saturday 7 March, 11:00 EST." in to(mails, "ben@us-shop.example")[0].text


def test_an_extension_starts_from_its_own_payment_date(flynax: DeskUnderTest) -> None:
    """The customer can extend at any time: paid 1 March and 21 March, supported until 20 April."""
    flynax.write("dan@renew.example", "Payment gateway", "The payment gateway returns an error after the upgrade.")
    mails = flynax.run("2026-04-15 10:00")
    assert "You will have our answer by" in to(mails, "dan@renew.example")[0].text
    assert "2026-03-01 to 2026-04-20" in flynax.ticket().entitlement["reason"]


def test_after_expiry_the_customer_is_told_how_to_renew_and_nothing_is_promised(flynax: DeskUnderTest) -> None:
    """After the period, updates stay available but support does not: say so, say how to renew, no deadline."""
    flynax.write("cleo@old-shop.example", "Upgrade question", "How do I upgrade to the new version of the script?")
    mails = flynax.run("2026-03-06 17:00")
    text = to(mails, "cleo@old-shop.example")[0].text
    assert "The last day of your support period for Classifieds was 31 January 2026." in text  # paid 1 January: a calendar month
    assert "Updates remain available to you" in text
    assert "https://www.example.com/support/extend" in text and "answer by" not in text
    assert flynax.ticket().sla_due_at is None
    assert [m for m in flynax.run("2026-03-20 12:00") if "Response" in m.header("Subject")] == []


def test_presales_questions_are_welcome(flynax: DeskUnderTest) -> None:
    """Presales questions from unknown senders go to the presales queue with their own answer."""
    flynax.write("eve@prospect.example", "Does it support PayPal?", "Before we buy: does the script support PayPal payments?")
    mails = flynax.run("2026-03-06 17:00")
    text = to(mails, "eve@prospect.example")[0].text
    # "…within 24 hours", on the presales calendar (the working week): Friday 16:00 UTC is due Monday 16:00 UTC.
    assert "has gone to our sales team, who will answer by Monday 9 March, 16:00 UTC." in text
    assert flynax.ticket().queue == "presales" and flynax.ticket().sla_due_at is not None


def test_one_renewal_reminder_before_the_period_ends(flynax: DeskUnderTest) -> None:
    """A reminder 7 days before the end of the period, once per period, and none without an active period; it
    names the last day of support (paid 1 March, "one month": 31 March), not the first day without it."""
    assert flynax.run("2026-03-24 12:00") == []  # support runs to the end of 31 March: more than 7 days left
    mails = flynax.run("2026-03-25 12:00")  # Anna and Ben: the last day is 31 March; Dan extended; Cleo expired
    reminded = sorted(r for m in mails for r in m.rcpt_tos)
    assert reminded == ["anna@shop.example", "ben@us-shop.example"]
    anna = to(mails, "anna@shop.example")[0]
    assert anna.header("Subject") == "The last day of your support period for Classifieds is 31 March 2026"
    assert "the last day of your support period for Classifieds is 31 March 2026" in anna.text
    assert flynax.run("2026-03-26 12:00") == []  # once per period
    assert sorted(r for m in flynax.run("2026-04-14 12:00") for r in m.rcpt_tos) == ["dan@renew.example"]


# --- license age (DIAFAN-style) ------------------------------------------------------------------------------



def test_friday_evening_question_is_due_monday_evening_with_a_warning_at_75_percent(diafan: DeskUnderTest) -> None:
    """A question sent Friday 19:00 by a licence holder who bought 200 days ago gets an acknowledgement
    promising Monday 18:00, and a warning at 75% of the business day when nobody has answered."""
    diafan.write("Irina <irina@site.example>", "Корзина не работает", "Здравствуйте! После обновления корзина не открывается, ошибка 500.")
    mails = diafan.run("2026-11-06 19:00")  # a Friday; bought 2026-04-24, 196 days ago
    ack = to(mails, "irina@site.example")[0]
    assert "Мы ответим вам до 9 ноября (понедельник), 18:00 MSK." in ack.text
    assert diafan.run("2026-11-09 13:29") == []
    warning = diafan.run("2026-11-09 15:45")  # 75 % of nine business hours from Monday 09:00
    assert [m.header("Subject") for m in warning] == ["[#1] Response due in 2 h 15 min: Корзина не работает"]


def test_an_answer_on_monday_morning_stops_every_warning(diafan: DeskUnderTest) -> None:
    """…and none after an agent replied at Monday 10:00: any reply counts, a clarifying question included."""
    diafan.write("irina@site.example", "Корзина не работает", "После обновления корзина не открывается, ошибка 500.")
    mails = diafan.run("2026-11-06 19:00")
    [note] = to(mails, AGENT)
    diafan.agent_reply(note, "Ирина, какая версия PHP на сервере?")
    reply = diafan.run("2026-11-09 10:00")
    assert to(reply, "irina@site.example")[0].text.strip() == "Ирина, какая версия PHP на сервере?"
    for at in ("2026-11-09 13:30", "2026-11-09 15:45", "2026-11-09 18:00", "2026-11-10 12:00"):
        assert diafan.run(at) == []


def test_public_holidays_do_not_count(diafan: DeskUnderTest) -> None:
    """The business days exclude Russian public holidays: 4 November (Unity Day) does not count."""
    diafan.write("irina@site.example", "Вопрос по модулю", "Как настроить модуль доставки для двух складов?")
    mails = diafan.run("2026-11-03 19:00")
    assert "до 5 ноября (четверг), 18:00 MSK" in to(mails, "irina@site.example")[0].text


def test_a_license_older_than_a_year_keeps_support_without_the_guarantee(diafan: DeskUnderTest) -> None:
    """Unlimited support for every commercial license; the guarantee holds a year after the latest purchase."""
    diafan.write("pavel@old-license.example", "Export question", "How can I export the product catalogue to a spreadsheet in the admin panel?")
    mails = diafan.run("2026-11-06 12:00")
    text = to(mails, "pavel@old-license.example")[0].text
    assert "support for your license is unlimited" in text.lower() and "ended on 10 January 2026" in text
    assert diafan.ticket().sla_due_at is None


def test_partnership_offers_get_a_thank_you_and_no_deadline(diafan: DeskUnderTest) -> None:
    """Partnership offers and improvement suggestions go to their own queue with a thank-you."""
    diafan.write("partner@agency.example", "Partnership", "We are a web agency and would like to discuss a partnership and reseller terms.")
    mails = diafan.run("2026-11-06 12:00")
    assert "We read every offer and suggestion" in to(mails, "partner@agency.example")[0].text
    t = diafan.ticket()
    assert t.queue == "partnership" and t.sla_due_at is None


def test_credentials_are_marked_reminded_and_removed(diafan: DeskUnderTest) -> None:
    """Support may ask for server access; the customer is advised to change it afterwards. The ticket is
    marked, agents see the mark, the closing message reminds the customer, and after 14 days the passwords
    are removed from the stored messages (the rest stays)."""
    diafan.write("irina@site.example", "Доступы", "Вот доступы к хостингу:\nFTP: ftp.site.example\nлогин: irina\nпароль: Tmp-9f3kQ!\nСпасибо!")
    mails = diafan.run("2026-11-06 12:00")
    assert diafan.ticket().tags == ["credentials"]
    [note] = to(mails, AGENT)
    assert "tags: credentials" in note.text
    diafan.agent_reply(note, "#close\nГотово, модуль обновлён.")
    closed = diafan.run("2026-11-06 13:00")
    closing = [m for m in to(closed, "irina@site.example") if "закрыто" in m.header("Subject")]
    assert "смените эти пароли" in closing[0].text
    diafan.run("2026-11-21 12:00")  # 15 days later
    engine = make_engine(diafan.db_url)
    with unit_of_work(session_factory(engine)) as s:
        msg = s.scalars(select(TicketMessage).where(TicketMessage.sender == "irina@site.example")).one()
        assert "Tmp-9f3kQ!" not in msg.text and "[password removed]" in msg.text and "логин: irina" in msg.text
        raw = s.get_one(InboundRaw, msg.inbound_id).raw
        assert b"Tmp-9f3kQ!" not in raw
    engine.dispose()
