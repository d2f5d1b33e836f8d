"""OAuth2 settings: each mistake names the file, the key and the reason; defaults follow the provider."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mailbot.config import Config, load
from mailbot.errors import ConfigError

ACCOUNT = '[[imap]]\nname = "support"\nhost = "outlook.office365.com"\nusername = "support@contoso.com"\nauth = "oauth2"\n'


def load_with(tmp_path: Path, oauth2: str, account: str = ACCOUNT) -> Config:
    path = tmp_path / "mailbot.toml"
    path.write_text(account + "[imap.oauth2]\n" + oauth2)
    return load(path)


def error_of(tmp_path: Path, oauth2: str, account: str = ACCOUNT) -> str:
    with pytest.raises(ConfigError) as info:
        load_with(tmp_path, oauth2, account)
    return str(info.value)


def private_file(tmp_path: Path, name: str, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(mode)
    return path


def test_microsoft_client_credentials_defaults(tmp_path: Path) -> None:
    config = load_with(tmp_path, 'provider = "microsoft"\ntenant = "contoso.onmicrosoft.com"\nclient_id = "app"\nclient_secret = "s"\n')
    oauth2 = config.settings.imap[0].oauth2
    assert oauth2 is not None
    assert oauth2.grant == "client_credentials"
    assert oauth2.endpoint == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    assert oauth2.effective_scope == "https://outlook.office365.com/.default"


def test_google_refresh_token_sends_no_scope_and_paths_resolve_next_to_the_config(tmp_path: Path) -> None:
    private_file(tmp_path, "google.token", "1//refresh")
    config = load_with(tmp_path, 'provider = "google"\nclient_id = "app.apps.googleusercontent.com"\nclient_secret = "s"\nrefresh_token_file = "google.token"\n')
    oauth2 = config.settings.imap[0].oauth2
    assert oauth2 is not None
    assert oauth2.grant == "refresh_token" and oauth2.effective_scope is None
    assert oauth2.endpoint == "https://oauth2.googleapis.com/token"
    assert oauth2.refresh_token_file == tmp_path / "google.token"


@pytest.mark.parametrize(
    ("oauth2", "reason"),
    [
        ('client_id = "a"\nclient_secret = "s"\n', "give provider = 'microsoft' or 'google', or token_endpoint, or token_command"),
        ('provider = "microsoft"\nclient_id = "a"\nclient_secret = "s"\n', "provider 'microsoft' needs tenant"),
        ('provider = "microsoft"\ntenant = "t"\nclient_secret = "s"\n', "client_id is required"),
        ('provider = "microsoft"\ntenant = "t"\nclient_id = "a"\n', "the client credentials grant needs client_secret"),
        ('token_endpoint = "http://login.example.com/token"\nclient_id = "a"\nclient_secret = "s"\n', "must be an https:// URL"),
        ('provider = "google"\nclient_id = "a"\nclient_secret = "s"\n', "Google has no client credentials grant for mail"),
        ('token_command = "oama access x"\nclient_id = "a"\n', "token_command prints the access token itself; remove client_id"),
        ('provider = "microsoft"\ntenant = "t"\nclient_id = "a"\nclient_secret = "s"\nclient_secret_env = "NOPE_NOT_SET"\n',
         "give only one of client_secret, client_secret_env"),
        ('provider = "microsoft"\ntenant = "t"\nclient_id = "a"\nrefresh_token_file = "missing.token"\n', "refresh_token_file"),
        ('token_command = "x"\nmechanism = "plain"\n', "imap[0].oauth2.mechanism"),
    ],
)
def test_mistakes_name_the_file_the_key_and_the_reason(tmp_path: Path, oauth2: str, reason: str) -> None:
    message = error_of(tmp_path, oauth2)
    assert message.startswith(f"{tmp_path / 'mailbot.toml'}: imap[0].oauth2")
    assert reason in message


def test_a_refresh_token_file_others_can_read_is_refused(tmp_path: Path) -> None:
    private_file(tmp_path, "rt", "1//refresh", mode=0o644)
    message = error_of(tmp_path, 'provider = "google"\nclient_id = "a"\nrefresh_token_file = "rt"\n')
    assert "is readable by others (mode 644); run chmod 600 on it" in message


def test_auth_and_the_oauth2_table_must_agree(tmp_path: Path) -> None:
    with_password = ACCOUNT + 'password = "pw"\n'
    assert "auth = 'oauth2' signs in with a token; remove password" in error_of(tmp_path, 'token_command = "x"\n', with_password)
    no_table = tmp_path / "a.toml"
    no_table.write_text(ACCOUNT)
    with pytest.raises(ConfigError, match=r"imap\[0\]: Value error, auth = 'oauth2' needs an oauth2 table"):
        load(no_table)
    password_auth = ACCOUNT.replace('auth = "oauth2"', 'auth = "password"')
    assert "an oauth2 table is given but auth = 'password'" in error_of(tmp_path, 'token_command = "x"\n', password_auth)


def test_a_certificate_is_checked_when_the_config_is_loaded(tmp_path: Path) -> None:
    def make(name: str) -> tuple[Path, Path]:
        cert, key = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )
        return cert, key

    cert, key = make("app")
    _other_cert, other_key = make("other")
    base = 'provider = "microsoft"\ntenant = "t"\nclient_id = "a"\ncertificate_file = "app.crt"\n'
    both = tmp_path / "both.pem"
    both.write_bytes(cert.read_bytes() + key.read_bytes())
    config = load_with(tmp_path, base.replace("app.crt", "both.pem"))  # key and certificate in one file
    oauth2 = config.settings.imap[0].oauth2
    assert oauth2 is not None
    certificate = oauth2.client_certificate()
    assert len(certificate.thumbprint) == 27  # base64url SHA-1
    assert "the private key does not belong to the certificate" in error_of(tmp_path, base + 'private_key_file = "other.key"\n')
    assert "holds no PEM private key" in error_of(tmp_path, base)
    assert "holds no PEM certificate" in error_of(tmp_path, base.replace("app.crt", "app.key"))
