#!/usr/bin/env python3
"""Intake benchmark: IMAP fetch rate, parse rate and end-to-end `mailbot poll --once` against a real Dovecot.

    .venv/bin/python bench/intake.py [--messages N] [--batch-size B] [--db sqlite|postgresql]

1. Generates N synthetic support messages (seeded, so every run sees the same bytes): plain text and
   multipart (text+html, some with attachments or an inline logo), threads of 1-6 messages whose
   follow-ups carry In-Reply-To/References, only References, only a [#ticket] subject tag, or nothing.
2. Starts a throw-away Dovecot (tests/support/dovecot.py), drops the messages into one user's Maildir
   and lets Dovecot index them (SELECT + NOOP) before anything is timed.
3. Times (a) a bare imapclient fetch over STARTTLS (UID SEARCH, then FETCH BODY.PEEK[] in batches),
   (b) mail-parser (on the standard library as shipped) and mailbot.parse.parse_mail on the fetched bytes
   (one core, this process), and
   (c) `mailbot --config CFG poll --once` as a child process: wall clock, and the child's own peak RSS
   from wait4() (the rusage of exactly that pid, not a max over every child this script ever reaped);
   then mail-parser once more: the ratio divides by the mean of its two rates, so a shared machine whose
   speed drifts during the run is measured at the speed it had while mailbot ran.
4. Checks the database: N inbound rows, N inbound ticket messages, the expected number of tickets.

This prints figures; it is not a test. Nothing under mailbot/ or tests/ is modified.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import quopri
import random
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.header import Header
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable))
SUPPORT = "support@example.com"
PG_ADMIN_URL = os.environ.get("MAILBOT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
RSS_LIMIT_BYTES = 150 * 1000 * 1000  # "peak RSS < 150 MB"
INTAKE_TARGET = 0.50  # intake rate >= 50 % of the bare mail-parser parse rate
SAMPLE_INTERVAL = 0.25  # seconds between VmRSS samples of the child

# ------------------------------------------------------------------------------------------------------
# corpus
# ------------------------------------------------------------------------------------------------------

WORDS = """
account access activate address after again already also app application attach attached
attempt available back balance before billing browser cache can cancel card cart change charge
charged checkout click code colleague confirm confirmation connect connection contact contract
could customer dashboard data date delete delivered delivery device discount download email
error every expired export failed feature file find fix form free help hours invoice issue item
keeps last license link load locked log login manager message missing mobile month never new
next notification number only order package page password payment phone plan please portal
price problem product profile purchase receive received refund renewal report request reset
restart screen second seems sent server service settings setup shipping shows since still
subscription support sync team tell thanks time today tracking tried trying unable update
upgrade user version warehouse website week when working yesterday would wrong already because
however unfortunately currently exactly different several important morning afternoon company
office laptop windows android iphone chrome firefox safari network firewall proxy timeout
""".split()

INTL_SENTENCES = [
    "Leider funktioniert die Anmeldung seit gestern nicht mehr, obwohl ich das Passwort zurückgesetzt habe.",
    "Könnten Sie bitte prüfen, warum die Rechnung für März doppelt abgebucht wurde?",
    "Die Lieferung ist immer noch nicht angekommen, die Sendungsverfolgung zeigt „in Zustellung“.",
    "Merci de vérifier pourquoi la facture n'a pas été envoyée à l'adresse indiquée.",
    "Je n'arrive pas à me connecter depuis la mise à jour de l'application.",
    "¿Podrían revisar por qué el pago aparece como rechazado? La tarjeta está en orden.",
    "El pedido llegó incompleto: falta un artículo y la caja estaba dañada.",
    "Grüße aus München, und vielen Dank für die schnelle Rückmeldung!",
    "Привет, не могу скачать отчёт за прошлый месяц, страница выдаёт ошибку.",
]

FIRST = """Anna Ben Carla David Emma Felix Grace Hannah Ivan Julia Karl Laura Mario Nina Oscar Paula
Quentin Rosa Stefan Tina Ulrich Vera Walter Xenia Yusuf Zoe Aiko Bruno Chloé Dmitri Elena François
Giulia Hélène Jürgen Łukasz Mónica Sören Zoë Ömer""".split()
LAST = """Smith Müller García Rossi Dubois Novak Jensen Kowalski Silva Tanaka Brown Schneider Martin
Bianchi Petrov Nielsen Fischer Costa Weber Meyer Wagner Becker Hoffmann Schäfer Lefèvre Núñez
Johansson O'Brien Nguyen Kim""".split()
DOMAINS = """gmail.com outlook.com yahoo.com web.de gmx.de mail.example.org acme-corp.com globex.io
initech.net umbrella.co.uk stark-industries.com wayne-enterprises.com hooli.xyz contoso.com
fabrikam.de tailspin.fr northwind.es example.net customer.example""".split()
MAILERS = [
    ("X-Mailer", "Microsoft Outlook 16.0"),
    ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.6.0"),
    ("X-Mailer", "Apple Mail (2.3731.700.6)"),
    ("X-Mailer", "iPhone Mail (21D61)"),
    (None, None),  # Gmail sets neither
]
SUBJECTS = [
    "Cannot log in to my account",
    "Invoice {invoice} charged twice",
    "Refund request for order {order}",
    "Order {order} has not arrived",
    "Password reset link expired",
    "Question about upgrading my plan",
    "App crashes on start after update {version}",
    "Export to CSV fails with error {error}",
    "Wrong billing address on invoice {invoice}",
    "Cancel subscription",
    "Two-factor authentication code never arrives",
    "Sync between phone and laptop stopped working",
    "License key {license} not accepted",
    "Damaged item in order {order}",
    "How do I add a colleague to our team account?",
    "Payment declined although card is valid",
    "Dashboard shows no data since {date}",
    "Feature request: dark mode",
]
INTL_SUBJECTS = [
    "Anmeldung nicht möglich",
    "Rückerstattung für Bestellung {order}",
    "Problème de facturation – facture {invoice}",
    "Pedido {order} incompleto",
    "Ошибка при экспорте отчёта",
]
FOLLOW_UP = (("full", 0.72), ("refs", 0.10), ("irt", 0.05), ("tag", 0.07), ("none", 0.06))
THREAD_LENGTHS = ((1, 0.35), (2, 0.25), (3, 0.15), (4, 0.12), (5, 0.08), (6, 0.05))
KINDS = (("plain", 0.33), ("alternative", 0.45), ("related", 0.07), ("mixed", 0.15))

