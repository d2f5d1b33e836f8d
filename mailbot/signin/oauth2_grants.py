"""The OAuth2 grants mailbot signs in with, spoken by Authlib: client credentials and refresh token (RFC 6749).

The client authenticates with a secret (sent in the request body) or with a certificate (`private_key_jwt`,
RFC 7523, with the certificate's thumbprint as `x5t` for Microsoft). A refresh token lives in a file of its
own, mode 0600, rewritten in place when the provider rotates it.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT

from mailbot.config import OAuth2Config
from mailbot.logs import log
from mailbot.signin.access_tokens import AccessToken, SignInFailed

logger = logging.getLogger("mailbot.signin")

# Provider error codes that a retry may cure; every other one needs the configuration (or consent) fixed.
TEMPORARY_ERRORS = {"temporarily_unavailable", "server_error", "slow_down"}


def _session(cfg: OAuth2Config) -> OAuth2Session:
    endpoint = cfg.endpoint
    if cfg.certificate_file is not None:
        try:
            cert = cfg.client_certificate()
        except ValueError as exc:  # the files changed since the configuration was checked
            raise SignInFailed(str(exc)) from None
        session = OAuth2Session(
            cfg.client_id, cert.private_key_pem, token_endpoint_auth_method="private_key_jwt", scope=cfg.effective_scope,
        )
        session.register_client_auth_method(PrivateKeyJWT(endpoint, headers={"x5t": cert.thumbprint}, alg="RS256"))
        return session
    try:
        secret = cfg.resolve_client_secret()
    except OSError as exc:
        raise SignInFailed(f"cannot read client_secret_file: {exc.strerror}") from None
    method = "client_secret_post" if secret else "none"  # no secret: a public client (refresh token only)
    return OAuth2Session(cfg.client_id, secret, token_endpoint_auth_method=method, scope=cfg.effective_scope)


def _access_token(token: dict[str, Any], where: str) -> AccessToken:
    value = token.get("access_token")
    if not isinstance(value, str) or not value:
        raise SignInFailed(f"{where} answered without an access_token")
    expires_in = token.get("expires_in")
    try:
        seconds = float(expires_in) if expires_in is not None else None
    except (TypeError, ValueError):
        seconds = None
    return AccessToken(value, seconds)


def _refused(what: str, where: str, exc: Exception) -> SignInFailed:
    """The provider's own words for a failed request, never the request itself (it carries the secrets)."""
    if isinstance(exc, OAuthError):
        detail = f"{exc.error}: {exc.description}" if exc.description else str(exc.error)
        return SignInFailed(f"{where} refused the {what}: {detail}", temporary=exc.error in TEMPORARY_ERRORS)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return SignInFailed(f"{where} failed: HTTP {exc.response.status_code} {exc.response.reason}", temporary=True)
    if isinstance(exc, requests.RequestException):
        return SignInFailed(f"cannot reach {where}: {type(exc).__name__}", temporary=True)
    return SignInFailed(f"{where} gave an answer that is not a token: {exc}", temporary=True)


class ClientCredentialsGrant:
    """App-only access (Microsoft 365): the application's own credentials buy a token for the mailboxes it was
    granted."""

    def __init__(self, cfg: OAuth2Config) -> None:
        self.cfg = cfg

    @property
    def description(self) -> str:
        return f"client credentials grant for client {self.cfg.client_id} at {self.cfg.endpoint}"

    def fetch(self) -> AccessToken:
        where = f"the token endpoint {self.cfg.endpoint}"
        session = _session(self.cfg)
        try:
            with session:
                token = session.fetch_token(self.cfg.endpoint, grant_type="client_credentials", timeout=self.cfg.timeout_seconds)
        except (OAuthError, requests.RequestException, ValueError) as exc:
            raise _refused("client credentials", where, exc) from None
        result = _access_token(token, where)
        log(logger, logging.INFO, "oauth2.token", grant="client_credentials", client_id=self.cfg.client_id, expires_in=result.expires_in)
        return result


class RefreshTokenGrant:
    """Delegated access (Google Workspace, Microsoft for a signed-in user): a long-lived refresh token, kept in
    a file, buys short-lived access tokens; a provider that rotates it gets the new one written back."""

    def __init__(self, cfg: OAuth2Config) -> None:
        assert cfg.refresh_token_file is not None
        self.cfg = cfg
        self.path: Path = cfg.refresh_token_file

    @property
    def description(self) -> str:
        return f"refresh token grant for client {self.cfg.client_id} at {self.cfg.endpoint}"

    def fetch(self) -> AccessToken:
        where = f"the token endpoint {self.cfg.endpoint}"
        try:
            refresh_token = self.path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SignInFailed(f"cannot read refresh_token_file {str(self.path)!r}: {exc.strerror}") from None
        if not refresh_token:
            raise SignInFailed(f"refresh_token_file {str(self.path)!r} is empty")
        session = _session(self.cfg)
        try:
            with session:
                token = session.refresh_token(self.cfg.endpoint, refresh_token=refresh_token, timeout=self.cfg.timeout_seconds)
        except (OAuthError, requests.RequestException, ValueError) as exc:
            raise _refused("refresh token", where, exc) from None
        result = _access_token(token, where)
        rotated = token.get("refresh_token")
        if isinstance(rotated, str) and rotated and rotated != refresh_token:
            self._keep(rotated)
        log(logger, logging.INFO, "oauth2.token", grant="refresh_token", client_id=self.cfg.client_id, expires_in=result.expires_in,
            rotated=bool(rotated and rotated != refresh_token))
        return result

    def _keep(self, refresh_token: str) -> None:
        """Replace the file's refresh token atomically (a crash leaves the old file or the new, never half)."""
        try:
            fd, tmp = tempfile.mkstemp(prefix=".refresh-", dir=self.path.parent)  # created mode 0600
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(refresh_token + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            # The new token works for now, but the next start would read the old, revoked one.
            log(logger, logging.ERROR, "oauth2.refresh_token_not_saved", file=str(self.path), error=exc.strerror,
                note="the provider rotated the refresh token; make the file's folder writable by mailbot")
