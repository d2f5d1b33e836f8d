"""Bounded input and linear-time detectors: what the analysis of a message reads, and that no crafted message
makes it run long (each limit here is generous: the same messages once took minutes)."""

from __future__ import annotations

import time

import pytest

from mailbot.core.credentials import find as find_credentials
from mailbot.core.mail_analysis import InputLimits, analyze, bounded
from mailbot.core.subject import strip_prefixes
from mailbot.parse import parse_mail
from mailbot.policy.conditions import regex
from tests.support.hostile_messages import BACKTRACKING_RULE, KINDS, long_word, many_references, ordinary

GENEROUS_SECONDS = 10.0


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_hostile_kind_is_analysed_quickly(kind: str) -> None:
    raw = KINDS[kind](kind)
    started = time.monotonic()
    analysis = analyze(parse_mail(raw), InputLimits(), "en")
    assert analysis.language  # guessed here at the latest (a reply's is left for when it is needed)
    assert time.monotonic() - started < GENEROUS_SECONDS


def test_the_detectors_see_bounded_input_and_the_whole_message_is_kept() -> None:
    whole = parse_mail(many_references())
    limits = InputLimits(body_chars=5, subject_chars=4, header_chars=100, references=3)
    view, cut = bounded(whole, limits)
    assert set(cut) == {"body", "subject", "headers", "references"}
    assert view.text == whole.text[:5] and view.subject == whole.subject[:4]
    assert view.references == whole.references[-3:]  # the newest: the ones that thread
    assert all(len(value) <= 100 for _, value in view.headers)
    assert len(whole.references) == 40_000 and len(whole.text) > 5  # the parsed message is untouched
    assert view.parts == whole.parts


def test_an_ordinary_message_is_not_cut() -> None:
    mail = parse_mail(ordinary("plain"))
    analysis = analyze(mail, InputLimits(), "en")
    assert analysis.mail is mail and analysis.truncated == ()
    assert analysis.language == "en" and analysis.new_text.startswith("Hello, since yesterday")
    assert analysis.credentials is None


GERMAN = "Hallo, seit dem letzten Update stürzt das Programm jedes Mal ab, wenn ich die Einstellungen öffne."


def test_a_new_message_has_its_language_guessed_ahead_and_a_reply_on_first_use() -> None:
    new = ordinary("language").replace(b"Hello, since yesterday", GERMAN.encode() + b"\r\n\r\nHello, since yesterday")
    ahead = analyze(parse_mail(new), InputLimits(), "en")
    assert ahead.detected_language == "de" and ahead.language == "de"
    reply = new.replace(b"Subject:", b"In-Reply-To: <ack-1@support.example.com>\r\nSubject:", 1)
    later = analyze(parse_mail(reply), InputLimits(), "en")
    assert later.detected_language is None  # the ticket it answers has a language: nothing spent on it ahead
    assert later.language == "de"  # the same guess, should it open a ticket after all
    tagged = new.replace(b"Subject: ", b"Subject: [#12] ", 1)
    assert tagged != new
    by_tag = analyze(parse_mail(tagged), InputLimits(), "en")
    assert by_tag.detected_language is None and by_tag.language == "de"  # a tag names a ticket too (a stranger's opens one)


def test_the_analysis_finds_credentials_and_the_new_text() -> None:
    raw = ordinary("creds").replace(b"What should I do?", b"FTP login: admin / s3cretpass\r\n\r\nOn Monday Bob wrote:\r\n> old")
    analysis = analyze(parse_mail(raw), InputLimits(), "en")
    assert analysis.credentials is not None and analysis.credentials.secrets == ("s3cretpass",)
    assert "> old" not in analysis.new_text


def test_credential_detection_on_login_repeated_is_linear() -> None:
    started = time.monotonic()
    assert find_credentials("login:" * 60_000) is None
    assert find_credentials("login: admin / hunter22\n" * 2_000) is not None
    assert time.monotonic() - started < GENEROUS_SECONDS


def test_thousands_of_reply_prefixes_are_stripped_in_one_pass() -> None:
    started = time.monotonic()
    assert strip_prefixes("Re: " * 100_000 + "Hello") == "Hello"
    assert time.monotonic() - started < GENEROUS_SECONDS


def test_a_rule_pattern_that_backtracks_under_re_runs_in_linear_time() -> None:
    pattern = regex(BACKTRACKING_RULE)
    text = parse_mail(long_word()).text
    started = time.monotonic()
    assert pattern.search(text) is None
    assert pattern.search("just three words") is not None
    assert time.monotonic() - started < GENEROUS_SECONDS


@pytest.mark.parametrize("pattern", [r"(?=a)b", r"(a)\1", r"(?<!x)y"])
def test_a_rule_pattern_the_linear_engine_cannot_take_is_refused_with_the_reason(pattern: str) -> None:
    with pytest.raises(ValueError, match="not supported"):
        regex(pattern)


def test_an_overlong_address_header_is_refused_unparsed() -> None:
    from mailbot.core.addresses import MAX_HEADER_CHARS, parse_single

    started = time.monotonic()
    sender, problem = parse_single('"' * 1_000_000)
    assert time.monotonic() - started < GENEROUS_SECONDS
    assert sender is None and problem is not None and f"longer than {MAX_HEADER_CHARS:,}" in problem and len(problem) < 500


def test_the_token_candidates_are_the_subaddresses_of_every_recipient_header() -> None:
    raw = ordinary("tokens").replace(
        b"Subject:",
        b"To: Support <support+t1.x-abc@example.com>, carol@customer.test\r\nCc: \"x\" <bob+news@customer.test>\r\n"
        b"Delivered-To: support+b2-def@example.com\r\nX-Original-To: broken <<support+t3-ghi@example.com\r\nSubject:",
        1,
    )
    analysis = analyze(parse_mail(raw), InputLimits(), "en")
    assert analysis.token_candidates == (
        "support+t1.x-abc@example.com", "bob+news@customer.test", "support+b2-def@example.com", "support+t3-ghi@example.com",
    )
