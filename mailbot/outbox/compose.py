"""Build outgoing messages as bytes: threading headers, signed Reply-To, loop and auto-reply markers."""

from __future__ import annotations

import quopri
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr

from mailbot.core.automatic import LOOP_HEADER
from mailbot.core.mail import Address


@dataclass(frozen=True)
class Outgoing:
    from_name: str
    from_addr: str
    to: Sequence[Address]
    subject: str
    body: str
    message_id: str
    date: datetime
    reply_to: str | None = None
    in_reply_to: str | None = None
    references: Sequence[str] = ()
    auto_submitted: str | None = None  # "auto-replied" for answers, "auto-generated" for notices
    language: str | None = None
    attachments: Sequence[tuple[str, str, bytes]] = ()  # (filename, content type, payload)


def _address(addr: Address) -> str:
    return formataddr((addr.name, addr.addr), "utf-8")


def _fold(name: str, value: str) -> str:
    """One header line, folded at spaces to stay under 78 characters where it can (RFC 5322 2.2.3)."""
    if not value.isascii():
        return f"{name}: " + Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    line = f"{name}: {value}"
    if len(line) <= 78:
        return line
    out, current = [], f"{name}:"
    for word in value.split(" "):
        if len(current) + 1 + len(word) > 78 and current.strip() != f"{name}:":
            out.append(current)
            current = ""
        current = f"{current} {word}"
    out.append(current)
    return "\r\n".join(out)


def _headers(out: Outgoing) -> list[tuple[str, str]]:
    headers = [
        ("From", _address(Address(out.from_addr, out.from_name))),
        ("To", ", ".join(_address(a) for a in out.to)),
        ("Subject", out.subject),
        ("Date", format_datetime(out.date)),
        ("Message-ID", f"<{out.message_id}>"),
    ]
    if out.reply_to:
        headers.append(("Reply-To", _address(Address(out.reply_to, out.from_name))))
    if out.in_reply_to:
        headers.append(("In-Reply-To", f"<{out.in_reply_to}>"))
    refs = list(dict.fromkeys(out.references))
    if out.in_reply_to and out.in_reply_to not in refs:
        refs.append(out.in_reply_to)
    if refs:
        # RFC 5322 3.6.4: keep the thread root and the most recent ids when the list grows long.
        if len(refs) > 20:
            refs = refs[:1] + refs[-19:]
        headers.append(("References", " ".join(f"<{r}>" for r in refs)))
    if out.auto_submitted:
        headers.append(("Auto-Submitted", out.auto_submitted))
        # Ask Exchange and friends not to answer our automatic mail with theirs.
        headers.append(("X-Auto-Response-Suppress", "All"))
        headers.append(("Precedence", "auto_reply"))
    if out.language:
        headers.append(("Content-Language", out.language))
    headers.append((LOOP_HEADER, out.from_addr))
    return headers


def _text_body(text: str) -> tuple[list[tuple[str, str]], bytes]:
    """A text/plain body: 7bit when it is plain ASCII with short lines, else quoted-printable UTF-8."""
    lines = text.replace("\r\n", "\n").split("\n")
    if text.isascii() and all(len(line) <= 990 for line in lines):
        encoding, payload = "7bit", "\r\n".join(lines).encode("ascii")
    else:
        encoding = "quoted-printable"
        payload = quopri.encodestring("\n".join(lines).encode("utf-8")).replace(b"\n", b"\r\n")
    headers = [("MIME-Version", "1.0"), ("Content-Type", 'text/plain; charset="utf-8"'), ("Content-Transfer-Encoding", encoding)]
    return headers, payload


def compose(out: Outgoing) -> bytes:
    """The message as bytes with CRLF line ends. Plain text is written directly (the stdlib generator costs
    about a millisecond a message, and every acknowledgement and escalation goes through here); a message
    with attachments is built as MIME by the email package."""
    headers = _headers(out)
    if not out.attachments:
        content_headers, payload = _text_body(out.body)
        head = "\r\n".join(_fold(name, value) for name, value in headers + content_headers)
        return head.encode("ascii") + b"\r\n\r\n" + payload + (b"" if payload.endswith(b"\r\n") else b"\r\n")
    msg = MIMEMultipart("mixed")
    msg.attach(MIMEText(out.body, "plain", "utf-8"))
    for filename, ctype, data in out.attachments:
        maintype, _, subtype = ctype.partition("/")
        part = MIMEApplication(data, subtype or "octet-stream")
        if maintype and maintype != "application":
            part.replace_header("Content-Type", f"{maintype}/{subtype}")
        part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", filename))
        msg.attach(part)
    for name, value in headers:
        msg[name] = Header(value, "utf-8", header_name=name) if not value.isascii() else value  # type: ignore[assignment]
    return msg.as_bytes(policy=compat32.clone(linesep="\r\n"))
