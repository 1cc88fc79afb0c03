"""The command line starts without the heavy libraries it does not need (DESIGN.md section 9,
"Commands answer fast"): ``sluis --help`` loads no database, web, terminal-UI, HTTP, SSH or
template library, and ``sluis validate`` no database, web or graph library. The speed itself is
measured in ``make bench`` (scenario ``cli``), not here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATABASE_WEB_UI = ("sqlalchemy", "sqlmodel", "alembic", "psycopg", "fastapi", "uvicorn", "textual")
NETWORK = ("httpx", "httpcore", "paramiko")

# Runs the command in-process, then prints which of the named modules it loaded.
PROBE = """
import json, sys
watched = json.loads(sys.argv[1])
sys.argv = ["sluis", *json.loads(sys.argv[2])]
import cli
try:
    cli.main()
except SystemExit:
    pass
print(json.dumps(sorted(name for name in watched if name in sys.modules)))
"""


def loaded(args: list[str], watched: tuple[str, ...]) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(watched), json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    found: list[str] = json.loads(result.stdout.splitlines()[-1])
    return found


def test_help_loads_none_of_the_heavy_libraries() -> None:
    watched = (*DATABASE_WEB_UI, *NETWORK, "jinja2", "networkx", "croniter", "pydantic")
    assert loaded(["--help"], watched) == []


def test_validate_loads_no_database_web_or_graph_library() -> None:
    watched = (*DATABASE_WEB_UI, *NETWORK, "networkx")
    assert loaded(["validate", "--project", "flows"], watched) == []


def test_the_probe_sees_what_a_command_loads() -> None:
    # schema builds every object type's settings: pydantic is surely loaded by then
    assert loaded(["schema"], ("pydantic", "sqlalchemy")) == ["pydantic"]
