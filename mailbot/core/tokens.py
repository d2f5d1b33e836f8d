"""Signed reply tokens: HMAC proofs in reply addresses and in the Message-IDs mailbot generates."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

SIG_LEN = 12  # base32 characters: 60 bits of HMAC, lower-case so MTAs that fold case do no harm

_REPLY_TOKEN = re.compile(r"^(?P<kind>[tab])(?P<ticket>\d{1,12})(?:\.(?P<extra>[a-z0-9]{1,32}))?-(?P<sig>[a-z2-7]+)$")
_MESSAGE_ID = re.compile(r"^mb\.(?P<ticket>\d{1,12})\.(?P<nonce>[a-z0-9]{1,32})\.(?P<sig>[a-z2-7]+)@(?P<domain>.+)$")


@dataclass(frozen=True)
class ReplyToken:
    kind: str  # t: customer-facing ticket address, a: an agent's address, b: bounce address of a message
    ticket_id: int
    extra: str | None = None  # for kind a: the agent's key; for kind b: the bounced Message-ID's nonce


def fingerprint(secret: bytes) -> str:
    """A short public name for a secret (its SHA-256, truncated): safe to print, useless for signing."""
    return hashlib.sha256(b"mailbot-secret:" + secret).hexdigest()[:16]


class Signer:
    """Makes tokens with the current secret and checks them against it and the previous secrets still in
    their grace period (after a rotation, customers keep answering old mail for months); a token's signature
    covers every field it carries."""

    def __init__(self, secret: bytes, previous: tuple[bytes, ...] = ()) -> None:
        if any(len(s) < 16 for s in (secret, *previous)):
            raise ValueError("the token secret must be at least 16 bytes")
        self._secret = secret
        self._previous = previous

    @staticmethod
    def _signature(secret: bytes, text: str) -> str:
        digest = hmac.new(secret, text.encode(), hashlib.sha256).digest()
        return base64.b32encode(digest).decode().lower()[:SIG_LEN]

    def _sign(self, text: str) -> str:
        return self._signature(self._secret, text)

    def _check(self, text: str, sig: str) -> bool:
        return any(hmac.compare_digest(self._signature(s, text), sig.lower()) for s in (self._secret, *self._previous))

    # reply addresses -------------------------------------------------------------------------------
    def reply_token(self, ticket_id: int, kind: str = "t", extra: str | None = None) -> str:
        body = f"{kind}{ticket_id}" + (f".{extra}" if extra else "")
        return f"{body}-{self._sign('reply:' + body)}"

    def reply_address(self, base_address: str, ticket_id: int, kind: str = "t", extra: str | None = None) -> str:
        local, domain = base_address.rsplit("@", 1)
        return f"{local}+{self.reply_token(ticket_id, kind, extra)}@{domain}"

    def read_reply_token(self, token: str) -> ReplyToken | None:
        m = _REPLY_TOKEN.match(token.lower())
        if not m:
            return None
        body, sig = token.lower().rsplit("-", 1)
        if not self._check("reply:" + body, sig):
            return None
        return ReplyToken(m["kind"], int(m["ticket"]), m["extra"])

    def token_in_address(self, address: str, base_address: str) -> ReplyToken | None:
        """The valid token carried by `address` if it is `base_address` with a `+token` detail, else None."""
        base_local, base_domain = base_address.lower().rsplit("@", 1)
        try:
            local, domain = address.lower().rsplit("@", 1)
        except ValueError:
            return None
        if domain != base_domain or not local.startswith(base_local + "+"):
            return None
        return self.read_reply_token(local[len(base_local) + 1 :])

    # Message-IDs -----------------------------------------------------------------------------------
    def message_id(self, ticket_id: int, domain: str, nonce: str | None = None, internal: bool = False) -> str:
        """A new Message-ID (without angle brackets) that proves which ticket it belongs to.

        `internal` marks mail for agents only (notifications, escalations): an answer to it proves nothing
        about the ticket, because such mail can be forwarded to anyone; agents answer through their token.
        """
        nonce = nonce or ("i" if internal else "") + secrets.token_hex(8)
        return f"mb.{ticket_id}.{nonce}.{self._sign(f'mid:{ticket_id}.{nonce}')}@{domain}"

    def _verified(self, message_id: str, domain: str) -> re.Match[str] | None:
        m = _MESSAGE_ID.match(message_id.strip("<>").lower())
        if not m or m["domain"] != domain.lower():
            return None
        return m if self._check(f"mid:{m['ticket']}.{m['nonce']}", m["sig"]) else None

    def ticket_of_message_id(self, message_id: str, domain: str) -> int | None:
        """The ticket a customer-visible Message-ID of ours proves (None for internal ones and strangers')."""
        m = self._verified(message_id, domain)
        if m is None or m["nonce"].startswith("i"):
            return None
        return int(m["ticket"])

    def bounce_address(self, base_address: str, message_id: str) -> str:
        """The envelope sender for a message we generated: a bounce to it names the ticket and the message."""
        m = _MESSAGE_ID.match(message_id.strip("<>").lower())
        if not m:
            raise ValueError(f"{message_id!r} is not a Message-ID mailbot generated")
        return self.reply_address(base_address, int(m["ticket"]), kind="b", extra=m["nonce"])

    def bounced_message_id(self, token: ReplyToken, domain: str) -> str | None:
        """The Message-ID of the message whose bounce came to this bounce token."""
        if token.kind != "b" or not token.extra:
            return None
        return self.message_id(token.ticket_id, domain, nonce=token.extra)

    def is_ours(self, message_id: str, domain: str) -> bool:
        return self._verified(message_id, domain) is not None
