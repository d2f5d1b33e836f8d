"""Passwords hidden in URLs, control characters escaped for a terminal, the umask, border-server warnings."""

from __future__ import annotations

import os
import time

import pytest

from mailbot.cli.border_checks import border_warnings
from mailbot.cli.main import restrict_umask
from mailbot.core.control_chars import escape_controls
from mailbot.core.url_passwords import hide_passwords
from mailbot.logs import _quote


@pytest.mark.parametrize(
    "text, shown",
    [
        ("postgresql+psycopg://bob:S3cret@db:5432/mailbot", "postgresql+psycopg://bob:***@db:5432/mailbot"),
        ("postgresql://bob:p@ss:w0rd@db/mailbot", "postgresql://bob:***@db/mailbot"),  # '@' inside the password
        ("postgresql://bob@db/x?sslmode=require&password=S3cret", "postgresql://bob@db/x?sslmode=require&password=***"),
        ("postgresql://bob@db/x?PASSWORD=S3cret", "postgresql://bob@db/x?PASSWORD=***"),
        ("host=db user=bob password=S3cret dbname=x", "host=db user=bob password=*** dbname=x"),
        ("error for postgresql://bob:S3cret@db:1:/x here", "error for postgresql://bob:***@db:1:/x here"),
        ("sqlite:////var/lib/mailbot/mailbot.db", "sqlite:////var/lib/mailbot/mailbot.db"),
        ("postgresql://bob@db/x", "postgresql://bob@db/x"),
        ("alice@customer.example wrote: key=value", "alice@customer.example wrote: key=value"),
    ],
)
def test_passwords_hidden(text: str, shown: str) -> None:
    assert hide_passwords(text) == shown


def test_hiding_is_linear_on_hostile_text() -> None:
    started = time.process_time()
    for text in ("a" * 200_000, "a://" + ":" * 200_000, "x://" + "a:" * 100_000, "password=" * 50_000):
        hide_passwords(text)
    assert time.process_time() - started < 5  # a backtracking pattern takes minutes here


@pytest.mark.parametrize(
    "text, shown",
    [
        ("plain text\n\twith tab", "plain text\n\twith tab"),
        ("\x1b]0;pwned\x07title", "\\x1b]0;pwned\\x07title"),
        ("\x1b[2Jclear", "\\x1b[2Jclear"),
        ("shown\rhidden", "shown\\rhidden"),
        ("crlf\r\nline", "crlf\nline"),
        ("\u202eevil\u202c", "\\u202eevil\\u202c"),
        ("c1 \x9b31m", "c1 \\x9b31m"),
        ("nul\x00 del\x7f", "nul\\x00 del\\x7f"),
        ("Привет, 世界 ✓", "Привет, 世界 ✓"),
    ],
)
def test_control_characters_escaped(text: str, shown: str) -> None:
    assert escape_controls(text) == shown


def test_log_values_escape_controls() -> None:
    assert _quote("subject \x1b[2J\nnext") == '"subject \\x1b[2J\\nnext"'


def test_umask_is_at_least_0027() -> None:
    before = os.umask(0)
    try:
        assert restrict_umask() == 0o027
        os.umask(0o077)
        assert restrict_umask() == 0o077  # a stricter one stays
    finally:
        os.umask(before)


OURS = "mx.vendor.example; dkim=pass header.d=customer.example"


def test_border_warnings() -> None:
    assert border_warnings([], "mx.vendor.example") == []
    assert border_warnings([[OURS], ["other.example; spf=pass"], [OURS]], "mx.vendor.example") == []
    [none] = border_warnings([["other.example; spf=pass"]], "mx.vendor.example")
    assert "none of the newest 1 messages" in none and "other.example" in none
    [doubled] = border_warnings([[OURS], [OURS, OURS]], "mx.vendor.example")
    assert "1 of the newest 2 messages carry more than one" in doubled
