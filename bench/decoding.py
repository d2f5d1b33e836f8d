"""Decoding accuracy: for messages whose subject, sender and body are known, how many parse exactly right.

Reads tests/data/decoding/expected.toml (one sample per class of issue 13, written for it) and
bench/decoding-corpus.toml (../shared/corpus, real mail from other projects). Prints, per class, how many
messages decode exactly as expected, and how many U+FFFD characters and mojibake-looking strings end up in
what would be stored (subject, display names, text, file names).

    .venv/bin/python bench/decoding.py                 # this tree
    PYTHONPATH=/path/to/other/checkout .venv/bin/python bench/decoding.py   # another version, same samples
    .venv/bin/python bench/decoding.py --verbose       # every mismatch
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
import tomllib
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "data" / "decoding"
CORPUS = ROOT.parent / "shared" / "corpus"
CORPUS_EXPECTED = Path(__file__).resolve().parent / "decoding-corpus.toml"

# UTF-8 read as a single-byte charset (Ã©, Ð¿, â€™), escape bytes, encoded words left undecoded.
MOJIBAKE = re.compile(r"[ÃÂ][\u0080-\u00bf]|[ÐÑ][\u0080-\u00bf]|â€|\x1b|=\?[\w-]+\?[bqBQ]\?")


def load(path: Path) -> list[dict[str, Any]]:
    return list(tomllib.loads(path.read_text(encoding="utf-8"))["message"])


def options_for(language: str | None) -> Any:
    try:
        from mailbot.core.parse_options import ParseOptions, fallbacks_for
    except ImportError:
        return None
    return ParseOptions(fallback_charsets=fallbacks_for(language or "en"))


def parse(raw: bytes, language: str | None) -> Any:
    from mailbot.parse import parse_mail

    if "options" in inspect.signature(parse_mail).parameters:
        return parse_mail(raw, options_for(language))
    return parse_mail(raw)


def mismatches(mail: Any, exp: dict[str, Any]) -> list[str]:
    """What in `mail` differs from the expectation `exp` (empty: decoded exactly right)."""
    out = []
    if "subject" in exp and mail.subject != exp["subject"]:
        out.append(f"subject {mail.subject!r} != {exp['subject']!r}")
    if "subject_has" in exp and exp["subject_has"] not in mail.subject:
        out.append(f"subject {mail.subject!r} lacks {exp['subject_has']!r}")
    sender = mail.sender.addr if mail.sender else ""
    if "sender" in exp and sender != exp["sender"]:
        out.append(f"sender {sender!r} != {exp['sender']!r}")
    if "sender_name" in exp and (mail.sender.name if mail.sender else "") != exp["sender_name"]:
        out.append(f"sender name {(mail.sender.name if mail.sender else '')!r} != {exp['sender_name']!r}")
    if "body" in exp and mail.text.strip() != exp["body"]:
        out.append(f"body {mail.text.strip()[:120]!r} != {exp['body'][:120]!r}")
    for piece in exp.get("body_has", []):
        if piece not in mail.text:
            out.append(f"body lacks {piece!r}")
    if "attachments" in exp and [p.filename for p in mail.parts] != exp["attachments"]:
        out.append(f"attachments {[p.filename for p in mail.parts]} != {exp['attachments']}")
    for key in ("cc", "reply_to"):
        if key in exp and [str(a) for a in getattr(mail, key)] != exp[key]:
            out.append(f"{key} {[str(a) for a in getattr(mail, key)]} != {exp[key]}")
    return out


def stored_strings(mail: Any) -> list[str]:
    names = [a.name for a in (mail.sender, *mail.to, *mail.cc, *mail.reply_to) if a is not None]
    return [mail.subject, mail.text, *names, *(p.filename for p in mail.parts)]


def run(verbose: bool) -> dict[str, dict[str, int]]:
    cases = [(SAMPLES / e["file"], e["class"], e) for e in load(SAMPLES / "expected.toml")]
    if CORPUS.is_dir():
        cases += [(CORPUS / e["file"], "shared corpus", e) for e in load(CORPUS_EXPECTED)]
    table: dict[str, dict[str, int]] = defaultdict(lambda: {"right": 0, "total": 0, "fffd": 0, "mojibake": 0})
    for path, cls, exp in cases:
        row = table[cls]
        row["total"] += 1
        try:
            mail = parse(path.read_bytes(), exp.get("language"))
        except Exception as exc:  # MalformedMail: right only where quarantine is expected
            if exp.get("malformed"):
                row["right"] += 1
            elif verbose:
                print(f"  {path.name}: raised {type(exc).__name__}: {exc}")
            continue
        if exp.get("malformed"):
            if verbose:
                print(f"  {path.name}: parsed, expected to be refused")
            wrong = ["parsed"]
        else:
            wrong = mismatches(mail, exp)
        strings = stored_strings(mail)
        row["fffd"] += sum(s.count("\ufffd") for s in strings)
        row["mojibake"] += sum(1 for s in strings if MOJIBAKE.search(s))
        if not wrong:
            row["right"] += 1
        elif verbose:
            print(f"  {path.name}: " + "; ".join(wrong))
    return dict(table)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    try:
        import mailbot  # noqa: F401  (the installed tree: PYTHONPATH chooses another)
    except ImportError:
        sys.path.insert(0, str(ROOT))
    table = run(args.verbose)
    print(f"{'class':<32} {'right':>9} {'U+FFFD':>7} {'mojibake':>9}")
    totals = {"right": 0, "total": 0, "fffd": 0, "mojibake": 0}
    for cls in sorted(table, key=lambda c: (int(c.split()[0]) if c.split()[0].isdigit() else 99, c)):
        row = table[cls]
        for k in totals:
            totals[k] += row[k]
        print(f"{cls:<32} {row['right']:>4}/{row['total']:<4} {row['fffd']:>7} {row['mojibake']:>9}")
    print(f"{'all':<32} {totals['right']:>4}/{totals['total']:<4} {totals['fffd']:>7} {totals['mojibake']:>9}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
