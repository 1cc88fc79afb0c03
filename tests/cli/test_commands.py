"""The commands as a person runs them: exit statuses, output, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def sluis(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd or ROOT)},
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_init_makes_a_project_that_validates(tmp_path: Path) -> None:
    made = sluis("init", "demo", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    project = tmp_path / "demo"
    assert (project / "sluis.yaml").is_file()
    assert (project / "templates" / "welcome.html").is_file()
    checked = sluis("validate", cwd=project)
    assert checked.returncode == 0, checked.stderr
    assert "flow 'welcome'" in checked.stdout
    again = sluis("init", "demo", cwd=tmp_path)
    assert again.returncode == 2
    assert "already holds a sluis.yaml" in again.stderr


def test_validate_outside_a_project_says_how_to_fix(tmp_path: Path) -> None:
    result = sluis("validate", cwd=tmp_path)
    assert result.returncode == 2
    assert "run 'sluis init'" in result.stderr


def test_validate_reports_a_broken_flow_with_exit_2(tmp_path: Path) -> None:
    sluis("init", "p", cwd=tmp_path)
    flow = tmp_path / "p" / "flows" / "welcome.yaml"
    flow.write_text(flow.read_text().replace("next: welcome-mail", "next: welcom-mail"))
    result = sluis("validate", cwd=tmp_path / "p")
    assert result.returncode == 2
    assert (
        "flows/welcome.yaml:8:11: object 'new-subscribers': next 'welcom-mail' is not an"
        in result.stderr
    )
    assert "did you mean 'welcome-mail'?" in result.stderr


@pytest.mark.parametrize(
    ("fmt", "marker"),
    [("text", "└─"), ("mermaid", "flowchart TD"), ("dot", "digraph")],
)
def test_graph_formats(fmt: str, marker: str) -> None:
    result = sluis("graph", "weekly-export", "--format", fmt, "--project", str(ROOT / "flows"))
    assert result.returncode == 0, result.stderr
    assert marker in result.stdout
    assert "export" in result.stdout


def test_schema_is_json_schema_of_every_type() -> None:
    result = sluis("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    text = json.dumps(schema)
    for kind in ("selection", "wait-for", "http-request", "csv-trigger", "bucket"):
        assert f'"{kind}"' in text
    assert schema["$schema"].startswith("https://json-schema.org/")


def test_example_flows_validate() -> None:
    result = sluis("validate", "--project", str(ROOT / "flows"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("ok ") == 4


def test_start_by_hand_run_and_explain(tmp_path: Path) -> None:
    sluis("init", "p", cwd=tmp_path)
    project = tmp_path / "p"
    (project / "flows" / "tagging.yaml").write_text(
        "objects:\n"
        '  sel: {type: selection, where: customer.country == "NL", next: tag}\n'
        "  tag: {type: group, add: [dutch]}\n"
    )
    (project / "people.csv").write_text("external_id,email,country\nC1,c1@example.com,BE\n")
    started = sluis("start", "tagging", "--customers", "people.csv", cwd=project)
    assert started.returncode == 0, started.stderr
    assert "1 of 1 customer(s) entered at sel" in started.stdout
    ran = sluis("run", "--once", cwd=project)
    assert ran.returncode == 0, ran.stderr
    explained = sluis("explain", "C1", cwd=project)
    assert explained.returncode == 0, explained.stderr
    assert "started by hand" in explained.stdout
    assert "added to dutch" in explained.stdout
    missing = sluis("explain", "nobody", cwd=project)
    assert missing.returncode == 2
    assert "no customer 'nobody'" in missing.stderr


def test_start_where_with_a_bad_expression(tmp_path: Path) -> None:
    sluis("init", "p", cwd=tmp_path)
    result = sluis("start", "welcome", "--where", "customer.country ==", cwd=tmp_path / "p")
    assert result.returncode == 2
    assert "--where" in result.stderr
