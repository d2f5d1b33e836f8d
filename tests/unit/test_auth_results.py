"""Authentication-Results as real border servers write them: read leniently, trusted only from the top-most of ours."""

from __future__ import annotations

import pytest

from mailbot.core.agents import Agent, Directory, identify
from mailbot.core.auth_results import NO_AUTHSERV_ID, Unreadable, aligned, parse, verdict
from mailbot.core.tokens import ReplyToken
from mailbot.parse import parse_mail

# One header per server software, in the shape that software writes (folding, comments and all).
REAL = {
    "opendkim": (
        "mx.vendor.example; dkim=pass (2048-bit key; unprotected) header.d=vendor.example\r\n"
        "\theader.i=@vendor.example header.a=rsa-sha256 header.s=s2024 header.b=\"kX4m+Ob1\";\r\n"
        "\tdkim-atps=neutral"
    ),
    "opendmarc": "mx.vendor.example; dmarc=pass (p=reject dis=none) header.from=vendor.example",
    "rspamd": (
        "mx.vendor.example;\r\n\tdkim=pass header.d=vendor.example header.s=s2024 header.b=kX4m+Ob1;\r\n"
        "\tspf=pass (mx.vendor.example: domain of bob@vendor.example designates 198.51.100.7 as permitted sender)"
        " smtp.mailfrom=bob@vendor.example;\r\n\tdmarc=pass (policy=reject) header.from=vendor.example"
    ),
    "postfix-policyd-spf": (
        "mx.vendor.example; spf=pass (sender SPF authorized) smtp.mailfrom=vendor.example\r\n"
        " (client-ip=198.51.100.7; helo=mail.vendor.example; envelope-from=bob@vendor.example; receiver=<UNKNOWN>);"
        " dkim=pass header.d=vendor.example header.s=s2024"
    ),
    "exim": (
        "mx.vendor.example;\r\n\tiprev=pass (mail.vendor.example) smtp.remote-ip=198.51.100.7;\r\n"
        "\tspf=pass smtp.mailfrom=vendor.example;\r\n\tdkim=pass header.d=vendor.example header.s=s2024"
        " header.a=rsa-sha256;\r\n\tdmarc=pass header.from=vendor.example;\r\n\tarc=none"
    ),
    "plesk": (
        "mx.vendor.example;\r\n\tspf=pass (sender IP is 203.0.113.7) smtp.mailfrom=bob@vendor.example"
        " smtp.helo=[203.0.113.7];\r\n\tdkim=pass header.d=vendor.example header.s=default;\r\n"
        "\tdmarc=pass (p=NONE sp=NONE) smtp.from=vendor.example header.from=vendor.example"
    ),
    "microsoft-365": (
        "spf=pass (sender IP is 198.51.100.7)\r\n smtp.mailfrom=vendor.example; dkim=pass (signature was verified)\r\n"
        " header.d=vendor.example;dmarc=pass action=none\r\n header.from=vendor.example;compauth=pass reason=100"
    ),
}
SERVER = {name: NO_AUTHSERV_ID if name == "microsoft-365" else "mx.vendor.example" for name in REAL}

BOB = Agent("bob@vendor.example", "Bob", ("support",))
TOKEN = ReplyToken("a", 7, BOB.key)


def unfold(value: str) -> str:
    return value.replace("\r\n", "")


def mail(*headers: str, sender: str = "Bob <bob@vendor.example>", extra: str = ""):  # type: ignore[no-untyped-def]
    lines = [*(f"Authentication-Results: {h}" for h in headers), f"From: {sender}", "To: support@vendor.example", "Subject: Re: x"]
    return parse_mail(("\r\n".join(lines) + "\r\n" + extra + "\r\nhi\r\n").encode())


@pytest.mark.parametrize("software", sorted(REAL))
def test_each_servers_header_is_read_and_passes(software: str) -> None:
    header = parse(unfold(REAL[software]))
    assert header.authserv_id == SERVER[software]
    assert any(r.result == "pass" for r in header.results)
    # and through a whole message, folded as it arrived
    assert verdict([unfold(REAL[software])], SERVER[software], "vendor.example", "vendor.example").passed


def test_plesk_helo_literal_is_a_value_not_an_error() -> None:
    [spf, dkim, dmarc] = parse(unfold(REAL["plesk"])).results
    assert spf.get("smtp.helo") == "[203.0.113.7]" and dkim.get("header.d") == "vendor.example"
    assert dmarc.get("header.from") == "vendor.example"


def test_comments_with_semicolons_and_quoted_values_stay_whole() -> None:
    [dkim, atps] = parse(unfold(REAL["opendkim"])).results
    assert dkim.get("header.b") == "kX4m+Ob1" and dkim.get("header.d") == "vendor.example"
    assert atps.method == "dkim-atps"
    assert parse("mx.x; dkim=pass (a (nested; one) comment) header.d = x.org").results[0].get("header.d") == "x.org"
    assert parse("mx.x 1; none").results == ()