OUTLOOK_CSS = """<!--
/* Font Definitions */
@font-face {font-family:"Cambria Math"; panose-1:2 4 5 3 5 4 6 3 2 4;}
@font-face {font-family:Calibri; panose-1:2 15 5 2 2 2 4 3 2 4;}
/* Style Definitions */
p.MsoNormal, li.MsoNormal, div.MsoNormal {margin:0cm; font-size:11.0pt; font-family:"Calibri",sans-serif; mso-fareast-language:EN-US;}
a:link, span.MsoHyperlink {mso-style-priority:99; color:#0563C1; text-decoration:underline;}
span.EmailStyle17 {mso-style-type:personal-compose; font-family:"Calibri",sans-serif; color:windowtext;}
.MsoChpDefault {mso-style-type:export-only; font-family:"Calibri",sans-serif; mso-fareast-language:EN-US;}
@page WordSection1 {size:612.0pt 792.0pt; margin:72.0pt 72.0pt 72.0pt 72.0pt;}
div.WordSection1 {page:WordSection1;}
-->"""


def code_version() -> str:
    """Which mailbot was measured: the commit, and a hash of the working tree's mailbot/ files."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((ROOT / "mailbot").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or "?"
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "mailbot"], capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        head, dirty = "?", ""
    return f"commit {head}{' + uncommitted changes' if dirty else ''}, mailbot/ tree sha256 {digest.hexdigest()[:12]}"


def _weighted(rng: random.Random, table: tuple[tuple[Any, float], ...]) -> Any:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


@dataclass
class Person:
    name: str
    addr: str
    intl: bool
    tz: timezone
    mailer: tuple[str | None, str | None]
    colleague: "Person | None" = None
    corporate: bool = False


@dataclass
class Planned:
    thread: int
    pos: int
    last: bool
    at: datetime
    link: str  # root | full | refs | irt | tag | none
    kind: str
    from_colleague: bool
    seq: int = 0  # delivery order
    ticket: int = 0  # the ticket it should end up on (assuming UID order = delivery order)


@dataclass
class Thread:
    customer: Person
    subject: str
    cc_colleague: bool
    msgids: list[str] = field(default_factory=list)
    last_text: str = ""
    last_from: str = ""
    last_date: str = ""
    ticket: int = 0  # ticket of the latest message


@dataclass
class CorpusPlan:
    messages: list[Planned]
    threads: list[Thread]
    expected_tickets: int
    link_counts: dict[str, int]
    kind_counts: dict[str, int]


def make_people(rng: random.Random, count: int) -> list[Person]:
    people = []
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        domain = rng.choice(DOMAINS)
        local = f"{first}.{last}".lower().encode("ascii", "ignore").decode().replace("'", "") or "user"
        addr = f"{local}{i}@{domain}"
        intl = not (first + last).isascii() or domain.endswith((".de", ".fr", ".es")) or rng.random() < 0.08
        tz = timezone(timedelta(hours=rng.choice([-8, -5, 0, 1, 2, 3, 5.5, 9])))
        p = Person(f"{first} {last}", addr, intl, tz, rng.choice(MAILERS), corporate=not domain.endswith(
            ("gmail.com", "outlook.com", "yahoo.com", "web.de", "gmx.de")))
        if p.corporate and rng.random() < 0.5:
            cf, cl = rng.choice(FIRST), rng.choice(LAST)
            clocal = f"{cf}.{cl}".lower().encode("ascii", "ignore").decode().replace("'", "") or "colleague"
            p.colleague = Person(f"{cf} {cl}", f"{clocal}.c{i}@{domain}", intl, tz, p.mailer, corporate=True)
        people.append(p)
    return people


def plan_corpus(n: int, seed: int) -> CorpusPlan:
    """Threads, their timing and how each follow-up is linked; sorted into delivery order."""
    rng = random.Random(f"plan:{seed}")
    people = make_people(rng, max(50, n // 6))
    span = max(86400.0, n / 150 * 3600)  # ~150 messages an hour
    start = datetime(2026, 1, 5, 7, 0, tzinfo=timezone.utc)
    threads: list[Thread] = []
    planned: list[Planned] = []
    while len(planned) < n:
        length = min(_weighted(rng, THREAD_LENGTHS), n - len(planned))
        customer = rng.choice(people)
        template = rng.choice(INTL_SUBJECTS if customer.intl and rng.random() < 0.4 else SUBJECTS)
        subject = template.format(
            order=f"#{rng.randint(100000, 999999)}", invoice=f"INV-{rng.randint(2024000, 2026999)}",
            version=f"{rng.randint(3, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
            error=f"E{rng.randint(100, 999)}", license=f"{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
            date=f"{rng.randint(1, 28)}.{rng.randint(1, 12)}.",
        )
        t = len(threads)
        threads.append(Thread(customer, subject, cc_colleague=customer.colleague is not None and rng.random() < 0.6))
        at = start + timedelta(seconds=rng.uniform(0, span))
        for pos in range(length):
            if pos:
                at += timedelta(seconds=60 + rng.expovariate(1 / (3 * 3600)))
            link = "root" if pos == 0 else _weighted(rng, FOLLOW_UP)
            from_colleague = (
                link in ("full", "refs", "irt") and threads[t].cc_colleague and rng.random() < 0.3
            )
            planned.append(Planned(t, pos, pos == length - 1, at, link, _weighted(rng, KINDS), from_colleague))
    planned.sort(key=lambda m: (m.at, m.thread, m.pos))
    tickets = 0
    ticket_of: dict[int, int] = {}
    links: dict[str, int] = {}
    kinds: dict[str, int] = {}
    for seq, m in enumerate(planned):
        m.seq = seq
        if m.link in ("root", "none"):
            tickets += 1
            ticket_of[m.thread] = tickets
        m.ticket = ticket_of[m.thread]
        links[m.link] = links.get(m.link, 0) + 1
        kinds[m.kind] = kinds.get(m.kind, 0) + 1
    return CorpusPlan(planned, threads, tickets, links, kinds)


# [replies] max_auto_replies_per_day, mailbot's default: the whole corpus is answered within minutes, so a
# sender who opens more tickets than this gets acknowledgements for the first ones only.
DAILY_CAP = 10


def expected_acknowledgements(plan: CorpusPlan) -> int:
    """One acknowledgement per new ticket, at most DAILY_CAP per sender."""
    opened: dict[str, int] = {}
    for m in plan.messages:
        if m.link in ("root", "none"):
            addr = plan.threads[m.thread].customer.addr
            opened[addr] = opened.get(addr, 0) + 1
    return sum(min(count, DAILY_CAP) for count in opened.values())


class Renderer:
    """Turns planned messages into RFC 5322 bytes (LF line ends, as Maildir stores them)."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"pool:{seed}")
        self.seed = seed
        self.sentences = [self._sentence(rng) for _ in range(6000)]
        self.logo = b"\x89PNG\r\n\x1a\n" + rng.randbytes(3200)  # the same signature logo in many mails
        self.disclaimer = (
            "CONFIDENTIALITY NOTICE: This e-mail and any attachments are confidential and may be legally "
            "privileged. If you are not the intended recipient, please notify the sender immediately and "
            "delete this message. Any unauthorised use, disclosure or copying is prohibited. "
        ) * 2

    @staticmethod
    def _sentence(rng: random.Random) -> str:
        words = rng.choices(WORDS, k=rng.randint(6, 22))
        if rng.random() < 0.15:
            words.insert(rng.randrange(len(words)), rng.choice([
                f"#{rng.randint(100000, 999999)}", f"E{rng.randint(100, 999)}",
                f"https://portal.example.com/orders/{rng.randint(1000, 99999)}", f"{rng.randint(2, 300)} EUR",
            ]))
        return " ".join(words).capitalize() + rng.choice(".....?!")

    def _paragraphs(self, rng: random.Random, person: Person, count: int) -> list[str]:
        out = []
        for _ in range(count):
            sents = rng.sample(self.sentences, rng.randint(2, 6))
            if person.intl and rng.random() < 0.5:
                sents.insert(0, rng.choice(INTL_SENTENCES))
            out.append(" ".join(sents))
        return out

    @staticmethod
    def _wrap(text: str, width: int = 72) -> str:
        lines, line = [], ""
        for word in text.split(" "):
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        if line:
            lines.append(line)
        return "\n".join(lines)

    @staticmethod
    def _addr(p: Person) -> str:
        if p.name.isascii():
            name = f'"{p.name}"' if "'" in p.name else p.name
        else:
            name = Header(p.name, "utf-8").encode()
        return f"{name} <{p.addr}>"

    @staticmethod
    def _subject(s: str) -> str:
        return s if s.isascii() else Header(s, "utf-8", maxlinelen=76).encode(linesep="\n ")

    def render(self, m: Planned, th: Thread) -> bytes:
        rng = random.Random(f"msg:{self.seed}:{m.seq}")
        sender = th.customer.colleague if m.from_colleague and th.customer.colleague else th.customer
        date = format_datetime(m.at.astimezone(sender.tz))
        domain = sender.addr.rsplit("@", 1)[1]
        msgid = f"{uuid.UUID(int=rng.getrandbits(128)).hex}.{m.seq}@{domain}"

        # body text ---------------------------------------------------------------------------------
        paras = ["Hello support team," if not sender.intl else rng.choice(["Hallo,", "Bonjour,", "Hola,", "Hello,"])]
        paras += self._paragraphs(rng, sender, rng.choice([1, 2, 2, 3, 3, 4, 4, 5, 6]))
        paras.append(rng.choice(["Thanks,", "Best regards,", "Kind regards,", "Cheers,", "Viele Grüße,"]) + f"\n{sender.name}")
        if sender.corporate:
            paras.append(f"{sender.name} | {rng.choice(['IT', 'Finance', 'Operations', 'Purchasing'])}\n"
                         f"{domain} | +49 {rng.randint(30, 89)} {rng.randint(100000, 9999999)}\n\n{self.disclaimer}")
        own_text = "\n\n".join(self._wrap(p) if "\n" not in p else p for p in paras)
        text = own_text
        quoted = ""
        if m.pos and th.last_text and rng.random() < 0.85:
            old = th.last_text[:3500]
            quoted = "\n".join("> " + line if line else ">" for line in old.split("\n"))
            text = f"{own_text}\n\nOn {th.last_date}, {th.last_from} wrote:\n{quoted}\n"

        # headers -----------------------------------------------------------------------------------
        if m.link == "tag":
            subject = f"Re: [#{th.ticket}] {th.subject}"
        elif m.pos:
            subject = ("AW: " if sender.intl and rng.random() < 0.3 else "Re: ") + th.subject
        else:
            subject = th.subject
        h: list[tuple[str, str]] = [
            ("Return-Path", f"<{sender.addr}>"),
            ("Delivered-To", SUPPORT),
            ("Received", f"from mail-out{rng.randint(1, 40)}.{domain} (mail-out.{domain} [203.0.113.{rng.randint(1, 254)}])\n"
                         f"\tby mx.example.com (Postfix) with ESMTPS id {rng.getrandbits(40):010X}\n"
                         f"\tfor <{SUPPORT}>; {date}"),
            ("Received", f"from [10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}] by mail-out.{domain}\n"
                         f"\twith ESMTPSA id {rng.getrandbits(48):012x}; {date}"),
            ("DKIM-Signature", f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=s2024;\n"
                               f"\tt={int(m.at.timestamp())}; h=from:to:subject:date:message-id:mime-version;\n"
                               f"\tbh={base64.b64encode(rng.randbytes(32)).decode()};\n"
                               "\tb=" + "\n\t  ".join(self._chunks(base64.b64encode(rng.randbytes(256)).decode(), 70))),
            ("From", self._addr(sender)),
            ("To", f"Support <{SUPPORT}>"),
        ]
        if th.cc_colleague and th.customer.colleague is not None:
            other = th.customer if m.from_colleague else th.customer.colleague
            h.append(("Cc", self._addr(other)))
        h += [("Subject", self._subject(subject)), ("Date", date), ("Message-ID", f"<{msgid}>")]
        if m.link in ("full", "irt"):
            h.append(("In-Reply-To", f"<{th.msgids[-1]}>"))
        if m.link in ("full", "refs"):
            refs = th.msgids[-10:]
            h.append(("References", "\n ".join(f"<{r}>" for r in refs)))
        if sender.mailer[0]:
            h.append((sender.mailer[0], sender.mailer[1]))
        h.append(("MIME-Version", "1.0"))

        # body --------------------------------------------------------------------------------------
        kind = m.kind
        boundary = lambda tag: f"----=_{tag}_{rng.getrandbits(64):016x}"  # noqa: E731
        if kind == "plain":
            body_headers, body = self._text_part(text)
        else:
            html = self._html(rng, sender, paras, quoted, th, logo=kind == "related")
            alt_b = boundary("Alt")
            alternative = self._multipart("alternative", alt_b, [self._text_part(text), self._html_part(rng, html)])
            if kind == "alternative":
                body_headers, body = alternative
            elif kind == "related":
                rel_b = boundary("Rel")
                logo = ([("Content-Type", 'image/png; name="logo.png"'), ("Content-Transfer-Encoding", "base64"),
                         ("Content-ID", "<logo@sig>"), ("Content-Disposition", 'inline; filename="logo.png"')],
                        base64.encodebytes(self.logo).decode())
                body_headers, body = self._multipart("related", rel_b, [alternative, logo], extra='; type="multipart/alternative"')
            else:
                mix_b = boundary("Mix")
                parts = [alternative] + [self._attachment(rng) for _ in range(1 if rng.random() < 0.85 else 2)]
                body_headers, body = self._multipart("mixed", mix_b, parts)
        h += body_headers
        raw = "\n".join(f"{k}: {v}" for k, v in h) + "\n\n" + body
        if not raw.endswith("\n"):
            raw += "\n"

        th.msgids.append(msgid)
        th.last_text = own_text
        th.last_from = self._addr(sender) if sender.name.isascii() else sender.addr
        th.last_date = date
        th.ticket = m.ticket
        return raw.encode("utf-8")

    @staticmethod
    def _chunks(s: str, n: int) -> list[str]:
        return [s[i : i + n] for i in range(0, len(s), n)]

    @staticmethod
    def _text_part(text: str) -> tuple[list[tuple[str, str]], str]:
        if text.isascii():
            return [("Content-Type", 'text/plain; charset="us-ascii"'), ("Content-Transfer-Encoding", "7bit")], text
        enc = quopri.encodestring(text.encode("utf-8")).decode("ascii")
        return [("Content-Type", 'text/plain; charset="utf-8"'), ("Content-Transfer-Encoding", "quoted-printable")], enc

    @staticmethod
    def _html_part(rng: random.Random, html: str) -> tuple[list[tuple[str, str]], str]:
        data = html.encode("utf-8")
        if rng.random() < 0.3:
            return ([("Content-Type", 'text/html; charset="utf-8"'), ("Content-Transfer-Encoding", "base64")],
                    base64.encodebytes(data).decode("ascii"))
        return ([("Content-Type", 'text/html; charset="utf-8"'), ("Content-Transfer-Encoding", "quoted-printable")],
                quopri.encodestring(data).decode("ascii"))

    @staticmethod
    def _multipart(sub: str, b: str, parts: list[tuple[list[tuple[str, str]], str]], extra: str = "") -> tuple[list[tuple[str, str]], str]:
        chunks = []
        for headers, body in parts:
            chunks.append(f"--{b}\n" + "\n".join(f"{k}: {v}" for k, v in headers) + "\n\n" + body.rstrip("\n") + "\n")
        body = "This is a multi-part message in MIME format.\n\n" + "\n".join(chunks) + f"\n--{b}--\n"
        return [("Content-Type", f'multipart/{sub};\n boundary="{b}"{extra}')], body

    def _html(self, rng: random.Random, p: Person, paras: list[str], quoted: str, th: Thread, logo: bool) -> str:
        def esc(s: str) -> str:
            return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

        if p.mailer[1] and "Outlook" in p.mailer[1]:
            span = '<span style="font-size:11.0pt;font-family:&quot;Calibri&quot;,sans-serif;color:#1F497D">'
            body = "\n".join(
                f'<p class="MsoNormal">{span}{esc(x).replace(chr(10), "<br>")}</span><o:p></o:p></p>\n'
                '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>' for x in paras)
            if logo:
                body += '\n<p class="MsoNormal"><img width="120" height="40" src="cid:logo@sig" alt="Logo"></p>'
            if quoted:
                body += ('\n<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
                         f'<p class="MsoNormal"><b>From:</b> {esc(th.last_from)}<br><b>Sent:</b> {esc(th.last_date)}</p></div>\n'
                         + "\n".join(f'<p class="MsoNormal">{span}{esc(line)}</span></p>' for line in th.last_text[:3500].split("\n")))
            return ('<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office">\n'
                    '<head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
                    f'<meta name="Generator" content="Microsoft Word 15 (filtered medium)"><style>{OUTLOOK_CSS}</style></head>\n'
                    f'<body lang="EN-US" link="#0563C1" vlink="#954F72"><div class="WordSection1">\n{body}\n</div></body></html>\n')
        body = "\n".join(f'<div dir="ltr">{esc(x).replace(chr(10), "<br>")}</div><div><br></div>' for x in paras)
        if logo:
            body += '\n<div><img src="cid:logo@sig" width="120" height="40" alt="Logo"></div>'
        if quoted:
            body += (f'\n<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On {esc(th.last_date)}, {esc(th.last_from)} wrote:<br></div>'
                     '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">'
                     + esc(th.last_text[:3500]).replace("\n", "<br>\n") + "</blockquote></div>")
        return f'<div dir="ltr">\n{body}\n</div>\n'

    def _attachment(self, rng: random.Random) -> tuple[list[tuple[str, str]], str]:
        choice = rng.random()
        if choice < 0.4:
            name, ctype = f"invoice-{rng.randint(1000, 9999)}.pdf", "application/pdf"
            data = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + rng.randbytes(rng.randint(6000, 24000))
        elif choice < 0.75:
            name, ctype = f"screenshot {rng.randint(1, 99)}.png", "image/png"
            data = b"\x89PNG\r\n\x1a\n" + rng.randbytes(rng.randint(5000, 22000))
        else:
            name, ctype = "error.log", "text/plain"
            lines = [f"2026-01-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z "
                     f"{rng.choice(['INFO', 'WARN', 'ERROR'])} {rng.choice(self.sentences)}" for _ in range(rng.randint(30, 150))]
            data = "\n".join(lines).encode()
        if not name.isascii() or " " in name:
            disp = f'attachment; filename="{name}"'
        else:
            disp = f"attachment; filename={name}"
        return ([("Content-Type", f'{ctype}; name="{name}"'), ("Content-Disposition", disp),
                 ("Content-Transfer-Encoding", "base64")], base64.encodebytes(data).decode("ascii"))


