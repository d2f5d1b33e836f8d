"""Load and validate rules files: unknown names, bad values and bad regexes stop with file, rule, key and reason."""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from pathlib import Path
from typing import Any

from mailbot.errors import ConfigError
from mailbot.policy import actions, conditions
from mailbot.policy.engine import Rule, RuleSet

RULE_KEYS = {"name", "description", "when", "unless", "then", "continue", "decide"}
# Files in the rules folder that hold support terms, not rules (mailbot.policy.terms reads them).
TERMS_FILES = frozenset({"plans.toml", "calendars.toml", "escalation.toml", "privacy.toml"})


def _compile_table(kind: str, table: Any, registry: dict[str, Any], problems: list[tuple[str, str]], where: str, templates: Collection[str]) -> list[tuple[Any, Any]]:
    if not isinstance(table, dict):
        problems.append((f"{where} {kind}", "expected a table"))
        return []
    out = []
    for key, value in table.items():
        item = registry.get(key)
        if item is None:
            names = ", ".join(sorted(registry))
            label = "action" if kind == "then" else "condition"
            problems.append((f"{where} {kind}.{key}", f"unknown {label} (known: {names})"))
            continue
        try:
            arg = item.compile(value, templates) if kind == "then" else item.compile(value)
        except ValueError as exc:
            problems.append((f"{where} {kind}.{key}", str(exc)))
            continue
        out.append((item, arg))
    return out


def _decide(value: Any) -> frozenset[str]:
    """`decide = true | false | ["unknown", ...]`: the entitlement states for which the rule acts on its own."""
    if isinstance(value, bool):
        return frozenset(conditions.ENTITLEMENT_STATES) if value else frozenset()
    try:
        return frozenset(conditions.states(value))
    except ValueError as exc:
        raise ValueError(f"expected true, false or a list of entitlement states: {exc}") from None


def load_file(path: Path, templates: Collection[str]) -> list[Rule]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [("", f"cannot read: {exc}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [("", f"not valid TOML: {exc}")]) from None
    unknown = set(data) - {"rule"}
    problems: list[tuple[str, str]] = [(k, "unknown top-level key (rules are [[rule]] tables)") for k in sorted(unknown)]
    entries = data.get("rule", [])
    if not isinstance(entries, list):
        raise ConfigError(path, [("rule", "expected [[rule]] tables")])
    rules: list[Rule] = []
    names: set[str] = set()
    for i, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, dict) else None
        where = f"rule[{i}]" + (f" {name!r}" if isinstance(name, str) else "")
        if not isinstance(entry, dict):
            problems.append((where, "expected a table"))
            continue
        if not isinstance(name, str) or not name.strip():
            problems.append((f"{where} name", "every rule needs a name"))
            name = f"rule[{i}]"
        elif name in names:
            problems.append((f"{where} name", "another rule in this file has the same name"))
        names.add(name)
        for key in sorted(set(entry) - RULE_KEYS):
            problems.append((f"{where} {key}", f"unknown key (use {', '.join(sorted(RULE_KEYS))})"))
        if "then" not in entry:
            problems.append((f"{where} then", "every rule needs a `then` table of actions"))
        keep_going = entry.get("continue", False)
        if not isinstance(keep_going, bool):
            problems.append((f"{where} continue", "expected true or false"))
            keep_going = False
        try:
            decide = _decide(entry.get("decide", False))
        except ValueError as exc:
            problems.append((f"{where} decide", str(exc)))
            decide = frozenset()
        description = entry.get("description", "")
        rules.append(
            Rule(
                name=name,
                file=path.name,
                description=description if isinstance(description, str) else "",
                when=tuple(_compile_table("when", entry.get("when", {}), conditions.REGISTRY, problems, where, templates)),
                unless=tuple(_compile_table("unless", entry.get("unless", {}), conditions.REGISTRY, problems, where, templates)),
                then=tuple(_compile_table("then", entry.get("then", {}), actions.REGISTRY, problems, where, templates)),
                keep_going=keep_going,
                decide=decide,
            )
        )
    if problems:
        raise ConfigError(path, problems)
    return rules


def load_rules(folder: Path, templates: Collection[str]) -> RuleSet:
    """Every *.toml in `folder` but the terms files, in name order. Raises ConfigError listing every problem of the first bad file."""
    if not folder.is_dir():
        raise ConfigError(folder, [("", "rules folder does not exist")])
    rules: list[Rule] = []
    for path in sorted(folder.glob("*.toml")):
        if path.name not in TERMS_FILES:
            rules += load_file(path, templates)
    return RuleSet(rules=tuple(rules), source=str(folder))
