"""SASL XOAUTH2 and OAUTHBEARER (RFC 7628) client responses, and what a server's error challenge says."""

from __future__ import annotations

import base64
import binascii
import json

XOAUTH2 = "XOAUTH2"
OAUTHBEARER = "OAUTHBEARER"

# What the client answers to an error challenge, so that the server sends its final failure reply:
# an empty response for XOAUTH2 (Google's and Microsoft's documentation), a lone ^A for OAUTHBEARER (RFC 7628 3.2.3).
ABORT = {XOAUTH2: b"", OAUTHBEARER: b"\x01"}


def xoauth2(user: str, token: str) -> bytes:
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


def oauthbearer(user: str, token: str, host: str, port: int) -> bytes:
    # The GS2 header names the user; ',' and '=' in it are escaped (RFC 5801 section 4).
    authzid = user.replace("=", "=3D").replace(",", "=2C")
    return f"n,a={authzid},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01".encode()


def initial_response(mechanism: str, user: str, token: str, host: str, port: int) -> bytes:
    if mechanism == OAUTHBEARER:
        return oauthbearer(user, token, host, port)
    return xoauth2(user, token)


def choose_mechanism(preference: str, offered: set[str]) -> str:
    """The mechanism to use: the configured one, or with "auto" the standard OAUTHBEARER where the server
    offers it and XOAUTH2 (which Microsoft and Google both speak) otherwise."""
    if preference != "auto":
        return preference.upper()
    return OAUTHBEARER if OAUTHBEARER in offered else XOAUTH2


def describe_challenge(challenge: bytes) -> str:
    """A server's error challenge, e.g. {"status":"401","schemes":"bearer"}, as "status=401 schemes=bearer"."""
    raw = challenge.strip()
    try:
        raw = base64.b64decode(raw, validate=True) if raw and not raw.startswith(b"{") else raw
    except (binascii.Error, ValueError):
        pass
    try:
        data = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")[:200]
    if not isinstance(data, dict):
        return str(data)[:200]
    return " ".join(f"{k}={v}" for k, v in data.items() if k in ("status", "schemes", "scope", "error"))[:200]
