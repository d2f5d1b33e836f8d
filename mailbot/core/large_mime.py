"""Read a message larger than max_message_bytes part by part, without the stdlib parser's copies.

The stdlib parser splits a message into lines and joins them again per part: five or more times the
message's size in memory. Here the MIME tree is found by searching the bytes for boundaries, each part's
headers are parsed on their own, and a part's body stays a view into the original bytes until it is
decoded, once, when it is read: peak memory is the message plus its decoded files.
"""

from __future__ import annotations

import binascii
import re
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_HEADERS = BytesHeaderParser(policy=compat32)


class SlicedPart(Message):
    """A leaf part whose body is a view into the raw message, decoded only when asked for."""

    body: memoryview

    def get_payload(self, i: Any = None, decode: bool = False) -> Any:
        if self.is_multipart():
            return super().get_payload(i, decode)  # type: ignore[call-overload]
        view = getattr(self, "body", memoryview(b""))
        if not decode:
            return bytes(view).decode("ascii", "surrogateescape")
        cte = str(self.get("content-transfer-encoding", "")).strip().lower()
        try:
            if cte == "base64":
                return binascii.a2b_base64(view)
            if cte == "quoted-printable":
                return binascii.a2b_qp(view)
        except (binascii.Error, ValueError):
            pass
        return bytes(view)


def _split_headers(raw: memoryview, start: int, end: int) -> tuple[SlicedPart, int]:
    chunk = bytes(raw[start:min(end, start + 256 * 1024)])
    m = _HEADER_END.search(chunk)
    if chunk.startswith((b"\r\n", b"\n")):
        head_len, body_at = 0, start + (2 if chunk.startswith(b"\r\n") else 1)
    elif m is None:
        head_len, body_at = len(chunk), start + len(chunk)
    else:
        head_len, body_at = m.start(), start + m.end()
    part = _HEADERS.parsebytes(chunk[:head_len], headersonly=True)
    sliced = SlicedPart(policy=compat32)
    for key, value in part.raw_items():
        sliced[key] = value
    return sliced, body_at


def _boundaries(raw: bytes, delim: bytes, start: int, end: int) -> list[tuple[int, int, bool]]:
    """(line start, line end, is the closing delimiter) of each boundary line in raw[start:end]."""
    found = []
    pos = start
    while True:
        at = raw.find(delim, pos, end)
        if at < 0:
            break
        if at == start or raw[at - 1:at] == b"\n":
            line_end = raw.find(b"\n", at, end)
            line_end = end if line_end < 0 else line_end + 1
            closing = raw[at + len(delim):at + len(delim) + 2] == b"--"
            found.append((at, line_end, closing))
            if closing:
                break
            pos = line_end
        else:
            pos = at + len(delim)
    return found


def _fill(part: SlicedPart, raw: bytes, view: memoryview, start: int, end: int, depth: int, budget: list[int]) -> None:
    boundary = part.get_boundary() if part.get_content_maintype() == "multipart" else None
    lines = _boundaries(raw, b"--" + boundary.encode("ascii", "replace"), start, end) if boundary else []
    if not lines or depth > 50:
        part.body = view[start:end]
        return
    part.set_payload([])
    for (_, body_start, closing), nxt in zip(lines, lines[1:] + [(end, end, True)]):
        if closing or budget[0] <= 0:
            break
        budget[0] -= 1
        stop = nxt[0]
        # the line break before a boundary belongs to the boundary
        if raw[stop - 2:stop] == b"\r\n":
            stop -= 2
        elif raw[stop - 1:stop] == b"\n":
            stop -= 1
        sub, body_at = _split_headers(view, body_start, stop)
        _fill(sub, raw, view, body_at, max(body_at, stop), depth + 1, budget)
        part.attach(sub)


def parse_large(raw: bytes, max_parts: int) -> Message:
    """The MIME tree of `raw`, with at most `max_parts` parts, bodies left in place."""
    view = memoryview(raw)
    top, body_at = _split_headers(view, 0, len(raw))
    _fill(top, raw, view, body_at, len(raw), 0, [max_parts * 2])
    return top
