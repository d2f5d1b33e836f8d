"""Sign an SMTP connection in: AUTH with a password, or SASL XOAUTH2 / OAUTHBEARER with an access token (one
fresh token and one retry when the server refuses the cached one)."""

from __future__ import annotations

import asyncio
import base64

import aiosmtplib

from mailbot.config import SmtpConfig
from mailbot.signin import sasl
from mailbot.signin.access_tokens import CachedToken, SignInFailed
from mailbot.signin.shared_tokens import token_for

# RFC 4954 section 4: an initial response that would make the AUTH line longer than this goes after a 334 instead.
MAX_AUTH_LINE = 512


class SmtpSignInFailed(aiosmtplib.SMTPAuthenticationError):
    """The SMTP server could not be signed in to with OAuth2; the message names the provider's or server's reason."""

    def __init__(self, reason: str, code: int = 535, temporary: bool = False) -> None:
        super().__init__(code, reason)
        self.temporary = temporary


async def sign_in_smtp(client: aiosmtplib.SMTP, cfg: SmtpConfig) -> None:
    if not cfg.username:
        return
    if cfg.auth != "oauth2" or cfg.oauth2 is None:
        await client.login(cfg.username, cfg.resolve_password() or "")
        return
    tokens = token_for(cfg.oauth2)
    if client.last_ehlo_response is None:
        await client.ehlo()
    offered = {m.upper() for m in client.server_auth_methods}
    mechanism = sasl.choose_mechanism(cfg.oauth2.mechanism, offered)
    token = await _token(tokens, None)
    try:
        await _authenticate(client, cfg, mechanism, token)
        return
    except aiosmtplib.SMTPAuthenticationError:
        pass  # expired early, or revoked: one fresh token, one more try
    token = await _token(tokens, token)
    try:
        await _authenticate(client, cfg, mechanism, token)
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise SmtpSignInFailed(f"the server refused a fresh access token for {cfg.username} ({mechanism}): {exc.code} {exc.message}") from None


async def _token(tokens: CachedToken, rejected: str | None) -> str:
    """The cached or a renewed token; fetching one is blocking HTTP (or a command), so it runs in a thread."""
    try:
        if rejected is None:
            return await asyncio.to_thread(tokens.current)
        return await asyncio.to_thread(tokens.renew, rejected)
    except SignInFailed as exc:
        raise SmtpSignInFailed(exc.reason, temporary=exc.temporary) from None


async def _authenticate(client: aiosmtplib.SMTP, cfg: SmtpConfig, mechanism: str, token: str) -> None:
    encoded = base64.b64encode(sasl.initial_response(mechanism, cfg.username or "", token, cfg.host, cfg.effective_port))
    if len(b"AUTH " + mechanism.encode() + b" " + encoded) <= MAX_AUTH_LINE:
        response = await client.execute_command(b"AUTH", mechanism.encode(), encoded)
    else:
        response = await client.execute_command(b"AUTH", mechanism.encode())
        if response.code == 334:
            response = await client.execute_command(encoded)
    said = ""
    if response.code == 334:  # an error challenge: answer it to get the final reply
        said = f" ({sasl.describe_challenge(response.message.encode())})"
        response = await client.execute_command(base64.b64encode(sasl.ABORT[mechanism]) if sasl.ABORT[mechanism] else b"")
    if response.code != 235:
        raise aiosmtplib.SMTPAuthenticationError(response.code, f"{response.message}{said}")