def generate(plan: CorpusPlan, seed: int) -> Iterator[bytes]:
    r = Renderer(seed)
    for m in plan.messages:
        th = plan.threads[m.thread]
        yield r.render(m, th)
        if m.last:  # free the thread's quoted text once it is done
            th.last_text = ""


# ------------------------------------------------------------------------------------------------------
# measurements
# ------------------------------------------------------------------------------------------------------

def renumber_for_dovecot(new_dir: Path) -> None:
    """Rename the delivered files so Dovecot gives out UIDs in delivery order.

    Dovecot sorts new Maildir files by the leading number of their name, taken as seconds, and compares
    two of them as `(int)(secs1 - secs2)`. `deliver()` names files `<time_ns>.<uuid>.test`, whose
    nanosecond differences overflow that int, so UIDs come out in runs of a shuffled order. Follow-ups
    would then often be read before the message they answer. Names that count seconds keep the order.
    """
    names = sorted(os.listdir(new_dir), key=lambda name: int(name.split(".", 1)[0]))
    for i, name in enumerate(names):
        os.rename(new_dir / name, new_dir / f"{1_700_000_000 + i}.M{i % 1_000_000}P1.bench")


def imap_client(dovecot: Any, user: Any, timeout: float = 120):
    from imapclient import IMAPClient

    c = IMAPClient("127.0.0.1", port=dovecot.port, ssl=False, timeout=timeout)
    c.starttls(ssl.create_default_context(cafile=str(dovecot.cert)))
    c.login(user.name, user.password)
    return c


