"""Years of support mail in threads, as a mailbox holds it before mailbot is connected: customers ask, support
answers from the support address, customers follow up. Every time is computed from the `now` given."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from tests.support.flow import SUPPORT


@dataclass
class Thread:
    customer: str
    subject: str
    messages: list[bytes] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)
    last_by_support: bool = False

    @property
    def last_at(self) -> datetime:
        return self.times[-1]


def _message(sender: str, to: str, subject: str, mid: str, at: datetime, body: str, parents: list[str]) -> bytes:
    stamp = format_datetime(at.astimezone(timezone.utc))
    threading = ""
    if parents:
        threading = f"In-Reply-To: <{parents[-1]}>\r\nReferences: {' '.join(f'<{p}>' for p in parents)}\r\n"
    return (
        f"Received: from mx.customer.example by mx.example.com with ESMTPS id {mid[:8]}; {stamp}\r\n"
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\nDate: {stamp}\r\n{threading}"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def make_history(now: datetime, threads: int, seed: int = 7, recent_open: int = 5) -> list[Thread]:
    """`threads` conversations over the three years before `now`, two to six messages each, a day or three
    apart. The last `recent_open` end with a customer's message from the last week, unanswered."""
    rng = random.Random(seed)
    out: list[Thread] = []
    for n in range(threads):
        recent = n >= threads - recent_open
        customer = f"customer{n}@client{n % 17}.example"
        thread = Thread(customer, f"Question {n} about the shop")
        length = rng.randint(2, 6)
        if recent:
            length = length if length % 2 == 1 else length + 1  # ends with the customer
            start = now - timedelta(days=6, hours=rng.randint(0, 40))
        else:
            start = now - timedelta(days=rng.randint(30, 3 * 365), hours=rng.randint(0, 23))
        at = start
        parents: list[str] = []
        for i in range(length):
            by_support = i % 2 == 1
            mid = f"h{n}-{i}-{rng.randrange(16**8):08x}@{'example.com' if by_support else 'client.example'}"
            sender, to = (SUPPORT, customer) if by_support else (customer, SUPPORT)
            subject = thread.subject if i == 0 else f"Re: {thread.subject}"
            thread.messages.append(_message(sender, to, subject, mid, at, f"message {i} of thread {n}", parents))
            thread.times.append(at)
            parents.append(mid)
            at += timedelta(hours=rng.randint(2, 60)) if not recent else timedelta(hours=rng.randint(1, 20))
        thread.last_by_support = (length - 1) % 2 == 1
        out.append(thread)
    return out


def in_arrival_order(threads: list[Thread]) -> list[bytes]:
    """Every message, oldest first, as a mailbox would have received them."""
    timed = [(t.times[i], m) for t in threads for i, m in enumerate(t.messages)]
    return [m for _, m in sorted(timed, key=lambda pair: pair[0])]
