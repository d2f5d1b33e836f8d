"""Rules files end to end: loading, validation errors that say where and why, and how decisions are made."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from mailbot.errors import ConfigError
from mailbot.parse import parse_mail
from mailbot.policy import actions
from mailbot.policy.engine import RuleSet
from mailbot.policy.facts import Decision, Facts
from mailbot.policy.loader import load_file, load_rules
from mailbot.render import Templates

TEMPLATES = {"ack", "notify"}
DEFAULT_RULES = Path(__file__).resolve().parents[2] / "rules" / "default"

RAW = (
    b"From: Alice <alice@customer.example>\r\n"
    b"To: support@example.com\r\n"
    b"Subject: Refund for my invoice\r\n"
    b"Message-ID: <c-1@customer.example>\r\n"
    b"\r\n"
    b"Hello, production is down.\r\n"
)


def facts(**overrides: Any) -> Facts:
    base = Facts(mail=parse_mail(RAW), received_at=datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc), new_ticket=True)
    return replace(base, **overrides)


def rules(tmp_path: Path, text: str, templates: set[str] = TEMPLATES) -> RuleSet:
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    (folder / "rules.toml").write_text(text, encoding="utf-8")
    return load_rules(folder, templates)


def decide(tmp_path: Path, text: str, **overrides: Any) -> Decision:
    return rules(tmp_path, text).evaluate(facts(**overrides))


def matched(decision: Decision) -> list[str]:
    return [h.rule for h in decision.hits]


# --- evaluation -----------------------------------------------------------------------------------------

def test_first_match_wins(tmp_path: Path) -> None:
    d = decide(
        tmp_path,
        """
        [[rule]]
        name = "billing"
        when = { subject_contains = "refund" }
        then = { queue = "billing" }

        [[rule]]
        name = "everything"
        then = { queue = "general", priority = "low" }
        """,
    )
    assert matched(d) == ["billing"]
    assert d.queue == "billing" and d.priority is None


def test_continue_lets_later_rules_add(tmp_path: Path) -> None:
    d = decide(
        tmp_path,
        """
        [[rule]]
        name = "billing"
        when = { subject_contains = "refund" }
        then = { queue = "billing", tags = ["billing"] }
        continue = true

        [[rule]]
        name = "urgent"
        when = { body_contains = "production is down" }
        then = { priority = "high", tags = ["outage"] }

        [[rule]]
        name = "never reached"
        then = { queue = "other" }
        """,
    )
    assert matched(d) == ["billing", "urgent"]
    assert d.queue == "billing" and d.priority == "high" and d.tags == ["billing", "outage"]


def test_stop_ends_even_after_continue(tmp_path: Path) -> None:
    d = decide(
        tmp_path,
        """
        [[rule]]
        name = "first"
        then = { tags = ["a"] }
        continue = true

        [[rule]]
        name = "stopper"
        then = { tags = ["b"], stop = true }
        continue = true

        [[rule]]
        name = "later"
        then = { queue = "later" }
        """,
    )
    assert matched(d) == ["first", "stopper"]
    assert d.tags == ["a", "b"] and d.queue is None


def test_unless_blocks_a_rule(tmp_path: Path) -> None:
    text = """
        [[rule]]
        name = "ack"
        when = { new_ticket = true }
        unless = { automatic = true }
        then = { template = "ack" }
        """
    blocked = decide(tmp_path, text, automatic=("Precedence: bulk",))
    assert matched(blocked) == []
    assert blocked.misses == [("ack", "unless automatic: automatic: Precedence: bulk")]
    passed = decide(tmp_path, text)
    assert matched(passed) == ["ack"]
    assert passed.hits[0].reasons == ("new_ticket: opens a new ticket", "not automatic: automatic: written by a person")


def test_rule_without_when_matches_everything(tmp_path: Path) -> None:
    d = decide(
        tmp_path,
        """
        [[rule]]
        name = "catch-all"
        then = { queue = "general" }
        """,
        new_ticket=False,
    )
    assert d.queue == "general"
    assert d.hits[0].reasons == ("no conditions: matches everything",)


def test_hits_and_misses_are_explained(tmp_path: Path) -> None:
    d = decide(
        tmp_path,
        """
        [[rule]]
        name = "german"
        when = { language = "de" }
        then = { queue = "de" }

        [[rule]]
        name = "refunds"
        when = { subject_contains = "refund", new_ticket = true }
        then = { queue = "billing", template = "ack" }
        """,
    )
    assert d.explain() == {
        "matched": [
            {"rule": "refunds", "file": "rules.toml", "because": ["subject_contains: subject contains 'refund'", "new_ticket: opens a new ticket"]}
        ],
        "not_matched": [{"rule": "german", "because": "language: language is en"}],
        "queue": "billing",
        "priority": None,
        "tags": [],
        "template": "ack",
        "assign": None,
        "notify": [],
        "hold": False,
        "no_deadline": False,
        "class": None,
        "classified_by": None,
        "decide": False,
        "suggested": None,
    }


def test_a_miss_records_only_the_first_failing_condition(tmp_path: Path) -> None:
    d = decide(
        tmp_path,
        """
        [[rule]]
        name = "strict"
        when = { subject_contains = "refund", language = "de", plan = "gold" }
        then = { queue = "x" }
        """,
    )
    assert d.misses == [("strict", "language: language is en")]


def test_actions_fill_the_decision(tmp_path: Path) -> None:
    d = decide(
        tmp_path,
        """
        [[rule]]
        name = "one"
        then = { queue = " billing ", priority = "urgent", tags = ["vip", "billing", "vip"], template = "ack", assign = "Agent@Example.com", notify = "lead@example.com" }
        continue = true

        [[rule]]
        name = "two"
        then = { tags = "billing", notify = ["lead@example.com", "boss@example.com"], hold = true }
        """,
    )
    assert d.queue == "billing"
    assert d.priority == "urgent"
    assert d.tags == ["vip", "billing"]
    assert d.template == "ack" and d.no_reply is False
    assert d.assign == "agent@example.com"
    assert d.notify == ["lead@example.com", "boss@example.com"]
    assert d.hold is True


def test_no_reply_hides_the_template_and_a_later_template_brings_it_back(tmp_path: Path) -> None:
    text = """
        [[rule]]
        name = "ack"
        then = { template = "ack" }
        continue = true

        [[rule]]
        name = "quiet"
        when = { new_ticket = false }
        then = { no_reply = true }
        continue = true
        """
    quiet = decide(tmp_path, text, new_ticket=False)
    assert quiet.no_reply is True and quiet.explain()["template"] is None
    loud = decide(tmp_path, text + '\n[[rule]]\nname = "notify"\nthen = { template = "notify" }\n', new_ticket=False)
    assert loud.no_reply is False and loud.explain()["template"] == "notify"


def test_files_load_in_name_order(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    for name in ("30-last.toml", "10-first.toml", "20-middle.toml"):  # written out of order on purpose
        (folder / name).write_text(f'[[rule]]\nname = "{name}"\nthen = {{ tags = ["{name[:2]}"] }}\ncontinue = true\n')
    (folder / "README.md").write_text("not rules")
    (folder / "99-disabled.toml.off").write_text("this is not even TOML [")
    ruleset = load_rules(folder, TEMPLATES)
    assert [r.name for r in ruleset.rules] == ["10-first.toml", "20-middle.toml", "30-last.toml"]
    assert [r.file for r in ruleset.rules] == ["10-first.toml", "20-middle.toml", "30-last.toml"]
    assert ruleset.source == str(folder)
    d = ruleset.evaluate(facts())
    assert d.tags == ["10", "20", "30"]
    assert [h.file for h in d.hits] == ["10-first.toml", "20-middle.toml", "30-last.toml"]


def test_shipped_default_rules_load() -> None:
    ruleset = load_rules(DEFAULT_RULES, Templates([]).names)
    assert [r.name for r in ruleset.rules] == [
        "billing", "urgent", "support expired", "guarantee lapsed", "presales", "acknowledge new tickets", "follow-ups",
    ]
    new = ruleset.evaluate(facts(entitlement="active"))
    assert new.queue == "billing" and new.priority == "high" and new.tags == ["billing", "outage"]
    assert new.template == "ack" and not new.no_reply
    assert ruleset.evaluate(facts(entitlement="expired")).template == "ack-expired"
    assert ruleset.evaluate(facts(entitlement="unknown")).queue == "presales"
    follow_up = ruleset.evaluate(facts(new_ticket=False))
    assert follow_up.no_reply is True and follow_up.explain()["template"] is None


def test_shipped_default_rules_need_the_ack_template() -> None:
    with pytest.raises(ConfigError) as info:
        load_rules(DEFAULT_RULES, {"notify"})
    assert "50-acknowledge.toml" in str(info.value) and "then.template" in str(info.value)


# --- loader errors --------------------------------------------------------------------------------------

def load_error(tmp_path: Path, text: str, templates: set[str] = TEMPLATES) -> tuple[str, str]:
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_file(path, templates)
    return str(path), str(info.value)


@pytest.mark.parametrize(
    "text, templates, expected",
    [
        pytest.param(
            '[[rule]]\nname = "r"\nwhen = { subjet_contains = "x" }\nthen = { queue = "q" }\n',
            TEMPLATES,
            ["'r'", "when.subjet_contains", "unknown condition (known: automatic, body_contains,", "subject_contains"],
            id="unknown condition",
        ),
        pytest.param(
            '[[rule]]\nname = "r"\nthen = { priorty = "high" }\n',
            TEMPLATES,
            ["'r'", "then.priorty", "unknown action (known: assign, classify, hold, no_deadline, no_reply, notify, priority, queue, stop, tags, template)"],
            id="unknown action",
        ),
        pytest.param(
            '[[rule]]\nname = "r"\nwhen = { subject_matches = "(unclosed" }\nthen = { queue = "q" }\n',
            TEMPLATES,
            ["'r'", "when.subject_matches", "bad regular expression '(unclosed'"],
            id="bad regex",
        ),
        pytest.param(
            '[[rule]]\nname = "r"\nunless = { body_matches = "[a-" }\nthen = { queue = "q" }\n',
            TEMPLATES,
            ["'r'", "unless.body_matches", "bad regular expression"],
            id="bad regex in unless",
        ),
        pytest.param(
            '[[rule]]\nname = "r"\nthen = { template = "welcome" }\n',
            {"ack"},
            ["'r'", "then.template", "unknown template 'welcome' (known: ack)"],
            id="unknown template",
        ),
        pytest.param(
            '[[rule]]\nname = "r"\nwhen = { time = { days = ["sat"], timezone = "Europe/Atlantis" } }\nthen = { queue = "q" }\n',
            TEMPLATES,
            ["'r'", "when.time", "unknown time zone 'Europe/Atlantis'"],
            id="bad time zone",
        ),
        pytest.param(
            '[[rule]]\nthen = { queue = "q" }\n',
            TEMPLATES,
            ["rule[0] name", "every rule needs a name"],
            id="missing name",
        ),
        pytest.param(
            '[[rule]]\nname = "twin"\nthen = { queue = "a" }\n\n[[rule]]\nname = "twin"\nthen = { queue = "b" }\n',
            TEMPLATES,
            ["rule[1] 'twin' name", "another rule in this file has the same name"],
            id="duplicate name",
        ),
        pytest.param(
            '[[rule]]\nname = "r"\nwhen = { new_ticket = true }\n',
            TEMPLATES,
            ["'r'", "then", "every rule needs a `then` table of actions"],
            id="missing then",
        ),
        pytest.param(
            '[[rule]]\nname = "r"\nwhne = { new_ticket = true }\nthen = { queue = "q" }\n',
            TEMPLATES,
            ["'r' whne", "unknown key (use continue, decide, description, name, then, unless, when)"],
            id="unknown rule key",
        ),
        pytest.param(
            '[[rule]]\nname = "r"\nthen = { queue = "q" }\ncontinue = "yes"\n',
            TEMPLATES,
            ["'r' continue", "expected true or false"],
            id="continue not a boolean",
        ),
        pytest.param(
            '[[rule]]\nname = "r"\nthen = { queue = "q" \n',
            TEMPLATES,
            ["not valid TOML"],
            id="not TOML",
        ),
        pytest.param(
            '[[rule]]\nname = "r"\nthen = { no_reply = false }\n',
            TEMPLATES,
            ["'r'", "then.no_reply", "only `true` makes sense here"],
            id="no_reply false",
        ),
        pytest.param(
            '[[rule]]\nname = "r"\nthen = { priority = "asap" }\n',
            TEMPLATES,
            ["'r'", "then.priority", "unknown priority 'asap' (use low, normal, high, urgent)"],
            id="bad priority",
        ),
        pytest.param(
            '[[rule]]\nname = "r"\nthen = { assign = "not-an-address" }\n',
            TEMPLATES,
            ["'r'", "then.assign", "'not-an-address' is not an e-mail address"],
            id="bad address",
        ),
        pytest.param(
            '[[rule]]\nname = "r"\nthen = { classify = "Out of scope" }\n',
            TEMPLATES,
            ["'r'", "then.classify", "'Out of scope' is not a class name (lower-case letters, digits and hyphens"],
            id="bad class name",
        ),
        pytest.param(
            '[[rule]]\nname = "r"\nthen = { classify = 3 }\n',
            TEMPLATES,
            ["'r'", "then.classify", "3 is not a class name"],
            id="class name not a string",
        ),
        pytest.param(
            '[[rule]]\nname = "r"\nthen = { queue = "q" }\ndecide = "yes"\n',
            TEMPLATES,
            ["'r' decide", "expected true, false or a list of entitlement states"],
            id="decide not a boolean",
        ),
        pytest.param(
            '[[rule]]\nname = "r"\nthen = { queue = "q" }\ndecide = ["unknown", "paying"]\n',
            TEMPLATES,
            ["'r' decide", "unknown entitlement state 'paying' (use active, expired, guarantee-lapsed, unknown)"],
            id="decide with an unknown state",
        ),
        pytest.param(
            '[[rules]]\nname = "r"\nthen = { queue = "q" }\n',
            TEMPLATES,
            ["rules", "unknown top-level key"],
            id="unknown top-level key",
        ),
    ],
)
def test_loader_errors_name_file_rule_key_and_reason(tmp_path: Path, text: str, templates: set[str], expected: list[str]) -> None:
    path, message = load_error(tmp_path, text, templates)
    assert path in message
    for piece in expected:
        assert piece in message


def test_unknown_action_message_lists_every_known_action(tmp_path: Path) -> None:
    _, message = load_error(tmp_path, '[[rule]]\nname = "r"\nthen = { priorty = "high" }\n')
    for name in actions.REGISTRY:
        assert name in message


def test_every_problem_of_a_file_is_reported(tmp_path: Path) -> None:
    path, message = load_error(
        tmp_path,
        '[[rule]]\nname = "a"\nwhen = { subject_matches = "(" }\nthen = { priorty = "high" }\n\n[[rule]]\nname = "b"\n',
    )
    lines = message.splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"{path}: ") for line in lines)
    assert "rule[0] 'a' when.subject_matches" in lines[0]
    assert "rule[0] 'a' then.priorty" in lines[1]
    assert "rule[1] 'b' then" in lines[2]


def test_load_rules_reports_the_bad_file(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "10-good.toml").write_text('[[rule]]\nname = "ok"\nthen = { queue = "q" }\n')
    (folder / "20-bad.toml").write_text('[[rule]]\nname = "bad"\nthen = { template = "missing" }\n')
    with pytest.raises(ConfigError) as info:
        load_rules(folder, TEMPLATES)
    assert info.value.path == str(folder / "20-bad.toml")
    assert "rule[0] 'bad' then.template" in str(info.value)


def test_missing_rules_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_rules(tmp_path / "nowhere", TEMPLATES)
    assert str(tmp_path / "nowhere") in str(info.value) and "does not exist" in str(info.value)


# --- classify and decide --------------------------------------------------------------------------------

CLASSIFYING = """
[[rule]]
name = "credentials"
when = { body_contains = "password" }
then = { tags = ["credentials"] }
continue = true

