"""Raw bytes → InboundMail: the stdlib parser (or the part-by-part reader for very large mail), then headers,
addresses, charsets and MIME parts decoded by the pure modules in mailbot.core."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from email.utils import parsedate_to_datetime

from mailbot.core.address_repair import name_for, repair_mailbox
from mailbot.core.addresses import parse_list, parse_single, valid_addr_spec
from mailbot.core.header_decoding import HeaderCharsets, decode_unstructured, display_name, raw_header_text, split_mailboxes
from mailbot.core.header_junk import header_start
from mailbot.core.large_mime import parse_large
from mailbot.core.mail import Address, InboundMail
from mailbot.core.mime_walk import TooDeep, walk
from mailbot.core.multipart_boundaries import install as match_boundaries_without_compiling
from mailbot.core.parse_options import ParseOptions
from mailbot.core.parsed_part import ParsedPart
from mailbot.core.subject import unfold
from mailbot.core.text import clean, html_to_text

_MSGID = re.compile(r"<([^<>\s]+)>")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_PARSER = BytesParser(ParsedPart, policy=compat32)  # each part parses its Content-Type once
_MAX_DEFECTS = 20
_NOTED_HEADERS = {"from", "subject", "to", "cc", "reply-to", "sender"}
DEFAULT_OPTIONS = ParseOptions()
match_boundaries_without_compiling()  # the stdlib parser's one per-message compile (core/multipart_boundaries.py)


class MalformedMail(Exception):
    """The bytes cannot be read as a mail message at all; retrying will not help."""


def message_ids(value: str | None) -> tuple[str, ...]:
    """Message-IDs in a References/In-Reply-To value, angle brackets removed; bare ids accepted as a fallback."""
    if not value:
        return ()
    found = _MSGID.findall(value)
    if not found:
        found = [tok for tok in value.split() if "@" in tok]
    return tuple(dict.fromkeys(f.strip() for f in found if f.strip()))


class _Headers:
    """The top-level headers as text: raw 8-bit bytes decoded in the message's own charsets."""

    def __init__(self, msg: Message, charsets: HeaderCharsets) -> None:
        self.charsets = charsets
        self.notes: list[str] = []  # how raw 8-bit bytes in the headers that matter were read
        items = []
        for key, value in msg.raw_items():
            text, note = raw_header_text(str(value), charsets)
            if note and str(key).lower() in _NOTED_HEADERS:
                self.notes.append(f"{key} header: 8-bit bytes read as {note}")
            items.append((str(key), text))
        self.items = tuple(items)

    def all(self, name: str) -> list[str]:
        lname = name.lower()
        return [v for k, v in self.items if k.lower() == lname]

    def first(self, name: str) -> str | None:
        found = self.all(name)
        return found[0] if found else None

    def text(self, name: str) -> str:
        return clean(decode_unstructured(self.first(name), self.charsets))


def _declared_charsets(msg: Message) -> tuple[str, ...]:
    """The charsets the message's text parts declare, in order (for undeclared 8-bit header bytes)."""
    found: list[str] = []
    for i, part in enumerate(msg.walk()):
        if i > 20:
            break
        try:
            charset = part.get_content_charset()
        except Exception:
            charset = None
        if charset and charset not in found and charset not in ("us-ascii", "utf-8"):
            found.append(charset)
    return tuple(found)


def _recipients(headers: _Headers, *names: str) -> tuple[Address, ...]:
    """Recipient lists, split by structure and kept only where the address is valid: they grant nothing by
    themselves, so a malformed one is skipped rather than refused with its neighbours."""
    out: list[Address] = []
    for name in names:
        for value in headers.all(name):
            for box in split_mailboxes(unfold(value)):
                spec = box.addr.strip()
                if valid_addr_spec(spec):
                    found = Address(addr=spec.lower(), name=clean(display_name(box, headers.charsets)))
                    if found not in out:
                        out.append(found)
    return tuple(out)


def _with_names(found: list[Address], value: str, charsets: HeaderCharsets) -> list[Address]:
    """Strictly parsed addresses with their display names decoded after the structure was known."""
    out = []
    for a in found:
        name = name_for(value, a.addr, charsets)
        out.append(Address(a.addr, clean(name)) if name is not None else a)
    return out


def _strict_addresses(headers: _Headers, name: str) -> tuple[Address, ...]:
    """Addresses mailbot will write to (Reply-To): strictly parsed, like the sender."""
    out: list[Address] = []
    for value in headers.all(name):
        value = unfold(value)
        found, _problem = parse_list(value)
        out.extend(a for a in _with_names(found, value, headers.charsets) if a not in out)
    return tuple(out)


