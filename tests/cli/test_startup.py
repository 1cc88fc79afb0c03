"""The command line starts without the heavy libraries it does not need (DESIGN.md section 9,
"Commands answer fast"): ``sluis --help`` loads no database, web, terminal-UI, HTTP, SSH or
template library, ``sluis validate`` no database, web or graph library, and ``sluis start``,
``run`` and ``replay`` on SQLite no ORM, no PostgreSQL dialect, no web or terminal-UI library
and, for flows without HTTP calls or schedules, no HTTP client and no cron library. The speed itself is measured in ``make
bench`` (scenarios ``cli`` and ``journeys``), not here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATABASE_WEB_UI = ("sqlalchemy", "sqlmodel", "alembic", "psycopg", "fastapi", "uvicorn", "textual")
NETWORK = ("httpx", "httpcore", "paramiko")

# Runs the command in-process, then prints its exit status and which of the named modules it
# loaded.
PROBE = """
import json, sys
watched = json.loads(sys.argv[1])
sys.argv = ["sluis", *json.loads(sys.argv[2])]
import cli
status = 0
try:
    cli.main()
except SystemExit as exit:
    status = exit.code or 0
print(json.dumps([status, sorted(name for name in watched if name in sys.modules)]))
"""


def loaded(
    args: list[str], watched: tuple[str, ...], env: dict[str, str] | None = None
) -> list[str]:
    """The modules of ``watched`` that ``sluis ARGS`` loaded; the command must succeed."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(watched), json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        env={**os.environ, **(env or {})},
    )
    status, found = json.loads(result.stdout.splitlines()[-1])
    assert status == 0, result.stderr
    return list(found)


def test_help_loads_none_of_the_heavy_libraries() -> None:
    watched = (*DATABASE_WEB_UI, *NETWORK, "jinja2", "networkx", "croniter", "pydantic")
    assert loaded(["--help"], watched) == []


def test_validate_loads_no_database_web_or_graph_library() -> None:
    watched = (*DATABASE_WEB_UI, *NETWORK, "networkx")
    assert loaded(["validate", "--project", "flows"], watched) == []


def test_the_probe_sees_what_a_command_loads() -> None:
    # schema builds every object type's settings: pydantic is surely loaded by then
    assert loaded(["schema"], ("pydantic", "sqlalchemy")) == ["pydantic"]


PROJECT = {
    "sluis.yaml": """timezone: UTC
profile: {first_name: str, country: str, newsletter: bool, segment: str}
mail: {from: "Shop <news@shop.example>"}
""",
    "flows/tagging.yaml": """objects:
  everyone: {type: selection, where: customer.newsletter == true, next: by-country}
  by-country:
    type: split
    branches: {dutch: customer.country == "NL"}
    next: {dutch: score, otherwise: score}
  score: {type: update, set: {segment: "{{ customer.country|lower }}-active"}, next: tag}
  tag: {type: group, add: [tagged], next: done}
  done: {type: end}
""",
    "flows/welcome.yaml": """objects:
  everyone: {type: selection, next: welcome}
  welcome:
    type: mail
    template: welcome.html
    subject: "Welcome, {{ customer.first_name }}"
    next: {sent: opened, skipped: done}
  opened: {type: wait-for, event: open, mail: welcome, within: 3d, next: {yes: done, no: done}}
  done: {type: end}
""",
    "templates/welcome.html": "<p>Welcome, {{ customer.first_name }}</p>",
    "customers.csv": "external_id,email,first_name,country,newsletter\n"
    "C1,c1@example.com,Ann,NL,true\nC2,c2@example.com,Bob,BE,true\n",
}
# what these commands on SQLite never need: the ORM (and SQLModel, once the tables' models),
# the PostgreSQL dialect, the migrations, the web server, the terminal UI; HTTP and SSH
# clients for flows that call no HTTP and read no SFTP, cron for flows without a schedule
UNUSED = (
    "sqlalchemy.orm",
    "sqlmodel",
    "sqlalchemy.dialects.postgresql",
    "psycopg",
    "alembic",
    "fastapi",
    "uvicorn",
    "textual",
    *NETWORK,
    "croniter",
)


def test_start_run_and_replay_on_sqlite_load_only_what_they_use(tmp_path: Path) -> None:
    for name, text in PROJECT.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    env = {"SLUIS_DATABASE_URL": f"sqlite:///{tmp_path / 'sluis.db'}"}
    project = ["--project", str(tmp_path)]
    customers = str(tmp_path / "customers.csv")
    start = ["start", "tagging", "--customers", customers, *project]
    assert loaded(start, (*UNUSED, "sqlalchemy"), env) == ["sqlalchemy"]
    assert loaded(["run", "--once", *project], UNUSED, env) == []
    replay = ["replay", "welcome", "--customers", customers, "--until", "7d", "--json", *project]
    assert loaded(replay, (*UNUSED, "jinja2"), env) == ["jinja2"]
