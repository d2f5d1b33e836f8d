"""Access tokens kept in memory until shortly before they expire; a token the server refused is replaced once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

# Fetch a fresh token this long before the old one expires (at most; a tenth of a short lifetime).
RENEW_BEFORE_SECONDS = 300.0


class SignInFailed(Exception):
    """No usable credentials: the token endpoint or command failed, or the server refused a fresh token.

    `temporary` is true when trying again later may help without changing the configuration (the token
    endpoint could not be reached, or answered with a server error)."""

    def __init__(self, reason: str, temporary: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.temporary = temporary


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    # Seconds it is valid for, as the provider said when it issued it; None if it did not say
    # (kept until a server refuses it), 0 to ask again at every sign-in.
    expires_in: float | None


class TokenGrant(Protocol):
    """Somewhere to get a new access token from. Raises SignInFailed, naming the provider's error."""

    @property
    def description(self) -> str: ...

    def fetch(self) -> AccessToken: ...


class CachedToken:
    """One grant's current token, shared by every connection (IMAP polling, IDLE, SMTP) that uses it."""

    def __init__(self, grant: TokenGrant, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.grant = grant
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._value: str | None = None
        self._renew_at: float | None = None
        self.fetched = 0  # how many tokens were fetched: for status and tests

    def current(self) -> str:
        """The cached token while it is fresh, else a new one."""
        with self._lock:
            if self._value is not None and (self._renew_at is None or self._monotonic() < self._renew_at):
                return self._value
            return self._fetch()

    def renew(self, rejected: str) -> str:
        """The server refused `rejected`: a fresh token, unless another connection has fetched one meanwhile."""
        with self._lock:
            if self._value is not None and self._value != rejected:
                return self._value
            return self._fetch()

    def _fetch(self) -> str:
        self._value = self._renew_at = None
        token = self.grant.fetch()
        self.fetched += 1
        if token.expires_in is not None:
            lifetime = max(token.expires_in, 0.0)
            self._renew_at = self._monotonic() + lifetime - min(RENEW_BEFORE_SECONDS, lifetime / 10)
        self._value = token.value
        return token.value
