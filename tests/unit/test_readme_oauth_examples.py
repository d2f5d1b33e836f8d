"""The README's OAuth2 examples are configurations mailbot accepts as they stand (with the files they name)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mailbot.config import parse

README = Path(__file__).resolve().parents[2] / "README.md"


def examples() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Signing in: passwords and OAuth2") :]
    section = section[: section.index("\n## ", 10)]
    return re.findall(r"```toml\n(.*?)```", section, flags=re.S)


def test_there_is_an_example_per_provider() -> None:
    found = examples()
    assert len(found) == 2 and 'provider = "microsoft"' in found[0] and 'provider = "google"' in found[1]


@pytest.mark.parametrize("example", examples(), ids=["microsoft", "google"])
def test_each_example_validates(example: str, tmp_path: Path) -> None:
    for path in sorted(set(re.findall(r'"(/(?:etc|var/lib)/mailbot/[^"]+)"', example))):
        local = tmp_path / Path(path).name
        local.write_text("value\n")
        local.chmod(0o600)
        example = example.replace(f'"{path}"', f'"{local}"')
    config = parse(example, tmp_path / "mailbot.toml")
    assert all(acc.auth == "oauth2" and acc.oauth2 is not None for acc in config.settings.imap)
