"""One cached token per distinct OAuth2 setting, shared by every connection that signs in with it."""

from __future__ import annotations

import threading

from mailbot.config import OAuth2Config
from mailbot.signin.access_tokens import CachedToken, TokenGrant
from mailbot.signin.token_command import CommandGrant

_lock = threading.Lock()
_tokens: dict[str, CachedToken] = {}


def grant_for(cfg: OAuth2Config) -> TokenGrant:
    if cfg.grant == "command":
        assert cfg.token_command is not None
        return CommandGrant(cfg.token_command, cfg.timeout_seconds)
    # The HTTP and OAuth libraries load only for a source that signs in at a token endpoint.
    from mailbot.signin.oauth2_grants import ClientCredentialsGrant, RefreshTokenGrant

    if cfg.grant == "refresh_token":
        return RefreshTokenGrant(cfg)
    return ClientCredentialsGrant(cfg)


def token_for(cfg: OAuth2Config) -> CachedToken:
    """The token for these settings: an IMAP account's poller and its IDLE connection, and an SMTP server
    with the same credentials, share one (and refresh it once)."""
    key = cfg.model_dump_json()
    with _lock:
        cached = _tokens.get(key)
        if cached is None:
            cached = _tokens[key] = CachedToken(grant_for(cfg))
        return cached
