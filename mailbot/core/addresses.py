"""Strict address parsing: an address counts only when the header parses without guessing."""

from __future__ import annotations

import base64
import quopri
import re
from email import policy
from email.errors import InvalidHeaderDefect

from mailbot.core.mail import Address

_LOCAL = re.compile(r"^(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*|\"(?:[^\"\\\r\n]|\\.)+\")$")
# The registry builds a new header class on every lookup; build the address-list one once.
_ADDRESS_HEADER = policy.default.header_factory["to"]  # type: ignore[index]
_LABEL = re.compile(r"^(?!-)[\w-]{1,63}(?<!-)$", re.UNICODE)
# The plainest and by far the commonest headers — "Name <local@domain>", "\"Name\" <local@domain>", a bare
# local@domain, a name in one encoded word, or a comma-separated list of them, with no comments or groups — are
# read here without the standard library's parser, which is slow (a sender's From took a sixth of parse_mail's
# time); on everything else that parser decides. Both read these forms alike (tests/unit/test_addresses_fast.py).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL_ASCII = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_SPEC = rf"{_ATEXT}(?:\.{_ATEXT})*@{_LABEL_ASCII}(?:\.{_LABEL_ASCII})*"
_ENCODED_WORD = r"=\?(?P<charset>[A-Za-z0-9_-]+)\?(?P<encoding>[QqBb])\?(?P<encoded>[^?\s]*)\?="
_PLAIN_MAILBOX = re.compile(
    rf"[ \t]*(?:(?P<bare>{_SPEC})|(?:{_ENCODED_WORD}[ \t]+|(?:(?P<phrase>{_ATEXT}(?:[ \t]+{_ATEXT})*)|\"(?P<quoted>[^\"\\\r\n]*)\")?[ \t]*)"
    rf"<(?P<angle>{_SPEC})>)[ \t]*"
)
# A name in one encoded word (RFC 2047), the commonest form of a name outside ASCII, in a charset every mail
# program writes: read here only when it decodes strictly and needs no white space folded.
_PLAIN_CHARSETS = frozenset({"utf-8", "us-ascii", "iso-8859-1", "iso-8859-2", "iso-8859-15", "windows-1250", "windows-1251", "windows-1252", "koi8-r"})
# The standard library's strict header parser takes time quadratic in some inputs (sixteen thousand '"' take
# four seconds): a longer address header is refused unparsed. 4,096 characters hold dozens of addresses.
MAX_HEADER_CHARS = 4096


def valid_addr_spec(spec: str) -> bool:
    """True for local@domain with a dot-atom or quoted local part and a domain of valid labels."""
    if spec.count("@") < 1 or len(spec) > 320:
        return False
    local, domain = spec.rsplit("@", 1)
    if not local or not domain or not _LOCAL.match(local):
        return False
    labels = domain.split(".")
    return all(_LABEL.match(label) and "_" not in label for label in labels)


def parse_list(value: str) -> tuple[list[Address], str | None]:
    """Parse an address-list header. Returns the addresses and, if anything had to be guessed, the reason.

    Only addresses that parse cleanly are returned; a header with any invalid part yields no addresses
    from that part, never a guess built out of the display name.
    """
    if len(value) > MAX_HEADER_CHARS:
        return [], f"address header of {len(value):,} characters, longer than {MAX_HEADER_CHARS:,}: not parsed"
    plain = _plain_list(value)
    if plain is not None:
        return plain, None
    try:
        header = _ADDRESS_HEADER("to", value)
    except Exception as exc:  # the stdlib parser raises assorted errors on hostile input
        return [], f"unparseable address header: {exc}"
    invalid = [str(d) for d in header.defects if isinstance(d, InvalidHeaderDefect)]
    out: list[Address] = []
    lowered = value.lower()
    for item in header.addresses:
        spec = item.addr_spec
        if spec.lower() not in lowered:
            # The stdlib decodes an encoded word before it looks for an address in it; RFC 2047 allows no
            # address inside one, and a display name such as "=?utf-8?B?…?=" is never a mailbox.
            invalid.append(f"{spec!r} appears only inside an encoded word")
        elif valid_addr_spec(spec):
            out.append(Address(addr=spec.lower(), name=item.display_name or ""))
        else:
            invalid.append(f"{spec!r} is not a valid address")
    if invalid:
        return [], "; ".join(dict.fromkeys(invalid))
    return out, None


def _plain_list(value: str) -> list[Address] | None:
    """The addresses of a header in the plainest forms (see _PLAIN_MAILBOX), or None for any other header."""
    # A quoted name may hold a comma: such a header is read here only when it names one mailbox.
    items = [value] if '"' in value else value.split(",")
    out: list[Address] = []
    for item in items:
        m = _PLAIN_MAILBOX.fullmatch(item)
        if m is None:
            return None
        spec = m["bare"] or m["angle"]
        if len(spec) > 320:
            return None
        phrase, quoted, encoded = m["phrase"], m["quoted"], m["encoded"]
        outside = item if encoded is None else item[: m.start("charset") - 2] + " " + item[m.end("encoded") + 2 :]
        if "=?" in outside:
            return None  # an encoded word anywhere but as the whole name: the stdlib's to read
        if encoded is not None:
            name = _decoded_word(m["charset"], m["encoding"], encoded)
            if name is None:
                return None
        elif phrase is not None:
            name = " ".join(phrase.split())
        else:
            name = quoted if quoted is not None else ""
        out.append(Address(addr=spec.lower(), name=name))
    return out


def _decoded_word(charset: str, encoding: str, encoded: str) -> str | None:
    """The text of one encoded word, or None unless it decodes cleanly in one of _PLAIN_CHARSETS."""
    if charset.lower() not in _PLAIN_CHARSETS or not encoded:
        return None
    try:
        if encoding in "Bb":
            data = base64.b64decode(encoded, validate=True)
        else:
            data = quopri.decodestring(encoded.replace("_", " ").encode("ascii"), header=False)
            if b"=" in data:
                return None  # a "=" that was no escape: the stdlib keeps it, with its own rules
        text = data.decode(charset)
    except (ValueError, UnicodeError):
        return None
    if not text.isprintable() or text != " ".join(text.split()):
        return None  # the stdlib folds the white space of a decoded name its own way
    return text


def parse_single(value: str | None) -> tuple[Address | None, str | None]:
    """The one mailbox a From/Sender header names, or None and why it was refused."""
    if value is None or not value.strip():
        return None, "no sender address"
    addresses, problem = parse_list(value)
    if problem:
        return None, f"sender address {_shown(value)} is malformed: {problem}"
    if len(addresses) != 1:
        return None, f"sender header {_shown(value)} names {len(addresses)} mailboxes, expected exactly one"
    return addresses[0], None


def _shown(value: str, limit: int = 200) -> str:
    """A header value for a reason: quoted, and cut so a hostile header does not fill the event log."""
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}… ({len(value):,} characters)"
