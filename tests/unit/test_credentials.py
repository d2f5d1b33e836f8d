"""Finding and removing server credentials in customers' messages."""

from __future__ import annotations

import pytest

from mailbot.core.credentials import REDACTED, find, find_in_mail, hide, redact, text_of


@pytest.mark.parametrize(
    "text, kind, secret",
    [
        ("FTP access: ftp.example.com\nlogin: webuser\npassword: Xy7!pq2", "ftp", "Xy7!pq2"),
        ("Доступ к хостингу:\nлогин: admin\nпароль: qwerty123", "hosting", "qwerty123"),
        ("mysql://shop:S3cr3t@db.example.com/shop", "database", "S3cr3t"),
        ("login: admin / hunter22", "admin", "hunter22"),
        ("SSH root@203.0.113.7 pass: abc123xyz", "ssh", "abc123xyz"),
        ("wp-admin (user admin, password = Tr0ub4dor)", "admin", "Tr0ub4dor"),
        ("sftp://deploy:Pa55word@files.example.com", "ssh", "Pa55word"),
    ],
)
def test_credentials_are_found(text: str, kind: str, secret: str) -> None:
    found = find(text)
    assert found is not None and kind in found.kinds and secret in found.secrets


@pytest.mark.parametrize(
    "text",
    [
        "I forgot my password, please reset it",
        "Password reset does not work",
        "my password is still not accepted",
        "The password field is empty",
        "The password: reset link expired",
        "",
    ],
)
def test_talking_about_passwords_is_not_credentials(text: str) -> None:
    assert find(text) is None


def test_redact_removes_only_the_secret() -> None:
    text = "login: web\npassword: Xy7!pq2\nAnd again Xy7!pq2 in the text. Site: shop.example"
    found = find(text)
    assert found is not None
    new, count = redact(text, found.secrets)
    assert count == 2 and "Xy7!pq2" not in new
    assert new == f"login: web\npassword: {REDACTED}\nAnd again {REDACTED} in the text. Site: shop.example"
    assert find(new) is None  # a redacted message is not found again


def test_secrets_are_found_in_the_subject_and_text_attachments_and_hidden_in_mail() -> None:
    found = find_in_mail("FTP password: Sub-7Kq2x", "Hello", ((b"mysql://u:Db-44zzQx@db/shop\n", "text/plain"), (b"\x89PNG", "image/png")))
    assert found is not None and set(found.secrets) == {"Sub-7Kq2x", "Db-44zzQx"}
    assert hide("FTP password: Sub-7Kq2x", found.secrets) == "FTP password: [password hidden]"
    assert hide("nothing to hide", ()) == "nothing to hide"
    assert text_of(b"\x89PNG", "image/png") is None
