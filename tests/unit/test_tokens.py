"""Signed reply tokens and Message-IDs."""

from __future__ import annotations

import pytest

from mailbot.core.tokens import Signer

SIGNER = Signer(b"a-secret-of-enough-length")


def test_reply_address_round_trip() -> None:
    addr = SIGNER.reply_address("support@example.com", 1042)
    assert addr.startswith("support+t1042-") and addr.endswith("@example.com")
    token = SIGNER.token_in_address(addr, "support@example.com")
    assert token is not None and token.ticket_id == 1042 and token.kind == "t"
    # MTAs that fold case must not break it.
    assert SIGNER.token_in_address(addr.upper(), "support@example.com") is not None


def test_agent_token_carries_the_agent() -> None:
    addr = SIGNER.reply_address("support@example.com", 7, kind="a", extra="k3y")
    token = SIGNER.token_in_address(addr, "support@example.com")
    assert token is not None and (token.kind, token.ticket_id, token.extra) == ("a", 7, "k3y")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda a: a.replace("+t1042-", "+t1043-"),
        lambda a: a.replace("@example.com", "@other.example"),
        lambda a: a[:-13] + ("a" if a[-13] != "a" else "b") + a[-12:],
        lambda a: a.replace("support+", "sales+"),
    ],
)
def test_tampered_tokens_are_refused(tamper) -> None:
    addr = SIGNER.reply_address("support@example.com", 1042)
    assert SIGNER.token_in_address(tamper(addr), "support@example.com") is None


def test_other_secret_refuses() -> None:
    addr = SIGNER.reply_address("support@example.com", 5)
    assert Signer(b"another-secret-of-length").token_in_address(addr, "support@example.com") is None


def test_message_ids_prove_their_ticket() -> None:
    mid = SIGNER.message_id(77, "example.com")
    assert SIGNER.ticket_of_message_id(mid, "example.com") == 77
    assert SIGNER.ticket_of_message_id(f"<{mid}>", "example.com") == 77
    assert SIGNER.ticket_of_message_id(mid.replace("mb.77.", "mb.78."), "example.com") is None
    assert SIGNER.ticket_of_message_id(mid, "other.example") is None
    assert SIGNER.message_id(77, "example.com") != mid


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        Signer(b"short")
