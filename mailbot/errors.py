"""Errors that name the file, the key and the reason, for configuration and rules files."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError


class ConfigError(Exception):
    """A configuration or rules file is wrong; the message says where and why."""

    def __init__(self, path: Path | str, problems: Iterable[tuple[str, str]]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        lines = [f"{self.path}: {key}: {reason}" if key else f"{self.path}: {reason}" for key, reason in self.problems]
        super().__init__("\n".join(lines))


def dotted(loc: Iterable[int | str]) -> str:
    """Render a pydantic location such as ('imap', 0, 'port') as `imap[0].port`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def from_validation(path: Path | str, exc: ValidationError, prefix: str = "") -> ConfigError:
    """Turn a pydantic ValidationError into a ConfigError with one line per problem."""
    problems = []
    for err in exc.errors(include_url=False):
        key = dotted(err["loc"])
        if prefix:
            key = f"{prefix}.{key}" if key else prefix
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling against config.example.toml)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        problems.append((key, msg))
    return ConfigError(path, problems)


class FilesError(ConfigError):
    """Problems in several files (templates of a rules folder): each line names its own file."""

    def __init__(self, problems: Iterable[tuple[Path | str, str]]) -> None:
        listed = [(str(path), reason) for path, reason in problems]
        Exception.__init__(self, "\n".join(f"{path}: {reason}" for path, reason in listed))
        self.path = listed[0][0] if listed else ""
        self.problems = listed


class SchemaNotReady(Exception):
    """A read-only command found no database, or a schema older than this version's: it changes nothing."""
