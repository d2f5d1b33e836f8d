"""Strict sender parsing: refuse rather than guess."""

from __future__ import annotations

import pytest

from mailbot.core.addresses import parse_list, parse_single, valid_addr_spec


@pytest.mark.parametrize(
    "value, addr",
    [
        ("John <J@X.example>", "j@x.example"),
        ('"Doe, John" <j@x.example>', "j@x.example"),
        ("j@x.example (John)", "j@x.example"),
        ("=?utf-8?q?J=C3=B6rg?= <jorg@x.example>", "jorg@x.example"),
        ('"alice@bank.example" <evil@x.example>', "evil@x.example"),
    ],
)
def test_good_senders(value: str, addr: str) -> None:
    sender, problem = parse_single(value)
    assert problem is None and sender is not None and sender.addr == addr


@pytest.mark.parametrize(
    "value",
    [
        "Doe, John <j@x.example>",
        "alice@bank.example <evil@x.example>",
        "bob@@x..example",
        "John Smith",
        "a@b.example, c@d.example",
        "undisclosed-recipients:;",
        "",
        "x@-bad.example",
        "a@[1.2.3.4]",
    ],
)
def test_refused_senders(value: str) -> None:
    sender, problem = parse_single(value)
    assert sender is None and problem


def test_lists() -> None:
    found, problem = parse_list("a@b.example, C <c@d.example>")
    assert problem is None and [a.addr for a in found] == ["a@b.example", "c@d.example"]
    assert valid_addr_spec('"quoted local"@x.example')
    assert not valid_addr_spec("no-at-sign")
