"""The presets' rule patterns: each compiles for the linear-time engine and finds what `re` finds on every
corpus message, so switching the rules engine to RE2 changes no decision; and the classifying rules keep the
presets' promises (every rule that takes a deadline away names its class and decides only for non-customers)."""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from bench.triage import CORPUS, Labelled, Preset, load_corpus
from bench.triage import load_preset as load_bench_preset
from mailbot.core.linear_regex import compile_linear
from mailbot.parse import parse_mail

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ("support-period", "license-age")
HOLDOUT = ROOT / "bench" / "triage-corpus-holdout"


def rules_of(preset: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted((ROOT / "rules" / preset).glob("*.toml")):
        for rule in tomllib.loads(path.read_text(encoding="utf-8")).get("rule", []):
            out.append((path.name, rule))
    return out


def patterns() -> list[tuple[str, str, str]]:
    """(preset/file rule key, condition, pattern) for every regex condition in the presets' rules."""
    found = []
    for preset in PRESETS:
        for file, rule in rules_of(preset):
            for key in ("when", "unless"):
                for name, value in rule.get(key, {}).items():
                    if name in ("body_matches", "subject_matches"):
                        found.append((f"{preset}/{file} {rule['name']!r} {key}", name, value))
                    elif name == "body_matches_all":
                        found += [(f"{preset}/{file} {rule['name']!r} {key}[{i}]", "body_matches", v) for i, v in enumerate(value)]
    return found


PATTERNS = patterns()


@cache
def load_preset(name: str) -> Preset:
    return load_bench_preset(name)


@cache
def corpus_texts() -> list[tuple[str, str, str]]:
    """(id, text body, subject) of every corpus message as the parser gives them to the rules, and again without
    the greeting line, so that texts also start right at the words the patterns look for."""
    messages: list[Labelled] = load_corpus([CORPUS, HOLDOUT])
    out = []
    for m in messages:
        mail = parse_mail(m.raw())
        out.append((m.id, mail.text, mail.subject))
        out.append((f"{m.id} (no greeting)", mail.text.strip().split("\n", 1)[-1].lstrip(), mail.subject))
    return out


def test_the_presets_have_patterns() -> None:
    assert len(PATTERNS) >= 12


@pytest.mark.parametrize(("where", "condition", "pattern"), PATTERNS, ids=[p[0] for p in PATTERNS])
def test_pattern_compiles_for_the_linear_engine(where: str, condition: str, pattern: str) -> None:
    compile_linear(pattern)  # raises PatternError with the reason


@pytest.mark.slow  # the whole corpus, twice
@pytest.mark.parametrize(("where", "condition", "pattern"), PATTERNS, ids=[p[0] for p in PATTERNS])
def test_pattern_finds_on_the_corpus_what_re_finds(where: str, condition: str, pattern: str) -> None:
    linear = compile_linear(pattern)
    backtracking = re.compile(pattern)
    disagree = []
    for ident, text, subject in corpus_texts():
        target = text if condition == "body_matches" else subject
        if (backtracking.search(target) is None) != (linear.search(target) is None):
            disagree.append(ident)
    assert disagree == [], f"{where}: re and RE2 disagree on {disagree}"


def test_the_unclear_answer_and_the_guaranteed_answer_use_one_pattern() -> None:
    rules = {rule["name"]: rule for _, rule in rules_of("license-age")}
    assert rules["unclear request"]["when"]["body_matches"] == rules["guaranteed answer"]["unless"]["body_matches"]


@pytest.mark.parametrize("preset", PRESETS)
def test_every_rule_that_takes_a_deadline_away_names_its_class_and_decides_only_for_non_customers(preset: str) -> None:
    for file, rule in rules_of(preset):
        then = rule["then"]
        if then.get("no_deadline"):
            assert "classify" in then, f"{preset}/{file} {rule['name']!r}: no class"
        assert rule.get("decide", False) in (False, ["unknown"]), f"{preset}/{file} {rule['name']!r}: decides for customers"


@pytest.mark.parametrize(
    "text",
    [
        "Hi,\n\nwhen I add a new plugin I get an error 500.\n\nMarco",
        "I tried it but it made no improvement, the error is still there.",
        "Корзина не пересчитывается после обновления.\n\nС наилучшими пожеланиями,\nАнна",
        "Our partner bank changed the callback URL of the payment gateway, orders stay pending.",
        "How do I change the CSS of the product grid in your default template?",
        "The Local pickup shipping option is not shown in the checkout.",
        "Please check the affiliate plugin, it stopped counting clicks after the update.",
        "Модуль партнёрской программы не начисляет вознаграждение партнёрам.",
    ],
)
@pytest.mark.parametrize("preset", PRESETS)
def test_bug_reports_with_trigger_words_get_no_class(preset: str, text: str) -> None:
    """The issue's examples and their kin: ordinary bug reports that use the words the old patterns looked for."""
    message = Labelled("t", "t.toml", "entitled", "Problem", text, False, {})
    decision = load_preset(preset).rules.evaluate(load_preset(preset).facts(message))
    assert decision.classify is None, f"{decision.classified_by!r} classified it {decision.classify!r}"
