"""Reading delivery status notifications: failed recipients, temporary vs permanent, the returned message."""

from __future__ import annotations

import pytest

from mailbot.core.bounces import Failure, failures, returned_message_ids
from mailbot.core.mail import InboundMail
from mailbot.parse import parse_mail
from tests.conftest import data


def postfix_dsn(outbox: str = "17", to: str = "support+b17@example.com", returned_id: str = "out-17@example.com") -> InboundMail:
    raw = data("dsn-postfix.eml")
    for key, value in (("{{OUTBOX}}", outbox), ("{{TO}}", to), ("{{RETURNED_ID}}", returned_id)):
        raw = raw.replace(key.encode(), value.encode())
    return parse_mail(raw)


def report(*recipient_blocks: str, original: str = "") -> InboundMail:
    """A multipart/report with one delivery-status part holding these per-recipient blocks, then `original`."""
    status = "Reporting-MTA: dns; mx.example\r\n\r\n" + "\r\n".join(block.strip("\n").replace("\n", "\r\n") + "\r\n" for block in recipient_blocks)
    raw = (
        "From: MAILER-DAEMON@mx.example\r\n"
        "To: support@example.com\r\n"
        "Subject: Delivery Status Notification\r\n"
        "Message-ID: <dsn-1@mx.example>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BB"\r\n'
        "\r\n"
        "--BB\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "Delivery report.\r\n"
        "\r\n"
        "--BB\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        f"{status}"
        "\r\n"
        f"{original}"
        "--BB--\r\n"
    )
    return parse_mail(raw.encode("ascii"))


def block(recipient: str, action: str, status: str) -> str:
    return f"Final-Recipient: rfc822; {recipient}\nAction: {action}\nStatus: {status}\n"


def test_postfix_dsn() -> None:
    mail = postfix_dsn(returned_id="out-17@example.com")
    assert failures(mail) == [Failure(address="gone@customer.example", status="5.1.1", permanent=True)]
    assert returned_message_ids(mail) == ["out-17@example.com"]


def test_postfix_dsn_placeholders_are_used() -> None:
    mail = postfix_dsn(outbox="99", to="bounces@example.com", returned_id="abc.def@desk.example")
    assert [a.addr for a in mail.delivered_to] == ["support+b99@example.com"]
    assert [a.addr for a in mail.to] == ["bounces@example.com"]
    assert returned_message_ids(mail) == ["abc.def@desk.example"]


def test_delayed_notice_is_no_failure() -> None:
    mail = report(block("slow@customer.example", "delayed", "4.4.7"))
    assert failures(mail) == []


def test_failed_with_a_temporary_status_is_not_permanent() -> None:
    mail = report(block("full@customer.example", "failed", "4.4.7"))
    assert failures(mail) == [Failure(address="full@customer.example", status="4.4.7", permanent=False)]


@pytest.mark.parametrize("action", ["delivered", "relayed", "expanded", "delayed"])
def test_other_actions_are_no_failure(action: str) -> None:
    assert failures(report(block("a@customer.example", action, "2.0.0"))) == []


def test_several_recipients() -> None:
    mail = report(
        block("Gone@Customer.example", "failed", "5.1.1"),
        block("slow@customer.example", "delayed", "4.4.1"),
        block("full@customer.example", "failed", "4.2.2"),
        "Original-Recipient: rfc822; alias@customer.example\nAction: Failed\nStatus: 5.7.1\n",
    )
    assert failures(mail) == [
        Failure(address="gone@customer.example", status="5.1.1", permanent=True),
        Failure(address="full@customer.example", status="4.2.2", permanent=False),
        Failure(address="alias@customer.example", status="5.7.1", permanent=True),
    ]


def test_recipient_in_angle_brackets() -> None:
    mail = report(block("<who@customer.example>", "failed", "5.0.0"))
    assert [f.address for f in failures(mail)] == ["who@customer.example"]


def test_original_attached_as_message_rfc822() -> None:
    original = (
        "--BB\r\n"
        "Content-Type: message/rfc822\r\n"
        "\r\n"
        "From: Support <support@example.com>\r\n"
        "To: gone@customer.example\r\n"
        "Subject: [#4] We received your message\r\n"
        "Message-ID: <out-4@example.com>\r\n"
        "\r\n"
        "Thank you. Message-ID: <not-a-header@example.com>\r\n"
        "\r\n"
    )
    mail = report(block("gone@customer.example", "failed", "5.1.1"), original=original)
    assert failures(mail) == [Failure(address="gone@customer.example", status="5.1.1", permanent=True)]
    assert returned_message_ids(mail) == ["out-4@example.com"]


def test_no_report_parts() -> None:
    mail = parse_mail(b"From: alice@customer.example\r\nTo: support@example.com\r\nSubject: hi\r\n\r\nAction: failed\r\n")
    assert failures(mail) == []
    assert returned_message_ids(mail) == []
