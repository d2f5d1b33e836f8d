"""What processing needs to know about the desk, gathered once at start-up and passed in."""

from __future__ import annotations

from dataclasses import dataclass, field

from mailbot.config import Config
from mailbot.core.agents import Agent, Directory
from mailbot.core.tokens import Signer
from mailbot.time_source import Clock


@dataclass(frozen=True)
class Desk:
    support_address: str
    message_id_domain: str
    signer: Signer
    max_attempts: int
    retry_base_seconds: float
    retry_max_seconds: float
    default_language: str = "en"
    agents: Directory = field(default_factory=lambda: Directory(()))
    authserv_id: str = ""
    require_authentication: bool = True
    reopen_days: int = 14

    @classmethod
    def from_config(cls, config: Config, signer: Signer) -> "Desk":
        p = config.settings.processing
        return cls(
            support_address=config.support_address,
            message_id_domain=config.message_id_domain,
            signer=signer,
            max_attempts=p.max_attempts,
            retry_base_seconds=p.retry_base_seconds,
            retry_max_seconds=p.retry_max_seconds,
            default_language=config.settings.replies.default_language,
            agents=Directory(tuple(Agent(a.address, a.name, tuple(a.queues)) for a in config.settings.agent)),
            authserv_id=config.settings.agents.authserv_id,
            require_authentication=config.settings.agents.require_authentication,
            reopen_days=config.settings.agents.reopen_days,
        )

    def is_own_address(self, addr: str) -> bool:
        """The support address itself or any of its +token reply variants."""
        local, _, domain = self.support_address.partition("@")
        a_local, _, a_domain = addr.lower().partition("@")
        return a_domain == domain and (a_local == local or a_local.startswith(local + "+"))


@dataclass(frozen=True)
class RunnerContext:
    desk: Desk
    clock: Clock
