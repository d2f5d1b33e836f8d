"""The import graph stays layered: cli/daemon → app → process → edges (intake, outbox, customers) → store → core.

A module may import from its own layer or any layer below it, never above. The test reads every module's
imports (function-level ones included), so a shortcut upward fails here before it becomes a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "mailbot"

# Lowest first. A module is placed by the longest prefix that names it.
LAYERS: list[tuple[str, ...]] = [
    # pure: typed mail, decisions, arithmetic, and the leaf helpers everything may use
    ("core", "policy", "parse", "errors", "logs", "time_source", "failpoints", "malloc_arenas", "collector_settings", "config", "render", "template_check", "telemetry", "__init__"),
    ("store",),
    ("intake", "outbox", "customers", "systemd", "signin"),
    ("process",),
    ("app",),
    ("daemon", "metrics_server", "cli", "__main__"),
]


def layer_of(module: str) -> int:
    """The layer of `mailbot.x.y` (by its first component below `mailbot`)."""
    first = module.split(".")[1] if "." in module else "__init__"
    for rank, names in enumerate(LAYERS):
        if first in names:
            return rank
    raise AssertionError(f"module {module} is in no layer: add its package to LAYERS")


def is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path: Path, module: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("mailbot"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("mailbot"):
            # `from mailbot.process import response_clock` imports the submodule; `from mailbot import __version__` the package.
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if is_module(sub) else node.module)
    return found


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        if "migrations" in rel.parts:
            continue
        out.append((".".join(rel.parts).removesuffix(".__init__"), path))
    return out


def test_no_module_imports_from_a_higher_layer() -> None:
    upward = []
    for module, path in modules():
        own = layer_of(module)
        for imported in imports_of(path, module):
            if layer_of(imported) > own:
                upward.append(f"{module} (layer {own}) imports {imported} (layer {layer_of(imported)})")
    assert upward == []


def test_the_layer_check_catches_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from mailbot.process.runner import process_pending\n")
    assert layer_of("mailbot.core.bad") < max(layer_of(m) for m in imports_of(bad, "mailbot.core.bad"))


def test_module_names_are_unique_and_do_not_shadow_the_standard_library() -> None:
    import sys

    names = [path.stem for _, path in modules() if path.stem != "__init__"]
    repeated = sorted({n for n in names if names.count(n) > 1})
    shadowing = sorted(set(names) & set(sys.stdlib_module_names))
    assert repeated == [] and shadowing == []
