"""The new part of a reply: what the writer wrote now, with quoted history, attributions and footers folded away.

`strip_reply(text)` labels every line of a message: kept (new text) or folded by a named rule, with the
reason. It is a pure function of the text, so what it cut can be shown next to the stored message at any
time. The invariant it keeps: a line is folded only when it is quoted history or a client's boilerplate
around it (attribution, header block, separator, forwarding marker, footer) or a "-- " signature. When in
doubt, the line is kept: a quote that stays costs less than a sentence that is lost.

Two shapes of reply:
- top-posted: new text, then history. History starts at the first marker (a ">" quote, an attribution, a
  header block, an "Original Message" separator); everything from there on is folded.
- inline or bottom-posted: the writer's text comes after quoted lines. Only the quoted lines, the
  attributions right above them and the wrapped tails of quoted lines are folded; every other line stays.
Forwarded mail keeps the forwarded content (it is the content); only the "Forwarded message" line is folded.

Every pattern is linear-time (RE2) and sees one line (or an attribution's two or three) at a time; lines
beyond the first MAX_SCAN_CHARS of a message are not examined and are kept unless history began above them.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailbot.core.attribution_lines import Attribution, attribution_ending_at
from mailbot.core.client_markers import (
    is_client_footer,
    is_forward_marker,
    is_original_message,
    is_signature_separator,
)
from mailbot.core.header_blocks import HeaderLine, header_block_at, header_line

MAX_SCAN_CHARS = 64 * 1024
# A quoted line is re-wrapped by some clients without its ">": the tail then starts lower-case right below
# a long quoted line (one that reached the wrap width).
WRAP_WIDTH = 72

RULES = {
    "quoted": "quoted text (lines starting with '>')",
    "attribution": "an attribution line ('On … wrote:') and the history below it",
    "header-block": "a header block of an earlier message (From/Sent/To/Subject) and the history below it",
    "separator": "an 'Original Message' separator and the history below it",
    "forward-marker": "forwarding boilerplate (the forwarded content itself is kept)",
    "quote-tail": "the tail of a quoted line that was wrapped without its '>'",
    "signature": "a signature below '-- '",
    "client-footer": "a mail client's footer ('Sent from my iPhone')",
}


@dataclass(frozen=True)
class Fold:
    """Lines first..last (0-based, inclusive) that stripping cut, and the rule that cut them."""

    first: int
    last: int
    rule: str

    @property
    def reason(self) -> str:
        return RULES[self.rule]


@dataclass(frozen=True)
class StrippedReply:
    lines: tuple[str, ...]  # the message's lines (line endings normalised)
    folds: tuple[Fold, ...]

    @property
    def new_text(self) -> str:
        cut = [False] * len(self.lines)
        for fold in self.folds:
            cut[fold.first : fold.last + 1] = [True] * (fold.last - fold.first + 1)
        out: list[str] = []
        gap: list[bool] = []  # a run of blank and folded lines: True for a fold, False for a blank line
        for line, gone in zip(self.lines, cut):
            line = line.rstrip()
            if gone or not line:
                gap.append(gone)
                continue
            if gap and out and not any(gap):
                out += [""] * len(gap)  # the writer's own blank lines
            elif gap and out and not all(gap):
                out.append("")  # blank lines around folded ones: one is enough
            gap = []
            out.append(line)
        return "\n".join(out)


# What a line is, for the decisions below.
TEXT, BLANK, QUOTED, ATTRIBUTION, HEADER, SEPARATOR, FORWARD, SIGNATURE, TAIL, UNSEEN = range(10)
_HISTORY = {QUOTED: "quoted", ATTRIBUTION: "attribution", HEADER: "header-block", SEPARATOR: "separator"}


def _is_quoted(line: str) -> bool:
    return line.lstrip()[:1] == ">"


def _classify(lines: list[str], scanned: int) -> list[int]:
    # Beyond the scanned part, only what costs nothing: blank or quoted.
    kinds = [BLANK if not line.strip() else QUOTED if _is_quoted(line) else UNSEEN for line in lines[scanned:]]
    kinds[:0] = [TEXT] * scanned
    parsed = [header_line(line) for line in lines[:scanned]]
    i = 0
    while i < scanned:
        line = lines[i]
        if not line.strip():
            kinds[i] = BLANK
        elif _is_quoted(line):
            kinds[i] = QUOTED
        elif is_forward_marker(line):
            kinds[i] = FORWARD
        elif is_signature_separator(line):
            kinds[i] = SIGNATURE
        elif n := header_block_at(lines, parsed, i):
            kinds[i : i + n] = [HEADER] * n
            i += n
            continue
        elif is_original_message(line):
            kinds[i] = SEPARATOR
        else:
            found = attribution_ending_at(lines, i)
            if found is not None and (found.certain or _quote_follows(lines, parsed, found, scanned)):
                kinds[found.first : i + 1] = [ATTRIBUTION] * (i + 1 - found.first)
            else:
                kinds[i] = TAIL if _is_quote_tail(lines, i) else TEXT
        i += 1
    return kinds


def _quote_follows(lines: list[str], parsed: list[HeaderLine | None], found: Attribution, scanned: int) -> bool:
    """Is the next non-blank line below an uncertain attribution quoted (or a header block)?"""
    for j in range(found.last + 1, min(scanned, found.last + 4)):
        if lines[j].strip():
            return _is_quoted(lines[j]) or header_block_at(lines, parsed, j) > 0
    return False


def _is_quote_tail(lines: list[str], i: int) -> bool:
    """A line that continues the quoted line above it, re-wrapped without its ">": that one reached the wrap
    width and does not end a sentence, and this one goes on mid-sentence (lower case) before a quote or a
    paragraph's end, or is a short fragment between two quoted lines."""
    if i == 0 or not _is_quoted(lines[i - 1]):
        return False
    above, line = lines[i - 1].rstrip(), lines[i].strip()
    words = line.split()
    if not words or len(above) + 1 + len(words[0]) <= WRAP_WIDTH or above[-1] in ".!?:":
        return False
    below = lines[i + 1] if i + 1 < len(lines) else ""
    if line[0].islower() or "@" in words[0]:
        return not below.strip() or _is_quoted(below)
    return _is_quoted(below) and len(line) <= 40 and line[-1] not in ".!?:"


