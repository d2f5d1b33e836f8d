"""Turning bytes and markup into text for the rest of mailbot: header values, database-safe text, HTML."""

from __future__ import annotations

from inscriptis import get_text

from mailbot.core.charset_guess import codec_for, decode_text
from mailbot.core.header_decoding import decode_unstructured


def clean(text: str) -> str:
    """Text any database accepts: no NUL characters, no lone surrogates."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def decode_bytes(data: bytes, label: str | None) -> tuple[str, str | None]:
    """Decode `data` declared as charset `label` (see charset_guess). Returns the text and a note when the
    label was not what decided it."""
    decoded = decode_text(data, label)
    return clean(decoded.text), (None if decoded.how in ("declared", "ascii") else decoded.note)


def decode_header_value(value: object) -> str:
    """A header's value as one line of text: unfolded, RFC 2047 words decoded, raw 8-bit repaired."""
    return clean(decode_unstructured(None if value is None else str(value)))


__all__ = ["clean", "codec_for", "decode_bytes", "decode_header_value", "html_to_text"]


def html_to_text(html: str) -> str:
    """Readable plain text from HTML mail (lists, tables and paragraphs kept as lines)."""
    try:
        return clean(get_text(html).strip("\n"))
    except Exception:
        return ""