def warm_up(dovecot: Any, user: Any) -> tuple[int, float]:
    """Let Dovecot sync the Maildir and build its index (UIDs assigned) before anything is timed."""
    t0 = time.perf_counter()
    c = imap_client(dovecot, user, timeout=600)
    try:
        info = c.select_folder("INBOX")
        c.noop()
        count = int(info[b"EXISTS"])
    finally:
        c.logout()
    return count, time.perf_counter() - t0


def bench_fetch(dovecot: Any, user: Any, batch: int) -> tuple[float, list[bytes], int]:
    c = imap_client(dovecot, user)
    try:
        c.select_folder("INBOX", readonly=True)
        t0 = time.perf_counter()
        uids = sorted(c.search(["ALL"]))  # imapclient sends UID SEARCH
        raws: list[bytes] = []
        for i in range(0, len(uids), batch):
            response = c.fetch(uids[i : i + batch], ["BODY.PEEK[]"])
            raws.extend(bytes(response[u][b"BODY[]"]) for u in sorted(response))
        elapsed = time.perf_counter() - t0
    finally:
        c.logout()
    return elapsed, raws, len(uids)


def bench_mailparser(raws: list[bytes]) -> float:
    import mailparser

    from mailbot.core.multipart_boundaries import stock_parser

    with stock_parser():  # mail-parser on the standard library as shipped, not on what mailbot.parse adds to it
        t0 = time.perf_counter()
        for raw in raws:
            p = mailparser.MailParser.from_bytes(raw)
            p.subject, p.from_, p.text_plain, p.attachments  # noqa: B018
        return time.perf_counter() - t0


