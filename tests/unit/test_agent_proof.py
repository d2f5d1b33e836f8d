"""Whether a message counts as an agent's: token, From and our own Authentication-Results."""

from __future__ import annotations

import pytest

from mailbot.core.agents import Agent, Directory, authenticated, identify
from mailbot.core.tokens import ReplyToken
from mailbot.parse import parse_mail

BOB = Agent("bob@vendor.example", "Bob", ("support",))
DIRECTORY = Directory((BOB,))
TOKEN = ReplyToken("a", 7, BOB.key)


def mail(sender: str = "bob@vendor.example", *headers: str):  # type: ignore[no-untyped-def]
    lines = [f"From: {sender}", "To: support@example.com", "Subject: Re: x", *headers]
    return parse_mail(("\r\n".join(lines) + "\r\n\r\nhi\r\n").encode())


@pytest.mark.parametrize(
    "header, ok",
    [
        ("Authentication-Results: mx.test; dkim=pass header.d=vendor.example", True),
        ("Authentication-Results: mx.test; dkim=pass header.d=mail.vendor.example", True),
        ("Authentication-Results: mx.test; dkim=none; dmarc=pass header.from=vendor.example", True),
        ("Authentication-Results: MX.TEST; dkim=pass header.d=vendor.example", True),
        ("Authentication-Results: mx.test; dkim=pass header.d=esp.example", False),
        ("Authentication-Results: mx.test; dkim=fail header.d=vendor.example; dmarc=fail", False),
        ("Authentication-Results: mx.other; dkim=pass header.d=vendor.example", False),
        ("Authentication-Results: this is ;; not parseable", False),
    ],
)
def test_authentication_results_from_our_server_only(header: str, ok: bool) -> None:
    assert authenticated(mail("bob@vendor.example", header), "mx.test")[0] is ok


def test_only_the_top_most_header_of_ours_counts() -> None:
    # A sender can put a header with our authserv-id below the one our server adds; it must not count.
    m = mail(
        "bob@vendor.example",
        "Authentication-Results: mx.test; dkim=fail header.d=vendor.example",
        "Authentication-Results: mx.test; dkim=pass header.d=vendor.example",
    )
    assert authenticated(m, "mx.test")[0] is False


def test_identify() -> None:
    good = mail("bob@vendor.example", "Authentication-Results: mx.test; dkim=pass header.d=vendor.example")
    assert identify(good, TOKEN, DIRECTORY, "mx.test", True).agent == BOB
    assert identify(good, None, DIRECTORY, "mx.test", True).agent is None
    assert identify(good, ReplyToken("t", 7), DIRECTORY, "mx.test", True).agent is None
    assert identify(good, ReplyToken("a", 7, "otherkey00"), DIRECTORY, "mx.test", True).agent is None
    stranger = mail("eve@attacker.example", "Authentication-Results: mx.test; dkim=pass header.d=attacker.example")
    assert "not by the agent" in identify(stranger, TOKEN, DIRECTORY, "mx.test", True).reason
    unauthenticated = mail("bob@vendor.example")
    assert identify(unauthenticated, TOKEN, DIRECTORY, "mx.test", True).agent is None
    assert identify(unauthenticated, TOKEN, DIRECTORY, "mx.test", False).agent == BOB
