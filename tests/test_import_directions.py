"""Which way imports run (STYLE.md): the folders say what the architecture is, and this test
keeps them honest. Every import in the tree is read with ``ast``, including those under
``TYPE_CHECKING`` and inside functions, except where a rule says "at module level"."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imports(path: Path, *, module_level_only: bool = False) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import in a file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if module_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def violations(
    package: str, forbidden: tuple[str, ...], *, module_level_only: bool = False
) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, name in imports(path, module_level_only=module_level_only):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(ROOT)}:{line}: imports {name}")
    return found


RULES = [
    # the engine finds object types through the registry and knows none of its users
    ("engine", ("objects", "api", "tui", "cli")),
    # api and tui both read and act through the engine, never through each other
    ("api", ("tui", "cli", "objects")),
    ("tui", ("api", "cli", "objects")),
    # the flow model (loading, validation, graph) knows nothing of the store or the runtime
    ("engine/model", ("engine.store", "engine.runtime", "sqlalchemy", "sqlmodel")),
    # the store keeps to data: no runtime, no effects
    ("engine/store", ("engine.runtime", "engine.mail", "engine.http")),
]


@pytest.mark.parametrize(("package", "forbidden"), RULES, ids=[r[0] for r in RULES])
def test_imports_run_one_way(package: str, forbidden: tuple[str, ...]) -> None:
    assert violations(package, forbidden) == []


def test_the_cli_imports_api_and_tui_only_inside_the_commands_that_need_them() -> None:
    """`sluis validate` must not pay for FastAPI or Textual."""
    assert violations("cli", ("api", "tui"), module_level_only=True) == []


def test_the_rules_see_a_violation(tmp_path: Path) -> None:
    """The reader finds imports at every depth, so a rule can fail."""
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from engine.store import Store\n"
        "def f():\n    import api.app\n"
    )
    assert [name for _, name in imports(module)] == ["typing", "engine.store", "api.app"]
    assert [name for _, name in imports(module, module_level_only=True)] == ["typing"]
