"""SASL XOAUTH2 and OAUTHBEARER strings as Google, Microsoft and RFC 7628 spell them."""

from __future__ import annotations

import base64

from mailbot.signin import sasl


def test_xoauth2_is_user_then_bearer_token() -> None:
    assert sasl.xoauth2("support@contoso.com", "tok") == b"user=support@contoso.com\x01auth=Bearer tok\x01\x01"


def test_oauthbearer_has_a_gs2_header_with_the_user_escaped() -> None:
    said = sasl.oauthbearer("a,b=c@example.com", "tok", "imap.example.com", 993)
    assert said == b"n,a=a=2Cb=3Dc@example.com,\x01host=imap.example.com\x01port=993\x01auth=Bearer tok\x01\x01"


def test_auto_prefers_the_standard_mechanism_where_offered() -> None:
    assert sasl.choose_mechanism("auto", {"PLAIN", "XOAUTH2", "OAUTHBEARER"}) == "OAUTHBEARER"
    assert sasl.choose_mechanism("auto", {"PLAIN", "XOAUTH2"}) == "XOAUTH2"
    assert sasl.choose_mechanism("auto", set()) == "XOAUTH2"  # servers that do not list it still speak it
    assert sasl.choose_mechanism("xoauth2", {"OAUTHBEARER"}) == "XOAUTH2"


def test_an_error_challenge_reads_as_its_status() -> None:
    raw = b'{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}'
    assert sasl.describe_challenge(raw) == "status=401 schemes=bearer scope=https://mail.google.com/"
    assert sasl.describe_challenge(base64.b64encode(raw)) == "status=401 schemes=bearer scope=https://mail.google.com/"
    assert sasl.describe_challenge(b"not json") == "not json"
