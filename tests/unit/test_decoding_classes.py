"""Every sample of every decoding class (tests/data/decoding/expected.toml) parses exactly as expected, and
the record of how it was decoded says what was done."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from bench.decoding import mismatches
from mailbot.core.parse_options import ParseOptions, fallbacks_for
from mailbot.parse import parse_mail
from tests.conftest import DATA

SAMPLES = DATA / "decoding"
EXPECTED = tomllib.loads((SAMPLES / "expected.toml").read_text(encoding="utf-8"))["message"]


def parsed(name: str, language: str = "en") -> Any:
    return parse_mail((SAMPLES / name).read_bytes(), ParseOptions(fallback_charsets=fallbacks_for(language)))


@pytest.mark.parametrize("exp", EXPECTED, ids=[e["file"] for e in EXPECTED])
def test_sample_decodes_exactly(exp: dict[str, Any]) -> None:
    mail = parsed(exp["file"], exp.get("language", "en"))
    assert mismatches(mail, exp) == []
    assert "\ufffd" not in mail.subject + mail.text
    assert "\x1b" not in mail.subject + mail.text


def test_every_class_has_samples() -> None:
    classes = {e["class"].split()[0] for e in EXPECTED}
    assert classes == {str(n) for n in range(1, 11)}


def test_the_charset_used_and_why_is_recorded() -> None:
    mail = parsed("short-cp1251-body.eml", "ru")
    assert any("cp1251" in note and "fallback" in note for note in mail.decoding), mail.decoding
    assert parsed("junk-original-message.eml").decoding[0].startswith("1 line(s) before the headers skipped")


def test_repaired_sender_is_marked_and_never_strict() -> None:
    for name in ("root-dot.eml", "name-without-brackets.eml", "stray-bracket.eml", "unquoted-comma.eml"):
        mail = parsed(name)
        assert mail.sender is not None and mail.sender_origin == "repaired", name
        assert mail.sender_problem and mail.sender_problem.startswith("address repaired"), name
    assert parsed("encoded-name-comma.eml").sender_origin == "from"


def test_short_undeclared_text_is_never_guessed_as_cjk_on_a_western_desk() -> None:
    mail = parsed("short-latin1-body.eml", "en")
    assert mail.text.strip() == "Grüße, Jürgen"


def test_uuencoded_file_is_an_attachment_with_its_bytes() -> None:
    mail = parsed("uuencoded.eml")
    [part] = mail.parts
    assert part.payload == bytes(range(256)) * 4 + b"report end"
    assert "begin 644" not in mail.text and "M  $" not in mail.text


def test_a_repaired_sender_never_proves_an_agent() -> None:
    from mailbot.core.agents import Agent, Directory, identify
    from mailbot.core.tokens import ReplyToken

    bob = Agent("bob@vendor.example", "Bob", ("support",))
    auth = "Authentication-Results: mx.test; dkim=pass header.d=vendor.example"
    for sender, agent in (("Bob <bob@vendor.example>", bob), ("Bob <bob@vendor.example.>", None), ("Bob bob@vendor.example", None)):
        raw = f"From: {sender}\r\nTo: support@example.com\r\n{auth}\r\nSubject: Re: x\r\n\r\nhi\r\n".encode()
        proof = identify(parse_mail(raw), ReplyToken("a", 7, bob.key), Directory((bob,)), "mx.test", True)
        assert proof.agent == agent, sender


def test_a_repaired_sender_meets_the_same_loop_checks() -> None:
    from mailbot.core.automatic import automatic_reasons

    own = parse_mail(b"From: Support <support@example.com.>\r\nSubject: x\r\n\r\nhi\r\n")
    assert own.sender_origin == "repaired"
    assert automatic_reasons(own, lambda a: a == "support@example.com", False) == ["sent from our own address support@example.com"]
    daemon = parse_mail(b"From: MAILER-DAEMON mailer-daemon@mx.example\r\nSubject: x\r\n\r\nhi\r\n")
    assert any("machine sender" in r for r in automatic_reasons(daemon, lambda a: False, False))


def test_the_charset_of_raw_header_bytes_is_recorded() -> None:
    assert parsed("short-koi8-subject.eml", "ru").decoding == ("Subject header: 8-bit bytes read as koi8-r (fallback charset)",)
    notes = parsed("8bit-header-latin1.eml").decoding
    assert "From header: 8-bit bytes read as cp1252 (charset the message declares)" in notes
