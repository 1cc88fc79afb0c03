"""Move engine modules into the subpackages of the layout (issue 19) and rewrite every import.

Safe to run again on a tree that mixes old and new names (a merged branch): it only rewrites
names of the old layout. ``python tools/relayout.py [--move]``: without --move only rewrites.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# old module -> new module
MOVES = {
    "engine.yamlsrc": "engine.model.yamlsrc",
    "engine.validation": "engine.model.validation",
    "engine.project": "engine.model.project",
    "engine.flow": "engine.model.flow",
    "engine.registry": "engine.model.registry",
    "engine.graphdraw": "engine.model.graphdraw",
    "engine.expressions": "engine.model.expressions",
    "engine.templates": "engine.model.templates",
    "engine.durations": "engine.model.durations",
    "engine.schedule": "engine.model.schedule",
    "engine.locations": "engine.model.locations",
    "engine.fields": "engine.model.fields",
    "engine.settings": "engine.model.settings",
    "engine.campaign": "engine.sdk.campaign",
    "engine.batch": "engine.sdk.batch",
    "engine.context": "engine.sdk.context",
    "engine.effects": "engine.sdk.effects",
    "engine.runtime": "engine.runtime.runner",
    "engine.passage": "engine.runtime.passage",
    "engine.clock": "engine.runtime.clock",
    "engine.worker": "engine.runtime.worker",
    "engine.replay": "engine.runtime.replay",
    "engine.production": "engine.runtime.production",
    "engine.explain": "engine.runtime.explain",
    "engine.monitor": "engine.runtime.monitor",
    "engine.status": "engine.runtime.status",
    "engine.payload": "engine.webhooks.payload",
    "engine.webhooks": "engine.webhooks.receive",
    "engine.imports": "engine.files.imports",
    "engine.exports": "engine.files.exports",
    "engine.customers_csv": "engine.files.customers_csv",
    "engine.demo": "cli.demo",
    "engine.paths": "cli.paths",
    "engine.cli": "cli",
    "engine.store.sizes": "engine.model.sizes",
}
NEW_PACKAGES = ("engine/model", "engine/sdk", "engine/runtime", "engine/webhooks")


def _pattern(old: str) -> re.Pattern[str]:
    # an old name that is now a package keeps every submodule of it untouched
    is_package = any(n.startswith(old + ".") for n in MOVES.values())
    guard = r"(?!\.[a-z_]| import [a-z_])" if is_package else ""
    return re.compile(rf"(?<![\w.]){re.escape(old)}\b{guard}")


PATTERNS = [(_pattern(old), new) for old, new in MOVES.items()]


def rewrite(text: str) -> str:
    for pattern, new in PATTERNS:
        text = pattern.sub(new, text)
    return text


def move() -> None:
    for pkg in NEW_PACKAGES:
        (ROOT / pkg).mkdir(exist_ok=True)
    # engine.runtime and engine.webhooks become packages: move their files out of the way first
    for old in ("engine.runtime", "engine.webhooks"):
        src = ROOT / (old.replace(".", "/") + ".py")
        if src.exists():
            subprocess.run(["git", "mv", str(src), str(src) + ".moving"], check=True, cwd=ROOT)
    for pkg in NEW_PACKAGES:
        init = ROOT / pkg / "__init__.py"
        if not init.exists():
            init.write_text("")
    for old, new in MOVES.items():
        if old == "engine.cli":
            continue
        src = ROOT / (old.replace(".", "/") + ".py")
        if not src.exists():
            src = Path(str(src) + ".moving")
        dst = ROOT / (new.replace(".", "/") + ".py")
        dst.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "mv", str(src), str(dst)], check=True, cwd=ROOT)
    subprocess.run(["git", "mv", "engine/cli", "cli"], check=True, cwd=ROOT)
    subprocess.run(["git", "mv", "cli/demo.py", "cli/demo.py"], check=False, cwd=ROOT)


def main() -> None:
    if "--move" in sys.argv:
        move()
    files = subprocess.run(
        ["git", "ls-files", "*.py", "*.toml", "*.md", "Makefile", "*.cfg", "*.ini", ".ci/run"],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.split()
    for name in files:
        path = ROOT / name
        if not path.exists() or name in ("tools/relayout.py", "tests/test_import_directions.py"):
            continue
        text = path.read_text()
        new = rewrite(text)
        if new != text:
            path.write_text(new)


if __name__ == "__main__":
    main()
