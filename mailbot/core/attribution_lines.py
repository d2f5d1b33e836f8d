"""Attribution lines above a quote ("On Mon, 9 Mar 2026 at 10:00, Support <s@example.com> wrote:"), in many languages.

Clients write them in a dozen shapes: date first or name first, with or without a verb, and Gmail wraps them
at 78 columns — after the name, inside the address, or before the last words of the date. A line (or two or
three lines, when a wrap is plausible) is an attribution when it starts the way attributions start, ends in a
colon, and carries both a verb of writing (or the sender's address right before the colon) and evidence of a
sent message: a date, a time or an address. "On your pricing page you wrote:" has no such evidence and is
the customer's own text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from mailbot.core.linear_regex import compile_linear

# Words an attribution starts with ("On …", "Am …", "Le …", "Il giorno …", "W dniu …", "在 …").
START_WORDS = (
    "On", "Am", "Le", "El", "Em", "No dia", "Op", "Il giorno", "Il", "Dnia", "W dniu", "Wiadomość napisana przez",
    "Den", "Dne", "På", "В", "Во", "У", "Quoting", "Zitat von", "Citando", "Cytuję", "Citation de", "Цитата",
    "Цитирую", "Lainaus",
)
START_CJK = ("在", "于")
# Weekday names and their short forms, when followed by a date ("Mo., 9. März", "пн, 9 мар.", "pon., 9 mar").
WEEKDAYS = (
    "mon", "tue", "wed", "thu", "fri", "sat", "sun",  # en; the full names share the prefix
    "mo", "di", "mi", "do", "fr", "sa", "so",  # de (and nl "di", "do")
    "lun", "mar", "mer", "jeu", "ven", "sam", "dim",  # fr
    "mié", "jue", "vie", "sáb", "dom",  # es
    "gio", "sab", "ma", "wo", "vr", "za", "zo",  # it, nl
    "pon", "wt", "śr", "czw", "pt", "sob", "niedz", "nie",  # pl
    "пн", "вт", "ср", "чт", "пт", "сб", "вс",  # ru short
    "пон", "втор", "сред", "четв", "пятн", "субб", "воскр",  # ru full names
)
# Verbs of writing, as attributions use them (and the webmail "Quoting …" forms).
VERBS = (
    "wrote", "writes", "has written", "schrieb", "schreibt", "a écrit", "écrit", "escribió", "ha escrito",
    "ha scritto", "scrisse", "schreef", "geschreven", "napisał", "napisała", "napisał\\(a\\)", "pisze",
    "napisana", "написал", "написала", "написал\\(а\\)", "пишет", "пише", "написав", "написала\\(в\\)",
    "skrev", "skriver", "kirjoitti", "napsal", "napsala", "napsal\\(a\\)", "escreveu", "yazdı",
    "Quoting", "Zitat von", "Citando", "Cytuję", "Citation de", "Цитата", "Цитирую",
)
VERBS_CJK = ("写道", "寫道", "寫了", "のメッセージ", "のメール", "さんは書きました", "書きました", "작성", "님이 작성")

MAX_LINE = 300  # an attribution line is short; longer lines are text
MAX_LINES = 3  # Gmail wraps a long one over two lines, rarely three

_START = compile_linear(
    r"(?i)^(?:[\"'«„]|\d|(?:" + "|".join(w.replace(" ", r"\s") for w in START_WORDS) + r")(?:\s|,)"
    r"|(?:" + "|".join(START_CJK) + r")"
    r"|(?:" + "|".join(WEEKDAYS) + r")\p{L}*\.?,?\s+\d)"
)
_ADDRESS = compile_linear(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_VERB = compile_linear(r"(?i)(?:^|[^\w])(?:" + "|".join(VERBS) + r")(?:[^\w]|$)|" + "|".join(VERBS_CJK))
_DATED = compile_linear(r"\d{1,2}[:h]\d{2}|(?:19|20)\d{2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d+\s?[年월日]")
# The sender's address and then at most three short words before the colon: "…, Support <s@example.com>:",
# "… <s@example.com>님이 작성:", "… (<s@example.com>) escribió:".
_ADDRESS_COLON = compile_linear(r"[>\])]\)?\s*(?:[^\s:：<>]{1,24}\s*){0,3}[:：]$")


@dataclass(frozen=True)
class Attribution:
    first: int  # index of its first line
    last: int  # index of its last line (the one ending in a colon)
    certain: bool  # starts like an attribution and names a verb and a date: counts even with no quote below


def _unquoted(line: str) -> bool:
    return not line.lstrip().startswith(">")


def _may_wrap(line: str) -> bool:
    """Could a client have wrapped this line (so that the next one continues it)? A wrapped line is long
    (it reached the wrap width) or ends inside the address, and does not end a sentence."""
    bare = line.rstrip()
    if not bare or bare[-1] in "!?;:：。！？" or (len(bare) < 40 and not bare.endswith("<")):
        return False
    if bare.endswith("."):
        return len(bare.split()[-1]) <= 5  # "Aug.", "Di.", "mars." — not "bereikbaar."
    return True


class Verdict(NamedTuple):
    certain: bool  # see Attribution
    starts: bool  # its first line starts the way attributions start ("On …", a date, a weekday)
    name_first: bool  # its first line starts with the sender's name and address ("Support <s@…> schrieb am")


def judge(joined: str, first_line: str) -> Verdict | None:
    """Whether `joined` (an attribution's lines, joined) is one, and how it starts; None when it is not."""
    start = first_line.strip()
    starts = _START.search(start) is not None
    address = _ADDRESS.search(start)
    opened = start.endswith("<")  # Gmail wrapped right after the "<"
    if not starts and address is None and not opened:
        return None
    # A name starts with a capital (or a letter of a script without case); "o.o. <…>" continues a wrapped line.
    name_first = not starts and not start[:1].islower() and (
        opened or address is not None and any(c.isalpha() for c in start[: address.start])
    )
    verb = _VERB.search(joined) is not None
    dated = _DATED.search(joined) is not None
    addressed = _ADDRESS.search(joined) is not None
    if verb and (dated or addressed):
        return Verdict(starts and dated, starts, name_first)
    if addressed and dated and _ADDRESS_COLON.search(joined) is not None:
        return Verdict(False, starts, name_first)
    return None


def attribution_ending_at(lines: Sequence[str], i: int) -> Attribution | None:
    """The attribution whose last line is line i, if there is one: the shortest that starts like one; else
    the longest that fits up to where the sender's name begins ("Support <" above "s@example.com> wrote:")."""
    last = lines[i].rstrip()
    if not last or last[-1] not in ":：" or len(last) > MAX_LINE or not _unquoted(last):
        return None
    best = None
    for first in range(i, max(-1, i - MAX_LINES), -1):
        line = lines[first]
        if not line.strip() or len(line) > MAX_LINE or not _unquoted(line):
            break
        if first < i and not _may_wrap(line):
            break
        verdict = judge(" ".join(part.strip() for part in lines[first : i + 1]), line)
        if verdict is None:
            continue
        found = Attribution(first, i, verdict.certain)
        if verdict.starts and not (first == i and _continues_above(lines, i)):
            return found
        best = found
        if verdict.name_first:
            break
    return best


def _continues_above(lines: Sequence[str], i: int) -> bool:
    """Line i holds the date and verb but no address, and the line above starts with the sender's name and
    address: a name-first attribution wrapped before its end ("Support <s@example.com> 于2026年3月9日" /
    "10:00写道：")."""
    above = lines[i - 1].strip() if i > 0 else ""
    address = _ADDRESS.search(above)
    if address is None or _ADDRESS.search(lines[i]) is not None or not _may_wrap(above):
        return False
    return _START.search(above) is None and any(c.isalpha() for c in above[: address.start])
