"""Access tokens from the local token endpoint are kept until shortly before they expire, and a refused one is
replaced once, however many connections ask at the same time."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator

import pytest

from mailbot.config import OAuth2Config
from mailbot.signin.access_tokens import CachedToken, SignInFailed
from mailbot.signin.oauth2_grants import ClientCredentialsGrant
from mailbot.signin.token_command import CommandGrant
from tests.support.token_endpoint import TokenEndpoint


class Ticker:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    server = TokenEndpoint(secrets.token_bytes(32)).start()
    yield server
    server.stop()


def grant(endpoint: TokenEndpoint, secret: str = "s3") -> ClientCredentialsGrant:
    client_id = endpoint.add_client("support@example.com", secret="s3")
    return ClientCredentialsGrant(OAuth2Config(token_endpoint=endpoint.url, client_id=client_id, client_secret=secret))


def test_a_token_is_kept_until_shortly_before_it_expires(endpoint: TokenEndpoint) -> None:
    endpoint.lifetime = 3600
    clock = Ticker()
    tokens = CachedToken(grant(endpoint), clock)
    first = tokens.current()
    clock.now += 3600 - 301  # five minutes and a second before it expires
    assert tokens.current() == first and len(endpoint.issued) == 1
    clock.now += 2
    assert tokens.current() != first and len(endpoint.issued) == 2


def test_a_short_lived_token_is_renewed_a_tenth_of_its_life_early(endpoint: TokenEndpoint) -> None:
    endpoint.lifetime = 60
    clock = Ticker()
    tokens = CachedToken(grant(endpoint), clock)
    first = tokens.current()
    clock.now += 53
    assert tokens.current() == first
    clock.now += 2
    assert tokens.current() != first


def test_a_refused_token_is_renewed_once_for_every_connection_that_saw_it_refused(endpoint: TokenEndpoint) -> None:
    tokens = CachedToken(grant(endpoint), Ticker())
    refused = tokens.current()
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(tokens.renew(refused))) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(set(results)) == 1 and refused not in results
    assert len(endpoint.issued) == 2


def test_the_providers_error_is_the_reason(endpoint: TokenEndpoint) -> None:
    tokens = CachedToken(grant(endpoint, secret="wrong"))
    with pytest.raises(SignInFailed, match=r"token endpoint http://127\.0\.0\.1:\d+/token refused the client credentials: invalid_client") as info:
        tokens.current()
    assert not info.value.temporary and "wrong" not in str(info.value)


def test_an_unreachable_endpoint_is_temporary(endpoint: TokenEndpoint) -> None:
    g = grant(endpoint)
    endpoint.stop()
    with pytest.raises(SignInFailed, match="cannot reach the token endpoint") as info:
        CachedToken(g).current()
    assert info.value.temporary


def test_a_command_token_is_asked_for_at_every_sign_in(tmp_path) -> None:
    counter = tmp_path / "count"
    command = f"echo x >> {counter}; echo token-$(wc -l < {counter})"
    tokens = CachedToken(CommandGrant(command, timeout=10))
    assert tokens.current() == "token-1"
    assert tokens.current() == "token-2"
