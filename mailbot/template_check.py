"""Check a template against the context of its kind before it is ever used: syntax, every name it reads,
every attribute of a typed view, and one render with that kind's sample values."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Union

from jinja2 import Environment, TemplateError, TemplateSyntaxError, nodes

from mailbot.core.template_contexts import MailContext

ALWAYS = frozenset({"language"})  # added by the renderer for every kind


def _dataclass_of(annotation: Any) -> type[Any] | None:
    """The dataclass behind `X` or `X | None`, else None (a str, datetime or tuple: not checked further)."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = inner[0] if len(inner) == 1 else None
    return annotation if isinstance(annotation, type) and dataclasses.is_dataclass(annotation) else None


def _fields(cls: type[Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _local_names(tree: nodes.Template) -> set[str]:
    """Names a template binds itself: loop variables, {% set %}, macro parameters."""
    bound = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    bound |= {"loop", "caller", "varargs", "kwargs", "self", "super"}
    return bound


def _resolve(node: nodes.Node, top: dict[str, Any]) -> tuple[type[Any] | None, str]:
    """For `ticket.queue` or `entitlement.valid_until`: the dataclass the expression yields and its dotted name."""
    if isinstance(node, nodes.Name):
        return (_dataclass_of(top[node.name]) if node.name in top else None), node.name
    if isinstance(node, nodes.Getattr):
        owner, path = _resolve(node.node, top)
        if owner is None:
            return None, path
        return _dataclass_of(_fields(owner).get(node.attr)), f"{path}.{node.attr}"
    return None, ""


def static_problems(tree: nodes.Template, kind: type[MailContext]) -> list[tuple[int, str]]:
    """(line, problem) for every name or attribute the template reads that its kind does not have."""
    top = _fields(kind)
    local = _local_names(tree)
    problems: list[tuple[int, str]] = []
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load" and name.name not in top and name.name not in local and name.name not in ALWAYS:
            problems.append((name.lineno, f"`{name.name}` is not available in {kind.kind} mail (it has: {', '.join(sorted(top))})"))
    for attr in tree.find_all(nodes.Getattr):
        owner, path = _resolve(attr.node, top)
        if owner is not None and attr.attr not in _fields(owner):
            known = ", ".join(sorted(_fields(owner)))
            problems.append((attr.lineno, f"`{path}.{attr.attr}`: {path} has no `{attr.attr}` (it has: {known})"))
    return sorted(set(problems))


def check_template(env: Environment, filename: str, kind: type[MailContext], render: typing.Callable[[MailContext], Any]) -> list[str]:
    """Problems of one template file, each as 'line N: reason'; empty when it is fit for its kind."""
    try:
        source, _, _ = env.loader.get_source(env, filename) if env.loader else ("", None, None)
        tree = env.parse(source, name=filename)
    except TemplateSyntaxError as exc:
        return [f"line {exc.lineno}: syntax error: {exc.message}"]
    problems = [f"line {line}: {reason}" for line, reason in static_problems(tree, kind)]
    blocks = {b.name for b in tree.find_all(nodes.Block)}
    missing = {"subject", "body"} - blocks
    if missing:
        problems.append(f"needs blocks subject and body; missing {', '.join(sorted(missing))}")
    if problems:
        return problems
    try:
        render(kind.sample())
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        return [f"line {line}: {type(exc).__name__}: {exc}" if line else f"{type(exc).__name__}: {exc}"]
    except Exception as exc:  # a filter given the wrong type, arithmetic on text …
        return [f"fails with the sample {kind.kind} context: {type(exc).__name__}: {exc}"]
    return []
