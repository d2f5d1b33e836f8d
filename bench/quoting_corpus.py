"""Writes the grown reply corpus: every class of reply the stripping must get right, in every language of
bench/quoting_corpus_languages.py, each in the shape a real client gives it.

Cases go to bench/reply-corpus/<class>/ and, every fourth one, to bench/reply-corpus-holdout/<class>/, as
NAME.txt (the reply) and NAME.expected.txt (what the writer wrote now). Run it again after changing the
language data; it rewrites only the cases it makes.

    .venv/bin/python bench/quoting_corpus.py
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.quoting_corpus_languages import LANGUAGES, SUPPORT, SUPPORT_ADDRESS, Language  # noqa: E402

Case = tuple[str, str, list[str], list[str]]  # class, name, reply lines, expected lines
CJK = ("zh", "ja")


def quote(lines: list[str], prefix: str = "> ") -> list[str]:
    return [(prefix + line).rstrip() if line else prefix.rstrip() for line in lines]


def attribution(form: str, name: str = SUPPORT, address: str = SUPPORT_ADDRESS) -> str:
    return form.format(name=name, address=address)


def wrap_after_bracket(line: str) -> list[str]:
    """Gmail's wrap right after the "<" of a long attribution line."""
    head, tail = line.split("<", 1)
    return [head + "<", tail]


def wrap_words(line: str, width: int = 72) -> list[str]:
    return textwrap.wrap(line, width, break_long_words=False, break_on_hyphens=False)


def rewrapped_quote(lines: list[str], width: int = 76) -> list[str]:
    """A quote that a client re-wrapped without repeating the ">" on the continuation lines."""
    paragraph = " ".join(line for line in lines[2:5])
    out = quote(lines[:2])
    for row in textwrap.wrap(paragraph, 90):
        quoted = "> " + row
        if len(quoted) <= width:
            out.append(quoted)
            continue
        cut = quoted.rfind(" ", 0, width)
        out += [quoted[:cut], quoted[cut + 1 :]]
    return out + quote([""] + lines[5:])


def header_block(lang: Language, names: tuple[str, ...], values: tuple[str, ...]) -> list[str]:
    return [f"{name}{lang.colon}{value}" for name, value in zip(names, values)]


def outlook_values(lang: Language) -> tuple[str, str, str, str]:
    return (f"{SUPPORT} <{SUPPORT_ADDRESS}>", lang.outlook_date, f"{lang.customer} <{lang.customer_address}>", lang.subject)


def attribution_cases(lang: Language) -> Iterator[Case]:
    asked = quote(lang.asked)
    r0, r1, r2 = lang.replies
    gmail = attribution(lang.gmail)
    yield "attribution", f"gmail-{lang.code}-wrapped-at-bracket", r0 + [""] + wrap_after_bracket(gmail) + [""] + asked, r0
    yield "attribution", f"gmail-{lang.code}-wrapped-at-word", r1 + [""] + wrap_words(gmail) + [""] + asked, r1
    apple = attribution(lang.apple)
    yield "attribution", f"ios-{lang.code}-footer", r2 + ["", lang.footer, ""] + wrap_words(apple, 200) + [""] + asked, r2
    tb = attribution(lang.thunderbird, "Northwind Support")
    yield "attribution", f"thunderbird-{lang.code}-top", r0 + ["", tb] + asked, r0
    signature = ["-- "] + lang.signature
    yield "attribution", f"gmail-{lang.code}-signature-below-quote", r1 + [""] + wrap_words(gmail) + [""] + asked + [""] + signature, r1
    if lang.code not in CJK:
        yield "attribution", f"gmail-{lang.code}-rewrapped-quote", r2 + ["", gmail, ""] + rewrapped_quote(lang.asked), r2
    if lang.name_first:
        first = attribution(lang.name_first)
        yield "attribution", f"gmail-{lang.code}-name-first-wrapped", r2 + [""] + wrap_words(first, 62) + [""] + asked, r2


def kept_text_cases(lang: Language) -> Iterator[Case]:
    asked = quote(lang.asked)
    r0 = lang.replies[0]
    gmail = wrap_after_bracket(attribution(lang.gmail))
    mine = r0[:-3] + [lang.digits_line]
    yield "kept-text", f"gmail-{lang.code}-own-line-above-attribution", mine + gmail + [""] + asked, mine
    inline = [lang.greeting, "", lang.intro, ""]
    expected = list(inline)
    for question, answer in lang.answers:
        inline += ["> " + question, "", answer, ""]
        expected += [answer, ""]
    yield "kept-text", f"plain-{lang.code}-inline-after-colon", inline + lang.signoff, expected + lang.signoff
    yield "kept-text", f"gmail-{lang.code}-wrote-in-text", lang.wrote_text + ["", attribution(lang.gmail), ""] + asked, lang.wrote_text
    block = ["________________________________"] + header_block(lang, lang.outlook, outlook_values(lang))
    yield "kept-text", f"outlook-{lang.code}-fields-in-text", lang.fields_text + [""] + block + [""] + lang.asked, lang.fields_text


