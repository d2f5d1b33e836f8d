"""Retry delays: the same doubling back-off for inbound messages, outgoing mail and reconnects."""

from __future__ import annotations

from datetime import timedelta


def backoff(attempt: int, base: float, cap: float) -> timedelta:
    """Delay before retry number `attempt` (1-based): base, 2·base, 4·base … up to cap."""
    return timedelta(seconds=min(base * (2 ** max(attempt - 1, 0)), cap))