def bench_parse_mail(raws: list[bytes]) -> float:
    from mailbot.parse import parse_mail

    t0 = time.perf_counter()
    for raw in raws:
        parse_mail(raw)
    return time.perf_counter() - t0


@dataclass
class ChildRun:
    rc: int
    wall: float
    maxrss_kib: int
    cpu: float
    marks: dict[str, float]
    output: str
    rss_samples: list[tuple[float, int]] = field(default_factory=list)
    timed_out: bool = False

    def rss_between(self, start: float, end: float) -> int:
        """Highest sampled VmRSS (KiB) in [start, end] seconds, 0 if none was taken."""
        return max((kib for t, kib in self.rss_samples if start <= t <= end), default=0)


def child_env() -> dict[str, str]:
    # The venv's editable install may point at a stale checkout: make `-m mailbot...` import this tree.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    # Measure mailbot as installed: pip writes the bytecode at install time. Without this a shell that sets
    # PYTHONDONTWRITEBYTECODE compiles every module from source at each start (about 0.1 s per process here).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


# Linux hands a process that calls exec() the peak RSS of the address space it replaces (exec_mmap keeps
# the old mm's high-water mark in signal->maxrss), and a child forked or vforked from this script starts
# with this script's mm. So wait4() on a direct child reports max(this script's RSS, the child's own
# peak), and this script holds the whole corpus. A tiny wrapper (python -I -S, ~10 MiB) starts mailbot
# instead and reports mailbot's own wait4() rusage and wall clock.
WRAPPER = r"""
import json, os, subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
child = subprocess.Popen(cmd)
with open(out + ".pid", "w") as f:
    f.write(str(child.pid))
_, status, ru = os.wait4(child.pid, 0)
wall = time.perf_counter() - t0
with open(out, "w") as f:
    json.dump({"rc": os.waitstatus_to_exitcode(status), "wall": wall, "maxrss_kib": ru.ru_maxrss,
               "cpu": ru.ru_utime + ru.ru_stime}, f)
"""


