"""Raw bytes → InboundMail. The only module that imports mail-parser, and where its known gaps are repaired."""

from __future__ import annotations

import logging
import mimetypes
import re
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses

import mailparser
from mailparser.exceptions import MailParserError

from mailbot.core.addresses import parse_list, parse_single, valid_addr_spec
from mailbot.core.mail import Address, InboundMail, Part
from mailbot.core.text import decode_bytes, decode_header_value, html_to_text

_MSGID = re.compile(r"<([^<>\s]+)>")
_BODY_TYPES = ("text/plain", "text/html")
_FORWARDED_TYPES = ("message/rfc822", "message/global")
_REPORT_TYPES = ("message/delivery-status", "message/disposition-notification", "message/global-delivery-status")

# mail-parser logs a warning for every part type it does not render; mailbot records what matters itself.
logging.getLogger("mailparser").setLevel(logging.ERROR)


class MalformedMail(Exception):
    """The bytes cannot be read as a mail message at all; retrying will not help."""


@dataclass
class _Walk:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def message_ids(value: str | None) -> tuple[str, ...]:
    """Message-IDs in a References/In-Reply-To value, angle brackets removed; bare ids accepted as a fallback."""
    if not value:
        return ()
    found = _MSGID.findall(value)
    if not found:
        found = [tok for tok in value.split() if "@" in tok]
    return tuple(dict.fromkeys(f.strip() for f in found if f.strip()))


def _raw_all(msg: Message, name: str) -> list[str]:
    """A header's values exactly as they arrived. (Message.get() would turn raw 8-bit UTF-8, allowed by
    RFC 6532, into U+FFFD before we could decode it.)"""
    lname = name.lower()
    return [str(v) for k, v in msg.raw_items() if k.lower() == lname]


def _raw(msg: Message, name: str) -> str | None:
    found = _raw_all(msg, name)
    return found[0] if found else None


def _addresses(msg: Message, *names: str) -> tuple[Address, ...]:
    """Recipient lists, parsed leniently (getaddresses) and kept only where the address is valid: they
    grant nothing by themselves, and the strict parser costs a millisecond a message."""
    out: list[Address] = []
    values = [decode_header_value(v) for name in names for v in _raw_all(msg, name)]
    for name, addr in getaddresses(values):
        if valid_addr_spec(addr):
            found = Address(addr=addr.lower(), name=name)
            if found not in out:
                out.append(found)
    return tuple(out)


def _strict_addresses(msg: Message, name: str) -> tuple[Address, ...]:
    """Addresses mailbot will write to (Reply-To): strictly parsed, like the sender."""
    out: list[Address] = []
    for value in _raw_all(msg, name):
        found, _problem = parse_list(decode_header_value(value))
        out.extend(a for a in found if a not in out)
    return tuple(out)


