"""Crafted hostile messages, one per kind of input that once made processing super-linear (tests and bench share them)."""

from __future__ import annotations

from collections.abc import Callable
from email.utils import format_datetime
from datetime import datetime, timezone



def _mail(ident: str, subject: str, body: str, sender: str = "mallory@attacker.test", extra: str = "") -> bytes:
    head = (
        f"From: Mallory <{sender}>\r\nTo: support@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <{ident}@attacker.test>\r\nDate: {format_datetime(datetime.now(timezone.utc))}\r\n{extra}"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return head.encode() + body.encode("utf-8")


def digit_line(ident: str = "digits") -> bytes:
    """One 100 KB line of digits (quote stripping once ran for minutes on it)."""
    return _mail(ident, "Order numbers", "Please check these:\r\n" + "7" * 100_000 + "\r\n")


def long_word(ident: str = "long-word") -> bytes:
    """A body of one long word plus five words: a pattern like `\\A\\W*(\\w+\\W*){0,4}\\Z` backtracks on it."""
    return _mail(ident, "Hello", "a" * 1000 + " b c d e f!\r\n")


def login_repeated(ident: str = "logins") -> bytes:
    """`login:` 60,000 times (credential detection once backtracked on it)."""
    return _mail(ident, "Access", "login:" * 60_000 + "\r\n")


def huge_subject(ident: str = "subject") -> bytes:
    """A 1 MB one-word Subject, folded nowhere (language detection once took minutes on it)."""
    return _mail(ident, "x" * 1_000_000, "Hi, see the subject.\r\n")


def many_references(ident: str = "references") -> bytes:
    """40,000 Message-IDs in References (threading once looked each of them up)."""
    refs = "\r\n ".join(f"<ref{i}.{'z' * 20}@attacker.test>" for i in range(40_000))
    return _mail(ident, "Re: thread", "Following up.\r\n", extra=f"In-Reply-To: <ref39999.{'z' * 20}@attacker.test>\r\nReferences: {refs}\r\n")


def quotes_in_from(ident: str = "quotes-in-from") -> bytes:
    """A From header of 100,000 double quotes (the standard library's strict address parser is quadratic on it)."""
    return _mail(ident, "Hello", "Who am I?\r\n", sender="x@attacker.test").replace(
        b"From: Mallory <x@attacker.test>", b"From: " + b'"' * 100_000, 1
    )


KINDS: dict[str, Callable[[str], bytes]] = {
    "digit-line": digit_line,
    "long-word": long_word,
    "login-repeated": login_repeated,
    "huge-subject": huge_subject,
    "many-references": many_references,
    "quotes-in-from": quotes_in_from,
}

# A preset-style rule that backtracks catastrophically under `re` on `long_word` (the license-age "unclear" shape).
BACKTRACKING_RULE = r"\A\W*(\w+\W*){0,4}\Z"


def ordinary(ident: str, sender: str = "carol@customer.test") -> bytes:
    """An ordinary customer question, to send beside a hostile one."""
    return _mail(ident, "Cannot log in to the admin panel", "Hello, since yesterday I cannot log in. What should I do?\r\n", sender=sender)