def _sender(headers: _Headers) -> tuple[Address | None, str | None, str]:
    """The sender, why it is missing or was repaired, and where it came from (see InboundMail.sender_origin)."""
    raw_from = headers.first("From")
    value = unfold(raw_from) if raw_from is not None else None
    sender, problem = parse_single(value)
    if sender is not None and value is not None:
        return _with_names([sender], value, headers.charsets)[0], None, "from"
    if value is not None:
        repaired = repair_mailbox(value, headers.charsets)
        if repaired is not None:
            return Address(repaired.address.addr, clean(repaired.address.name)), repaired.note, "repaired"
    raw_sender = headers.first("Sender")
    if raw_sender:
        alt, _alt_problem = parse_single(unfold(raw_sender))
        if alt is not None:
            return _with_names([alt], unfold(raw_sender), headers.charsets)[0], f"{problem}; used the Sender header", "sender"
    return None, problem, "from"


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        found = parsedate_to_datetime(unfold(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if found is None:
        return None
    return found.replace(tzinfo=timezone.utc) if found.tzinfo is None else found.astimezone(timezone.utc)


def _defects(msg: Message) -> list[str]:
    out: list[str] = []
    for part in msg.walk():
        for defect in getattr(part, "defects", ()):
            out.append(f"{part.get_content_type()}: {type(defect).__name__}: {defect}")
            if len(out) >= _MAX_DEFECTS:
                return out
    return out


def _read(raw: bytes, options: ParseOptions) -> Message:
    if len(raw) > options.max_message_bytes:
        return parse_large(raw, options.max_parts)
    return _PARSER.parsebytes(raw)


def parse_mail(raw: bytes, options: ParseOptions = DEFAULT_OPTIONS) -> InboundMail:
    """Parse one message. Raises MalformedMail when no message can be read from the bytes at all."""
    if raw.startswith(_OLE_MAGIC):
        raise MalformedMail("not an Internet message: an Outlook .msg file (OLE compound document)")
    notes: list[str] = []
    decoding: list[str] = []
    start = header_start(raw)
    if start is not None:
        raw = raw[start.offset:]
        decoding.append(start.note)
    large = len(raw) > options.max_message_bytes
    try:
        msg = _read(raw, options)
        charsets = HeaderCharsets(_declared_charsets(msg), options.fallback_charsets)
        found = walk(msg, options, charsets)
    except (TooDeep, RecursionError) as exc:
        raise MalformedMail(f"Message nesting too deep: more than {options.max_depth} levels of MIME parts") from exc
    except (LookupError, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise MalformedMail(f"cannot parse message: {type(exc).__name__}: {exc}") from exc
    headers = _Headers(msg, charsets)
    sender, problem, origin = _sender(headers)
    if origin == "repaired" and problem:
        decoding.append(f"sender {problem}")
    decoding.extend(headers.notes)
    decoding.extend(found.decoding)
    if large:
        notes.append(f"message of {len(raw):,} bytes is over max_message_bytes ({options.max_message_bytes:,}): read part by part")
    html = "\n".join(found.html) or None
    text = "\n".join(found.plain)
    if not text.strip() and html:
        text = html_to_text(html)  # an empty text/plain beside the HTML says nothing
    if len(text) > options.max_text_chars:
        cut = len(text) - options.max_text_chars
        text = text[: options.max_text_chars] + f"\n[… {cut:,} more characters not shown: the text is cut at {options.max_text_chars:,}; the message is kept whole as received]"
        notes.append(f"text cut at {options.max_text_chars:,} characters ({cut:,} more)")
    if html is not None and len(html) > options.max_text_chars:
        html = html[: options.max_text_chars]
        notes.append(f"HTML cut at {options.max_text_chars:,} characters")
    mids = message_ids(headers.text("Message-ID"))
    return_path = headers.first("Return-Path")
    return InboundMail(
        message_id=mids[0] if mids else "",
        subject=headers.text("Subject"),
        sender=sender,
        sender_problem=problem,
        reply_to=_strict_addresses(headers, "Reply-To"),
        to=_recipients(headers, "To"),
        cc=_recipients(headers, "Cc"),
        delivered_to=_recipients(headers, "Delivered-To", "X-Original-To", "Envelope-To"),
        in_reply_to=message_ids(headers.text("In-Reply-To")),
        references=message_ids(" ".join(headers.all("References"))),
        date=_date(headers.first("Date")),
        text=text,
        html=html,
        parts=tuple(found.parts),
        headers=headers.items,
        return_path=clean(decode_unstructured(return_path)) if return_path is not None else None,
        content_type=msg.get_content_type(),
        defects=tuple(notes + found.notes + _defects(msg)),  # ours first: the event keeps the first ten
        sender_origin=origin,
        decoding=tuple(decoding),
    )
