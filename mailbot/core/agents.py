"""Who is an agent: the configured directory, and the proof a message must carry to count as an agent's."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import authres

from mailbot.core.mail import InboundMail
from mailbot.core.tokens import ReplyToken


@dataclass(frozen=True)
class Agent:
    address: str
    name: str
    queues: tuple[str, ...]

    @property
    def key(self) -> str:
        """A stable short key for the agent's reply token (it does not reveal the address)."""
        return hashlib.sha256(self.address.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class Directory:
    agents: tuple[Agent, ...]

    def by_address(self, address: str) -> Agent | None:
        return next((a for a in self.agents if a.address == address.lower()), None)

    def by_key(self, key: str | None) -> Agent | None:
        return next((a for a in self.agents if a.key == key), None)

    def for_queue(self, queue: str) -> tuple[Agent, ...]:
        return tuple(a for a in self.agents if queue in a.queues)


@dataclass(frozen=True)
class Proof:
    """Whether a message counts as an agent's, and why (or why not)."""

    agent: Agent | None
    reason: str


def _aligned(signing_domain: str, from_domain: str) -> bool:
    d, f = signing_domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    return f == d or f.endswith("." + d) or d.endswith("." + f)


def authenticated(mail: InboundMail, authserv_id: str) -> tuple[bool, str]:
    """DKIM aligned with the From domain, or DMARC, passed — according to our own border server only."""
    if mail.sender is None:
        return False, "no usable From address"
    from_domain = mail.sender.domain
    ours = []
    for value in mail.header_all("Authentication-Results"):
        try:
            parsed = authres.AuthenticationResultsHeader.parse_value(value)
        except authres.AuthResError:
            continue
        if str(parsed.authserv_id).lower() == authserv_id.lower():
            ours.append(parsed)
    if not ours:
        return False, f"no Authentication-Results from {authserv_id}"
    # The top-most header is the one our server added; any below it with our id came from outside.
    for result in ours[0].results:
        props = {(p.type, p.name): str(p.value) for p in result.properties}
        if result.method == "dmarc" and result.result == "pass":
            return True, f"DMARC pass ({authserv_id})"
        if result.method == "dkim" and result.result == "pass":
            domain = props.get(("header", "d"), "")
            if domain and _aligned(domain, from_domain):
                return True, f"DKIM pass for {domain}, aligned with the From domain ({authserv_id})"
    return False, f"{authserv_id} reports no DKIM pass aligned with {from_domain} and no DMARC pass"


def identify(mail: InboundMail, token: ReplyToken | None, directory: Directory, authserv_id: str, require_auth: bool) -> Proof:
    """Is this message an agent's? Only through the agent's own token, from the agent's own address, and
    (unless switched off) authenticated by our border server."""
    if token is None or token.kind != "a":
        claimed = directory.by_address(mail.sender.addr) if mail.sender else None
        if claimed is not None:
            return Proof(None, f"From {claimed.address} is an agent, but the message did not come to that agent's reply address")
        return Proof(None, "")
    agent = directory.by_key(token.extra)
    if agent is None:
        return Proof(None, "the agent reply address names no configured agent")
    if mail.sender is None or mail.sender.addr != agent.address:
        who = mail.sender.addr if mail.sender else "an unparseable sender"
        return Proof(None, f"sent to {agent.address}'s reply address by {who}, not by the agent")
    if mail.sender_origin != "from":
        # Only a From header that parses strictly names an agent; a repaired one or Sender never does.
        return Proof(None, f"From {agent.address} only after {mail.sender_origin} address parsing: not proof")
    if require_auth:
        ok, why = authenticated(mail, authserv_id)
        if not ok:
            return Proof(None, f"From {agent.address} without proof: {why}")
        return Proof(agent, why)
    return Proof(agent, "agent reply address and From match (authentication checks switched off)")
