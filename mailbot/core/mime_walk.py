"""Walk a parsed MIME tree into body text, HTML and files, bounded in parts and depth, recording how each
text part was decoded."""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from email.message import Message

from mailbot.core.charset_guess import decode_text
from mailbot.core.header_decoding import HeaderCharsets, decode_unstructured, decode_words
from mailbot.core.mail import Part
from mailbot.core.mime_repair import parts_after_close, parts_by_found_boundary
from mailbot.core.parse_options import ParseOptions
from mailbot.core.text import clean
from mailbot.core.uuencode import extract_uuencoded

_BODY_TYPES = ("text/plain", "text/html")
_FORWARDED_TYPES = ("message/rfc822", "message/global")
_REPORT_TYPES = ("message/delivery-status", "message/disposition-notification", "message/global-delivery-status")
_LOOKS_HTML = re.compile(r"<(html|body|div|p|table)\b", re.IGNORECASE)


class TooDeep(Exception):
    """Multipart nesting past the configured depth."""


@dataclass
class Walk:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # defects and repairs
    decoding: list[str] = field(default_factory=list)  # which charset each text part was read in, and why
    seen: int = 0  # leaf parts visited
    skipped: int = 0  # leaf parts past max_parts


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # a broken transfer encoding: keep the bytes as they came
        raw = part.get_payload()
        return raw.encode("ascii", "surrogateescape") if isinstance(raw, str) else b""
    return data if isinstance(data, bytes) else b""


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:
        return None


def _name(part: Message) -> str | None:
    """The part's file name, decoded; None for a missing or blank one (`name=" "` is no name)."""
    try:
        name = part.get_filename() or part.get_param("name")
    except Exception:  # malformed RFC 2231 parameters
        name = None
    if isinstance(name, tuple):
        name = name[2]
    if not isinstance(name, str):
        return None
    text = decode_words(clean(name)).strip()
    return text or None


def _filename(part: Message, index: int) -> str:
    name = _name(part)
    if name:
        return name.replace("/", "_").replace("\\", "_").strip() or f"part-{index}"
    ext = mimetypes.guess_extension(part.get_content_type()) or ".bin"
    return f"part-{index}{ext}"


def _forwarded(part: Message, index: int, charsets: HeaderCharsets) -> Part:
    """A message/rfc822 part kept whole as an .eml attachment."""
    inner = part.get_payload()
    data = b""
    subject = ""
    if isinstance(inner, list) and inner and isinstance(inner[0], Message):
        raw_subject = inner[0].get("Subject")
        subject = decode_unstructured(str(raw_subject) if raw_subject is not None else None, charsets)
        try:
            data = inner[0].as_bytes()
        except Exception:
            data = str(inner[0]).encode("utf-8", "surrogateescape")
    elif isinstance(inner, (str, bytes)):
        data = _payload(part) or (inner.encode("utf-8", "surrogateescape") if isinstance(inner, str) else inner)
    name = _name(part)
    if not name:
        safe = re.sub(r"[^\w\- ]+", "", subject).strip()[:80]
        name = f"{safe or f'forwarded-{index}'}.eml"
    return Part(filename=name, content_type="message/rfc822", payload=data, disposition="attachment")


def _text(part: Message, acc: Walk, index: int, options: ParseOptions) -> str:
    data = _payload(part)
    declared = _charset(part)
    decoded = decode_text(data, declared, options.fallback_charsets)
    if decoded.how not in ("declared", "ascii"):
        acc.decoding.append(f"text part {index}: {decoded.note}")
    return clean(decoded.text)


def walk(msg: Message, options: ParseOptions, charsets: HeaderCharsets) -> Walk:
    """Everything readable in `msg`, at most options.max_parts leaf parts."""
    acc = Walk()
    _walk(msg, acc, options, charsets, 0)
    if acc.skipped:
        acc.notes.append(
            f"message has {acc.seen} parts; only the first {options.max_parts} were read "
            "(the message is kept whole as received)"
        )
    return acc


def _walk(part: Message, acc: Walk, options: ParseOptions, charsets: HeaderCharsets, depth: int) -> None:
    if depth > options.max_depth:
        raise TooDeep(f"MIME nesting too deep (more than {options.max_depth} levels)")
    ctype = part.get_content_type()
    if part.is_multipart() and ctype not in _FORWARDED_TYPES and ctype not in _REPORT_TYPES:
        payload = part.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                if isinstance(sub, Message):
                    _walk(sub, acc, options, charsets, depth + 1)
        late = parts_after_close(part)
        if late:
            acc.notes.append(f"{len(late)} part(s) after the closing boundary of a {ctype} read")
            for sub in late:
                _walk(sub, acc, options, charsets, depth + 1)
        return
    acc.seen += 1
    if acc.seen > options.max_parts:
        acc.skipped += 1
        return
    _leaf(part, acc, options, charsets, ctype, depth)


def _leaf(part: Message, acc: Walk, options: ParseOptions, charsets: HeaderCharsets, ctype: str, depth: int) -> None:
    index = len(acc.parts) + 1
    if ctype in _FORWARDED_TYPES:
        acc.parts.append(_forwarded(part, index, charsets))
        return
    if ctype in _REPORT_TYPES:
        # The stdlib parses a report's field blocks as sub-messages; keep the report as the text it was.
        payload = part.get_payload()
        blocks = payload if isinstance(payload, list) else [payload]
        text = "\n".join(str(b).strip("\n") + "\n" for b in blocks)
        acc.parts.append(Part(filename=f"part-{index}.txt", content_type=ctype, payload=text.encode("utf-8", "surrogateescape")))
        return
    if part.get_content_maintype() == "multipart":
        raw = part.get_payload()
        found = parts_by_found_boundary(raw) if isinstance(raw, str) and depth < options.max_depth else None
        if found is not None:
            acc.notes.append(f"part {index}: {ctype} without its declared boundary; split by {found[0]!r}, which it uses")
            for sub in found[1]:
                _walk(sub, acc, options, charsets, depth + 1)
            return
        # A multipart whose boundary never appears: its payload is the only text there is.
        text = _text(part, acc, index, options)
        acc.notes.append(f"part {index}: {ctype} without its boundary; read as text")
        (acc.html if _LOOKS_HTML.search(text[:4096]) else acc.plain).append(text)
        return
    disposition = part.get_content_disposition()
    if ctype in _BODY_TYPES and disposition != "attachment" and _name(part) is None:
        text = _text(part, acc, index, options)
        if ctype == "text/plain":
            text, files = extract_uuencoded(text)
            for f in files:
                acc.parts.append(Part(filename=f.filename, content_type=_guess_type(f.filename), payload=f.data))
            if files:
                acc.notes.append(f"{len(files)} uuencoded file(s) taken out of the text")
            acc.plain.append(text)
        else:
            acc.html.append(text)
        return
    cid = part.get("Content-ID")
    content_id = decode_words(str(cid)).strip().strip("<> ") or None if cid is not None else None
    acc.parts.append(
        Part(
            filename=_filename(part, index),
            content_type=ctype,
            payload=_payload(part),
            disposition="inline" if disposition == "inline" or (cid and disposition is None) else "attachment",
            content_id=content_id,
        )
    )


def _guess_type(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"
