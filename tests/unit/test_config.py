"""Configuration loading: every mistake names the file, the key and the reason."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mailbot.config import embedded_default, load, parse
from mailbot.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mailbot.toml"
    path.write_text(text)
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load(path)
    return str(info.value)


def test_example_config_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILBOT_IMAP_PASSWORD", "x")
    monkeypatch.setenv("MAILBOT_SMTP_PASSWORD", "x")
    config = load(EXAMPLE)
    assert config.support_address == "support@example.com"
    assert config.settings.imap[0].security == "tls"


def test_embedded_default_needs_nothing(tmp_path: Path) -> None:
    config = embedded_default(tmp_path / "state")
    assert config.database_url.startswith("sqlite:///")
    assert config.settings.maildir[0].path == tmp_path / "state" / "maildir"
    assert config.configured_secret() is None  # the desk's database holds the secret (tests/integration/test_desk_secret.py)


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[mailbot]\nstate_dir = "var"\n[[maildir]]\nname = "local"\npath = "mail"\n')
    config = load(path)
    assert config.state_dir == tmp_path / "var"
    assert config.settings.maildir[0].path == tmp_path / "mail"


@pytest.mark.parametrize(
    "text, key, reason",
    [
        ('[mailbot]\ntimezone = "Mars/Olympus"\n', "mailbot.timezone", "unknown time zone 'Mars/Olympus'"),
        ('[mailbot]\nsupport_address = "nobody"\n', "mailbot.support_address", "is not an e-mail address"),
        ('[mailbot]\nsupprt_address = "a@b.c"\n', "mailbot.supprt_address", "unknown key"),
        ('[[imap]]\nname = "x"\nusername = "u"\n', "imap[0].host", "required key is missing"),
        ('[[imap]]\nname = "x"\nhost = "h"\nusername = "u"\nport = "993"\n', "imap[0].port", "integer"),
        ('[[imap]]\nname = "x"\nhost = "h"\nusername = "u"\nport = 70000\n', "imap[0].port", "less than 65536"),
        ('[[imap]]\nname = "x"\nhost = "h"\nusername = "u"\nsecurity = "plain"\n', "imap[0]", "allow_plaintext = true"),
        ('[[imap]]\nname = "x"\nhost = "h"\nusername = "u"\nsecurity = "ssl"\n', "imap[0].security", "'tls', 'starttls' or 'plain'"),
        ('[[imap]]\nname = "x"\nhost = "h"\nusername = "u"\npassword_file = "nope.txt"\n', "imap[0]", "nope.txt' does not exist"),
        ('[[imap]]\nname = "x"\nhost = "h"\nusername = "u"\npassword_env = "MAILBOT_NOT_SET_ANYWHERE"\n', "imap[0]", "not set in the environment"),
        ('[[maildir]]\nname = "a"\npath = "m"\n[[maildir]]\nname = "a"\npath = "n"\n', "", "repeated: a"),
        ('[processing]\nmax_attempts = 0\n', "processing.max_attempts", "greater than or equal to 1"),
        ('[mailbot\n', "", "not valid TOML"),
        ('[mailbot]\nsecret = "short"\n', "mailbot", "at least 16 characters"),
        ('[intake]\nhistory_before = "2026-01-01"\n', "intake.history_before", "valid date"),
        ('[intake]\nmax_ack_age_hours = -1\n', "intake.max_ack_age_hours", "greater than or equal to 0"),
        ('[intake]\nhistory = "yes"\n', "intake.history", "valid boolean"),
    ],
)
def test_errors_name_file_key_and_reason(tmp_path: Path, text: str, key: str, reason: str) -> None:
    path = write(tmp_path, text)
    message = error_of(path)
    assert str(path) in message
    assert key in message
    assert reason in message


def test_missing_file(tmp_path: Path) -> None:
    assert "file not found" in error_of(tmp_path / "nope.toml")


def test_secret_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("0123456789abcdef0123\n")
    config = load(write(tmp_path, '[mailbot]\nsecret_file = "secret.txt"\n'))
    assert config.configured_secret() == b"0123456789abcdef0123"


def test_a_preset_is_named_or_a_folder_given_not_both(tmp_path: Path) -> None:
    base = 'support_address = "s@example.com"\n'
    config = load(write(tmp_path, f'[mailbot]\n{base}[rules]\npreset = "license-age"\n'))
    assert config.rules_dir.name == "license-age" and (config.rules_dir / "plans.toml").exists()
    assert load(write(tmp_path, f"[mailbot]\n{base}")).rules_dir.name == "default"
    unknown = error_of(write(tmp_path, f'[mailbot]\n{base}[rules]\npreset = "gold"\n'))
    assert "rules" in unknown and "'gold' is not one of default, license-age, support-period" in unknown
    both = error_of(write(tmp_path, f'[mailbot]\n{base}[rules]\npreset = "default"\ndir = "."\n'))
    assert "give preset or dir, not both" in both


def test_the_example_copied_elsewhere_validates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILBOT_IMAP_PASSWORD", "x")
    monkeypatch.setenv("MAILBOT_SMTP_PASSWORD", "y")
    copy = tmp_path / "somewhere" / "mailbot.toml"
    copy.parent.mkdir()
    copy.write_text((Path(__file__).resolve().parents[2] / "config.example.toml").read_text())
    assert load(copy).rules_dir.name == "default"


def test_history_before_is_a_toml_date_or_date_time_in_the_desk_zone(tmp_path: Path) -> None:
    cases = {
        "2026-01-01": datetime(2025, 12, 31, 23, 0, tzinfo=timezone.utc),  # midnight in Berlin
        "2026-01-01T10:00:00": datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc),
        "2026-01-01T10:00:00+03:00": datetime(2026, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=3))),
    }
    for literal, expected in cases.items():
        config = parse(f'[mailbot]\ntimezone = "Europe/Berlin"\n[intake]\nhistory_before = {literal}\n', tmp_path / "m.toml")
        intake = config.settings.intake
        assert intake.history_cutoff(config.settings.mailbot.timezone) == expected, literal
    defaults = parse("", tmp_path / "m.toml").settings.intake
    assert (defaults.history, defaults.history_before, defaults.history_open_days, defaults.max_ack_age_hours) == (True, None, 14, 72.0)


def test_smtp_connections_default_to_two_and_stay_within_1_to_16(tmp_path: Path) -> None:
    assert parse("", tmp_path / "m.toml").settings.smtp.connections == 2
    assert parse("[smtp]\nconnections = 16\n", tmp_path / "m.toml").settings.smtp.connections == 16
    for bad in (0, 17):
        with pytest.raises(ConfigError) as info:
            parse(f"[smtp]\nconnections = {bad}\n", tmp_path / "m.toml")
        assert "m.toml" in str(info.value) and "smtp.connections" in str(info.value)
