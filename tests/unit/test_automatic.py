"""Telling automatic mail (auto-replies, lists, bounces, loops) from mail a person wrote."""

from __future__ import annotations

import pytest

from mailbot.core.automatic import LOOP_HEADER, automatic_reasons
from mailbot.core.mail import InboundMail
from mailbot.parse import parse_mail
from tests.conftest import data


def message(*headers: str, sender: str = "Alice <alice@customer.example>", subject: str = "Cannot log in") -> InboundMail:
    lines = [f"From: {sender}", "To: support@example.com", f"Subject: {subject}", "Message-ID: <m-1@customer.example>", *headers]
    raw = "\r\n".join(lines) + "\r\n\r\nHello, I cannot log in since yesterday.\r\n"
    return parse_mail(raw.encode("utf-8"))


def dsn() -> InboundMail:
    raw = data("dsn-postfix.eml")
    for key, value in ((b"{{OUTBOX}}", b"7"), (b"{{TO}}", b"support@example.com"), (b"{{RETURNED_ID}}", b"out-7@example.com")):
        raw = raw.replace(key, value)
    return parse_mail(raw)


def reasons(mail: InboundMail, own: str | None = None, came_from_us: bool = False) -> list[str]:
    return automatic_reasons(mail, lambda addr: addr == own, came_from_us)


def test_a_person_is_not_automatic() -> None:
    assert reasons(message()) == []


@pytest.mark.parametrize(
    "mail, expected",
    [
        pytest.param(message("Auto-Submitted: auto-replied"), "Auto-Submitted: auto-replied", id="auto-replied"),
        pytest.param(message("Auto-Submitted: auto-generated"), "Auto-Submitted: auto-generated", id="auto-generated"),
        pytest.param(message("Auto-Submitted: auto-notified; owner-email=x@y.example"), "Auto-Submitted: auto-notified; owner-email=x@y.example", id="auto-notified"),
        pytest.param(message("Precedence: bulk"), "Precedence: bulk", id="precedence-bulk"),
        pytest.param(message("Precedence: junk"), "Precedence: junk", id="precedence-junk"),
        pytest.param(message("Precedence: List"), "Precedence: list", id="precedence-list"),
        pytest.param(message("List-Id: Users <users.lists.example>"), "mailing-list headers: List-Id", id="list-id"),
        pytest.param(message("List-Unsubscribe: <mailto:leave@lists.example>"), "mailing-list headers: List-Unsubscribe", id="list-unsubscribe"),
        pytest.param(message("Return-Path: <>"), "empty return path (a bounce or an automatic notice)", id="return-path-empty"),
        pytest.param(message(sender="mailer-daemon@mx.example"), "machine sender mailer-daemon@mx.example", id="mailer-daemon"),
        pytest.param(message(sender="MAILER-DAEMON@mx.example"), "machine sender mailer-daemon@mx.example", id="MAILER-DAEMON"),
        pytest.param(message(sender="postmaster@mx.example"), "machine sender postmaster@mx.example", id="postmaster"),
        pytest.param(message(sender="Shop <noreply@shop.example>"), "machine sender noreply@shop.example", id="noreply"),
        pytest.param(message(sender="no-reply@shop.example"), "machine sender no-reply@shop.example", id="no-reply"),
        pytest.param(message(sender="do-not-reply@shop.example"), "machine sender do-not-reply@shop.example", id="do-not-reply"),
        pytest.param(message(sender="bounce@shop.example"), "machine sender bounce@shop.example", id="bounce"),
        pytest.param(message(sender="bounces+abc=customer.example@shop.example"), "machine sender bounces+abc=customer.example@shop.example", id="bounces-verp"),
        pytest.param(dsn(), "delivery or read report", id="delivery-status-report"),
        pytest.param(message("X-Auto-Response-Suppress: All"), "X-Auto-Response-Suppress: All", id="suppress-all"),
        pytest.param(message("X-Auto-Response-Suppress: AutoReply"), "X-Auto-Response-Suppress: AutoReply", id="suppress-autoreply"),
        pytest.param(message("X-Auto-Response-Suppress: DR, OOF"), "X-Auto-Response-Suppress: DR, OOF", id="suppress-oof-in-list"),
        pytest.param(message("X-Autoreply: yes"), "X-Autoreply header", id="x-autoreply"),
        pytest.param(message(subject="Out of Office: back on Monday"), "out-of-office subject: 'Out of Office: back on Monday'", id="ooo-en"),
        pytest.param(message(subject="Automatic reply: Cannot log in"), "out-of-office subject: 'Automatic reply: Cannot log in'", id="ooo-en-automatic-reply"),
        pytest.param(message(subject="=?utf-8?q?Abwesenheitsnotiz=3A_Urlaub?="), "out-of-office subject: 'Abwesenheitsnotiz: Urlaub'", id="ooo-de"),
        pytest.param(message(subject="=?utf-8?q?R=C3=A9ponse_automatique_=3A_absent?="), "out-of-office subject: 'Réponse automatique : absent'", id="ooo-fr"),
        pytest.param(
            message(subject="=?utf-8?b?0JDQstGC0L7QvtGC0LLQtdGCOiDQsiDQvtGC0L/Rg9GB0LrQtQ==?="),
            "out-of-office subject: 'Автоответ: в отпуске'",
            id="ooo-ru",
        ),
        # RFC 6532: a subject sent as raw UTF-8, as SMTPUTF8 mailers do.
        pytest.param(message(subject="Автоответ: в отпуске"), "out-of-office subject: 'Автоответ: в отпуске'", id="ooo-ru-raw-utf8"),
        pytest.param(message(f"{LOOP_HEADER}: support@example.com"), "our own mail came back", id="loop-header"),
    ],
)
def test_each_signal(mail: InboundMail, expected: str) -> None:
    assert expected in reasons(mail)