def forward_cases(lang: Language) -> Iterator[Case]:
    values = (lang.forward_from, lang.forward_date, lang.forward_subject, f"{lang.customer} <{lang.customer_address}>")
    headers = header_block(lang, lang.forward_names, values)
    content = headers + ["", ""] + lang.forward_body
    yield "forward", f"gmail-{lang.code}-forward", lang.forward_note + ["", lang.gmail_forward] + content, lang.forward_note + [""] + content
    names = (lang.mac[0], lang.mac[4], lang.mac[2], lang.mac[3])  # Apple Mail: From, Subject, Date, To
    apple = header_block(lang, names, (values[0], values[2], values[1], values[3]))
    apple_content = apple + [""] + lang.forward_body
    yield "forward", f"ios-{lang.code}-forward", lang.forward_note + ["", lang.apple_forward, ""] + apple_content, lang.forward_note + [""] + apple_content


def header_block_cases(lang: Language) -> Iterator[Case]:
    r0, r1, r2 = lang.replies
    values = outlook_values(lang)
    yield "header-block", f"outlookweb-{lang.code}-headers", r1 + ["", "________________________________"] + header_block(lang, lang.outlook, values) + [""] + lang.asked, r1
    mac_values = (values[0], f"{SUPPORT} <{SUPPORT_ADDRESS}>", lang.mac_date, values[2], values[3])
    yield "header-block", f"outlookmac-{lang.code}-reply-to", r2 + [""] + header_block(lang, lang.mac, mac_values) + [""] + lang.asked, r2
    split = [f"{lang.outlook[0]}{lang.colon}{SUPPORT}", f"<{SUPPORT_ADDRESS}>"] + header_block(lang, lang.outlook[1:], values[1:])
    yield "header-block", f"outlook-{lang.code}-from-wrapped", r0 + [""] + split + [""] + lang.asked, r0
    no_from = header_block(lang, lang.outlook[1:], values[1:])
    yield "header-block", f"outlook-{lang.code}-no-from", r1 + [""] + no_from + [""] + lang.asked, r1
    if lang.code == "fr":
        hotmail = header_block(lang, ("De", "Envoyé", "À", "Objet"), values)
        yield "header-block", "hotmail-fr-envoye", r2 + ["", ""] + hotmail + [""] + lang.asked, r2
    if lang.code in CJK:
        wide = [f"{name}：{value}" for name, value in zip(lang.outlook, values)]
        yield "header-block", f"outlook-{lang.code}-fullwidth-colon", r2 + [""] + wide + [""] + lang.asked, r2


def separator_cases(lang: Language) -> Iterator[Case]:
    r0, _, r2 = lang.replies
    block = header_block(lang, lang.outlook, outlook_values(lang))
    yield "separator", f"outlook-{lang.code}-original-message", r2 + ["", lang.original] + block + [""] + lang.asked, r2
    spaced = "----- " + lang.original.strip("-") + " -----"
    yield "separator", f"webmail-{lang.code}-separator-only", r0 + ["", spaced] + lang.asked, r0
    for key, line in lang.extra.items():
        yield "separator", f"outlook-{lang.code}-{key.replace('_', '-')}", r0 + ["", line] + block + [""] + lang.asked, r0


def inline_cases(lang: Language) -> Iterator[Case]:
    tb = attribution(lang.thunderbird, "Northwind Support")
    r1 = lang.replies[1]
    yield "inline", f"thunderbird-{lang.code}-bottom-post", [tb] + quote(lang.asked) + [""] + r1, r1
    lines = [tb, "> " + lang.asked[0], ">"]
    expected: list[str] = []
    for question, answer in lang.answers:
        lines += ["> " + question, "", answer, ""]
        expected += [answer, ""]
    yield "inline", f"mutt-{lang.code}-interleaved", lines + lang.signoff, expected + lang.signoff


BUILDERS: list[Callable[[Language], Iterator[Case]]] = [
    attribution_cases, kept_text_cases, forward_cases, header_block_cases, separator_cases, inline_cases,
]


def main() -> int:
    written = 0
    for lang in LANGUAGES:
        for build in BUILDERS:
            for kind, name, reply, expected in build(lang):
                corpus = "reply-corpus-holdout" if written % 4 == 3 else "reply-corpus"
                folder = ROOT / "bench" / corpus / kind
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{name}.txt").write_text("\n".join(reply) + "\n", encoding="utf-8")
                (folder / f"{name}.expected.txt").write_text("\n".join(expected).strip("\n") + "\n", encoding="utf-8")
                written += 1
    print(f"wrote {written} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
