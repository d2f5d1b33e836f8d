"""Header text: RFC 2047 encoded words (adjacent ones joined), raw 8-bit bytes, and address lists parsed
for their structure before any display name is decoded (RFC 2047 section 5)."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from mailbot.core.charset_guess import decode_header_bytes, decode_text
from mailbot.core.subject import unfold

_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN = re.compile(r"[ \t\r\n]*")
_QP_HEX = re.compile(rb"=([0-9A-Fa-f]{2})")


@dataclass(frozen=True)
class HeaderCharsets:
    """What decoding a message's headers needs to know: the charsets it declares and the desk's fallbacks."""

    declared: tuple[str, ...] = ()
    fallbacks: tuple[str, ...] = ("cp1252",)


def raw_header_text(value: str, charsets: HeaderCharsets) -> tuple[str, str | None]:
    """A header as the stdlib hands it over (undeclared 8-bit bytes as surrogates) turned into text, and
    how its 8-bit bytes were read (None when it had none)."""
    try:
        value.encode("utf-8")
        return value, None
    except UnicodeEncodeError:
        data = value.encode("utf-8", "surrogateescape")
        decoded = decode_header_bytes(data, charsets.declared, charsets.fallbacks)
        return decoded.text, decoded.note


def raw_to_text(value: str, charsets: HeaderCharsets) -> str:
    """raw_header_text without the note."""
    return raw_header_text(value, charsets)[0]


def _word_bytes(encoding: str, payload: str) -> bytes | None:
    try:
        if encoding in "bB":
            padded = payload + "=" * (-len(payload) % 4)
            return base64.b64decode(padded.encode("ascii", "replace"))
        raw = payload.replace("_", " ").encode("ascii", "replace")
        return _QP_HEX.sub(lambda m: bytes((int(m.group(1), 16),)), raw)
    except (binascii.Error, ValueError):
        return None


def decode_words(text: str, charsets: HeaderCharsets = HeaderCharsets()) -> str:
    """Decode every RFC 2047 encoded word in `text`. White space between two encoded words is dropped, and
    adjacent words in one charset are decoded together (a character may be split across them)."""
    if "=?" not in text:
        return text
    out: list[str] = []
    pending: list[bytes] = []
    pending_charset = ""
    pos = 0

    def flush() -> None:
        if pending:
            out.append(decode_text(b"".join(pending), pending_charset, charsets.fallbacks, allow_guess=False).text)
            pending.clear()

    for m in _WORD.finditer(text):
        gap = text[pos:m.start()]
        data = _word_bytes(m.group(2), m.group(3))
        if data is None:
            continue  # left as written: the gap below keeps it
        if gap and not (pending and _BETWEEN.fullmatch(gap)):
            flush()
            out.append(gap)
        charset = m.group(1).lower()
        if pending and charset != pending_charset:
            flush()
        pending_charset = charset
        pending.append(data)
        pos = m.end()
    flush()
    out.append(text[pos:])
    return "".join(out)


def decode_unstructured(value: str | None, charsets: HeaderCharsets = HeaderCharsets()) -> str:
    """Subject and other free-text headers: one line, encoded words and raw 8-bit decoded."""
    if value is None:
        return ""
    return decode_words(unfold(raw_to_text(value, charsets)), charsets)


@dataclass(frozen=True)
class RawMailbox:
    """One mailbox of an address list, split by structure only: nothing decoded yet."""

    phrase: str
    addr: str
    comment: str
    angle: bool  # the address was written in <…>


def _read_quoted(value: str, i: int) -> tuple[str, int]:
    out = []
    i += 1
    while i < len(value) and value[i] != '"':
        if value[i] == "\\" and i + 1 < len(value):
            i += 1
        out.append(value[i])
        i += 1
    return "".join(out), i + 1


def _read_comment(value: str, i: int) -> tuple[str, int]:
    depth = 0
    out = []
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            out.append(value[i + 1])
            i += 2
            continue
        if ch == "(":
            depth += 1
            if depth > 1:
                out.append(ch)
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return "".join(out), i + 1
            out.append(ch)
        else:
            out.append(ch)
        i += 1
    return "".join(out), i


def split_mailboxes(value: str) -> list[RawMailbox]:
    """Split an address list at the commas that separate mailboxes: not inside quotes, comments or <…>.
    Group names ("team: a@x, b@y;") are dropped."""
    boxes: list[RawMailbox] = []
    phrase: list[str] = []
    comment: list[str] = []
    addr = ""
    angle = False
    i = 0

    def close() -> None:
        nonlocal addr, angle
        text = "".join(phrase).strip()
        if addr or text:
            if not addr and not angle:
                # "a@x" or "Name a@x": the last word holding an @ is the address
                words = text.rsplit(None, 1)
                if words and "@" in words[-1]:
                    addr = words[-1]
                    text = words[0] if len(words) == 2 else ""
                else:
                    addr, text = text, ""
            boxes.append(RawMailbox(" ".join(text.split()), addr.strip(), " ".join(" ".join(comment).split()), angle))
        phrase.clear()
        comment.clear()
        addr = ""
        angle = False

    while i < len(value):
        ch = value[i]
        if ch == '"':
            text, i = _read_quoted(value, i)
            phrase.append('"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')
            continue
        if ch == "(":
            text, i = _read_comment(value, i)
            comment.append(text)
            phrase.append(" ")
            continue
        if ch == "<":
            end = value.find(">", i)
            end = len(value) if end < 0 else end
            addr = value[i + 1:end]
            angle = True
            i = end + 1
            continue
        if ch == ":" and not angle and "@" not in "".join(phrase):
            phrase.clear()  # a group's name
        elif ch in ",;":
            close()
        else:
            phrase.append(ch)
        i += 1
    close()
    return boxes


def unquote_phrase(phrase: str) -> str:
    """A display name's words with quoted strings unquoted."""
    out = []
    i = 0
    while i < len(phrase):
        if phrase[i] == '"':
            text, i = _read_quoted(phrase, i)
            out.append(text)
        else:
            out.append(phrase[i])
            i += 1
    return "".join(out)


def display_name(box: RawMailbox, charsets: HeaderCharsets = HeaderCharsets()) -> str:
    """The decoded display name of a mailbox: its phrase, or failing that the comment ("a@x (Name)")."""
    name = unquote_phrase(box.phrase).strip() or box.comment.strip()
    return " ".join(decode_words(name, charsets).split())