def run_child(cmd: list[str], cwd: Path, log_path: Path, timeout: float | None = None) -> ChildRun:
    """Run `cmd` through WRAPPER: its own peak RSS and wall clock, plus timestamps of its log lines.

    After `timeout` seconds mailbot gets SIGTERM; the figures then cover the part it finished.
    """
    marks: dict[str, float] = {}
    report = cwd / f"rusage-{uuid.uuid4().hex[:8]}.json"
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [PYTHON, "-I", "-S", "-c", WRAPPER, str(report), *cmd], cwd=cwd, env=child_env(),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    tail: list[bytes] = []

    def reader() -> None:
        assert proc.stdout is not None
        with open(log_path, "wb") as out:
            for line in proc.stdout:
                now = time.perf_counter() - t0
                out.write(line)
                if b"event=imap.connected" in line:
                    marks.setdefault("connected", now)
                elif b"event=imap.polled" in line:
                    marks["polled"] = now
                elif b"event=inbound.filed" in line:
                    marks.setdefault("first_filed", now)
                    marks["last_filed"] = now
                    marks["filed"] = marks.get("filed", 0) + 1
                elif b" level=info " not in line:
                    tail.append(line)
                    del tail[:-40]

    samples: list[tuple[float, int]] = []  # (seconds since start, VmRSS KiB), to see when the peak happens
    done = threading.Event()

    def sampler() -> None:
        pidfile = Path(str(report) + ".pid")
        pid = None
        while not done.wait(SAMPLE_INTERVAL):
            try:
                if pid is None:
                    pid = int(pidfile.read_text())
                with open(f"/proc/{pid}/status") as f:
                    kib = next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:"))
            except (OSError, StopIteration, ValueError):
                continue
            samples.append((time.perf_counter() - t0, kib))

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    sm = threading.Thread(target=sampler, daemon=True)
    sm.start()
    timed_out = False
    try:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.kill(int(Path(str(report) + ".pid").read_text()), signal.SIGTERM)
            proc.wait(60)
    except BaseException:
        os.killpg(proc.pid, 9)  # the wrapper leads its own session: this ends mailbot too
        proc.wait()
        raise
    finally:
        done.set()
    th.join()
    sm.join()
    if not report.exists():
        raise RuntimeError(f"the rusage wrapper exited {proc.returncode} without a report:\n" + b"".join(tail).decode())
    r = json.loads(report.read_text())
    # The wrapper's own start-up (~30 ms) shifts the log marks a little later than mailbot's clock.
    return ChildRun(r["rc"], r["wall"], r["maxrss_kib"], r["cpu"], marks, b"".join(tail).decode("utf-8", "replace"),
                    samples, timed_out)


