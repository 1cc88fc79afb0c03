"""The code never loads YAML unsafely and never evaluates text as Python."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGES = ("engine", "objects", "api", "tui")
ROOT = Path(__file__).resolve().parents[2]
SAFE_LOADERS = {"SafeLoader", "CSafeLoader", "_Loader"}


def _modules() -> list[Path]:
    return [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        base = func.value.id if isinstance(func.value, ast.Name) else ""
        return f"{base}.{func.attr}"
    return ""


def test_there_is_code_to_check() -> None:
    assert len(_modules()) > 20


def test_no_eval_exec_or_compile() -> None:
    offenders = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and _call_name(node) in (
                "eval",
                "exec",
                "compile",
                "builtins.eval",
                "builtins.exec",
                "ast.literal_eval",
            ):
                offenders.append(f"{path}:{node.lineno}")
    assert offenders == []


def test_yaml_is_only_loaded_safely() -> None:
    offenders = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = _call_name(node)
            if name in ("yaml.load", "yaml.load_all", "yaml.unsafe_load", "yaml.full_load"):
                loader = next((k.value for k in node.keywords if k.arg == "Loader"), None)
                if not (
                    isinstance(loader, ast.Attribute | ast.Name)
                    and getattr(loader, "attr", getattr(loader, "id", "")) in SAFE_LOADERS
                ):
                    offenders.append(f"{path}:{node.lineno}")
            if name in ("yaml.Loader", "yaml.UnsafeLoader", "yaml.FullLoader"):
                offenders.append(f"{path}:{node.lineno}")
    assert offenders == []


def test_the_checks_catch_offenders(tmp_path: Path) -> None:
    """The checks above can fail: they find calls planted in a sample."""
    sample = "import yaml\nyaml.load(text)\neval('1')\n"
    tree = ast.parse(sample)
    names = [_call_name(n) for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert "yaml.load" in names and "eval" in names
