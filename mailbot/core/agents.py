"""Who is an agent: the configured directory, and the proof a message must carry to count as an agent's."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from mailbot.core.auth_results import verdict
from mailbot.core.mail import InboundMail
from mailbot.core.tokens import ReplyToken


@dataclass(frozen=True)
class Agent:
    address: str
    name: str
    queues: tuple[str, ...]

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[-1]

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


def authenticated(mail: InboundMail, authserv_id: str, agent_domain: str | None = None) -> tuple[bool, str]:
    """DKIM aligned with the From domain, or DMARC for it, passed — according to our own border server only
    (mailbot.core.auth_results: the top-most header with our authserv-id; unreadable means no proof)."""
    if mail.sender is None or mail.sender_origin != "from":
        return False, "no strictly parsed From address"
    from_domain = mail.sender.domain
    result = verdict(mail.header_all("Authentication-Results"), authserv_id, from_domain, agent_domain or from_domain)
    return result.passed, result.reason


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
    if mail.sender is None or mail.sender_origin != "from":
        # Agent identity comes from From alone: no Sender header, no guess, stands in for it.
        return Proof(None, f"sent to {agent.address}'s reply address without a From header that parses strictly")
    if mail.sender.addr != agent.address:
        who = mail.sender.addr
        return Proof(None, f"sent to {agent.address}'s reply address by {who}, not by the agent")
    if mail.sender_origin != "from":
        # Only a From header that parses strictly names an agent; a repaired one or Sender never does.
        return Proof(None, f"From {agent.address} only after {mail.sender_origin} address parsing: not proof")
    if require_auth:
        ok, why = authenticated(mail, authserv_id, agent.domain)
        if not ok:
            return Proof(None, f"From {agent.address} without proof: {why}")
        return Proof(agent, why)
    return Proof(agent, "agent reply address and From match (authentication checks switched off)")