@pytest.mark.parametrize(
    "value",
    [
        "mx.vendor.example; dkim=pass header.d=vendor.example (unclosed comment",
        'mx.vendor.example; dkim=pass header.b="unclosed',
        "mx.vendor.example; dkim=pass header.d=vendor.example)",
        "mx.vendor.example; this is not a result; dkim=pass header.d=vendor.example",
        "mx.vendor.example extra words; dkim=pass header.d=vendor.example",
        "mx.vendor.example; =pass header.d=vendor.example",
        "mx.vendor.example; dkim=pass header.d=vendor.example " + "x" * 20_000,
    ],
)
def test_unreadable_headers_raise(value: str) -> None:
    with pytest.raises(Unreadable):
        parse(value)


@pytest.mark.parametrize(
    "value",
    [
        "mx.vendor.example; dkim=pass header.d=vendor.example (unclosed comment",
        "mx.vendor.example; garbage; dmarc=pass header.from=vendor.example",
    ],
)
def test_our_unreadable_header_fails_closed_even_with_a_forged_pass_below(value: str) -> None:
    forged = "mx.vendor.example; dkim=pass header.d=vendor.example; dmarc=pass header.from=vendor.example"
    v = verdict([value, forged], "mx.vendor.example", "vendor.example", "vendor.example")
    assert not v.passed and "cannot be read" in v.reason


def test_only_the_top_most_header_with_our_id_counts() -> None:
    ours_fail = "mx.vendor.example; dkim=fail header.d=vendor.example; dmarc=fail header.from=vendor.example"
    forged = "mx.vendor.example; dkim=pass header.d=vendor.example"
    other = "mx.elsewhere.example; dkim=pass header.d=vendor.example"
    assert not verdict([other, ours_fail, forged], "mx.vendor.example", "vendor.example", "vendor.example").passed
    assert not verdict([other], "mx.vendor.example", "vendor.example", "vendor.example").passed
    assert verdict([other, forged], "MX.Vendor.Example", "vendor.example", "vendor.example").passed


@pytest.mark.parametrize(
    "result, passed",
    [
        ("dmarc=pass header.from=vendor.example", True),
        ("dmarc=pass header.from=attacker.example", False),  # DMARC for another domain proves nothing about From
        ("dmarc=pass", False),  # which domain passed is not said
        ("dmarc=fail header.from=vendor.example", False),
        ("dkim=pass header.d=vendor.example", True),
        ("dkim=pass header.d=mail.vendor.example", True),  # relaxed alignment: the same organizational domain
        ("dkim=pass header.d=esp.example", False),
        ("dkim=pass header.d=example", False),  # a public suffix aligns with nothing
        ("dkim=pass", False),
        ("dkim=pass header.d=vendor.example.evil.example", False),
        ("spf=pass smtp.mailfrom=vendor.example", False),  # SPF alone is not proof of From
    ],
)
def test_what_a_pass_proves(result: str, passed: bool) -> None:
    assert verdict([f"mx.vendor.example; {result}"], "mx.vendor.example", "vendor.example", "vendor.example").passed is passed


def test_dmarc_must_be_for_the_agents_own_domain() -> None:
    header = ["mx.vendor.example; dmarc=pass header.from=partner.example"]
    assert not verdict(header, "mx.vendor.example", "partner.example", "vendor.example").passed


def test_alignment_uses_the_public_suffix_list() -> None:
    assert aligned("mail.vendor.co.uk", "vendor.co.uk")
    assert not aligned("other.co.uk", "vendor.co.uk")
    assert not aligned("co.uk", "vendor.co.uk")
    assert not aligned("alice.github.io", "bob.github.io")  # a private registry's suffix counts as public


def test_agent_identity_comes_from_from_alone() -> None:
    directory = Directory((BOB,))
    good = mail("mx.vendor.example; dkim=pass header.d=vendor.example")
    assert identify(good, TOKEN, directory, "mx.vendor.example", True).agent == BOB
    # From cannot be parsed strictly; Sender names the agent and the header passes: still no agent.
    spoof = mail("mx.vendor.example; dkim=pass header.d=vendor.example", sender="bob@vendor.example <eve@attacker.example>", extra="Sender: bob@vendor.example\r\n")
    assert spoof.sender_origin == "sender"
    proof = identify(spoof, TOKEN, directory, "mx.vendor.example", True)
    assert proof.agent is None and "From" in proof.reason
    assert identify(spoof, TOKEN, directory, "mx.vendor.example", False).agent is None


def test_microsoft_365_headers_match_only_the_no_id_setting() -> None:
    value = unfold(REAL["microsoft-365"])
    assert verdict([value], NO_AUTHSERV_ID, "vendor.example", "vendor.example").passed
    assert not verdict([value], "mx.vendor.example", "vendor.example", "vendor.example").passed