def _inline_reply_follows(kinds: list[int], start: int) -> bool:
    """After history that starts at `start`, does the writer's own text come (an inline or bottom-posted
    answer), before any header block or separator that starts older history? Unquoted text right below an
    attribution is not: that is history whose ">" was lost (mail converted from HTML)."""
    below_attribution = in_signature = False
    for kind in kinds[start:]:
        if kind in (HEADER, SEPARATOR, FORWARD):
            return False
        if kind == SIGNATURE:
            in_signature = True
        elif kind in (QUOTED, ATTRIBUTION):
            in_signature, below_attribution = False, kind == ATTRIBUTION
        elif kind in (TEXT, UNSEEN) and not in_signature and not below_attribution:
            return True
    return False


def _label(lines: list[str], kinds: list[int]) -> list[str | None]:
    labels: list[str | None] = [None] * len(kinds)
    first = next((i for i, kind in enumerate(kinds) if kind in (QUOTED, ATTRIBUTION, HEADER, SEPARATOR, FORWARD)), None)
    if first is not None and kinds[first] == FORWARD:
        end = first  # the new text above the forwarded message; below it, only the markers are folded
        for i in range(first, len(kinds)):
            if kinds[i] == FORWARD:
                labels[i] = "forward-marker"
    elif first is not None and kinds[first] in (QUOTED, ATTRIBUTION) and _inline_reply_follows(kinds, first):
        end = next((i for i in range(first, len(kinds)) if kinds[i] in (HEADER, SEPARATOR, FORWARD)), len(kinds))
        for i in range(first, end):
            if kinds[i] in (QUOTED, ATTRIBUTION):
                labels[i] = _HISTORY[kinds[i]]
            elif kinds[i] == TAIL:
                labels[i] = "quote-tail"
        for i in range(end, len(kinds)):
            if kinds[end] != FORWARD:
                labels[i] = _HISTORY[kinds[end]]
            elif kinds[i] == FORWARD:
                labels[i] = "forward-marker"
    else:
        end = len(kinds) if first is None else first
        if first is not None:
            labels[first:] = [_HISTORY[kinds[first]]] * (len(kinds) - first)
    _fold_signature_and_footers(lines, kinds, labels, end)
    return labels


def _fold_signature_and_footers(lines: list[str], kinds: list[int], labels: list[str | None], end: int) -> None:
    """A "-- " signature runs to the next history line; a client footer is folded when only blank lines,
    other footers or folded lines follow it."""
    i = 0
    while i < end:
        if kinds[i] == SIGNATURE and labels[i] is None:
            while i < end and labels[i] is None and kinds[i] not in (QUOTED, ATTRIBUTION):
                labels[i] = "signature"
                i += 1
            continue
        i += 1
    for i in range(end - 1, -1, -1):
        if labels[i] is not None or kinds[i] == BLANK:
            continue
        if kinds[i] != TEXT or not is_client_footer(lines[i]):
            break
        labels[i] = "client-footer"


def _folds(labels: list[str | None]) -> tuple[Fold, ...]:
    folds: list[Fold] = []
    for i, rule in enumerate(labels):
        if rule is None:
            continue
        if folds and folds[-1].rule == rule and folds[-1].last == i - 1:
            folds[-1] = Fold(folds[-1].first, i, rule)
        else:
            folds.append(Fold(i, i, rule))
    return tuple(folds)


def strip_reply(text: str) -> StrippedReply:
    """Every line of `text`, and what stripping folds of them (with the rule that did)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    scanned, size = 0, 0
    while scanned < len(lines) and size + len(lines[scanned]) < MAX_SCAN_CHARS:
        size += len(lines[scanned]) + 1
        scanned += 1
    return StrippedReply(tuple(lines), _folds(_label(lines, _classify(lines, scanned))))


def new_text(text: str) -> str:
    """The part of `text` the sender wrote now (the whole text when nothing looks quoted)."""
    return strip_reply(text).new_text
