"""Reply-stripping benchmark: runs `mailbot.core.quoting.new_text` over a reply corpus and scores each case.

Two scores per case: exact (the new text, line for line) and "no new line lost" (every line of the expected
new text is still there, in order). Cases in a subfolder belong to the class it names; the rest are the
first set. `--before REV` runs the same cases through the quoting code of an earlier commit too (up to
258952b that code used mail-parser-reply: `pip install mail-parser-reply` to compare with it).
`--hostile` times hostile inputs instead.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailbot.core.quoting import new_text  # noqa: E402

CORPUS = ROOT / "bench" / "reply-corpus"
FIRST_SET = "first set"

# First part of a case name -> the mail client it reproduces; the second part is the UI language.
CLIENTS: dict[str, str] = {
    "gmail": "Gmail",
    "outlook": "Outlook desktop",
    "outlookweb": "Outlook web",
    "outlookios": "Outlook iOS",
    "outlookmac": "Outlook Mac",
    "apple": "Apple Mail",
    "ios": "iOS Mail",
    "thunderbird": "Thunderbird",
    "yandex": "Yandex Mail",
    "mailru": "Mail.ru",
    "mutt": "mutt",
    "plain": "any (no quote markup)",
}

_ATTRIBUTION = re.compile(
    r"(?:wrote|schrieb\b.*|a écrit|escribió|пишет|написала?(?:\(а\))?)\s?:$"  # "... wrote:", "... schrieb X:"
    r"|<[^<>\s]+@[^<>\s]+>\)?:$"  # "..., Support <support@example.com>:" (Gmail ru, Yandex, Mail.ru, wrapped)
    r"|\s<$",  # first half of an attribution line Gmail wrapped after the "<"
)
_HEADER = re.compile(
    r"^(?:From|Sent|To|Subject|Date|Cc|Von|Gesendet|An|Betreff|Datum|От|Отправлено|Кому|Тема|Копия):\s"
)
_SEPARATOR = re.compile(r"^(?:-{5,}.*-{5,}|_{10,})$")
_FOOTER = re.compile(r"^(?:Sent from my|Get Outlook for|Von meinem .* gesendet|Gesendet von|Отправлено с)")
_BULLET = re.compile(r"^\s*[-*•]\s")
_KINDS: dict[str, tuple[str, str]] = {  # kind -> (singular, plural) for "kept ..."
    "attribution": ("the attribution line", "the attribution line ({n} lines)"),
    "quote": ("1 quoted line", "{n} quoted lines"),
    "header": ("1 header line", "the header block ({n} lines)"),
    "separator": ("the separator line", "{n} separator lines"),
    "footer": ("the client footer", "{n} client footer lines"),
    "signature": ("the signature (1 line)", "the signature ({n} lines)"),
    "other": ("1 other line", "{n} other lines"),
}


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    expected: str
    kind: str = FIRST_SET

    @property
    def client(self) -> str:
        parts = self.name.split("-")
        return f"{CLIENTS.get(parts[0], parts[0])}, {parts[1] if len(parts) > 1 else '?'}"


def load_cases(corpus: Path = CORPUS) -> list[Case]:
    """Every NAME.txt with its NAME.expected.txt, the corpus folder's own first, then each class folder's."""
    cases = []
    for path in sorted(corpus.rglob("*.txt"), key=lambda p: (p.parent != corpus, p.parent.name, p.name)):
        if path.name.endswith(".expected.txt"):
            continue
        expected = path.with_name(path.name[: -len(".txt")] + ".expected.txt")
        if not expected.exists():
            raise SystemExit(f"{path}: no {expected.name}")
        kind = FIRST_SET if path.parent == corpus else path.parent.name
        cases.append(Case(path.name[: -len(".txt")], path.read_text("utf-8"), expected.read_text("utf-8"), kind))
    return cases


def normalise(text: str) -> list[str]:
    """Lines without trailing whitespace, without leading and trailing blank lines."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _signature_lines(text: str) -> set[str]:
    """The lines of every "-- " block in the input (the separator and the lines after it up to a blank line)."""
    found: set[str] = set()
    inside = False
    for line in normalise(text):
        if re.fullmatch(r"--", line.strip()):
            inside = True
            found.add(line.strip())
        elif inside and not line.strip():
            inside = False
        elif inside:
            found.add(line.strip())
    return found


def _kind(line: str, signature: set[str]) -> str:
    bare = line.strip().lstrip("\ufeff")
    if bare in signature:
        return "signature"
    if bare.startswith(">"):
        return "attribution" if _ATTRIBUTION.search(bare) else "quote"
    if _ATTRIBUTION.search(bare) and not _HEADER.match(bare):
        return "attribution"
    if _HEADER.match(bare):
        return "header"
    if _SEPARATOR.match(bare):
        return "separator"
    if _FOOTER.match(bare):
        return "footer"
    return "other"


