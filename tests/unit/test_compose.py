"""Outgoing messages: headers, threading, auto-reply markers and bodies survive a round trip through the stdlib."""

from __future__ import annotations

import email
from dataclasses import replace
from datetime import datetime, timezone
from email.message import EmailMessage
from email.policy import default

import pytest

from mailbot.core.automatic import LOOP_HEADER
from mailbot.core.mail import Address
from mailbot.outbox.compose import Outgoing, compose

BASE = Outgoing(
    from_name="Support",
    from_addr="support@example.com",
    to=[Address("alice@customer.example", "Alice")],
    subject="[#5] Cannot log in",
    body="Hello Alice,\n\nthank you.\n",
    message_id="out-5.abc@example.com",
    date=datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc),
)


def roundtrip(out: Outgoing) -> EmailMessage:
    msg = email.message_from_bytes(compose(out), policy=default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_plain_headers() -> None:
    msg = roundtrip(BASE)
    assert msg["From"] == "Support <support@example.com>"
    assert msg["To"] == "Alice <alice@customer.example>"
    assert msg["Subject"] == "[#5] Cannot log in"
    assert msg["Message-ID"] == "<out-5.abc@example.com>"
    assert msg["Date"].datetime == BASE.date
    for absent in ("In-Reply-To", "References", "Reply-To", "Content-Language"):
        assert msg[absent] is None


def test_non_ascii_names_and_subject() -> None:
    out = replace(
        BASE,
        from_name="Служба поддержки",
        to=[Address("jurgen@customer.example", "Jürgen Groß"), Address("ivan@customer.example", "Иван, Петров")],
        subject="[#5] Вопрос № 5: не работает корзина",
    )
    msg = roundtrip(out)
    [sender] = msg["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Служба поддержки", "support@example.com")
    assert [(a.display_name, a.addr_spec) for a in msg["To"].addresses] == [
        ("Jürgen Groß", "jurgen@customer.example"),
        ("Иван, Петров", "ivan@customer.example"),
    ]
    assert msg["Subject"] == "[#5] Вопрос № 5: не работает корзина"
    assert not msg.defects and not msg["From"].defects and not msg["To"].defects


def test_recipient_without_a_name() -> None:
    msg = roundtrip(replace(BASE, to=[Address("bob@customer.example")]))
    assert msg["To"] == "bob@customer.example"


def test_threading_headers_in_angle_brackets() -> None:
    msg = roundtrip(replace(BASE, in_reply_to="c-2@customer.example", references=["c-1@customer.example"]))
    assert msg["In-Reply-To"] == "<c-2@customer.example>"
    assert msg["References"] == "<c-1@customer.example> <c-2@customer.example>"


def test_in_reply_to_appears_once_in_references() -> None:
    msg = roundtrip(
        replace(BASE, in_reply_to="c-2@customer.example", references=["c-1@customer.example", "c-2@customer.example", "c-1@customer.example"])
    )
    assert msg["References"].split() == ["<c-1@customer.example>", "<c-2@customer.example>"]


def test_in_reply_to_alone_becomes_references() -> None:
    msg = roundtrip(replace(BASE, in_reply_to="c-1@customer.example"))
    assert msg["References"] == "<c-1@customer.example>"


def test_long_references_are_trimmed_to_twenty_keeping_the_root() -> None:
    refs = [f"r{i}@customer.example" for i in range(30)]
    msg = roundtrip(replace(BASE, in_reply_to="last@customer.example", references=refs))
    kept = msg["References"].split()
    assert len(kept) == 20
    assert kept[0] == "<r0@customer.example>"
    assert kept[-1] == "<last@customer.example>"
    assert kept[1:-1] == [f"<r{i}@customer.example>" for i in range(12, 30)]


def test_reply_to() -> None:
    msg = roundtrip(replace(BASE, from_name="Поддержка", reply_to="support+t5.sig@example.com"))
    [addr] = msg["Reply-To"].addresses
    assert (addr.display_name, addr.addr_spec) == ("Поддержка", "support+t5.sig@example.com")


@pytest.mark.parametrize("kind", ["auto-replied", "auto-generated"])
def test_auto_submitted_markers(kind: str) -> None:
    msg = roundtrip(replace(BASE, auto_submitted=kind))
    assert msg["Auto-Submitted"] == kind
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Precedence"] == "auto_reply"


def test_no_auto_markers_for_a_person_s_reply() -> None:
    msg = roundtrip(BASE)
    assert msg["Auto-Submitted"] is None
    assert msg["X-Auto-Response-Suppress"] is None
    assert msg["Precedence"] is None


def test_loop_header_always_set() -> None:
    assert roundtrip(BASE)[LOOP_HEADER] == "support@example.com"
    assert roundtrip(replace(BASE, auto_submitted="auto-replied"))[LOOP_HEADER] == "support@example.com"


def test_content_language() -> None:
    msg = roundtrip(replace(BASE, language="ru"))
    assert msg["Content-Language"] == "ru"


def test_crlf_line_endings_only() -> None:
    raw = compose(replace(BASE, body="Строка один\nСтрока два\n", attachments=[("a.txt", "text/plain", b"x\ny\n")]))
    assert b"\r\n" in raw
    assert raw.count(b"\n") == raw.count(b"\r\n")
    assert b"\r\r" not in raw


@pytest.mark.parametrize(
    "body",
    [
        "Здравствуйте, Иван!\n\nВаше обращение зарегистрировано под номером #5.\n",
        "ASCII only.\n",
        "Grüße aus Köln — €\n" + "длинная строка " * 40 + "\n",
    ],
)
def test_body_round_trips(body: str) -> None:
    msg = roundtrip(replace(BASE, body=body))
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    assert part.get_content_type() == "text/plain" and part.get_content_charset() == "utf-8"
    assert part.get_content().replace("\r\n", "\n") == body


def test_attachments_round_trip() -> None:
    pdf = b"%PDF-1.7\x00\xff\xfe binary \r\n stuff"
    out = replace(
        BASE,
        body="Siehe Anhang.\n",
        language="de",
        attachments=[("Rechnung März.pdf", "application/pdf", pdf), ("log.txt", "text/plain", b"line 1\nline 2\n"), ("blob", "", b"\x01\x02")],
    )
    msg = roundtrip(out)
    assert msg.get_content_type() == "multipart/mixed"
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content().replace("\r\n", "\n") == "Siehe Anhang.\n"
    assert msg["Content-Language"] == "de"  # it describes the whole message
    found = [(p.get_filename(), p.get_content_type(), p.get_payload(decode=True)) for p in msg.iter_attachments()]
    assert found[0] == ("Rechnung März.pdf", "application/pdf", pdf)
    assert found[1][:2] == ("log.txt", "text/plain")
    assert found[1][2].replace(b"\r\n", b"\n") == b"line 1\nline 2\n"
    assert found[2] == ("blob", "application/octet-stream", b"\x01\x02")
