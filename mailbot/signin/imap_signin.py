"""Sign an IMAP connection in: LOGIN with a password, or SASL XOAUTH2 / OAUTHBEARER with an access token
(one fresh token and one retry when the server refuses the cached one)."""

from __future__ import annotations

import ast

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from mailbot.config import ImapConfig
from mailbot.signin import sasl
from mailbot.signin.access_tokens import SignInFailed
from mailbot.signin.shared_tokens import token_for


class ImapSignInFailed(LoginError):  # type: ignore[misc]  # imapclient has no type information
    """The account could not sign in with OAuth2; the message names the provider's or the server's reason.
    A LoginError, so every caller that handles a refused password handles this too."""

    def __init__(self, reason: str, temporary: bool = False) -> None:
        super().__init__(reason)
        self.temporary = temporary


class _Responder:
    """Answers the server's challenges: the initial response first, then (after an error challenge) the
    mechanism's abort, remembering what the server said."""

    def __init__(self, mechanism: str, initial: bytes) -> None:
        self.mechanism = mechanism
        self.initial: bytes | None = initial
        self.error = ""

    def __call__(self, challenge: bytes) -> bytes:
        if self.initial is not None:
            first, self.initial = self.initial, None
            return first
        self.error = sasl.describe_challenge(challenge)
        return sasl.ABORT[self.mechanism]


def sign_in_imap(client: IMAPClient, acc: ImapConfig) -> None:
    if acc.auth != "oauth2" or acc.oauth2 is None:
        try:
            client.login(acc.username, acc.resolve_password() or "")
        except LoginError as exc:
            raise LoginError(server_text(exc)) from None
        return
    tokens = token_for(acc.oauth2)
    offered = {c.decode("ascii", "replace").upper()[5:] for c in client.capabilities() if c.upper().startswith(b"AUTH=")}
    mechanism = sasl.choose_mechanism(acc.oauth2.mechanism, offered)
    try:
        token = tokens.current()
    except SignInFailed as exc:
        raise ImapSignInFailed(exc.reason, exc.temporary) from None
    try:
        _authenticate(client, acc, mechanism, token)
        return
    except LoginError:
        pass  # expired early, or revoked: one fresh token, one more try
    try:
        token = tokens.renew(token)
    except SignInFailed as exc:
        raise ImapSignInFailed(exc.reason, exc.temporary) from None
    try:
        _authenticate(client, acc, mechanism, token)
    except LoginError as exc:
        raise ImapSignInFailed(f"the server refused a fresh access token for {acc.username} ({mechanism}): {exc}") from None


def server_text(exc: Exception) -> str:
    """The server's words from an imapclient error, which may wrap them as a bytes repr ("b'[AUTH...] ...'")."""
    text = str(exc)
    if len(text) >= 3 and text[0] == "b" and text[1] in "'\"" and text[-1] == text[1]:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
    return text


def _authenticate(client: IMAPClient, acc: ImapConfig, mechanism: str, token: str) -> None:
    responder = _Responder(mechanism, sasl.initial_response(mechanism, acc.username, token, acc.host, acc.effective_port))
    try:
        client.sasl_login(mechanism, responder)
    except LoginError as exc:
        said = f" ({responder.error})" if responder.error else ""
        raise LoginError(f"{server_text(exc)}{said}") from None
