"""Regular expressions that run in linear time: RE2 underneath, with Python's Unicode-aware classes.

Every pattern mailbot runs on text a stranger wrote — rule conditions, the presets' patterns, its own
detectors — goes through `compile_linear`. RE2 never backtracks, so no input can make a match run
longer than its length allows; the price is that lookarounds and backreferences do not exist (they are
rejected here with the reason, which `rules check` reports).

RE2's `\\w`, `\\b`, `\\s` and `\\d` know only ASCII, which would make every Russian keyword rule fail
silently. They are rewritten to their Unicode meaning first, as Python's `re` has them: `\\w` is a
letter, digit, mark or underscore. A word boundary cannot be expressed without lookaround, so `\\b`
becomes "start or end of text, or a non-word character" — exact for `search` (does it occur, and where
is the first occurrence); patterns meant for `findall`/`sub` on adjacent words should not use `\\b`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import re2

WORD = r"\p{L}\p{N}\p{M}_"
SPACE = r"\s\p{Z}\x{85}"
_OUTSIDE = {
    "w": f"[{WORD}]",
    "W": f"[^{WORD}]",
    "s": f"[{SPACE}]",
    "S": f"[^{SPACE}]",
    "d": r"\p{Nd}",
    "D": r"\P{Nd}",
    "Z": r"\z",
}
_INSIDE = {"w": WORD, "s": SPACE, "d": r"\p{Nd}"}
_LEADING_BOUNDARY = f"(?:^|[^{WORD}])"
_TRAILING_BOUNDARY = f"(?:[^{WORD}]|$)"
# What a leading \b may follow besides "(" and "|": "(?:", an inline flag group "(?i)", a scoped one "(?i:".
# Matched on the pattern's own text (its author's), never on mail.
_OPENS_GROUP = re.compile(r"\(\?[aiLmsux-]*[:)]$")
# A memory ceiling per pattern (RE2 refuses to build larger automata instead of growing without bound).
MAX_MEM = 8 << 20


class PatternError(ValueError):
    """A pattern the linear-time engine cannot take; the message says why."""


def translate(pattern: str) -> str:
    """Python-flavoured pattern → RE2 pattern with Unicode-aware classes (see the module docstring)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if in_class:
                if nxt in _INSIDE:
                    out.append(_INSIDE[nxt])
                elif nxt in "WSD":
                    raise PatternError(f"\\{nxt} inside [...] is not supported; write the class out (for example [^...])")
                else:
                    out.append(ch + nxt)
            elif nxt == "b":
                prev = pattern[i - 1] if i > 0 else ""
                leading = i == 0 or prev in "(|" or _OPENS_GROUP.search(pattern[:i]) is not None
                out.append(_LEADING_BOUNDARY if leading else _TRAILING_BOUNDARY)
            elif nxt == "B":
                raise PatternError("\\B (not a word boundary) is not supported")
            elif nxt.isdigit() and nxt != "0":
                raise PatternError(f"backreference \\{nxt} is not supported (it cannot run in linear time)")
            elif nxt in _OUTSIDE:
                out.append(_OUTSIDE[nxt])
            else:
                out.append(ch + nxt)
            i += 2
            continue
        if in_class:
            if ch == "]" and out and out[-1] not in ("[", "[^"):
                in_class = False
            out.append(ch)
        elif ch == "[":
            in_class = True
            if pattern[i + 1:i + 2] == "^":
                out.append("[^")
                i += 2
                if pattern[i:i + 1] == "]":  # a literal ] right after [^
                    out.append("]")
                    i += 1
                continue
            out.append("[")
            if pattern[i + 1:i + 2] == "]":  # a literal ] right after [
                out.append("]")
                i += 2
                continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _check_lookaround(pattern: str) -> None:
    for token, what in (("(?=", "lookahead"), ("(?!", "negative lookahead"), ("(?<=", "lookbehind"), ("(?<!", "negative lookbehind")):
        if token in pattern:
            raise PatternError(f"{what} {token}…) is not supported (it cannot run in linear time)")
    if "(?P=" in pattern:
        raise PatternError("backreference (?P=…) is not supported (it cannot run in linear time)")
    if "(?x" in pattern:
        raise PatternError("verbose mode (?x) is not supported; write the pattern on one line")


@dataclass(frozen=True)
class LinearMatch:
    text: str
    start: int
    end: int
    groups: tuple[str | None, ...]

    def group(self, index: int = 0) -> str | None:
        return self.text if index == 0 else self.groups[index - 1]


class LinearPattern:
    """A compiled pattern; `source` is what its author wrote."""

    def __init__(self, source: str, compiled: Any) -> None:
        self.source = source
        self._re = compiled

    def search(self, text: str) -> LinearMatch | None:
        m = self._re.search(_encodable(text))
        if m is None:
            return None
        return LinearMatch(m.group(0), m.start(), m.end(), tuple(m.groups()))

    def finditer(self, text: str) -> Iterator[LinearMatch]:
        for m in self._re.finditer(_encodable(text)):
            yield LinearMatch(m.group(0), m.start(), m.end(), tuple(m.groups()))

    def sub(self, replacement: str, text: str) -> str:
        return str(self._re.sub(replacement, _encodable(text)))

    def __repr__(self) -> str:
        return f"LinearPattern({self.source!r})"


def _encodable(text: str) -> str:
    """RE2 works on UTF-8: a lone surrogate (from a surrogateescape decode) becomes U+FFFD for matching."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def compile_linear(pattern: str) -> LinearPattern:
    """Compile `pattern` for linear-time matching; PatternError says why it cannot be."""
    if not isinstance(pattern, str):
        raise PatternError("a pattern must be a string")
    _check_lookaround(pattern)
    options = re2.Options()
    options.log_errors = False  # RE2 would print to stderr; the error is raised instead
    options.max_mem = MAX_MEM
    try:
        return LinearPattern(pattern, re2.compile(translate(pattern), options))
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise PatternError(f"not a valid pattern: {detail}") from None
