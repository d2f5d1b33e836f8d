"""Strict address parsing: an address counts only when the header parses without guessing."""

from __future__ import annotations

import re
from email import policy
from email.errors import InvalidHeaderDefect

from mailbot.core.mail import Address

_LOCAL = re.compile(r"^(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*|\"(?:[^\"\\\r\n]|\\.)+\")$")
# The registry builds a new header class on every lookup; build the address-list one once.
_ADDRESS_HEADER = policy.default.header_factory["to"]  # type: ignore[index]
_LABEL = re.compile(r"^(?!-)[\w-]{1,63}(?<!-)$", re.UNICODE)


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


def parse_single(value: str | None) -> tuple[Address | None, str | None]:
    """The one mailbox a From/Sender header names, or None and why it was refused."""
    if value is None or not value.strip():
        return None, "no sender address"
    addresses, problem = parse_list(value)
    if problem:
        return None, f"sender address {value!r} is malformed: {problem}"
    if len(addresses) != 1:
        return None, f"sender header {value!r} names {len(addresses)} mailboxes, expected exactly one"
    return addresses[0], None
