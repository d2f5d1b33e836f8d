"""The policy in force: rules, templates and support terms, loaded and validated together, replaced as a whole.

Loading checks everything a message could later trip over — every rule, every template against the context
of its kind (built-in ones and the rules folder's overrides), the escalation template — so a broken file stops
start-up, `check-config`, `rules check` and a SIGHUP reload, naming file, line or key, and reason.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from mailbot.config import Config
from mailbot.core.template_contexts import kind_of
from mailbot.errors import ConfigError, FilesError
from mailbot.policy.engine import RuleSet
from mailbot.policy.loader import load_rules
from mailbot.policy.terms import Terms, load_terms
from mailbot.render import Templates, load_templates


@dataclass(frozen=True)
class Policy:
    rules: RuleSet
    templates: Templates
    terms: Terms


def load_policy(config: Config) -> Policy:
    """Rules, templates and support terms, validated together (a rule naming a missing template is an error)."""
    folders = [p for p in (config.settings.rules.templates_dir, config.rules_dir / "templates") if p is not None]
    templates = load_templates(folders, config.settings.replies.default_language)
    terms = load_terms(config.rules_dir, config.settings.mailbot.timezone)
    problems = templates.check(functools.partial(kind_of, escalation_template=terms.escalation_template))
    if problems:
        raise FilesError(problems)
    rules = load_rules(config.rules_dir, templates.names)
    if terms.levels and terms.escalation_template not in templates.names:
        raise ConfigError(config.rules_dir / "escalation.toml", [("template", f"unknown template {terms.escalation_template!r}")])
    return Policy(rules=rules, templates=templates, terms=terms)