def _short(line: str, width: int = 28) -> str:
    line = line.strip()
    return repr(line if len(line) <= width else line[: width - 1] + "…")


def describe(case: Case, actual: list[str], expected: list[str]) -> str:
    """A one-line summary of how `actual` differs from `expected`."""
    if [a.lstrip() for a in actual] == [e.lstrip() for e in expected]:
        changed = sum(a != e for a, e in zip(actual, expected))
        return f"lost the indentation of {changed} lines"
    extra: list[str] = []
    missing: list[str] = []
    for op, e1, e2, a1, a2 in difflib.SequenceMatcher(a=expected, b=actual, autojunk=False).get_opcodes():
        if op in ("replace", "delete"):
            missing += expected[e1:e2]
        if op in ("replace", "insert"):
            extra += actual[a1:a2]
    parts = []
    signature = _signature_lines(case.text)
    counts: dict[str, list[str]] = {}
    for line in extra:
        if line.strip() and line.strip() != ">":
            counts.setdefault(_kind(line, signature), []).append(line)
        elif line.strip() == ">":
            counts.setdefault("quote", []).append(line)
    kept = []
    for kind, lines in counts.items():
        singular, plural = _KINDS[kind]
        text = singular if len(lines) == 1 else plural.format(n=len(lines))
        if kind in ("footer", "separator", "other") and len(lines) == 1:
            text += f" {_short(lines[0])}"
        kept.append(text)
    if kept:
        parts.append("kept " + ", ".join(kept))
    missing = [line for line in missing if line.strip()]
    if missing:
        if all(_BULLET.match(line) for line in missing):
            parts.append(f"cut the bullet list ({len(missing)} lines)")
        elif actual and expected[: len(actual)] == actual:
            parts.append(f"cut {len(missing)} lines from {_short(missing[0])} on")
        else:
            parts.append(f"dropped {len(missing)} lines, first {_short(missing[0])}")
    return "; ".join(parts) or "differs only in blank lines"


def kept_every_line(actual: list[str], expected: list[str]) -> bool:
    """Is every non-blank line of `expected` in `actual`, in the same order (leading blanks aside)?"""
    remaining = iter(line.strip() for line in actual)
    return all(any(line.strip() == got for got in remaining) for line in expected if line.strip())


def score(cases: list[Case], outputs: list[str]) -> list[tuple[bool, bool]]:
    """(exact, no line lost) per case."""
    results = []
    for case, output in zip(cases, outputs):
        actual, expected = normalise(output), normalise(case.expected)
        results.append((actual == expected, kept_every_line(actual, expected)))
    return results