def _payload(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _filename(part: Message, index: int) -> str:
    try:
        name = part.get_filename()
    except Exception:  # malformed RFC 2231 parameters
        name = None
    if name:
        return decode_header_value(name).replace("/", "_").replace("\\", "_").strip() or f"part-{index}"
    ext = mimetypes.guess_extension(part.get_content_type()) or ".bin"
    return f"part-{index}{ext}"


def _forwarded(part: Message, index: int) -> Part:
    """A message/rfc822 part kept whole as an .eml attachment (mail-parser spills it into the body instead)."""
    inner = part.get_payload()
    data = b""
    subject = ""
    if isinstance(inner, list) and inner and isinstance(inner[0], Message):
        subject = decode_header_value(_raw(inner[0], "Subject"))
        try:
            data = inner[0].as_bytes()
        except Exception:
            data = str(inner[0]).encode("utf-8", "surrogateescape")
    elif isinstance(inner, (str, bytes)):
        data = _payload(part) or (inner.encode("utf-8", "surrogateescape") if isinstance(inner, str) else inner)
    name = part.get_filename()
    if name:
        filename = decode_header_value(name)
    else:
        safe = re.sub(r"[^\w\- ]+", "", subject).strip()[:80]
        filename = f"{safe or f'forwarded-{index}'}.eml"
    return Part(filename=filename, content_type="message/rfc822", payload=data, disposition="attachment")


def _walk(part: Message, acc: _Walk, depth: int = 0) -> None:
    ctype = part.get_content_type()
    index = len(acc.parts) + 1
    if ctype in _FORWARDED_TYPES:
        acc.parts.append(_forwarded(part, index))
        return
    if ctype in _REPORT_TYPES:
        # The stdlib parses a report's field blocks as sub-messages; keep the report as the text it was.
        payload = part.get_payload()
        blocks = payload if isinstance(payload, list) else [payload]
        text = "\n".join(str(b).strip("\n") + "\n" for b in blocks)
        acc.parts.append(Part(filename=f"part-{index}.txt", content_type=ctype, payload=text.encode("utf-8", "surrogateescape")))
        return
    if part.is_multipart():
        payload = part.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                if isinstance(sub, Message):
                    _walk(sub, acc, depth + 1)
        return
    if part.get_content_maintype() == "multipart":
        # A multipart whose boundary never appears: its payload is the only text there is.
        text, _ = decode_bytes(_payload(part), part.get_content_charset())
        acc.notes.append(f"part {index}: {ctype} without its boundary; read as text")
        looks_html = re.search(r"<(html|body|div|p|table)\b", text[:4096], re.IGNORECASE)
        (acc.html if looks_html else acc.plain).append(text)
        return
    disposition = part.get_content_disposition()
    has_name = bool(part.get_param("name") or part.get_param("filename", header="content-disposition"))
    if ctype in _BODY_TYPES and disposition != "attachment" and not has_name:
        text, note = decode_bytes(_payload(part), part.get_content_charset())
        if note:
            acc.notes.append(f"part {index}: {note}")
        (acc.plain if ctype == "text/plain" else acc.html).append(text)
        return
    cid = _raw(part, "Content-ID")
    acc.parts.append(
        Part(
            filename=_filename(part, index),
            content_type=ctype,
            payload=_payload(part),
            disposition="inline" if disposition == "inline" or (cid and disposition is None) else "attachment",
            content_id=decode_header_value(cid).strip("<> ") or None if cid else None,
        )
    )


def parse_mail(raw: bytes) -> InboundMail:
    """Parse one message. Raises MalformedMail when mail-parser cannot build a message tree."""
    try:
        parsed = mailparser.MailParser.from_bytes(raw)
    except (MailParserError, RecursionError, ValueError, TypeError, LookupError) as exc:
        raise MalformedMail(f"cannot parse message: {type(exc).__name__}: {exc}") from exc
    msg = parsed.message
    if msg is None:
        raise MalformedMail("cannot parse message: no message structure")

    headers = tuple((str(k), str(v)) for k, v in msg.raw_items())
    sender, problem = parse_single(decode_header_value(_raw(msg, "From")) or None)
    sender_header = "From"
    if sender is None and _raw(msg, "Sender"):
        alt, alt_problem = parse_single(decode_header_value(_raw(msg, "Sender")))
        if alt is not None:
            # Good enough to answer and file by; never good enough to be an agent (core.agents).
            sender, problem, sender_header = alt, f"{problem}; used the Sender header", "Sender"
    acc = _Walk()
    _walk(msg, acc)
    html = "\n".join(acc.html) or None
    text = "\n".join(acc.plain) if acc.plain else (html_to_text(html) if html else "")
    mids = message_ids(decode_header_value(_raw(msg, "Message-ID")))
    return_path = _raw(msg, "Return-Path")
    defects = [str(d) for d in (parsed.defects or [])] + acc.notes
    return InboundMail(
        message_id=mids[0] if mids else "",
        subject=decode_header_value(_raw(msg, "Subject")),
        sender=sender,
        sender_problem=problem,
        reply_to=_strict_addresses(msg, "Reply-To"),
        to=_addresses(msg, "To"),
        cc=_addresses(msg, "Cc"),
        delivered_to=_addresses(msg, "Delivered-To", "X-Original-To", "Envelope-To"),
        in_reply_to=message_ids(decode_header_value(_raw(msg, "In-Reply-To"))),
        references=message_ids(" ".join(decode_header_value(v) for v in _raw_all(msg, "References"))),
        date=parsed.date,
        text=text,
        html=html,
        parts=tuple(acc.parts),
        headers=headers,
        return_path=decode_header_value(return_path) if return_path is not None else None,
        content_type=msg.get_content_type(),
        defects=tuple(defects),
        sender_header=sender_header,
    )
