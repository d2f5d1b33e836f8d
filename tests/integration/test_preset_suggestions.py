"""A guess never takes away a promise: on the real daemon, with both presets, a rule that recognises a request
outside support from words only suggests it for a customer whose plan promises an answer; an agent confirms
(`#quote`, `#scope out`, `#partnership`) or dismisses (`#scope in`) it by mail."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailbot.store.db import make_engine, session_factory, unit_of_work
from mailbot.store.models import Event
from tests.support.cli import run_mailbot
from tests.support.dovecot import Dovecot  # noqa: F401  (the fixtures below need it)
from tests.support.preset_desk import AGENT, DeskUnderTest, diafan, flynax, smtp, to  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]


def events(desk: DeskUnderTest, kind: str) -> list[dict[str, object]]:
    engine = make_engine(desk.db_url)
    with unit_of_work(session_factory(engine)) as s:
        found = [dict(e.detail) for e in s.scalars(select(Event).where(Event.kind == kind).order_by(Event.id))]
    engine.dispose()
    return found


# --- support period (Flynax-style) -------------------------------------------------------------------------

def test_a_customers_development_request_keeps_the_promised_time_until_an_agent_confirms_the_quote(flynax: DeskUnderTest) -> None:
    """"Changes taking an hour and longer are regarded as customizations and are quoted": the words suggest it,
    but the customer inside the period is still told the 24 hours; the agent confirms with #quote, which sends
    the quote answer and stops the clock."""
    flynax.write("Anna <anna@shop.example>", "New feature", "Can you develop a new module that imports listings from our CRM every night?")
    mails = flynax.run("2026-03-06 17:00")
    ack = to(mails, "anna@shop.example")[0].text
    assert "You will have our answer by Saturday 7 March, 17:00 CET." in ack and "hourly rate" not in ack
    t = flynax.ticket()
    assert (t.suggested_class, t.suggested_rule, t.queue, t.tags) == ("customization-quote", "customization request", "support", [])
    assert t.sla_due_at is not None
    [note] = to(mails, AGENT)
    assert 'Suggested class: customization-quote (rule "customization request")' in note.text.replace("\r\n", "\n")
    assert "#quote" in note.text and "#scope in" in note.text
    assert events(flynax, "rules.suggested")[0]["suggested_class"] == "customization-quote"

    flynax.agent_reply(note, "#quote")
    confirmed = flynax.run("2026-03-06 18:00")
    [quote] = to(confirmed, "anna@shop.example")
    assert "quoted at our\nhourly rate" in quote.text.replace("\r\n", "\n") and quote.header("Subject") == "[#1] New feature"
    t = flynax.ticket()
    assert (t.queue, t.tags, t.sla_due_at, t.suggested_class) == ("quotes", ["customization"], None, None)
    assert events(flynax, "agent.class_confirmed")[0]["clock"] == "stopped"
    assert flynax.run("2026-03-07 18:00") == []  # no breach notice for a deadline that was withdrawn by a person


def test_a_bug_report_that_uses_the_trigger_words_is_support(flynax: DeskUnderTest) -> None:
    """"When I add a new plugin I get an error 500" is a bug report: the ordinary answer, nothing suggested."""
    flynax.write("anna@shop.example", "Error 500", "When I add a new plugin I get an error 500. Please help.")
    mails = flynax.run("2026-03-06 17:00")
    assert "You will have our answer by" in to(mails, "anna@shop.example")[0].text
    assert flynax.ticket().suggested_class is None
    assert "Suggested class" not in to(mails, AGENT)[0].text


def test_a_prospects_development_request_is_quoted_at_once(flynax: DeskUnderTest) -> None:
    """A sender with no support to lose: the preset lets the rule decide (`decide = ["unknown"]`), in Russian."""
    flynax.write("oleg@prospect.example", "Разработка", "Просим разработать мобильное приложение для нашего каталога. Сколько будет стоить?")
    mails = flynax.run("2026-03-06 17:00")
    assert "по почасовой ставке" in to(mails, "oleg@prospect.example")[0].text
    t = flynax.ticket()
    assert (t.queue, t.suggested_class, t.sla_due_at) == ("quotes", None, None)


# --- license age (DIAFAN-style) ------------------------------------------------------------------------------

def test_a_license_holders_general_question_is_declined_only_when_an_agent_says_so(diafan: DeskUnderTest) -> None:
    """Rule 3, questions outside the product: suggested; the holder is promised the business day; #scope out
    sends the out-of-scope answer and withdraws the deadline."""
    diafan.write("Irina <irina@site.example>", "CSS", "How do I center a div with CSS flexbox on my other website?")
    mails = diafan.run("2026-11-06 12:00")  # a Friday
    assert "You will have our answer by Monday 9 November, 12:00 MSK." in to(mails, "irina@site.example")[0].text
    [note] = to(mails, AGENT)
    assert "Suggested class: out-of-scope" in note.text and "#scope out" in note.text
    diafan.agent_reply(note, "#scope out")
    answer = to(diafan.run("2026-11-06 13:00"), "irina@site.example")
    assert "General HTML, CSS, PHP or SQL programming questions are outside that" in answer[0].text
    t = diafan.ticket()
    assert (t.sla_due_at, t.tags, t.suggested_class) == (None, ["out-of-scope"], None)


def test_a_suggestion_dismissed_keeps_the_deadline_and_sends_nothing(diafan: DeskUnderTest) -> None:
    """Rule 5 (no changes to the site's files) suggested for «поменяйте цвет кнопки»; the agent decides it is
    support after all: #scope in keeps the deadline, the customer gets nothing more."""
    diafan.write("irina@site.example", "Кнопка", "Поменяйте, пожалуйста, цвет кнопки «Купить» в шаблоне на зелёный.")
    mails = diafan.run("2026-11-06 12:00")
    assert "Мы ответим вам до 9 ноября (понедельник), 12:00 MSK." in to(mails, "irina@site.example")[0].text
    due = diafan.ticket().sla_due_at
    [note] = to(mails, AGENT)
    assert "Suggested class: file-changes" in note.text
    diafan.agent_reply(note, "#scope in")
    assert to(diafan.run("2026-11-06 13:00"), "irina@site.example") == []
    t = diafan.ticket()
    assert (t.sla_due_at, t.suggested_class, t.tags) == (due, None, [])
    assert events(diafan, "agent.class_dismissed")[0]["suggested"] == "file-changes"


def test_a_class_the_rules_do_not_know_is_an_error_to_the_agent(diafan: DeskUnderTest) -> None:
    """The license-age preset quotes no customizations: #quote is refused with the reason; nothing is sent."""
    diafan.write("irina@site.example", "Кнопка", "Поменяйте, пожалуйста, цвет кнопки «Купить» в шаблоне на зелёный.")
    [note] = to(diafan.run("2026-11-06 12:00"), AGENT)
    diafan.agent_reply(note, "#quote\nWe can do this for you.")
    mails = diafan.run("2026-11-06 13:00")
    assert to(mails, "irina@site.example") == []
    [error] = to(mails, AGENT)
    assert "assigns the class 'customization-quote'" in error.text
    assert diafan.ticket().suggested_class == "file-changes"


def test_a_holders_partnership_offer_is_thanked_once_an_agent_confirms_it(diafan: DeskUnderTest) -> None:
    """Rule 7, partnership offers and suggestions: from a license holder only suggested; #partnership sends the
    thank-you, moves the ticket to the partnership queue and withdraws the deadline."""
    diafan.write("irina@site.example", "Предложение", "Предлагаем сотрудничество: хотим стать вашим официальным партнёром в Казани.")
    mails = diafan.run("2026-11-10 11:00")
    assert "Мы ответим вам до" in to(mails, "irina@site.example")[0].text
    [note] = to(mails, AGENT)
    assert "Suggested class: partnership-or-suggestion" in note.text and "#partnership" in note.text
    shown = run_mailbot(diafan.config, "tickets", "show", "1")
    assert "suggested class partnership-or-suggestion (rule 'partnership and suggestions')" in shown.stdout
    diafan.agent_reply(note, "#partnership")
    [thanks] = to(diafan.run("2026-11-10 12:00"), "irina@site.example")
    t = diafan.ticket()
    assert (t.queue, t.sla_due_at, t.suggested_class) == ("partnership", None, None) and "[#1]" in thanks.header("Subject")


def test_bug_reports_with_the_words_that_misfired_keep_their_deadline(diafan: DeskUnderTest) -> None:
    """The issue's cases: a bug report that says "made no improvement", one signed "С наилучшими пожеланиями"."""
    diafan.write("irina@site.example", "Cart", "Clearing the cache made no improvement: the cart still shows error 500.")
    diafan.write("irina@site.example", "Корзина", "Корзина не открывается, ошибка 500.\n\nС наилучшими пожеланиями,\nИрина")
    mails = diafan.run("2026-11-10 11:00")
    assert len(to(mails, "irina@site.example")) == 2
    assert all(diafan.ticket(n).suggested_class is None and diafan.ticket(n).sla_due_at is not None for n in (1, 2))
