"""Reading Authentication-Results headers (RFC 8601) as real border servers write them, failing closed.

Real servers bend the grammar: Plesk writes `smtp.helo=[203.0.113.7]`, Microsoft 365 leaves out the authserv-id
and adds `action=none`, OpenDKIM and rspamd put comments with semicolons inside. The reader here is lenient about
such values and strict about structure: an unbalanced quote or comment, or a result that is not `method=result`,
makes the header unreadable, and an unreadable header proves nothing. Only the top-most header that names our own
authserv-id is read at all: our border server adds its header on top, so any header below it with our id came from
outside, however good it looks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from publicsuffixlist import PublicSuffixList

# A header longer than this is not one a border server wrote: reading it is bounded, and it proves nothing.
MAX_HEADER_CHARS = 16_384
# The authserv-id Microsoft 365 (Exchange Online) stands for: its Authentication-Results name no authserv-id.
NO_AUTHSERV_ID = "exchange-online"

_KEYWORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_METHOD = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_-]*)(?:/[0-9]+)?$")
_PROPERTY = re.compile(r"^([A-Za-z0-9_-]+)\.([A-Za-z0-9_.-]+)$")


class Unreadable(ValueError):
    """The header's structure cannot be read: it proves nothing."""


@dataclass(frozen=True)
class MethodResult:
    method: str  # dkim, dmarc, spf, …, lower case
    result: str  # pass, fail, none, …, lower case
    properties: tuple[tuple[str, str], ...]  # ("header.d", "vendor.example"), names lower case

    def get(self, name: str) -> str:
        return next((value for key, value in self.properties if key == name), "")


@dataclass(frozen=True)
class AuthResults:
    authserv_id: str  # lower case; NO_AUTHSERV_ID for Microsoft 365's headers that name none
    results: tuple[MethodResult, ...]


def _strip_comments(value: str) -> str:
    """The value without (comments), nested ones included; quoted strings kept as they are."""
    out: list[str] = []
    depth, quoted, i = 0, False, 0
    while i < len(value):
        c = value[i]
        if c == "\\" and (quoted or depth):
            if quoted and not depth:
                out.append(value[i : i + 2])
            i += 2
            continue
        if quoted:
            out.append(c)
            quoted = c != '"'
        elif c == "(":
            depth += 1
        elif c == ")":
            if depth == 0:
                raise Unreadable("a ')' without its '('")
            depth -= 1
            if depth == 0:
                out.append(" ")
        elif depth == 0:
            out.append(c)
            quoted = c == '"'
        i += 1
    if depth or quoted:
        raise Unreadable("an unclosed comment or quoted string")
    return "".join(out)


def _split(value: str, at_space: bool = False, separator: str = ";") -> list[str]:
    """Split at `separator` (or at runs of whitespace) outside quoted strings."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for c in value:
        if escaped:
            escaped = False
        elif c == "\\" and quoted:
            escaped = True
        elif c == '"':
            quoted = not quoted
        if not quoted and (c.isspace() if at_space else c == separator):
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
    parts.append("".join(current))
    return parts


def _tokens(segment: str) -> list[str]:
    """`a=b c.d = "e f"` → ["a=b", 'c.d="e f"']: whitespace around '=' removed, quoted strings kept whole."""
    squeezed = "=".join(piece.strip() for piece in segment.split("="))
    return [t for t in _split(squeezed, at_space=True) if t]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _result(segment: str) -> MethodResult | None:
    tokens = _tokens(segment)
    if not tokens:
        return None  # an empty segment: a trailing or doubled ';', which real servers write
    method, eq, result = tokens[0].partition("=")
    m = _METHOD.match(method)
    if not eq or m is None or not _KEYWORD.match(result):
        raise Unreadable(f"{tokens[0][:60]!r} is not method=result")
    props: list[tuple[str, str]] = []
    for token in tokens[1:]:
        key, eq, value = token.partition("=")
        p = _PROPERTY.match(key)
        if eq and p is not None:
            props.append((key.lower(), _unquote(value)))
        # Anything else (`reason=…`, Microsoft's `action=none`, a stray word) carries no property we read.
    return MethodResult(m.group(1).lower(), result.lower(), tuple(props))


def authserv_id_of(value: str) -> str:
    """The authserv-id a header names, read even when the rest is unreadable; NO_AUTHSERV_ID when it names none."""
    head = value.lstrip()
    first = re.split(r"[;\s(]", head, maxsplit=1)[0]
    if "=" in first:
        return NO_AUTHSERV_ID
    return _unquote(first).lower().rstrip(".")


def parse(value: str) -> AuthResults:
    """One header's value → its results. Raises Unreadable."""
    if len(value) > MAX_HEADER_CHARS:
        raise Unreadable(f"longer than {MAX_HEADER_CHARS} characters")
    segments = _split(_strip_comments(value))
    ident = authserv_id_of(value)
    if ident == NO_AUTHSERV_ID:
        body = segments
    else:
        words = segments[0].split()
        if not words or len(words) > 2 or (len(words) == 2 and not words[1].isdigit()):
            raise Unreadable(f"{segments[0].strip()[:60]!r} is not an authserv-id")
        body = segments[1:]
    if len(body) == 1 and body[0].strip().lower() == "none":
        return AuthResults(ident, ())
    results = tuple(r for r in (_result(s) for s in body) if r is not None)
    return AuthResults(ident, results)


@lru_cache(maxsize=1)
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list the package ships: no download at run time


def organizational_domain(domain: str) -> str:
    """example.co.uk for mail.example.co.uk (RFC 7489 3.2); the domain itself for a public suffix."""
    name = domain.lower().rstrip(".")
    return _suffixes().privatesuffix(name) or name


def aligned(signing_domain: str, from_domain: str) -> bool:
    """Relaxed alignment: the same organizational domain. A public suffix aligns with nothing."""
    d, f = signing_domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    if not d or not f or _suffixes().privatesuffix(d) is None:
        return False
    return organizational_domain(d) == organizational_domain(f)


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str


def ours(values: Sequence[str], authserv_id: str) -> str | None:
    """The top-most header value naming our authserv-id (headers come top first), or None."""
    wanted = authserv_id.lower().rstrip(".")
    return next((v for v in values if authserv_id_of(v) == wanted), None)


def verdict(values: Sequence[str], authserv_id: str, from_domain: str, agent_domain: str) -> Verdict:
    """Did our border server see DMARC pass for the From domain, or DKIM pass aligned with it?

    DMARC counts only when its header.from is this mail's From domain and the agent's own domain; DKIM only
    when its header.d aligns with the From domain.
    """
    value = ours(values, authserv_id)
    if value is None:
        return Verdict(False, f"no Authentication-Results from {authserv_id}")
    try:
        header = parse(value)
    except Unreadable as exc:
        return Verdict(False, f"the Authentication-Results of {authserv_id} cannot be read ({exc}): no proof")
    from_domain, agent_domain = from_domain.lower(), agent_domain.lower()
    for result in header.results:
        if result.result != "pass":
            continue
        if result.method == "dmarc":
            claimed = result.get("header.from").lower().rstrip(".")
            if claimed == from_domain == agent_domain:
                return Verdict(True, f"DMARC pass for {claimed} ({authserv_id})")
        elif result.method == "dkim":
            domain = result.get("header.d").lower().rstrip(".")
            if aligned(domain, from_domain) and from_domain == agent_domain:
                return Verdict(True, f"DKIM pass for {domain}, aligned with the From domain ({authserv_id})")
    return Verdict(False, f"{authserv_id} reports no DKIM pass aligned with {from_domain} and no DMARC pass for it")
