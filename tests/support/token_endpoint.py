"""A local OAuth2 token endpoint for tests (RFC 6749): the client credentials and refresh token grants, refresh
token rotation and revocation, client secrets and certificates (`private_key_jwt`, RFC 7523).

The access tokens it issues are JWTs signed with the test Dovecot's key, so Dovecot's `oauth2` passdb accepts
them; `verify` checks them the same way for the test SMTP server. It answers errors as Microsoft's and Google's
endpoints do: a JSON body with `error` and `error_description`.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey, RSAKey

from tests.support.dovecot import OAUTH2_KEY_ID

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class Client:
    client_id: str
    mailbox: str  # the mailbox this application's app-only tokens are for
    secret: str | None = None
    certificate_pem: bytes | None = None


@dataclass
class Issued:
    grant: str
    client_id: str
    mailbox: str
    access_token: str
    exp: int


@dataclass
class TokenEndpoint:
    key: bytes  # Dovecot's HS256 key
    lifetime: float = 3600.0  # what the JWT's `exp` allows
    advertised: float | None = None  # the expires_in told to the client, if not the lifetime
    rotate: bool = False  # hand out a new refresh token with every refresh (the old one stops working)
    scope: str | None = None  # when set, a client credentials request must ask for exactly this
    clients: dict[str, Client] = field(default_factory=dict)
    refresh_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # token → (client_id, mailbox)
    revoked: set[str] = field(default_factory=set)
    issued: list[Issued] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)  # grant_type, scope, client_auth of each request
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                status, body = endpoint.answer(self.path, form, self.headers.get("Authorization"))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests read what was asked from `requests`."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="token-endpoint", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/token"

    def start(self) -> "TokenEndpoint":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # set-up -------------------------------------------------------------------------------------------
    def add_client(self, mailbox: str, secret: str | None = None, certificate_pem: bytes | None = None) -> str:
        client_id = str(uuid.uuid4())
        self.clients[client_id] = Client(client_id, mailbox.lower(), secret, certificate_pem)
        return client_id

    def grant_refresh_token(self, client_id: str, mailbox: str) -> str:
        """What a user's consent would have given the application."""
        token = "rt-" + secrets.token_urlsafe(24)
        with self.lock:
            self.refresh_tokens[token] = (client_id, mailbox.lower())
        return token

    def revoke(self, refresh_token: str) -> None:
        with self.lock:
            self.revoked.add(refresh_token)

    # the endpoint -------------------------------------------------------------------------------------
    def answer(self, path: str, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        if path != "/token":
            return 404, {"error": "not_found"}
        client, how = self._authenticate(form, authorization)
        grant = form.get("grant_type", "")
        with self.lock:
            self.requests.append({"grant_type": grant, "scope": form.get("scope", ""), "client_auth": how})
        if client is None:
            return 401, {"error": "invalid_client", "error_description": f"client authentication failed ({how})"}
        if grant == "client_credentials":
            if client.secret is None and client.certificate_pem is None:
                return 401, {"error": "invalid_client", "error_description": "a public client cannot use client credentials"}
            if self.scope is not None and form.get("scope") != self.scope:
                return 400, {"error": "invalid_scope", "error_description": f"scope must be {self.scope}"}
            return 200, self._issue("client_credentials", client.client_id, client.mailbox)
        if grant == "refresh_token":
            token = form.get("refresh_token", "")
            with self.lock:
                holder = self.refresh_tokens.get(token)
                if holder is None or holder[0] != client.client_id or token in self.revoked:
                    return 400, {"error": "invalid_grant", "error_description": "The refresh token has been revoked or has expired."}
                body = self._issue("refresh_token", client.client_id, holder[1])
                if self.rotate:
                    fresh = "rt-" + secrets.token_urlsafe(24)
                    self.refresh_tokens[fresh] = holder
                    self.revoked.add(token)
                    body["refresh_token"] = fresh
            return 200, body
        return 400, {"error": "unsupported_grant_type", "error_description": f"grant_type {grant!r}"}

    def _authenticate(self, form: dict[str, str], authorization: str | None) -> tuple[Client | None, str]:
        if form.get("client_assertion_type") == ASSERTION_TYPE:
            return self._check_assertion(form.get("client_assertion", "")), "private_key_jwt"
        if authorization and authorization.startswith("Basic "):
            client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
            how = "client_secret_basic"
        elif "client_secret" in form:
            client_id, secret, how = form.get("client_id", ""), form["client_secret"], "client_secret_post"
        else:
            client_id, secret, how = form.get("client_id", ""), "", "none"
        client = self.clients.get(client_id)
        if client is None:
            return None, how
        if client.secret is not None and not secrets.compare_digest(client.secret, secret):
            return None, how
        if client.secret is None and (secret or client.certificate_pem is not None):
            return None, how
        return client, how

    def _check_assertion(self, assertion: str) -> Client | None:
        """RFC 7523: a JWT signed by the client's certificate key, naming the certificate by its SHA-1 thumbprint."""
        try:
            header = json.loads(base64.urlsafe_b64decode(assertion.split(".")[0] + "=="))
            claims = json.loads(base64.urlsafe_b64decode(assertion.split(".")[1] + "=="))
        except (ValueError, IndexError):
            return None
        client = self.clients.get(str(claims.get("iss")))
        if client is None or client.certificate_pem is None or claims.get("sub") != client.client_id:
            return None
        cert = x509.load_pem_x509_certificate(client.certificate_pem)
        digest = hashes.Hash(hashes.SHA1())
        digest.update(cert.public_bytes(serialization.Encoding.DER))
        if header.get("x5t") != base64.urlsafe_b64encode(digest.finalize()).rstrip(b"=").decode():
            return None
        public = cert.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        try:
            jwt.decode(assertion, RSAKey.import_key(public), algorithms=["RS256"])
        except (JoseError, ValueError):
            return None
        if claims.get("aud") != self.url or float(claims.get("exp", 0)) < time.time():
            return None
        return client

    def _issue(self, grant: str, client_id: str, mailbox: str) -> dict[str, Any]:
        now = int(time.time())
        exp = int(now + self.lifetime)
        claims = {"iss": self.url, "sub": mailbox, "email": mailbox, "iat": now, "exp": exp, "jti": uuid.uuid4().hex}
        token = jwt.encode({"alg": "HS256", "typ": "JWT", "kid": OAUTH2_KEY_ID}, claims, OctKey.import_key(self.key))
        self.issued.append(Issued(grant, client_id, mailbox, token, exp))
        expires_in = self.advertised if self.advertised is not None else self.lifetime
        return {"access_token": token, "token_type": "Bearer", "expires_in": int(expires_in)}

    def mint(self, mailbox: str) -> str:
        """An access token for `mailbox`, as a helper such as oama would print it."""
        return str(self._issue("minted", "", mailbox.lower())["access_token"])

    # for the test SMTP server ---------------------------------------------------------------------------
    def verify(self, token: str, user: str) -> str | None:
        """Why `token` does not let `user` in (None when it does): the checks Dovecot's local validation makes."""
        try:
            decoded = jwt.decode(token, OctKey.import_key(self.key), algorithms=["HS256"])
        except (JoseError, ValueError) as exc:
            return f"bad token: {exc}"
        if int(decoded.claims.get("exp", 0)) < int(time.time()):
            return "token has expired"
        if str(decoded.claims.get("email", "")).lower() != user.lower():
            return "token is for another user"
        return None

    def wait_for_expiry(self, issued: Issued, timeout: float = 30.0) -> None:
        """Wait until the servers (which count whole seconds) see `issued` as expired."""
        deadline = time.monotonic() + timeout
        while time.time() < issued.exp + 1:
            if time.monotonic() > deadline:
                raise AssertionError("the token did not expire in time")
            time.sleep(0.05)
