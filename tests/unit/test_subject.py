"""Subject prefixes in many languages, tags, unfolding."""

from __future__ import annotations

import pytest

from mailbot.core.subject import strip_prefixes, tagged, ticket_tags, unfold


@pytest.mark.parametrize(
    "subject, expected",
    [
        ("Re: Hello", "Hello"),
        ("RE: Hello", "Hello"),
        ("Fwd: Hello", "Hello"),
        ("FW: Hello", "Hello"),
        ("AW: Hello", "Hello"),
        ("WG: Hello", "Hello"),
        ("SV: Hello", "Hello"),
        ("VS: Hello", "Hello"),
        ("Antw: Hello", "Hello"),
        ("TR: RE: Hello", "Hello"),
        ("回复：你好", "你好"),
        ("回复: 你好", "你好"),
        ("Re: AW: Fwd: WG: SV: Hello", "Hello"),
        ("Re[2]: Hello", "Hello"),
        ("Re: [#1042] Re: Hello", "Hello"),
        ("[#1042] Hello", "Hello"),
        ("Отв: Привет", "Привет"),
        ("Reply needed", "Reply needed"),
        ("Recall: Hello", "Recall: Hello"),
        ("Re:Re:Re:x", "x"),
        ("  Re:   spaced   out  ", "spaced out"),
    ],
)
def test_strip_prefixes(subject: str, expected: str) -> None:
    assert strip_prefixes(subject) == expected


def test_tags() -> None:
    assert ticket_tags("Re: [#1042] Hello") == [1042]
    assert ticket_tags("[#1] and [#2]") == [1, 2]
    assert ticket_tags("#1042 without brackets") == []
    assert tagged("Re: [#7] Hello", 7) == "[#7] Hello"
    assert tagged("Re: Hello", 8) == "[#8] Hello"


def test_unfold() -> None:
    assert unfold("a\r\n b\n\tc") == "a b c"
