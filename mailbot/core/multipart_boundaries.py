"""Multipart boundaries matched without compiling a regular expression for each message.

The standard library's parser compiles one pattern per multipart part it opens — the boundary, escaped, and a
fixed tail — and every boundary is unique, so the `re` cache never helps (and churns: the email package's own
patterns are pushed out of it). On the intake benchmark's mail, parse_mail took about a third longer with them.
The pattern only ever matches lines that start with the boundary, and after it the tail is always the same, so
one tail compiled once and matched at the boundary's end gives the same answers (the same `end`, `ws` and
`linesep` groups, which is all the parser reads). Only that exact pattern is answered here; any other `compile`
goes to `re` itself.
"""

from __future__ import annotations

import email.feedparser
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_HEAD = "(?P<sep>"
_TAIL_SOURCE = r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
_TAIL = re.compile(_TAIL_SOURCE[1:])
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)


class BoundaryMatcher:
    """`match(line)` of the parser's boundary pattern for one separator."""

    __slots__ = ("separator", "_start")

    def __init__(self, separator: str) -> None:
        self.separator = separator
        self._start = len(separator)

    def match(self, line: str) -> re.Match[str] | None:
        if not line.startswith(self.separator):
            return None
        return _TAIL.match(line, self._start)


class _BoundaryCompilingRe:
    """The `re` module as the standard library's feed parser sees it: `compile` of a boundary pattern gives a
    BoundaryMatcher, everything else is `re`'s own."""

    def compile(self, pattern: Any, flags: int = 0) -> Any:
        if flags == 0 and isinstance(pattern, str) and pattern.startswith(_HEAD) and pattern.endswith(_TAIL_SOURCE):
            escaped = pattern[len(_HEAD):-len(_TAIL_SOURCE)]
            separator = _UNESCAPE.sub(r"\1", escaped)
            if re.escape(separator) == escaped:  # exactly the literal the parser escaped, and nothing else
                return BoundaryMatcher(separator)
        return re.compile(pattern, flags)

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)


_SHIM = _BoundaryCompilingRe()


def install() -> None:
    """Give the standard library's feed parser the boundary matcher (idempotent; process-wide)."""
    email.feedparser.re = _SHIM  # type: ignore[attr-defined]


@contextmanager
def stock_parser() -> Iterator[None]:
    """The standard library's parser exactly as shipped, for the duration (benchmarks compare against it)."""
    installed = email.feedparser.re is _SHIM  # type: ignore[attr-defined]
    email.feedparser.re = re  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if installed:
            install()