def db_counts(url: str) -> dict[str, Any]:
    from sqlalchemy import text

    from mailbot.store.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as c:
            q = lambda sql: c.scalar(text(sql))  # noqa: E731
            return {
                "inbound": q("SELECT count(*) FROM inbound"),
                "inbound_by_status": dict(c.execute(text("SELECT status, count(*) FROM inbound GROUP BY status")).all()),
                "ticket_messages_in": q("SELECT count(*) FROM ticket_message WHERE direction = 'in'"),
                "tickets": q("SELECT count(*) FROM ticket"),
                "attachments": q("SELECT count(*) FROM attachment"),
                "blobs": q("SELECT count(*) FROM blob"),
                "events": q("SELECT count(*) FROM event"),
                "acknowledgements": q("SELECT count(*) FROM outbox WHERE kind = 'ack'"),
            }
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=5000, metavar="N")
    ap.add_argument("--batch-size", type=int, default=100, metavar="B")
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-isolate", action="store_true",
                    help="parse and analyse in the daemon's own process ([processing] isolate = false) instead of the worker")
    ap.add_argument("--no-replies", action="store_true",
                    help="measure intake alone: no acknowledgements composed or queued (empty rules folder)")
    ap.add_argument("--parse-limit", type=int, default=0, metavar="K",
                    help="time the parsers on an evenly spaced sample of K fetched messages (default: all)")
    ap.add_argument("--profile", metavar="FILE", help="run the child under cProfile, writing FILE (timings inflated)")
    ap.add_argument("--keep-log", metavar="FILE", help="copy the child's log (its events, with times) to FILE")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--timeout", type=float, metavar="SECONDS",
                    help="stop `poll --once` (SIGTERM) after SECONDS and report on the part it finished")
    args = ap.parse_args(argv)
    n, batch = args.messages, args.batch_size
    if n < 1 or not 1 <= batch <= 5000:
        ap.error("--messages must be >= 1 and --batch-size within 1..5000")

    logging.getLogger("mailparser").setLevel(logging.ERROR)
    from tests.conftest import imap_section, write_config
    from tests.support.dovecot import Dovecot

    repro = f".venv/bin/python bench/intake.py --messages {n} --batch-size {batch} --db {args.db}"
    if args.seed != 1:
        repro += f" --seed {args.seed}"
    if args.parse_limit:
        repro += f" --parse-limit {args.parse_limit}"
    if args.timeout:
        repro += f" --timeout {args.timeout:g}"
    say = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731  (progress; figures go to stdout)

    version = code_version()
    load_start = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-bench-"))
    dovecot = None
    pg_name = None
    admin = None
    results: dict[str, Any] = {"code": code_version(), "messages": n, "batch_size": batch, "db": args.db, "seed": args.seed}
    try:
        # corpus → Maildir ---------------------------------------------------------------------------
        t0 = time.perf_counter()
        plan = plan_corpus(n, args.seed)
        dovecot = Dovecot().start()
        user = dovecot.add_user("bench")
        total = 0
        for i, raw in enumerate(generate(plan, args.seed), 1):
            dovecot.deliver(user, raw)
            total += len(raw)
            if i % 10000 == 0:
                say(f"  delivered {i}/{n}")
        renumber_for_dovecot(user.maildir / "new")
        say(f"corpus: {n} messages, {total / 1e6:.1f} MB generated and delivered in {time.perf_counter() - t0:.1f}s")
        exists, sync_s = warm_up(dovecot, user)
        say(f"dovecot indexed {exists} messages in {sync_s:.1f}s")
        if exists != n:
            raise RuntimeError(f"Dovecot shows {exists} messages in INBOX, expected {n}")

        # (1) bare IMAP fetch ------------------------------------------------------------------------
        fetch_s, raws, fetched = bench_fetch(dovecot, user, batch)
        fetched_bytes = sum(len(r) for r in raws)
        say(f"fetch: {fetched} messages in {fetch_s:.2f}s")
        from mailbot.intake.inbound import sniff_message_id

        # Message-IDs end in .<delivery seq>@domain: do UIDs follow delivery order (tag threading assumes so)?
        in_order = all(sniff_message_id(r).split("@")[0].endswith(f".{m.seq}") for r, m in zip(raws, plan.messages))

        # (2) parsers on the fetched bytes -------------------------------------------------------------
        sample = raws
        if args.parse_limit and args.parse_limit < len(raws):
            step = len(raws) / args.parse_limit
            sample = [raws[int(i * step)] for i in range(args.parse_limit)]
        del raws
        mp_s = bench_mailparser(sample)
        say(f"mail-parser: {len(sample)} in {mp_s:.2f}s")
        pm_s = bench_parse_mail(sample)
        say(f"parse_mail: {len(sample)} in {pm_s:.2f}s")
        parsed = len(sample)

        # (3) end to end -------------------------------------------------------------------------------
        if args.db == "postgresql":
            import psycopg

            pg_name = f"mailbot_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            admin = psycopg.connect(PG_ADMIN_URL, autocommit=True)
            admin.execute(f'CREATE DATABASE "{pg_name}"')
            base, _, query = PG_ADMIN_URL.partition("?")  # a query such as ?host=/run/postgresql (a Unix socket) is kept
            db_url = base.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{pg_name}" + (f"?{query}" if query else "")
        else:
            db_url = f"sqlite:///{workdir / 'state' / 'mailbot.db'}"
        sections: dict[str, Any] = {
            "mailbot": {"state_dir": str(workdir / "state"), "database_url": db_url,
                        "secret": "bench-secret-0123456789abcdef", "support_address": SUPPORT},
            "imap": [imap_section(dovecot, user, batch_size=batch, timeout_seconds=300)],
            # New mail, answered: not a first look at a folder's history, and the corpus' January dates are
            # not "too old to acknowledge". (bench/history_import.py measures the history import.)
            "intake": {"history": False, "max_ack_age_hours": 0},
        }
        if args.no_isolate:
            sections["processing"] = {"isolate": False}
        if args.no_replies:
            # Intake alone (fetch, parse, thread, store, plus rules that decide nothing): an empty rules folder.
            (workdir / "rules").mkdir()
            sections["rules"] = {"dir": str(workdir / "rules")}
        cfg = write_config(workdir / "mailbot.toml", sections)
        base = [PYTHON, "-m", "mailbot.cli.main", "--config", str(cfg)]
        up = subprocess.run(base + ["db", "upgrade"], cwd=workdir, env=child_env(), capture_output=True, text=True)
        if up.returncode != 0:
            raise RuntimeError(f"mailbot db upgrade failed:\n{up.stdout}{up.stderr}")
        sql_report = workdir / "sql-counts.json"
        # The timed run counts its statements and commits (bench/sql_counter.py: one event hook, cheap).
        cmd = [PYTHON, "-m", "bench.sql_counter", str(sql_report), "--config", str(cfg), "poll", "--once"]
        if args.profile:
            cmd = [PYTHON, "-m", "cProfile", "-o", str(Path(args.profile).resolve()), "-m", "bench.sql_counter", str(sql_report),
                   "--config", str(cfg), "poll", "--once"]
        say("running: " + shlex.join(cmd))
        run = run_child(cmd, workdir, workdir / "poll.log", args.timeout)
        if run.rc != 0 and not run.timed_out:
            raise RuntimeError(f"mailbot poll exited {run.rc}:\n{run.output}")
        # mail-parser again, right after: a shared machine's speed drifts within a run, and the ratio should
        # compare both on the machine as it was while mailbot ran (the mean of before and after).
        mp_after_s = bench_mailparser(sample)
        say(f"mail-parser again: {len(sample)} in {mp_after_s:.2f}s")
        del sample
        counts = db_counts(db_url)
        summary = next((ln for ln in (workdir / "poll.log").read_text(errors="replace").splitlines()
                        if ln.startswith("stored ")), "")
        db_size = sum(f.stat().st_size for f in (workdir / "state").glob("mailbot.db*")) if args.db == "sqlite" else None
        sql = json.loads(sql_report.read_text()) if sql_report.exists() else None

        # report ---------------------------------------------------------------------------------------
        fetch_rate = fetched / fetch_s
        mp_rate = parsed / ((mp_s + mp_after_s) / 2)
        pm_rate = parsed / pm_s
        # Messages that made it through processing (all N, unless --timeout stopped the run).
        handled = sum(counts["inbound_by_status"].get(k, 0) for k in ("filed", "done", "duplicate", "quarantined"))
        e2e_rate = handled / run.wall
        ratio = e2e_rate / mp_rate
        rss_bytes = run.maxrss_kib * 1024
        polled = run.marks.get("polled")
        connected = run.marks.get("connected", 0.0)
        ok_rows = counts["inbound"] == n and counts["ticket_messages_in"] == n
        ok_ratio = ratio >= INTAKE_TARGET
        ok_rss = rss_bytes < RSS_LIMIT_BYTES
        results.update({
            "corpus_bytes_lf": total, "corpus_bytes_crlf": fetched_bytes, "threads": len(plan.threads),
            "expected_tickets": plan.expected_tickets, "uid_order_matches": in_order,
            "fetch_s": fetch_s, "fetch_rate": fetch_rate, "parsed": parsed, "mailparser_s": mp_s, "mailparser_after_s": mp_after_s,
            "mailparser_rate": mp_rate, "parse_mail_s": pm_s, "parse_mail_rate": pm_rate,
            "e2e_wall_s": run.wall, "e2e_handled": handled, "timed_out": run.timed_out, "e2e_rate": e2e_rate, "e2e_cpu_s": run.cpu, "peak_rss_mib": rss_bytes / 2**20,
            "marks": run.marks, "rss_samples_kib": run.rss_samples[:: max(1, len(run.rss_samples) // 200)], "intake_vs_mailparser": ratio, "db": counts, "db_url_kind": args.db,
            "sqlite_bytes": db_size, "profiled": bool(args.profile), "sql": sql,
            "pass": {"ratio": ok_ratio, "rss": ok_rss, "rows": ok_rows},
        })

        def row(label: str, value: str, target: str = "", verdict: str = "") -> None:
            print(f"  {label:<44}{value:>22}   {target:<12}{verdict}")

        kinds = ", ".join(f"{k} {100 * v / n:.0f}%" for k, v in sorted(plan.kind_counts.items()))
        links = ", ".join(f"{k} {v}" for k, v in sorted(plan.link_counts.items()))
        print()
        print(f"mailbot intake benchmark: N={n}  batch={batch}  db={args.db}  seed={args.seed}"
              + ("  [PROFILED: e2e timings inflated]" if args.profile else ""))
        print(f"  code: {version}")
        load_end = os.getloadavg()
        print(f"  load average (1/5/15 min) at start {'/'.join(f'{x:.2f}' for x in load_start)}, at end "
              f"{'/'.join(f'{x:.2f}' for x in load_end)} on {os.cpu_count()} CPUs (other work skews every rate)")
        print(f"  corpus: {n} msgs in {len(plan.threads)} threads; avg {total / n / 1024:.1f} KiB "
              f"({fetched_bytes / n / 1024:.1f} KiB as served, CRLF); {fetched_bytes / 1e6:.1f} MB total")
        print(f"  kinds: {kinds}")
        print(f"  follow-up links: {links}")
        print(f"  {'figure':<44}{'value':>22}   {'target':<12}result")
        row("IMAP fetch, STARTTLS, BODY.PEEK[] (1 conn)", f"{fetch_rate:,.0f} msgs/s",
            f"{fetched_bytes / fetch_s / 1e6:.1f} MB/s")
        row(f"mail-parser from_bytes+fields ({parsed} msgs)", f"{mp_rate:,.0f} msgs/s", "1 core",
            f"before {parsed / mp_s:,.0f}, after {parsed / mp_after_s:,.0f}")
        row(f"mailbot.parse.parse_mail ({parsed} msgs)", f"{pm_rate:,.0f} msgs/s", "1 core")
        row("end-to-end `poll --once` wall clock", f"{run.wall:,.1f} s",
            "STOPPED" if run.timed_out else "", f"after --timeout: {handled} of {n} filed" if run.timed_out else "")
        if polled is not None:
            row("  start-up (exec .. IMAP connected)", f"{connected:,.1f} s")
            row("  fetch + store (.. imap.polled)", f"{polled - connected:,.1f} s",
                f"{n / max(polled - connected, 1e-9):,.0f} msgs/s")
            row("  process into tickets (.. exit)", f"{run.wall - polled:,.1f} s",
                f"{handled / max(run.wall - polled, 1e-9):,.0f} msgs/s")
        row("  child CPU (user+sys)", f"{run.cpu:,.1f} s")
        if sql is not None and "cpu" in sql and n:
            for who in ("daemon", "workers"):
                row(f"    {who}", f"{sql['cpu'][who]:,.1f} s", f"{sql['cpu'][who] / n * 1000:.2f} ms/msg")
        if polled is not None and run.rss_samples:
            row("  sampled RSS max, start-up + fetch", f"{run.rss_between(0, polled) / 1024:.1f} MiB")
            row("  sampled RSS max, processing", f"{run.rss_between(polled, run.wall) / 1024:.1f} MiB")
        row("end-to-end intake rate", f"{e2e_rate:,.0f} msgs/s")
        if sql is not None and handled:
            processing = sql["statements"]["process"]
            total_statements = sum(processing.values())
            savepoints = sum(v for k, v in processing.items() if "SAVEPOINT" in k)
            commits = sql["commits"].get("process", 0)
            row("SQL statements per message, processing", f"{total_statements / handled:.2f}", "<= 4",
                ("PASS" if total_statements / handled <= 4 else "FAIL") + f" (savepoints {savepoints / handled:.2f})")
            row("commits per message, processing", f"{commits / handled:.3f}", "<= 0.1",
                "PASS" if commits / handled <= 0.1 else "FAIL")
            intake_sql = sql["statements"]["intake"]
            row("SQL statements per message, intake", f"{sum(intake_sql.values()) / n:.2f}",
                f"{sql['commits'].get('intake', 0) / n:.3f} commits")
            top = sorted(processing.items(), key=lambda kv: -kv[1])[:12]
            print("    processing statements per message: " + ", ".join(f"{k} {v / handled:.2f}" for k, v in top))
        row("intake rate / mail-parser rate", f"{100 * ratio:.1f} %", ">= 50 %", "PASS" if ok_ratio else "FAIL")
        row("child peak RSS (own wait4 ru_maxrss)", f"{rss_bytes / 2**20:.1f} MiB", "< 150 MB",
            ("PASS" if ok_rss else "FAIL") + f" ({rss_bytes / 1e6:.1f} MB)")
        st = ", ".join(f"{k} {v}" for k, v in sorted(counts["inbound_by_status"].items()))
        row("DB inbound rows", f"{counts['inbound']}", f"= {n}", "OK" if counts["inbound"] == n else "MISMATCH")
        row("DB inbound ticket messages", f"{counts['ticket_messages_in']}", f"= {n}",
            "OK" if counts["ticket_messages_in"] == n else "MISMATCH")
        row("DB tickets", f"{counts['tickets']}", f"exp. {plan.expected_tickets}",
            "OK" if counts["tickets"] == plan.expected_tickets else "DIFFERENT")
        if not args.no_replies:
            acks = expected_acknowledgements(plan)
            capped = f" ({plan.expected_tickets - acks} over the daily cap)" if acks != plan.expected_tickets else ""
            row("DB acknowledgements queued", f"{counts['acknowledgements']}", f"= {acks}",
                ("OK" if counts["acknowledgements"] == acks else "DIFFERENT") + capped)
        print(f"  inbound status: {st}; attachments {counts['attachments']}, blobs {counts['blobs']}, "
              f"events {counts['events']}" + (f"; SQLite files {db_size / 1e6:.0f} MB" if db_size else ""))
        print(f"  UID order matches delivery order: {'yes' if in_order else 'no'};  mailbot said: {summary}")
        print(f"  reproduce: {repro}" + (f" --profile {args.profile}" if args.profile else ""))
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2, default=str))
        return 0 if ok_rows else 1
    finally:
        if dovecot is not None:
            dovecot.destroy()
        if args.keep_log and (workdir / "poll.log").exists():
            shutil.copy(workdir / "poll.log", args.keep_log)
        shutil.rmtree(workdir, ignore_errors=True)
        if admin is not None:
            try:
                admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            finally:
                admin.close()


if __name__ == "__main__":
    sys.exit(main())
