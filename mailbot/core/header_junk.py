"""Find where a message's headers really start when junk lines come first ("---- Original message ----",
an mbox `From ` or `>From ` line, blank lines): skipped only when real header lines follow."""

from __future__ import annotations

import re
from dataclasses import dataclass

_FIELD = re.compile(rb"^[!-9;-~]{1,76}:")
_KNOWN = re.compile(
    rb"^(from|to|cc|subject|date|message-id|received|return-path|mime-version|content-type|reply-to|sender|"
    rb"delivered-to|x-[a-z0-9-]+|in-reply-to|references|dkim-signature|authentication-results|arc-[a-z-]+):",
    re.IGNORECASE,
)
MAX_JUNK_LINES = 8
_NEEDED_HEADERS = 2


@dataclass(frozen=True)
class HeaderStart:
    offset: int  # bytes to skip
    skipped: tuple[str, ...]  # the lines skipped, for the record

    @property
    def note(self) -> str:
        shown = ", ".join(repr(s[:60]) for s in self.skipped[:3])
        return f"{len(self.skipped)} line(s) before the headers skipped: {shown}"


def _lines(raw: bytes, limit: int) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(raw) and len(out) < limit:
        end = raw.find(b"\n", pos)
        end = len(raw) if end < 0 else end + 1
        out.append((pos, raw[pos:end]))
        pos = end
    return out


def _headers_follow(lines: list[tuple[int, bytes]], start: int) -> bool:
    known = 0
    for _, line in lines[start:start + 12]:
        if line[:1] in (b" ", b"\t") and known:
            continue  # a folded line
        if not _FIELD.match(line):
            break
        if _KNOWN.match(line):
            known += 1
    return known >= _NEEDED_HEADERS


def header_start(raw: bytes) -> HeaderStart | None:
    """Where the headers start, if junk lines come before them; None when the message starts with a header
    (the usual case) or when no headers follow the junk (then there is nothing better to read)."""
    head = raw[:200]
    if _FIELD.match(head) and not head.startswith((b"From ", b">From ")):
        return None
    lines = _lines(raw, MAX_JUNK_LINES + 14)
    for i in range(1, min(MAX_JUNK_LINES, len(lines)) + 1):
        if i < len(lines) and _FIELD.match(lines[i][1]) and _headers_follow(lines, i):
            skipped = tuple(line.decode("utf-8", "replace").rstrip("\r\n") for _, line in lines[:i])
            return HeaderStart(lines[i][0], skipped)
    return None
