"""``sluis integrate NAME``: each integration gives a project that validates; nothing is ever
overwritten (a diff and a refusal); ``--dry-run`` writes nothing."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli.integrate import NAMES
from engine.model.flow import load_flows
from engine.model.project import Project


@dataclass
class Ran:
    exit_code: int
    output: str


def _sluis(*args: str, cwd: Path) -> Ran:
    done = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": "200"},
    )
    assert "Traceback" not in done.stderr, done.stderr
    return Ran(done.returncode, done.stdout + done.stderr)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    result = _sluis("init", "shop", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    return tmp_path / "shop"


def _integrate(root: Path, *args: str) -> Ran:
    return _sluis("integrate", *args, cwd=root)


@pytest.mark.parametrize("name", NAMES)
def test_each_integration_writes_a_project_that_validates(project: Path, name: str) -> None:
    result = _integrate(project, name)
    assert result.exit_code == 0, result.output
    loaded = Project.load(project)
    flows, problems = load_flows(loaded)
    assert not problems, problems
    assert len(flows) >= 2
    readme = (project / "README.md").read_text()
    assert readme.count("## ") == 1 and "sluis start" in readme
    settings = (project / "sluis.yaml").read_text()
    assert "# customer fields besides the built-ins" in settings  # comments kept
    again = _integrate(project, name)  # a second run changes nothing
    assert again.exit_code == 0 and "already there" in again.output
    assert (project / "README.md").read_text() == readme


def test_all_five_fit_in_one_project(project: Path) -> None:
    for name in NAMES:
        result = _integrate(project, name)
        assert result.exit_code == 0, result.output
    _, problems = load_flows(Project.load(project))
    assert not problems


def test_a_changed_flow_is_never_overwritten(project: Path) -> None:
    assert _integrate(project, "hubspot").exit_code == 0
    push = project / "flows" / "hubspot-push.yaml"
    push.write_text(push.read_text().replace("batch: 100", "batch: 50"))
    before = push.read_text()
    settings = (project / "sluis.yaml").read_text()
    result = _integrate(project, "hubspot")
    assert result.exit_code == 2
    assert "-    batch: 50" in result.output and "+    batch: 100" in result.output
    assert push.read_text() == before and (project / "sluis.yaml").read_text() == settings


def test_a_conflicting_setting_refuses_before_writing(project: Path) -> None:
    settings = project / "sluis.yaml"
    settings.write_text(settings.read_text().replace("newsletter: bool", "newsletter: str"))
    result = _integrate(project, "magento2")
    assert result.exit_code == 2
    assert "profile.newsletter" in result.output
    assert not (project / "flows" / "magento-customers.yaml").exists()


def test_dry_run_writes_nothing(project: Path) -> None:
    settings = (project / "sluis.yaml").read_text()
    result = _integrate(project, "salesforce", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "+    type: oauth2" in result.output
    assert "would write flows/salesforce-push.yaml" in result.output
    assert (project / "sluis.yaml").read_text() == settings
    assert not (project / "flows" / "salesforce-push.yaml").exists()


def test_an_unknown_name_says_the_choices(project: Path) -> None:
    result = _integrate(project, "shopfy")
    assert result.exit_code == 2
    assert "did you mean 'shopify'" in result.output