def outputs_at(rev: str, cases: list[Case]) -> list[str]:
    """`new_text` of every case, by the quoting code of commit `rev` (run in a separate interpreter)."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "mailbot"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        inputs = Path(tmp) / "inputs.json"
        inputs.write_text(json.dumps([case.text for case in cases]), "utf-8")
        program = (
            "import json, sys; sys.path.insert(0, sys.argv[1]); from mailbot.core.quoting import new_text; "
            "print(json.dumps([new_text(t) for t in json.load(open(sys.argv[2], encoding='utf-8'))]))"
        )
        ran = subprocess.run([sys.executable, "-c", program, tmp, str(inputs)], capture_output=True, text=True)
        if ran.returncode != 0:
            raise SystemExit(f"the quoting code of {rev} did not run: {ran.stderr.strip().splitlines()[-1:]}")
        return list(json.loads(ran.stdout))


def _rate(hits: int, total: int) -> str:
    return f"{hits} ({round(100 * hits / total) if total else 0}%)"


def run(cases: list[Case], corpus: Path, before: str | None, show_all: bool) -> int:
    outputs = [new_text(case.text) for case in cases]
    after = score(cases, outputs)
    earlier = score(cases, outputs_at(before, cases)) if before else None
    rows: list[tuple[str, str, str, str]] = []
    for case, output, (exact, kept) in zip(cases, outputs, after):
        if exact and not show_all:
            continue
        result = "OK" if exact else "WRONG" if kept else "LOST"
        summary = "" if exact else describe(case, normalise(output), normalise(case.expected))
        rows.append((f"{case.kind}/{case.name}" if case.kind != FIRST_SET else case.name, case.client, result, summary))
    if rows:
        widths = [max(len(row[i]) for row in rows + [("case", "client, language", "result", "")]) for i in range(3)]
        print(f"{'case':<{widths[0]}}  {'client, language':<{widths[1]}}  {'result':<{widths[2]}}  difference")
        print(f"{'-' * widths[0]}  {'-' * widths[1]}  {'-' * widths[2]}  {'-' * 10}")
        for name, client, result, summary in rows:
            print(f"{name:<{widths[0]}}  {client:<{widths[1]}}  {result:<{widths[2]}}  {summary}".rstrip())
        print()
    kinds = sorted({case.kind for case in cases}, key=lambda k: (k != FIRST_SET, k)) + ["all"]
    arrow = f" ({before} → now)" if before else ""
    print(f"{'class':<14} {'cases':>5}  {'exact' + arrow:<28} {'no new line lost' + arrow:<28}")
    for kind in kinds:
        picked = [i for i, case in enumerate(cases) if kind in ("all", case.kind)]
        cells = []
        for column in (0, 1):
            now = _rate(sum(after[i][column] for i in picked), len(picked))
            then = _rate(sum(earlier[i][column] for i in picked), len(picked)) if earlier else ""
            cells.append(f"{then} → {now}" if earlier else now)
        print(f"{kind:<14} {len(picked):>5}  {cells[0]:<28} {cells[1]:<28}")
    lost = sum(not kept for _, kept in after)
    print(f"\n{sum(exact for exact, _ in after)} of {len(cases)} exact; {lost} with a lost line of new text")
    where = "" if corpus.resolve() == CORPUS else f" --corpus {corpus}"
    print(f"reproduce: .venv/bin/python bench/quoting.py{where}{f' --before {before}' if before else ''}")
    return 0


HOSTILE = {
    "a 100 KB line of digits": "Hello\n" + "7" * 100_000 + "\n",
    "16,000 digits": "Hello\n" + "7" * 16_000 + "\n",
    "a 1 MB single word": "x" * 1_000_000,
    "100,000 short lines": "ab\n" * 100_000,
    "50,000 quoted lines": "> q\n" * 50_000,
    "one line of 'On … wrote:' fragments": "Hi\n" + "On 9 Mar 2026 at 10:00 Support <s@e.com> wrote: " * 20_000,
    "'Op …' line of 8,000 characters": "Hi\nOp " + "a " * 4_000 + "\n",
    "'Op …' line of 32,000 characters": "Hi\nOp " + "a " * 16_000 + "\n",
    "20,000 'On … wrote:' lines": "Hi\n" + "On 9 Mar 2026 at 10:00, Support <s@e.com> wrote:\n" * 20_000,
    "50,000 header-like lines": "Hi\n" + "To: x <a@b.example>\n" * 50_000,
}
_TIMER = (
    "import json, sys, time; sys.path.insert(0, sys.argv[1]); from mailbot.core.quoting import new_text; "
    "text = json.load(open(sys.argv[2], encoding='utf-8')); t = time.process_time(); new_text(text); "
    "print(time.process_time() - t)"
)


def hostile(before: str | None, limit: float) -> int:
    """CPU time of `new_text` on each hostile input, now (and at `before`, stopped after `limit` seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        if before:
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", before, "mailbot"], capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        print(f"{'hostile input':<38} {'chars':>9}  {'now':>8}  {before or ''}")
        for name, text in HOSTILE.items():
            started = time.process_time()
            new_text(text)
            now = time.process_time() - started
            then = ""
            if before:
                path = Path(tmp) / "input.json"
                path.write_text(json.dumps(text), "utf-8")
                try:
                    ran = subprocess.run([sys.executable, "-c", _TIMER, tmp, str(path)], capture_output=True, text=True, timeout=limit)
                    then = f"{float(ran.stdout):.3f} s" if ran.returncode == 0 else "failed"
                except subprocess.TimeoutExpired:
                    then = f"> {limit:.0f} s (stopped)"
            print(f"{name:<38} {len(text):>9}  {now:>6.3f} s  {then}")
    print(f"reproduce: .venv/bin/python bench/quoting.py --hostile{f' --before {before}' if before else ''}")
    return 0


def show(cases: list[Case], name: str) -> int:
    found = [case for case in cases if case.name == name]
    if not found:
        print(f"no case {name!r}; cases: {', '.join(case.name for case in cases)}", file=sys.stderr)
        return 2
    case = found[0]
    actual = new_text(case.text)
    for title, body in (("input", case.text), ("expected", case.expected), ("actual (new_text)", actual)):
        print(f"===== {title}")
        for line in body.rstrip("\n").split("\n"):
            print(f"| {line}")
    print("===== diff expected -> actual (normalised)")
    diff = list(difflib.unified_diff(normalise(case.expected), normalise(actual), "expected", "actual", lineterm=""))
    print("\n".join(diff) if diff else "(none: OK)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--show", metavar="NAME", help="print one case's input, expected and actual text")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="case directory (default bench/reply-corpus)")
    parser.add_argument("--before", metavar="REV", help="also score the quoting code of this commit (git archive)")
    parser.add_argument("--all", action="store_true", help="list every case, not only the ones that differ")
    parser.add_argument("--hostile", action="store_true", help="time hostile inputs instead (CPU seconds)")
    parser.add_argument("--limit", type=float, default=60, help="with --hostile --before: stop the old code after this")
    args = parser.parse_args(argv)
    if args.hostile:
        return hostile(args.before, args.limit)
    cases = load_cases(args.corpus)
    return show(cases, args.show) if args.show else run(cases, args.corpus, args.before, args.all)


if __name__ == "__main__":
    sys.exit(main())
