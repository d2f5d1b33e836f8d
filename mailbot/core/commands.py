"""Commands agents write on their own lines at the top of a reply: `#close`, `#assign bob@…`, `#note` …"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailbot.core.addresses import valid_addr_spec

PRIORITIES = ("low", "normal", "high", "urgent")
# Commands that set the ticket's status of the same name (core.ticket_states).
STATUS_COMMANDS = ("open", "pending", "solved", "close")
# Commands that confirm a class of request a rule suggested (or name one no rule saw), and the class each confirms;
# `#scope out` confirms the class suggested on the ticket, or `out-of-scope` when none is. `#scope in` dismisses.
CLASS_COMMANDS = {"quote": "customization-quote", "partnership": "partnership-or-suggestion"}
OUT_OF_SCOPE = "out-of-scope"
SCOPE_ARGUMENTS = ("in", "out")
_LINE = re.compile(r"^#([a-z]+)\b\s*(.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class Command:
    name: str  # close | pending | solved | open | assign | priority | queue | note | cc | confirm | scope | quote | partnership
    argument: str = ""  # for cc: "add ADDRESS" or "remove ADDRESS"

    @property
    def classifies(self) -> bool:
        """Confirms or dismisses a class of request (what the customer is told and whether the clock runs)."""
        return self.name == "scope" or self.name in CLASS_COMMANDS


@dataclass(frozen=True)
class Parsed:
    commands: tuple[Command, ...]
    errors: tuple[str, ...]
    text: str  # the reply without its command lines

    @property
    def note(self) -> bool:
        return any(c.name == "note" for c in self.commands)

    @property
    def confirmed(self) -> bool:
        return any(c.name == "confirm" for c in self.commands)


HELP = {
    "close": "#close — close the ticket and send the customer the closing message",
    "pending": "#pending — wait on the customer (the response clock pauses)",
    "solved": "#solved — answered and solved: no clock runs; the customer's reply reopens it",
    "open": "#open — reopen",
    "assign": "#assign ADDRESS or #assign me — assign the ticket",
    "priority": "#priority low|normal|high|urgent",
    "queue": "#queue NAME — move the ticket to another queue",
    "note": "#note — the whole reply is an internal note for agents, not sent to the customer",
    "cc": "#cc add ADDRESS / #cc remove ADDRESS — give someone a seat on the ticket (they get its mail) or take it away",
    "confirm": "#confirm — send this answer (or #close) although the ticket has more recipients than max_participants",
    "scope": "#scope out — outside support: confirm the suggested class (else out-of-scope), send its answer, stop the clock; "
    "#scope in — support after all: dismiss the suggestion, the deadline stays",
    "quote": "#quote — a customization to quote: send the quote answer, stop the clock",
    "partnership": "#partnership — a partnership offer or suggestion: send the thank-you, stop the clock",
}


def confirmed_class(command: Command, suggested: str | None) -> str | None:
    """The class a command confirms (None: `#scope in`, which dismisses the suggestion)."""
    if command.name in CLASS_COMMANDS:
        return CLASS_COMMANDS[command.name]
    if command.argument == "in":
        return None
    return suggested or OUT_OF_SCOPE


def command_for(cls: str) -> str:
    """The command that confirms a suggested class."""
    return next((f"#{name}" for name, c in CLASS_COMMANDS.items() if c == cls), "#scope out")


def parse(text: str) -> Parsed:
    """Command lines are read from the top of the reply until the first line that is not one (blank lines
    between them are allowed). Anything else stays text, including lines that start with # later on."""
    commands: list[Command] = []
    errors: list[str] = []
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if not line:
            i += 1
            continue
        m = _LINE.match(line)
        if not m:
            break
        name, arg = m.group(1).lower(), m.group(2).strip()
        if name not in HELP:
            errors.append(f"unknown command #{name}")
        elif name in ("assign", "queue", "priority", "scope") and not arg:
            errors.append(f"#{name} needs an argument: {HELP[name]}")
        elif name == "priority" and arg.lower() not in PRIORITIES:
            errors.append(f"#priority {arg}: use one of {', '.join(PRIORITIES)}")
        elif name == "scope" and arg.lower() not in SCOPE_ARGUMENTS:
            errors.append(f"#scope {arg}: use #scope out or #scope in")
        elif name in (*STATUS_COMMANDS, "confirm") and arg or name in ("note", *CLASS_COMMANDS) and arg:
            errors.append(f"#{name} takes no argument (got {arg!r})")
        elif name == "cc" and (problem := _cc_problem(arg)):
            errors.append(problem)
        else:
            if name == "cc":
                words = arg.split()  # `add Carol <carol@x.example>`: the name is only for the agent's eyes
                arg = f"{words[0]} {words[-1].strip('<>')}"
            commands.append(Command(name, arg.lower() if name in ("priority", "assign", "cc", "scope") else arg))
        i += 1
    return Parsed(tuple(commands), tuple(errors), "\n".join(lines[i:]).strip("\n"))


def _cc_problem(arg: str) -> str:
    """Why `#cc ARG` cannot run, or "" when it can."""
    words = arg.split()
    if len(words) < 2 or words[0].lower() not in ("add", "remove"):
        return f"#cc {arg}: {HELP['cc']}"
    if any("@" in w for w in words[1:-1]):
        return f"#cc {arg}: one address at a time"
    if not valid_addr_spec(words[-1].strip("<>")):
        return f"#cc {arg}: {words[-1]!r} is not an address"
    return ""
