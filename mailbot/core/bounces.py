"""Reading delivery status notifications (RFC 3464): which recipients failed for good, and which message bounced."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailbot.core.mail import InboundMail

_FIELD = re.compile(r"^([A-Za-z-]+):\s*(.*)$")
_MSGID_LINE = re.compile(r"^message-id:\s*<?([^<>\s]+)>?", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Failure:
    address: str
    status: str
    permanent: bool


def _blocks(text: str) -> list[dict[str, str]]:
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        if line[:1] in " \t" and current:
            continue  # folded continuation: the fields we read fit on one line
        m = _FIELD.match(line)
        if m:
            current[m.group(1).lower()] = m.group(2).strip()
    if current:
        blocks.append(current)
    return blocks


def is_delivery_report(mail: InboundMail) -> bool:
    """A delivery status notification (RFC 3464): a multipart/report carrying a message/delivery-status part."""
    return mail.content_type == "multipart/report" and any(p.content_type == "message/delivery-status" for p in mail.parts)


def failures(mail: InboundMail) -> list[Failure]:
    """Recipients reported as failed in the message's delivery-status parts."""
    found: list[Failure] = []
    for part in mail.parts:
        if part.content_type != "message/delivery-status":
            continue
        for block in _blocks(part.payload.decode("utf-8", "replace")):
            recipient = block.get("final-recipient") or block.get("original-recipient")
            action = block.get("action", "").lower()
            if not recipient or action != "failed":
                continue
            address = recipient.split(";", 1)[-1].strip().strip("<>").lower()
            status = block.get("status", "")
            found.append(Failure(address=address, status=status, permanent=not status.startswith("4")))
    return found


def returned_message_ids(mail: InboundMail) -> list[str]:
    """Message-IDs of the returned original (text/rfc822-headers or message/rfc822 parts)."""
    ids: list[str] = []
    for part in mail.parts:
        if part.content_type in ("text/rfc822-headers", "message/rfc822"):
            head = part.payload.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
            ids += _MSGID_LINE.findall(head.decode("utf-8", "replace"))
    return ids