def test_the_delivery_report_also_shows_its_other_signals() -> None:
    found = reasons(dsn())
    assert found == [
        "Auto-Submitted: auto-replied",
        "empty return path (a bounce or an automatic notice)",
        "machine sender mailer-daemon@mx.customer.example",
        "delivery or read report",
    ]


def test_came_from_us() -> None:
    assert reasons(message(), came_from_us=True) == ["our own mail came back"]


def test_sent_from_our_own_address() -> None:
    mail = message(sender="Support <support@example.com>")
    assert reasons(mail, own="support@example.com") == ["sent from our own address support@example.com"]
    assert reasons(mail) == []


@pytest.mark.parametrize(
    "mail",
    [
        pytest.param(message("Auto-Submitted: no"), id="auto-submitted-no"),
        pytest.param(message("Auto-Submitted: No; comment"), id="auto-submitted-no-with-parameter"),
        pytest.param(message("Precedence: normal"), id="precedence-normal"),
        pytest.param(message("Return-Path: <alice@customer.example>"), id="normal-return-path"),
        pytest.param(message(sender="norris@customer.example"), id="norris"),
        pytest.param(message(sender="replyguy@customer.example"), id="replyguy"),
        pytest.param(message(sender="bouncer@club.example"), id="bouncer"),
        pytest.param(message("X-Auto-Response-Suppress: RN, NRN"), id="suppress-read-receipts-only"),
        pytest.param(message("X-Auto-Response-Suppress: Allow"), id="suppress-substring-allow"),
        pytest.param(message("X-Auto-Response-Suppress: OOFX, DR"), id="suppress-substring-oof"),
        pytest.param(message(subject="Re: my office printer is out of toner"), id="office-not-at-start"),
        pytest.param(message("X-Mailer: Thunderbird", "Importance: high"), id="ordinary-headers"),
    ],
)
def test_not_automatic(mail: InboundMail) -> None:
    assert reasons(mail) == []