[[rule]]
name = "partnership"
when = { body_contains = "partnership" }
then = { classify = "partnership-or-suggestion", queue = "partnership", no_deadline = true }
decide = ["unknown"]
continue = true

[[rule]]
name = "out of scope"
when = { body_contains = "flexbox" }
then = { classify = "out-of-scope", no_deadline = true }
decide = true

[[rule]]
name = "everyone else"
then = { template = "ack" }
"""


def mail_saying(text: str) -> Any:
    return parse_mail(RAW.replace(b"Hello, production is down.", text.encode()))


def test_a_rule_names_the_class_it_assigns_and_the_decision_says_which_rule(tmp_path: Path) -> None:
    d = decide(tmp_path, CLASSIFYING, mail=mail_saying("We would like to discuss a partnership."), entitlement="active")
    assert (d.classify, d.classified_by, d.decide) == ("partnership-or-suggestion", "partnership", False)
    assert matched(d) == ["partnership", "everyone else"]  # a later rule that does not classify keeps the class
    explained = d.explain()
    assert (explained["class"], explained["classified_by"], explained["decide"]) == ("partnership-or-suggestion", "partnership", False)


def test_no_classifying_rule_leaves_the_class_empty(tmp_path: Path) -> None:
    d = decide(tmp_path, CLASSIFYING, mail=mail_saying("The cart shows a blank page."))
    assert (d.classify, d.classified_by, d.decide) == (None, None, False)
    assert matched(d) == ["everyone else"]


def test_a_later_classifying_rule_reached_through_continue_replaces_the_class(tmp_path: Path) -> None:
    d = decide(tmp_path, CLASSIFYING, mail=mail_saying("A partnership offer, and how do I use flexbox?"), entitlement="active")
    assert matched(d) == ["partnership", "out of scope"]
    assert (d.classify, d.classified_by, d.decide) == ("out-of-scope", "out of scope", True)
    assert d.queue == "partnership"  # what the first rule set and the second did not touch stays


def test_decide_defaults_to_false_and_can_name_entitlement_states(tmp_path: Path) -> None:
    ruleset = rules(tmp_path, CLASSIFYING)
    offer = mail_saying("A partnership, and here is my password.")
    for state, expected in (("unknown", True), ("active", False), ("expired", False), ("guarantee-lapsed", False)):
        d = ruleset.evaluate(facts(mail=offer, entitlement=state))
        assert d.decide is expected, state
        assert [(h.rule, h.decide) for h in d.hits] == [("credentials", False), ("partnership", expected), ("everyone else", False)]
    assert {r.name: r.decide for r in ruleset.rules} == {
        "credentials": frozenset(),
        "partnership": frozenset({"unknown"}),
        "out of scope": frozenset({"active", "expired", "guarantee-lapsed", "unknown"}),
        "everyone else": frozenset(),
    }
    assert [r.name for r in ruleset.rules if r.classifies] == ["partnership", "out of scope"]


def test_decide_false_is_the_same_as_leaving_it_out(tmp_path: Path) -> None:
    ruleset = rules(tmp_path, '[[rule]]\nname = "r"\nthen = { classify = "out-of-scope" }\ndecide = false\n')
    d = ruleset.evaluate(facts(entitlement="unknown"))
    assert (d.classify, d.decide, ruleset.rules[0].decide) == ("out-of-scope", False, frozenset())


# --- a guess never takes away a promise -------------------------------------------------------------------

def test_without_decide_a_rule_that_takes_a_promise_away_only_suggests(tmp_path: Path) -> None:
    """An entitled customer whose plan promises a response time: the partnership rule (no_deadline, decide only
    for unknown senders) does nothing but suggest; the rules go on and the customer gets the ordinary answer."""
    d = decide(tmp_path, CLASSIFYING, mail=mail_saying("We made no partnership improvement, error 500."), entitlement="active", promised=True)
    assert d.suggestion is not None and (d.suggestion.cls, d.suggestion.rule) == ("partnership-or-suggestion", "partnership")
    assert (d.classify, d.queue, d.no_deadline, d.template) == (None, None, False, "ack")
    assert [(h.rule, h.suggested) for h in d.hits] == [("partnership", True), ("everyone else", False)]
    explained = d.explain()
    assert explained["suggested"] == {"class": "partnership-or-suggestion", "rule": "partnership", "file": "rules.toml"}
    assert explained["matched"][0]["suggested_only"] is True


def test_a_rule_decides_for_the_states_it_names_and_where_nothing_is_promised(tmp_path: Path) -> None:
    ruleset = rules(tmp_path, CLASSIFYING)
    offer = mail_saying("We would like to discuss a partnership.")
    unknown = ruleset.evaluate(facts(mail=offer, entitlement="unknown", promised=True))  # decide = ["unknown"]
    expired = ruleset.evaluate(facts(mail=offer, entitlement="expired", promised=False))  # nothing to take away
    for d in (unknown, expired):
        assert (d.suggestion, d.classify, d.queue, d.no_deadline) == (None, "partnership-or-suggestion", "partnership", True)


def test_decide_true_acts_even_on_a_promise(tmp_path: Path) -> None:
    d = decide(tmp_path, CLASSIFYING, mail=mail_saying("How do I use flexbox?"), entitlement="active", promised=True)
    assert (d.suggestion, d.classify, d.no_deadline, d.template) == (None, "out-of-scope", True, None)


def test_the_first_suggestion_is_kept_and_a_later_deciding_rule_still_acts(tmp_path: Path) -> None:
    d = decide(tmp_path, CLASSIFYING, mail=mail_saying("A partnership, and how do I use flexbox?"), entitlement="active", promised=True)
    assert d.suggestion is not None and d.suggestion.rule == "partnership"
    assert (d.classify, d.no_deadline) == ("out-of-scope", True)


def test_a_rules_outcome_is_what_confirming_its_class_applies(tmp_path: Path) -> None:
    ruleset = rules(tmp_path, CLASSIFYING)
    rule = ruleset.classifying("partnership-or-suggestion")
    assert rule is not None and rule is ruleset.by_name("partnership") and rule.takes_promise
    outcome = rule.outcome()
    assert (outcome.classify, outcome.queue, outcome.no_deadline) == ("partnership-or-suggestion", "partnership", True)
    assert ruleset.classifying("customization-quote") is None and not ruleset.rules[0].takes_promise
