"""Load and validate the TOML configuration; every problem names the file, the key and the reason."""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url

from mailbot.core.charset_guess import codec_for
from mailbot.core.url_passwords import hide_passwords
from mailbot.errors import ConfigError, from_validation

if TYPE_CHECKING:
    from mailbot.core.client_certificate import ClientCertificate

ADDRESS_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")


# Config files are strictly typed ("993" is not a port), except that paths are written as strings.
FsPath = Annotated[Path, Field(strict=False)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as 'Europe/Berlin')") from None
    return value


def _check_address(value: str) -> str:
    if not ADDRESS_RE.match(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value.lower()


class Secret(Strict):
    """A password given inline, in a file, or in an environment variable (exactly one)."""

    password: str | None = None
    password_file: FsPath | None = None
    password_env: str | None = None

    def resolve_password(self) -> str | None:
        if self.password is not None:
            return self.password
        if self.password_file is not None:
            return self.password_file.read_text(encoding="utf-8").strip()
        if self.password_env is not None:
            return os.environ.get(self.password_env)
        return None

    @model_validator(mode="after")
    def _one_source(self) -> "Secret":
        given = [n for n in ("password", "password_file", "password_env") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(f"give only one of {', '.join(given)}")
        if self.password_file is not None and not self.password_file.is_file():
            raise ValueError(f"password_file {str(self.password_file)!r} does not exist")
        if self.password_env is not None and self.password_env not in os.environ:
            raise ValueError(f"password_env names {self.password_env!r}, which is not set in the environment")
        return self


# Token endpoints of the two providers most support mailboxes live at; `provider` names one of them.
PROVIDER_ENDPOINTS = {
    "microsoft": "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
    "google": "https://oauth2.googleapis.com/token",
}
# What to ask for when the config names no scope: Exchange Online's app-only access (client credentials), and
# IMAP plus SMTP for a signed-in user (refresh token; Google keeps the scope it granted, so none is sent).
DEFAULT_SCOPES = {
    ("microsoft", "client_credentials"): "https://outlook.office365.com/.default",
    ("microsoft", "refresh_token"): "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send offline_access",
}
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


class OAuth2Config(Strict):
    """Where an account's OAuth2 access token comes from: a token endpoint (client credentials or refresh
    token grant) or a command that prints one."""

    provider: Literal["microsoft", "google"] | None = None
    tenant: str | None = None
    token_endpoint: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    client_secret_file: FsPath | None = None
    client_secret_env: str | None = None
    certificate_file: FsPath | None = None
    private_key_file: FsPath | None = None
    refresh_token_file: FsPath | None = None
    token_command: str | None = None
    scope: str | None = None
    mechanism: Literal["auto", "xoauth2", "oauthbearer"] = "auto"
    timeout_seconds: Annotated[float, Field(gt=0)] = 30.0

    @property
    def grant(self) -> Literal["command", "refresh_token", "client_credentials"]:
        if self.token_command is not None:
            return "command"
        return "refresh_token" if self.refresh_token_file is not None else "client_credentials"

    @property
    def endpoint(self) -> str:
        """The token endpoint: the one given, else the provider's."""
        if self.token_endpoint:
            return self.token_endpoint
        assert self.provider is not None  # the validator makes sure of one or the other
        return PROVIDER_ENDPOINTS[self.provider].format(tenant=self.tenant or "")

    @property
    def effective_scope(self) -> str | None:
        if self.scope is not None:
            return self.scope or None
        return DEFAULT_SCOPES.get((self.provider or "", self.grant))

    def resolve_client_secret(self) -> str | None:
        if self.client_secret is not None:
            return self.client_secret
        if self.client_secret_file is not None:
            return self.client_secret_file.read_text(encoding="utf-8").strip()
        if self.client_secret_env is not None:
            return os.environ.get(self.client_secret_env)
        return None

    def client_certificate(self) -> ClientCertificate:
        """The certificate and private key for `private_key_jwt` (the key may be in certificate_file)."""
        from mailbot.core.client_certificate import parse_client_certificate  # cryptography: only when configured

        assert self.certificate_file is not None
        key_file = self.private_key_file or self.certificate_file
        try:
            return parse_client_certificate(self.certificate_file.read_bytes(), key_file.read_bytes())
        except OSError as exc:
            raise ValueError(f"cannot read {exc.filename}: {exc.strerror}") from None
        except ValueError as exc:
            raise ValueError(f"certificate_file {str(self.certificate_file)!r}: {exc}") from None

    @model_validator(mode="after")
    def _one_way(self) -> "OAuth2Config":
        secrets_given = [n for n in ("client_secret", "client_secret_file", "client_secret_env") if getattr(self, n) is not None]
        if self.token_command is not None:
            extra = [
                n for n in ("provider", "tenant", "token_endpoint", "client_id", "certificate_file", "private_key_file", "refresh_token_file", "scope")
                if getattr(self, n) is not None
            ] + secrets_given
            if extra:
                raise ValueError(f"token_command prints the access token itself; remove {', '.join(extra)}")
            if not self.token_command.strip():
                raise ValueError("token_command is empty")
            return self
        if self.provider is None and not self.token_endpoint:
            raise ValueError("give provider = 'microsoft' or 'google', or token_endpoint, or token_command")
        if self.provider == "microsoft" and not self.token_endpoint and not self.tenant:
            raise ValueError("provider 'microsoft' needs tenant (your directory's ID or domain, e.g. 'contoso.onmicrosoft.com')")
        if self.token_endpoint:
            _check_endpoint(self.token_endpoint)
        if not self.client_id:
            raise ValueError("client_id is required (the application's client ID from its registration)")
        if len(secrets_given) > 1:
            raise ValueError(f"give only one of {', '.join(secrets_given)}")
        if secrets_given and self.certificate_file is not None:
            raise ValueError("give a client secret or certificate_file, not both")
        if self.private_key_file is not None and self.certificate_file is None:
            raise ValueError("private_key_file needs certificate_file (the certificate registered with the application)")
        for key in ("client_secret_file", "certificate_file", "private_key_file", "refresh_token_file"):
            path = getattr(self, key)
            if path is not None and not path.is_file():
                raise ValueError(f"{key} {str(path)!r} does not exist")
        if self.certificate_file is not None:
            self.client_certificate()  # unreadable or mismatched files stop here, not at the first sign-in
        if self.client_secret_env is not None and self.client_secret_env not in os.environ:
            raise ValueError(f"client_secret_env names {self.client_secret_env!r}, which is not set in the environment")
        if self.refresh_token_file is not None:
            mode = self.refresh_token_file.stat().st_mode & 0o777
            if mode & 0o077:
                raise ValueError(
                    f"refresh_token_file {str(self.refresh_token_file)!r} is readable by others (mode {mode:o}); "
                    "run chmod 600 on it"
                )
        elif not secrets_given and self.certificate_file is None:
            raise ValueError(
                "the client credentials grant needs client_secret (or client_secret_file, client_secret_env) or "
                "certificate_file; for a signed-in user give refresh_token_file instead"
            )
        elif self.provider == "google" and not self.token_endpoint:
            raise ValueError(
                "Google has no client credentials grant for mail: give refresh_token_file, or a token_command "
                "(for a service account with domain-wide delegation)"
            )
        return self


def _check_endpoint(url: str) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "https" and parts.netloc:
        return
    if parts.scheme == "http" and parts.netloc.rsplit(":", 1)[0] in LOOPBACK_HOSTS:
        return  # a token endpoint on this machine (tests, a local proxy)
    raise ValueError(f"token_endpoint {url!r} must be an https:// URL")


class SignIn(Secret):
    """How an account signs in: a password (inline, file or environment), or OAuth2."""

    auth: Literal["password", "oauth2"] = "password"
    oauth2: OAuth2Config | None = None

    @model_validator(mode="after")
    def _auth(self) -> "SignIn":
        if self.auth == "oauth2":
            if self.oauth2 is None:
                raise ValueError("auth = 'oauth2' needs an oauth2 table (provider, client_id, ... or token_command)")
            given = [n for n in ("password", "password_file", "password_env") if getattr(self, n) is not None]
            if given:
                raise ValueError(f"auth = 'oauth2' signs in with a token; remove {', '.join(given)}")
        elif self.oauth2 is not None:
            raise ValueError("an oauth2 table is given but auth = 'password'; set auth = 'oauth2' to use it")
        return self


class DeskConfig(Strict):
    state_dir: FsPath = Path("mailbot-state")
    database_url: str = ""
    secret: str | None = None
    secret_file: FsPath | None = None
    support_address: Annotated[str, Field(min_length=3)] = "support@localhost"
    support_name: str = "Support"
    message_id_domain: str = ""
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return _check_timezone(value)

    @field_validator("support_address")
    @classmethod
    def _addr(cls, value: str) -> str:
        return _check_address(value)

    @field_validator("database_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value:
            try:
                make_url(value)
            except Exception:
                raise ValueError(f"{hide_passwords(value)!r} is not a database URL such as postgresql+psycopg://user@host/db") from None
        return value

    @model_validator(mode="after")
    def _secret_source(self) -> "DeskConfig":
        if self.secret is not None and self.secret_file is not None:
            raise ValueError("give only one of secret, secret_file")
        if self.secret is not None and len(self.secret) < 16:
            raise ValueError("secret must be at least 16 characters long")
        return self


class ImapConfig(SignIn):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    host: str
    port: Annotated[int, Field(gt=0, lt=65536)] | None = None
    security: Literal["tls", "starttls", "plain"] = "tls"
    allow_plaintext: bool = False
    verify_tls: bool = True
    ca_file: FsPath | None = None
    username: str
    folders: Annotated[list[str], Field(min_length=1)] = ["INBOX"]
    batch_size: Annotated[int, Field(ge=1, le=5000)] = 100
    # One poll stops fetching once it has this many bytes (the rest waits for the next poll).
    max_batch_bytes: Annotated[int, Field(ge=1)] = 50_000_000
    after_fetch: Literal["none", "flag", "move"] = "none"
    processed_flag: Annotated[str, Field(pattern=r"^\$?[A-Za-z0-9_-]+$")] = "$MailbotFiled"
    processed_folder: str = "Processed"
    timeout_seconds: Annotated[float, Field(gt=0)] = 60.0
    reconnect_max_seconds: Annotated[float, Field(gt=0)] = 300.0
    idle: bool = True
    # IDLE is ended and issued again this often: RFC 2177 lets a server drop one older than 29 minutes.
    idle_renew_seconds: Annotated[float, Field(gt=0, le=29 * 60)] = 25 * 60.0

    @model_validator(mode="after")
    def _plaintext(self) -> "ImapConfig":
        if self.security == "plain" and not self.allow_plaintext:
            raise ValueError(
                "security = 'plain' sends the password unencrypted; set allow_plaintext = true to accept that"
            )
        if self.ca_file is not None and not self.ca_file.is_file():
            raise ValueError(f"ca_file {str(self.ca_file)!r} does not exist")
        if self.after_fetch == "move" and self.processed_folder in self.folders:
            raise ValueError("processed_folder must not be one of the folders being polled")
        return self

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 993 if self.security == "tls" else 143


class MaildirConfig(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    path: FsPath
    # One poll stops taking messages once it has read this many bytes (the rest waits for the next poll).
    max_batch_bytes: Annotated[int, Field(ge=1)] = 50_000_000


class Processing(Strict):
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 5
    retry_base_seconds: Annotated[float, Field(ge=0)] = 60.0
    retry_max_seconds: Annotated[float, Field(ge=0)] = 3600.0
    batch_size: Annotated[int, Field(ge=1, le=10000)] = 200
    # Parse and analyse each message in a separate worker process that is stopped when one message takes
    # longer than max_seconds_per_message; false runs it in the daemon's own process, with no time limit.
    isolate: bool = True
    max_seconds_per_message: Annotated[float, Field(ge=1, le=600)] = 20.0
    # How much of each message the detectors and rules read; the stored message keeps everything.
    max_body_chars: Annotated[int, Field(ge=1024, le=10_000_000)] = 64 * 1024
    max_subject_chars: Annotated[int, Field(ge=80, le=100_000)] = 1024
    max_header_chars: Annotated[int, Field(ge=256, le=1_000_000)] = 4 * 1024
    max_references: Annotated[int, Field(ge=1, le=10_000)] = 100


class Intake(Strict):
    """How intake reads mail: what is answered of the mail a folder already holds and of mail that arrives
    late; how parsing reads what a message leaves unsaid, and how much of a message it reads."""

    # A folder's mail when mailbot first sees it is history: filed into tickets, never answered, no clock.
    history: bool = True
    # Only mail received before this (a TOML date or date-time; the desk's time zone unless it has an
    # offset) is history; later mail the folder already held is handled as new.
    history_before: date | datetime | None = None
    # A history ticket stays open when its last message is a customer's, received within this many days.
    history_open_days: Annotated[int, Field(ge=0)] = 14
    # Mail whose own Date and Received headers show it older than this is filed but not acknowledged.
    # 0 turns the check off.
    max_ack_age_hours: Annotated[float, Field(ge=0)] = 72.0

    def history_cutoff(self, zone: str) -> datetime | None:
        """history_before as an instant: a date is its midnight, a time without offset is desk time."""
        value = self.history_before
        if value is None:
            return None
        at = value if isinstance(value, datetime) else datetime.combine(value, time())
        return at if at.tzinfo is not None else at.replace(tzinfo=ZoneInfo(zone))

    # Tried in order for text that declares no charset and is not UTF-8; the best-scoring fit wins.
    # Empty: chosen by [replies] default_language (windows-1251/koi8-r for ru, shift_jis/euc-jp for ja, ...).
    fallback_charsets: list[str] = []
    max_message_bytes: Annotated[int, Field(ge=64 * 1024)] = 25 * 1024 * 1024
    max_text_chars: Annotated[int, Field(ge=1000)] = 1_000_000
    max_parts: Annotated[int, Field(ge=10, le=100_000)] = 1000

    @field_validator("fallback_charsets")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if codec_for(v) is None]
        if unknown:
            raise ValueError(f"unknown charset(s): {', '.join(unknown)}")
        return value


class Schedule(Strict):
    poll_seconds: Annotated[float, Field(gt=0)] = 60.0
    process_seconds: Annotated[float, Field(gt=0)] = 5.0
    outbox_seconds: Annotated[float, Field(gt=0)] = 10.0
    sweep_seconds: Annotated[float, Field(gt=0)] = 60.0
    reminders_seconds: Annotated[float, Field(gt=0)] = 600.0
    redaction_seconds: Annotated[float, Field(gt=0)] = 600.0
    # A job with no sign of progress for this long is stuck: the systemd watchdog is no longer pinged.
    stall_seconds: Annotated[float, Field(gt=0)] = 600.0
    # Longest wait between turns of a job that keeps failing, and between checks while the database is down.
    retry_max_seconds: Annotated[float, Field(gt=0)] = 300.0


class SmtpConfig(SignIn):
    transport: Literal["smtp", "maildir"] = "maildir"
    host: str = "localhost"
    port: Annotated[int, Field(gt=0, lt=65536)] | None = None
    security: Literal["tls", "starttls", "plain"] = "starttls"
    allow_plaintext: bool = False
    verify_tls: bool = True
    ca_file: FsPath | None = None
    username: str | None = None
    timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    retry_base_seconds: Annotated[float, Field(ge=0)] = 60.0
    retry_max_seconds: Annotated[float, Field(ge=0)] = 3600.0
    give_up_after_hours: Annotated[float, Field(gt=0)] = 72.0
    outgoing_maildir: FsPath | None = None
    # Automatic mail (acknowledgements, notifications) sent per hour, all recipients together; the rest
    # waits in the outbox. 0 means no limit.
    max_automatic_per_hour: Annotated[int, Field(ge=0)] = 300
    # SMTP connections the sender keeps open and sends over side by side (transport = "smtp").
    connections: Annotated[int, Field(ge=1, le=16)] = 2

    @model_validator(mode="after")
    def _plaintext(self) -> "SmtpConfig":
        if self.transport == "smtp" and self.auth == "oauth2" and not self.username:
            raise ValueError("auth = 'oauth2' needs username (the mailbox the token is for)")
        if self.transport == "smtp" and self.security == "plain" and not self.allow_plaintext:
            raise ValueError(
                "security = 'plain' sends mail and the password unencrypted; set allow_plaintext = true to accept that"
            )
        if self.ca_file is not None and not self.ca_file.is_file():
            raise ValueError(f"ca_file {str(self.ca_file)!r} does not exist")
        return self

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 465 if self.security == "tls" else 587 if self.security == "starttls" else 25


class Rules(Strict):
    preset: str | None = None
    dir: FsPath | None = None
    templates_dir: FsPath | None = None

    @model_validator(mode="after")
    def _exists(self) -> "Rules":
        if self.preset is not None:
            if self.dir is not None:
                raise ValueError("give preset or dir, not both")
            if self.preset not in preset_names():
                raise ValueError(f"preset {self.preset!r} is not one of {', '.join(preset_names())}")
        for key in ("dir", "templates_dir"):
            value = getattr(self, key)
            if value is not None and not value.is_dir():
                raise ValueError(f"{key} {str(value)!r} is not a folder")
        return self


class Replies(Strict):
    default_language: Annotated[str, Field(pattern=r"^[a-z]{2}$")] = "en"
    max_auto_replies_per_day: Annotated[int, Field(ge=0)] = 10
    reminders_per_hour: Annotated[int, Field(ge=0)] = 100  # renewal reminders queued per hour at most; 0: no limit


class Tickets(Strict):
    """Who gets a seat on a ticket (and so its mail) besides the customer who opened it."""

    # Someone who writes to a ticket from the same domain as its customer is admitted at once; otherwise an
    # agent admits them with `#cc add ADDRESS`. Leave off when customers write from shared providers.
    colleagues_from_same_domain: bool = False
    # The To/Cc of a ticket's first message give at most this many seats; an answer or #close to a ticket
    # with more asks the agent to confirm with #confirm.
    max_participants: Annotated[int, Field(ge=1)] = 10


class Customers(Strict):
    """An optional billing database that holds the truth about purchases, synced on a timer."""

    sql_url: str = ""
    sql_query: str = ""
    sync_minutes: Annotated[float, Field(gt=0)] = 15.0

    @model_validator(mode="after")
    def _both(self) -> "Customers":
        if bool(self.sql_url) != bool(self.sql_query):
            raise ValueError("give both sql_url and sql_query, or neither")
        if self.sql_url:
            try:
                make_url(self.sql_url)
            except Exception:
                raise ValueError(f"sql_url {hide_passwords(self.sql_url)!r} is not a database URL such as postgresql+psycopg://user@host/db") from None
        return self


class AgentSpec(Strict):
    address: str
    name: str = ""
    queues: list[str] = ["support"]

    @field_validator("address")
    @classmethod
    def _addr(cls, value: str) -> str:
        return _check_address(value)


class Agents(Strict):
    # An agent's mail counts as the agent's only with proof: it came to the agent's own signed reply
    # address and, unless this is false, our border server's Authentication-Results show DKIM aligned
    # with the From domain, or DMARC, passing.
    require_authentication: bool = True
    # The authserv-id our own border MTA writes in Authentication-Results; headers from anyone else are
    # ignored, and so is any header with our id below the top-most one. Required while
    # require_authentication is true and agents are configured. "exchange-online" stands for Microsoft 365,
    # whose headers name no authserv-id.
    authserv_id: str = ""
    # Relayed answers come from the support address; with this, the display name shows the agent too.
    show_agent_names: bool = False
    # Attachments up to this size (each) are attached to agent notifications; larger ones are listed.
    attach_max_bytes: Annotated[int, Field(ge=0)] = 10_000_000
    # A customer writing to a ticket closed longer ago than this opens a new ticket linked to it.
    reopen_days: Annotated[int, Field(ge=0)] = 14
    # Notifications about one ticket per agent per hour; past it, an agent.notify_capped event instead.
    max_notifications_per_ticket_per_hour: Annotated[int, Field(ge=0)] = 10


class Logging(Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["logfmt", "json"] = "logfmt"


class StatusChecks(Strict):
    """When `mailbot status` (and its exit code) turns warning or critical; ages in seconds."""

    heartbeat_warning_seconds: Annotated[float, Field(gt=0)] = 120.0
    heartbeat_critical_seconds: Annotated[float, Field(gt=0)] = 600.0
    poll_warning_seconds: Annotated[float, Field(gt=0)] = 600.0
    poll_critical_seconds: Annotated[float, Field(gt=0)] = 3600.0
    backlog_warning: Annotated[int, Field(ge=1)] = 50
    backlog_critical: Annotated[int, Field(ge=1)] = 500
    backlog_age_warning_seconds: Annotated[float, Field(gt=0)] = 600.0
    backlog_age_critical_seconds: Annotated[float, Field(gt=0)] = 3600.0
    outbox_warning: Annotated[int, Field(ge=1)] = 50
    outbox_critical: Annotated[int, Field(ge=1)] = 500
    outbox_age_warning_seconds: Annotated[float, Field(gt=0)] = 1800.0
    outbox_age_critical_seconds: Annotated[float, Field(gt=0)] = 14400.0
    quarantined_warning: Annotated[int, Field(ge=1)] = 1
    failed_warning: Annotated[int, Field(ge=1)] = 1
    at_risk_warning: Annotated[int, Field(ge=1)] = 1
    breached_critical: Annotated[int, Field(ge=1)] = 1
    risk_window_seconds: Annotated[float, Field(gt=0)] = 3600.0
    heartbeat_seconds: Annotated[float, Field(gt=0)] = 15.0  # how often a daemon writes its heartbeat row

    @model_validator(mode="after")
    def _ordered(self) -> "StatusChecks":
        pairs = ("heartbeat", "poll", "backlog_age", "outbox_age")
        wrong = [p for p in pairs if getattr(self, f"{p}_warning_seconds") > getattr(self, f"{p}_critical_seconds")]
        wrong += [p for p in ("backlog", "outbox") if getattr(self, f"{p}_warning") > getattr(self, f"{p}_critical")]
        if wrong:
            raise ValueError(f"warning must not be above critical for: {', '.join(wrong)}")
        return self


class Metrics(Strict):
    """The Prometheus endpoint the daemon serves; off unless `listen` is set ("127.0.0.1:9464")."""

    listen: Annotated[str, Field(pattern=r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):[0-9]{1,5}$")] | None = None


class Workers(Strict):
    # This worker's name in leases, logs and `status`, where each process shows as "<name>@<host>:<pid>" (without
    # a name: "<host>:<pid>"). Two processes given the same name are still two holders: one reads a source at a time.
    name: Annotated[str, Field(max_length=200)] = ""
    # A worker reads a mail source only while it holds the source's lease; it renews it every third of this
    # time, and another worker takes the source over once a lease has run out (a dead worker's, at the latest
    # this long after its last renewal). Default: 20.
    lease_seconds: Annotated[float, Field(ge=3, le=600)] = 20.0


class Settings(Strict):
    mailbot: DeskConfig = DeskConfig()
    workers: Workers = Workers()
    processing: Processing = Processing()
    intake: Intake = Intake()
    schedule: Schedule = Schedule()
    logging: Logging = Logging()
    status: StatusChecks = StatusChecks()
    metrics: Metrics = Metrics()
    smtp: SmtpConfig = SmtpConfig()
    rules: Rules = Rules()
    replies: Replies = Replies()
    tickets: Tickets = Tickets()
    customers: Customers = Customers()
    agents: Agents = Agents()
    agent: list[AgentSpec] = []
    imap: list[ImapConfig] = []
    maildir: list[MaildirConfig] = []

    @model_validator(mode="after")
    def _agents(self) -> "Settings":
        addresses = [a.address for a in self.agent]
        dupes = sorted({a for a in addresses if addresses.count(a) > 1})
        if dupes:
            raise ValueError(f"agent addresses must be unique; repeated: {', '.join(dupes)}")
        if self.agent and self.agents.require_authentication and not self.agents.authserv_id:
            raise ValueError(
                "agents.authserv_id is required while agents.require_authentication is true: it names the "
                "Authentication-Results header of your own border mail server"
            )
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> "Settings":
        names = [s.name for s in self.imap] + [s.name for s in self.maildir]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {', '.join(dupes)}")
        return self


class Config:
    """Validated settings plus the values derived from them (paths made absolute, secret loaded)."""

    def __init__(self, settings: Settings, path: Path | None) -> None:
        self.settings = settings
        self.path = path
        desk = settings.mailbot
        self.state_dir = desk.state_dir
        self.database_url = desk.database_url or f"sqlite:///{self.state_dir / 'mailbot.db'}"
        domain = desk.support_address.rsplit("@", 1)[1]
        self.message_id_domain = desk.message_id_domain or domain
        self.support_address = desk.support_address
        self.rules_dir = settings.rules.dir or PRESETS / (settings.rules.preset or "default")
        self.outgoing_maildir = settings.smtp.outgoing_maildir or self.state_dir / "outgoing"

    @property
    def source(self) -> str:
        return str(self.path) if self.path else "<embedded default>"

    def check_state_dir(self) -> None:
        """The state folder exists (or is created, as `run` would) and a file can be written in it; otherwise a
        config error naming it. Tried for real: permission bits say little to root or on special file systems."""
        path = self.state_dir
        try:
            path.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=path):
                pass
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
            raise ConfigError(self.source, [("mailbot.state_dir", f"{str(path)!r} cannot be used: {reason}{where}")]) from None

    def configured_secret(self) -> bytes | None:
        """The reply-token secret this config gives (`secret` or `secret_file`), or None: then the desk's database
        holds it (see mailbot/store/desk_secrets.py)."""
        desk = self.settings.mailbot
        if desk.secret is not None:
            return desk.secret.encode()
        if desk.secret_file is None:
            return None
        path = desk.secret_file
        try:
            value = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise ConfigError(self.source, [("mailbot.secret_file", f"{str(path)!r} does not exist")]) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(self.source, [("mailbot.secret_file", f"{str(path)!r} cannot be read: {exc}")]) from None
        if len(value) < 16:
            raise ConfigError(self.source, [("mailbot.secret_file", "secret must be at least 16 characters long")])
        return value.encode()

    def secret_key(self) -> str:
        """The config key that gave the secret, for messages."""
        return "mailbot.secret" if self.settings.mailbot.secret is not None else "mailbot.secret_file"

    def legacy_secret(self) -> bytes | None:
        """The secret earlier versions generated into the state folder: adopted by the database if it has none, so
        reply addresses in mail already sent keep working after an upgrade."""
        path = self.state_dir / "secret"
        try:
            value = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return value.encode() if len(value) >= 16 else None


# The presets shipped with mailbot (the repository's rules/ folder, carried inside the package); "default" is used
# when the config names neither a preset nor a rules folder.
PRESETS = Path(__file__).resolve().parent / "presets"


def preset_names() -> list[str]:
    return sorted(p.name for p in PRESETS.iterdir() if p.is_dir() and (p / "plans.toml").exists())

PATH_KEYS = {
    ("mailbot", "state_dir"),
    ("mailbot", "secret_file"),
    ("imap", "password_file"),
    ("imap", "ca_file"),
    ("smtp", "password_file"),
    ("smtp", "ca_file"),
    ("smtp", "outgoing_maildir"),
    ("oauth2", "client_secret_file"),
    ("oauth2", "certificate_file"),
    ("oauth2", "private_key_file"),
    ("oauth2", "refresh_token_file"),
    ("rules", "dir"),
    ("rules", "templates_dir"),
    ("maildir", "path"),
}


def _absolutise(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make relative paths relative to the config file's folder, before validation checks they exist."""

    def fix(section: str, table: dict[str, Any]) -> None:
        for key, value in table.items():
            if (section, key) in PATH_KEYS and isinstance(value, str) and value:
                p = Path(value).expanduser()
                table[key] = str(p if p.is_absolute() else base / p)
            elif isinstance(value, dict):
                fix(key, value)  # a sub-table such as [imap.oauth2]

    for section, value in data.items():
        if isinstance(value, dict):
            fix(section, value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    fix(section, item)
    return data


def embedded_default(state_dir: Path | None = None) -> Config:
    """The zero-configuration desk: SQLite and a local Maildir under ./mailbot-state."""
    base = (state_dir or Path("mailbot-state")).absolute()
    settings = Settings(
        mailbot=DeskConfig(state_dir=base),
        maildir=[MaildirConfig(name="local", path=base / "maildir")],
    )
    return Config(settings, None)


def parse(text: str, path: Path) -> Config:
    """Validate configuration text read from `path` (relative paths resolve against its folder)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [("", f"not valid TOML: {exc}")]) from None
    data = _absolutise(data, path.absolute().parent)
    data.setdefault("mailbot", {}).setdefault("state_dir", str(path.absolute().parent / "mailbot-state"))
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise from_validation(path, exc) from None
    return Config(settings, path)


def load(path: Path | None) -> Config:
    """Load the config file at `path`, or the embedded default when `path` is None."""
    if path is None:
        return embedded_default()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, [("", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [("", f"cannot read: {exc}")]) from None
    return parse(text, path)
