"""Recover the one address a slightly malformed From/Reply-To names, and say what was repaired.

Used only after the strict parse refused the header. A repair is taken only when exactly one address can be
meant: a name written without angle brackets, a trailing root dot on the domain, a stray `<` or `>`, broken
quoting around a display name holding a comma. A display name that itself looks like an address makes the
header ambiguous and is never repaired. A repaired address is marked as such: it never proves who wrote.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailbot.core.addresses import valid_addr_spec
from mailbot.core.header_decoding import HeaderCharsets, RawMailbox, display_name, split_mailboxes
from mailbot.core.mail import Address


@dataclass(frozen=True)
class Repaired:
    address: Address
    repairs: tuple[str, ...]

    @property
    def note(self) -> str:
        return "address repaired: " + "; ".join(self.repairs)


def _fix_spec(spec: str) -> tuple[str, list[str]]:
    repairs: list[str] = []
    cleaned = spec.strip().strip("<>").strip()
    if "<" in cleaned or ">" in cleaned:
        cleaned = cleaned.replace("<", "").replace(">", "")
        repairs.append("stray angle bracket removed")
    elif cleaned != spec.strip():
        repairs.append("unbalanced angle brackets")
    if cleaned.endswith("."):
        cleaned = cleaned.rstrip(".")
        repairs.append("trailing root dot removed from the domain")
    if cleaned.startswith("mailto:"):
        cleaned = cleaned[7:]
        repairs.append("mailto: prefix removed")
    return cleaned, repairs


def _looks_like_address(text: str) -> bool:
    return "@" in text


def repair_mailbox(value: str, charsets: HeaderCharsets = HeaderCharsets()) -> Repaired | None:
    """The single address `value` unambiguously names, or None. `value` is the header with raw 8-bit
    bytes already decoded and encoded words still encoded."""
    boxes = [b for b in split_mailboxes(value) if b.addr or b.phrase]
    addressed = [b for b in boxes if "@" in b.addr]
    merged = False
    if len(boxes) > 1 and len(addressed) == 1 and all("@" not in b.phrase and not b.angle for b in boxes if b is not addressed[0]):
        # "Doe, John <john@x>": an unquoted comma in the name, and only one address anywhere
        words = [b.phrase or b.addr for b in boxes if b is not addressed[0]] + [addressed[0].phrase]
        boxes = [RawMailbox(", ".join(w for w in words if w), addressed[0].addr, addressed[0].comment, addressed[0].angle)]
        merged = True
    if len(boxes) != 1:
        return None
    box = boxes[0]
    name = display_name(box, charsets)
    if _looks_like_address(box.phrase) or _looks_like_address(name) and box.angle:
        return None  # "alice@x <bob@y>": two addresses, and the one shown is not the one used
    spec, repairs = _fix_spec(box.addr)
    if not valid_addr_spec(spec):
        return None
    if not box.angle and box.phrase:
        repairs.insert(0, "display name without angle brackets")
    elif not box.angle and box.comment:
        repairs.insert(0, "name taken from a comment")
    if merged or box.angle and ("," in name or '"' in box.phrase):
        repairs.insert(0, "display name quoting repaired")
    if not repairs:
        repairs.append("header not in RFC 5322 form")
    return Repaired(Address(addr=spec.lower(), name=name), tuple(repairs))


def name_for(value: str, addr: str, charsets: HeaderCharsets = HeaderCharsets()) -> str | None:
    """The display name written for `addr` in `value`, decoded after the structure is known; None if absent."""
    for box in split_mailboxes(value):
        if _fix_spec(box.addr)[0].lower() == addr:
            return display_name(box, charsets)
    return None


__all__ = ["RawMailbox", "Repaired", "name_for", "repair_mailbox"]
