"""Triage benchmark: each preset's real rules over the labelled corpus; precision and recall per class and preset.

Every message in bench/triage-corpus/ (see its README) is built as a real message, parsed by mailbot's parser and
given to the preset's rules with the facts processing would give them (language detected, the sender's
entitlement and whether their plan promises a response time); the class the decision carries (`classify`, else
the class a rule only suggested, else `support`) is compared with the label. It also counts the entitled
senders whose promise a rule took away (0 unless a preset lets a guessing rule decide for them) and the
suggestions left to agents. Exits 1 when a class that changes a promise — one assigned by a rule with `no_deadline` — has
precision below the target (0.95), 2 when the corpus or the rules cannot be read.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailbot.core.language import detect  # noqa: E402
from mailbot.errors import ConfigError  # noqa: E402
from mailbot.parse import parse_mail  # noqa: E402
from mailbot.policy.engine import RuleSet  # noqa: E402
from mailbot.policy.facts import Facts  # noqa: E402
from mailbot.policy.loader import load_rules  # noqa: E402
from mailbot.policy.terms import load_terms  # noqa: E402
from mailbot.render import load_templates  # noqa: E402

CORPUS = ROOT / "bench" / "triage-corpus"
PRESETS = ("support-period", "license-age")
DEFAULT_CLASS = "support"  # what a message is when no rule classified it
TARGET = 0.95
SENDERS = {"entitled": "sender@customer.example", "expired": "former@customer.example", "unknown": "someone@prospect.example"}
MESSAGE_KEYS = {"id", "sender", "subject", "body", "html", "note", *PRESETS}
RECEIVED = datetime(2026, 3, 4, 10, 0, tzinfo=timezone.utc)  # a Wednesday morning: no rule here looks at time


class CorpusError(Exception):
    """A corpus file that cannot be used; the message names the file, the message and the key."""


@dataclass(frozen=True)
class Labelled:
    id: str
    file: str
    sender: str
    subject: str
    body: str
    html: bool
    labels: dict[str, str]

    def raw(self) -> bytes:
        msg = EmailMessage()
        msg["From"] = SENDERS[self.sender]
        msg["To"] = "support@vendor.example"
        msg["Subject"] = self.subject
        msg["Date"] = format_datetime(RECEIVED)
        msg["Message-ID"] = f"<{self.id}@corpus.example>"
        msg.set_content(self.body.strip() + "\n", subtype="html" if self.html else "plain")
        return bytes(msg)


def load_corpus(folders: Iterable[Path]) -> list[Labelled]:
    out: list[Labelled] = []
    seen: dict[str, str] = {}
    for folder in folders:
        files = sorted(folder.glob("*.toml"))
        if not files:
            raise CorpusError(f"{folder}: no *.toml files")
        for path in files:
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise CorpusError(f"{path}: {exc}") from None
            for i, entry in enumerate(data.get("message", [])):
                out.append(_message(path, i, entry, seen))
    return out


def _message(path: Path, index: int, entry: dict[str, object], seen: dict[str, str]) -> Labelled:
    where = f"{path}: message[{index}]"
    ident = entry.get("id")
    if not isinstance(ident, str) or not ident:
        raise CorpusError(f"{where} id: every message needs an id")
    where = f"{path}: {ident}"
    if ident in seen:
        raise CorpusError(f"{where} id: already used in {seen[ident]}")
    seen[ident] = path.name
    for key in sorted(set(entry) - MESSAGE_KEYS):
        raise CorpusError(f"{where} {key}: unknown key (use {', '.join(sorted(MESSAGE_KEYS))})")
    for key in ("subject", "body", *PRESETS):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise CorpusError(f"{where} {key}: expected a non-empty string")
    if entry.get("sender") not in SENDERS:
        raise CorpusError(f"{where} sender: expected one of {', '.join(SENDERS)}")
    return Labelled(
        id=ident, file=path.name, sender=str(entry["sender"]), subject=str(entry["subject"]), body=str(entry["body"]),
        html=entry.get("html") is True, labels={p: str(entry[p]) for p in PRESETS},
    )


@dataclass
class Preset:
    name: str
    rules: RuleSet
    plan: str | None
    lapsed_state: str  # what "expired" means under this preset's plans
    unknown_promised: bool  # senders who are not customers are promised a response time (`[unknown]`)
    promise_changing: frozenset[str]  # classes a rule assigns together with no_deadline

    def facts(self, message: Labelled, language_default: str = "en") -> Facts:
        mail = parse_mail(message.raw())
        entitlement = {"entitled": "active", "expired": self.lapsed_state, "unknown": "unknown"}[message.sender]
        return Facts(
            mail=mail, received_at=RECEIVED, new_ticket=True, language=detect(mail, language_default),
            entitlement=entitlement, plan=None if entitlement == "unknown" else self.plan,
            promised=entitlement == "active" or entitlement == "unknown" and self.unknown_promised,
        )


def load_preset(name: str, rules_root: Path = ROOT / "rules") -> Preset:
    folder = rules_root / name
    templates = load_templates([folder / "templates"], "en")
    rules = load_rules(folder, templates.names)
    terms = load_terms(folder, "UTC")
    plan = next(iter(terms.plans.values()), None)
    changing = frozenset(
        arg for rule in rules.rules if any(act.name == "no_deadline" for act, _ in rule.then)
        for act, arg in rule.then if act.name == "classify"
    )
    lapsed = "guarantee-lapsed" if plan and plan.kind == "license" else "expired"
    return Preset(name, rules, plan.name if plan else None, lapsed, terms.unknown_promise is not None, changing)


@dataclass
class Outcome:
    message: Labelled
    expected: str
    got: str
    rule: str | None
    suggested: bool = False  # the class was only suggested (the sender keeps their promise)
    promise_taken: bool = False  # an entitled sender lost the promised response time to a rule


@dataclass
class Score:
    true_pos: Counter[str] = field(default_factory=Counter)
    false_pos: Counter[str] = field(default_factory=Counter)
    false_neg: Counter[str] = field(default_factory=Counter)

    def add(self, expected: str, got: str) -> None:
        if expected == got:
            self.true_pos[got] += 1
        else:
            self.false_pos[got] += 1
            self.false_neg[expected] += 1

    def precision(self, cls: str) -> float | None:
        predicted = self.true_pos[cls] + self.false_pos[cls]
        return self.true_pos[cls] / predicted if predicted else None

    def recall(self, cls: str) -> float | None:
        actual = self.true_pos[cls] + self.false_neg[cls]
        return self.true_pos[cls] / actual if actual else None


def run(preset: Preset, corpus: Sequence[Labelled]) -> tuple[Score, list[Outcome]]:
    score, outcomes = Score(), []
    for message in corpus:
        facts = preset.facts(message)
        decision = preset.rules.evaluate(facts)
        suggestion = decision.suggestion
        got = decision.classify or (suggestion.cls if suggestion else DEFAULT_CLASS)
        expected = message.labels[preset.name]
        score.add(expected, got)
        rule = decision.classified_by or (suggestion.rule if suggestion else None)
        taken = facts.entitlement == "active" and decision.no_deadline
        outcomes.append(Outcome(message, expected, got, rule, suggestion is not None and not decision.classify, taken))
    return score, outcomes


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def report(preset: Preset, score: Score, outcomes: list[Outcome], target: float, verbose: bool) -> list[str]:
    """Print the table and the mistakes; return the promise-changing classes below the target."""
    classes = sorted({o.expected for o in outcomes} | {o.got for o in outcomes}, key=lambda c: (c not in preset.promise_changing, c))
    print(f"== {preset.name}: {len(outcomes)} messages; promise-changing classes: {', '.join(sorted(preset.promise_changing)) or 'none'}")
    print(f"{'class':<27} {'labelled':>8} {'assigned':>8} {'right':>6} {'precision':>9} {'recall':>6}")
    failing = []
    for cls in classes:
        labelled = score.true_pos[cls] + score.false_neg[cls]
        assigned = score.true_pos[cls] + score.false_pos[cls]
        precision = score.precision(cls)
        mark = ""
        if cls in preset.promise_changing:
            mark = " *"
            if precision is not None and precision < target:
                failing.append(cls)
                mark = f" * below {target:.2f}"
        print(f"{cls:<27} {labelled:>8} {assigned:>8} {score.true_pos[cls]:>6} {_pct(precision):>9} {_pct(score.recall(cls)):>6}{mark}")
    right = sum(score.true_pos.values())
    print(f"{right} of {len(outcomes)} right ({right / len(outcomes):.0%}); * = changes a promise, held to precision >= {target:.2f}")
    suggested = sum(o.suggested for o in outcomes)
    taken = sum(o.promise_taken for o in outcomes)
    print(f"suggested to agents (the sender keeps the promised time): {suggested}; promises taken away from entitled senders by a rule: {taken}")
    wrong = [o for o in outcomes if o.expected != o.got and (verbose or o.got in preset.promise_changing)]
    if wrong:
        print("wrongly assigned" + ("" if verbose else " a promise-changing class") + ":")
        for o in wrong:
            print(f"  {o.message.id:<14} {o.message.sender:<9} labelled {o.expected:<26} got {o.got:<26} rule {o.rule or '-'}")
    print()
    return failing


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, action="append", help="a corpus folder (repeatable; default bench/triage-corpus)")
    parser.add_argument("--preset", choices=PRESETS, action="append", help="only this preset (repeatable)")
    parser.add_argument("--target", type=float, default=TARGET, help="precision every promise-changing class must reach")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every wrong message, not only wrong promise-changing ones")
    args = parser.parse_args(argv)
    folders = args.corpus or [CORPUS]
    try:
        corpus = load_corpus(folders)
        presets = [load_preset(name) for name in args.preset or PRESETS]
    except (CorpusError, ConfigError) as exc:
        print(f"triage: {exc}", file=sys.stderr)
        return 2
    failing = []
    for preset in presets:
        score, outcomes = run(preset, corpus)
        failing += [f"{preset.name}/{cls}" for cls in report(preset, score, outcomes, args.target, args.verbose)]
    where = "".join(f" --corpus {f.relative_to(ROOT) if f.is_relative_to(ROOT) else f}" for f in args.corpus or [])
    print(f"reproduce: .venv/bin/python bench/triage.py{where}")
    if failing:
        print(f"below precision {args.target:.2f}: {', '.join(failing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
