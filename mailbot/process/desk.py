"""What processing needs to know about the desk, gathered once at start-up and passed in."""

from __future__ import annotations

from dataclasses import dataclass, field

from mailbot.config import Config
from mailbot.core.agents import Agent, Directory
from mailbot.core.parse_options import ParseOptions, fallbacks_for
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
    parse_options: ParseOptions = field(default_factory=ParseOptions)
    colleagues_from_same_domain: bool = False
    max_participants: int = 10

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
            parse_options=parse_options(config),
            colleagues_from_same_domain=config.settings.tickets.colleagues_from_same_domain,
            max_participants=config.settings.tickets.max_participants,
        )

    def is_own_address(self, addr: str) -> bool:
        """The support address itself or any of its +token reply variants."""
        local, _, domain = self.support_address.partition("@")
        a_local, _, a_domain = addr.lower().partition("@")
        return a_domain == domain and (a_local == local or a_local.startswith(local + "+"))


def parse_options(config: Config) -> ParseOptions:
    """The [intake] settings as parsing takes them; fallback charsets by the desk's language unless given."""
    intake = config.settings.intake
    fallbacks = tuple(intake.fallback_charsets) or fallbacks_for(config.settings.replies.default_language)
    return ParseOptions(
        fallback_charsets=fallbacks,
        max_message_bytes=intake.max_message_bytes,
        max_text_chars=intake.max_text_chars,
        max_parts=intake.max_parts,
    )


@dataclass(frozen=True)
class RunnerContext:
    desk: Desk
    clock: Clock
