"""Agents' mail commands at the top of a reply."""

from __future__ import annotations

from mailbot.core.commands import HELP, Command, command_for, confirmed_class, parse


def test_commands_at_the_top_then_text() -> None:
    p = parse("#close\n#priority HIGH\n#assign me\n\nDone, see below.\n#not-a-command-here")
    assert p.commands == (Command("close"), Command("priority", "high"), Command("assign", "me"))
    assert p.errors == () and p.text == "Done, see below.\n#not-a-command-here"


def test_note_and_queue() -> None:
    p = parse("#note\n#queue Billing\nInternal remark")
    assert p.note and Command("queue", "Billing") in p.commands and p.text == "Internal remark"


def test_errors_are_reported_not_guessed() -> None:
    p = parse("#clsoe\n#priority soon\n#assign\n#close now\nText")
    assert p.errors == (
        "unknown command #clsoe",
        "#priority soon: use one of low, normal, high, urgent",
        "#assign needs an argument: #assign ADDRESS or #assign me — assign the ticket",
        "#close takes no argument (got 'now')",
    )


def test_no_commands() -> None:
    p = parse("Hello,\n\n#1 is the line number")
    assert p.commands == () and p.errors == () and p.text.startswith("Hello,")


def test_cc_and_confirm() -> None:
    parsed = parse("#cc add Carol <Carol@Partner.example>\n#cc remove <eve@x.example>\n#confirm\n\nHello both")
    assert parsed.errors == ()
    assert parsed.commands == (Command("cc", "add carol@partner.example"), Command("cc", "remove eve@x.example"), Command("confirm"))
    assert parsed.confirmed and parsed.text == "Hello both"
    bad = parse("#cc carol@partner.example\n#cc add nobody\n#cc add a@b.example c@d.example\n#confirm now")
    assert len(bad.errors) == 4 and not bad.commands
    assert "is not an address" in bad.errors[1] and "#confirm takes no argument" in bad.errors[3]
def test_class_commands_confirm_or_dismiss_a_suggested_class() -> None:
    p = parse("#scope out\nSee the answer below.")
    assert p.commands == (Command("scope", "out"),) and p.commands[0].classifies and p.text == "See the answer below."
    assert confirmed_class(Command("scope", "out"), "file-changes") == "file-changes"
    assert confirmed_class(Command("scope", "out"), None) == "out-of-scope"
    assert confirmed_class(Command("scope", "in"), "file-changes") is None
    assert confirmed_class(Command("quote"), "partnership-or-suggestion") == "customization-quote"
    assert confirmed_class(Command("partnership"), None) == "partnership-or-suggestion"
    assert (command_for("customization-quote"), command_for("partnership-or-suggestion"), command_for("local-server")) == ("#quote", "#partnership", "#scope out")
    assert parse("#SCOPE In").commands == (Command("scope", "in"),)


def test_class_commands_with_bad_arguments_are_errors() -> None:
    assert parse("#scope\n#scope maybe\n#quote 100 EUR").errors == (
        "#scope needs an argument: " + HELP["scope"],
        "#scope maybe: use #scope out or #scope in",
        "#quote takes no argument (got '100 EUR')",
    )
