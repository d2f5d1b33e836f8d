"""Parsing real message shapes into InboundMail, including every known mail-parser trap."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from mailbot.parse import MalformedMail, message_ids, parse_mail
from tests.conftest import data


def test_plain_message_fields() -> None:
    mail = parse_mail(data("plain.eml"))
    assert mail.message_id == "plain-1@customer.example"
    assert mail.sender is not None and mail.sender.addr == "alice@customer.example"
    assert mail.sender.name == "Alice Customer"
    assert mail.subject == "Checkout page shows a blank screen"
    assert "checkout page is blank" in mail.text
    assert mail.html is None
    assert mail.date == datetime(2026, 3, 2, 8, 30, tzinfo=timezone.utc)
    assert [a.addr for a in mail.to] == ["support@example.com"]
    assert mail.return_path == "<alice@customer.example>"


def test_folded_subject_is_unfolded() -> None:
    # mail-parser returns the subject with its CRLF and indentation still in it.
    mail = parse_mail(data("folded-subject.eml"))
    assert mail.subject == "This subject is long enough that the sending client folded it onto a second line and a third one"


def test_forwarded_message_is_an_attachment_and_not_body() -> None:
    # mail-parser leaves message/rfc822 parts out of its attachments and spills their text into the body.
    mail = parse_mail(data("forwarded-rfc822.eml"))
    assert mail.text.strip() == "Please see the forwarded message."
    assert "INNER BODY" not in mail.text
    [part] = mail.parts
    assert part.content_type == "message/rfc822"
    assert part.filename == "Invoice 2026-17.eml"
    assert b"INNER BODY TEXT" in part.payload and b"Message-ID: <inner-1@elsewhere.example>" in part.payload


def test_7bit_iso_2022_jp_body_is_decoded() -> None:
    # mail-parser returns a 7bit ISO-2022-JP body still escaped.
    mail = parse_mail(data("iso-2022-jp.eml"))
    assert mail.text.strip() == "お世話になっております。ログインできません。"
    assert "\x1b" not in mail.text
    assert mail.subject == "ログインできません"
    assert mail.sender is not None and mail.sender.name == "山田"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("koi8r-8bit.eml", "Здравствуйте! После обновления не работает корзина. Ошибка 500."),
        ("cp1251-8bit.eml", "Здравствуйте! После обновления не работает корзина. Ошибка 500."),
        ("iso8859-15-8bit.eml", "Grüße aus Köln - die Größe der Bilder stimmt nicht. Euro: €"),
    ],
)
def test_8bit_legacy_charsets_give_the_right_text(name: str, expected: str) -> None:
    mail = parse_mail(data(name))
    assert mail.text.strip() == expected
    assert "\ufffd" not in mail.text


def test_legacy_charset_headers() -> None:
    assert parse_mail(data("koi8r-8bit.eml")).subject == "Помогите"
    assert parse_mail(data("cp1251-8bit.eml")).subject == "Помогите"
    latin = parse_mail(data("iso8859-15-8bit.eml"))
    assert latin.subject == "Bildgröße falsch"
    assert latin.sender is not None and latin.sender.name == "Jürgen"


def test_quoted_printable_and_rfc2047_subject() -> None:
    mail = parse_mail(data("quoted-printable.eml"))
    assert mail.subject == "Problème de paiement"
    assert "soixante-seize caractères." in mail.text
    assert "=\n" not in mail.text


def test_html_only_keeps_html_and_derives_text() -> None:
    mail = parse_mail(data("html-only.eml"))
    assert mail.html is not None and "<b>support</b>" in mail.html
    assert "Hello support," in mail.text
    assert "step one" in mail.text and "step two" in mail.text
    assert "<" not in mail.text


def test_attachments_inline_images_and_encoded_names() -> None:
    mail = parse_mail(data("attachments.eml"))
    assert mail.text.strip() == "See the screenshot below."
    assert mail.html is not None and "cid:shot1@customer.example" in mail.html
    by_name = {p.filename: p for p in mail.parts}
    image = by_name["part-1.png"]
    assert image.disposition == "inline" and image.content_id == "shot1@customer.example"
    assert image.payload.startswith(b"\x89PNG")
    pdf = by_name["Rechnung März.pdf"]  # RFC 2047 inside a parameter, as many clients write it
    assert pdf.payload.startswith(b"%PDF") and b"\x00\x01\x02\xff" in pdf.payload
    assert "отчёт по ошибке.txt" in by_name  # RFC 2231 continuation with UTF-8
    assert by_name["отчёт по ошибке.txt"].payload.decode() == "лог ошибки\n"
    # A hostile name is kept only as a label, with no path separators.
    assert ".._.._etc_passwd" in by_name


def test_display_name_that_looks_like_an_address_is_refused() -> None:
    # A lenient parser would take alice@customer.example from the display name.
    mail = parse_mail(data("spoofed-display-name.eml"))
    assert mail.sender is None
    assert mail.sender_problem is not None and "malformed" in mail.sender_problem


def test_quoted_display_name_with_address_is_fine() -> None:
    raw = b'From: "alice@customer.example" <mallory@attacker.example>\nSubject: x\n\nhi\n'
    mail = parse_mail(raw)
    assert mail.sender is not None and mail.sender.addr == "mallory@attacker.example"


def test_unquoted_comma_in_the_name_is_repaired_not_refused() -> None:
    raw = b"From: Doe, John <john@customer.example>\nSender: other@customer.example\nSubject: x\n\nhi\n"
    mail = parse_mail(raw)
    assert mail.sender is not None and mail.sender.addr == "john@customer.example" and mail.sender.name == "Doe, John"
    assert mail.sender_origin == "repaired"
    assert mail.sender_problem and "repaired" in mail.sender_problem


def test_unparseable_from_falls_back_to_sender_header() -> None:
    raw = b"From: a@customer.example, b@customer.example\nSender: john@customer.example\nSubject: x\n\nhi\n"
    mail = parse_mail(raw)
    assert mail.sender is not None and mail.sender.addr == "john@customer.example"
    assert mail.sender_origin == "sender"
    assert mail.sender_problem and "Sender" in mail.sender_problem


def test_message_id_lists() -> None:
    assert message_ids("<a@b> <c@d>\n <e@f>") == ("a@b", "c@d", "e@f")
    assert message_ids("a@b") == ("a@b",)
    assert message_ids("") == ()
    mail = parse_mail(b"From: a@b.example\nIn-Reply-To: <x@y>\nReferences: <r1@y>\n <x@y>\n\nhi\n")
    assert mail.thread_ids == ["x@y", "r1@y"]


def test_garbage_still_parses_to_something() -> None:
    mail = parse_mail(b"\x00\xff\xfe not a mail at all")
    assert mail.sender is None
    assert "\x00" not in mail.text


def test_deeply_nested_multipart_is_malformed_not_a_crash() -> None:
    depth = 3000
    raw = b"From: a@b.example\nSubject: nest\n"
    for i in range(depth):
        raw += f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n'.encode()
    raw += b"Content-Type: text/plain\n\nx\n"
    with pytest.raises(MalformedMail, match="nesting too deep"):
        parse_mail(raw)
