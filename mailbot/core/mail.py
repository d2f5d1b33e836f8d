"""The typed view of one inbound message that the rest of mailbot works with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from mailbot.core.text import decode_header_value


@dataclass(frozen=True)
class Address:
    """A strictly parsed mailbox: `addr` is lower-cased local@domain, `name` the decoded display name."""

    addr: str
    name: str = ""

    @property
    def domain(self) -> str:
        return self.addr.rsplit("@", 1)[-1]

    @property
    def local(self) -> str:
        return self.addr.rsplit("@", 1)[0]

    def __str__(self) -> str:
        return f"{self.name} <{self.addr}>" if self.name else self.addr


@dataclass(frozen=True)
class Part:
    """A file carried by the message: an attachment, an inline image or a forwarded message."""

    filename: str
    content_type: str
    payload: bytes
    disposition: str = "attachment"  # attachment | inline
    content_id: str | None = None


@dataclass(frozen=True)
class InboundMail:
    message_id: str
    subject: str
    sender: Address | None
    sender_problem: str | None
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    delivered_to: tuple[Address, ...]
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    date: datetime | None
    text: str
    html: str | None
    parts: tuple[Part, ...]
    headers: tuple[tuple[str, str], ...]  # as they arrived (folded, encoded): read them through header()
    return_path: str | None
    content_type: str
    defects: tuple[str, ...] = field(default=())
    # "from": the From header parsed strictly; "repaired": a slightly malformed From, repaired; "sender": the
    # Sender header, From being unusable. Only "from" can ever prove who wrote.
    sender_origin: str = "from"
    decoding: tuple[str, ...] = field(default=())  # which charsets were used and why, and what was repaired

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), unfolded and decoded, or None."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return decode_header_value(value)
        return None

    def header_all(self, name: str) -> list[str]:
        lname = name.lower()
        # Decoded on demand: a message carries dozens of headers (Received …) and rules read a handful.
        return [decode_header_value(value) for key, value in self.headers if key.lower() == lname]

    @property
    def header_names(self) -> list[str]:
        return [key for key, _ in self.headers]

    @property
    def recipients(self) -> tuple[Address, ...]:
        """Every address the message was sent to: To, Cc and the delivery headers."""
        return self.to + self.cc + self.delivered_to

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this message answers, nearest first (In-Reply-To, then References newest first)."""
        seen: list[str] = []
        for mid in (*self.in_reply_to, *reversed(self.references)):
            if mid not in seen:
                seen.append(mid)
        return seen
