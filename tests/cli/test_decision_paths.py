"""`sluis validate -v` and `sluis explain` say how each instant object decides its batches:
set-based (in the database) or per journey, and why."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from clirun import run_sluis

from engine.model.project import Project

SETTINGS = "timezone: UTC\nprofile: {first_name: str, country: str}\n"
MIX = """\
objects:
  hook: {type: webhook, endpoint: mix, next: by-country}
  by-country:
    type: split
    percent: {a: 50}
    next: {a: gold, otherwise: gold}
  gold: {type: filter, when: 'data.plan == "gold"', next: {out: mark}}
  mark: {type: update, set: {first_name: "{{ customer.first_name|title }}"}, next: tag}
  tag: {type: group, add: [seen], next: done}
  done: {type: end}
"""
DUTCH = """\
objects:
  everyone: {type: selection, next: nl}
  nl: {type: filter, when: customer.country == "NL", next: {out: mark}}
  mark: {type: update, set: {first_name: "{{ customer.first_name|upper }}"}, next: greet}
  greet: {type: update, set: {first_name: "{{ customer.first_name|title }}"}}
"""


def test_validate_verbose_names_each_instant_objects_path(
    make_project: Callable[..., Project],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = make_project(SETTINGS, {"mix": MIX})
    code, out, _ = run_sluis(monkeypatch, capsys, "validate", "-v", "--project", str(project.root))
    assert code == 0
    assert out.splitlines()[-5:] == [
        "   by-country: set-based",
        "   gold: per journey: 'data.plan == \"gold\"' reads data.plan, the journey's entry data",
        "   mark: per journey: the value of 'first_name' is a template the database cannot "
        "render (it renders text, customer fields and their |lower or |upper)",
        "   tag: set-based",
        "   done: set-based",
    ]
    code, quiet, _ = run_sluis(monkeypatch, capsys, "validate", "--project", str(project.root))
    assert code == 0 and "set-based" in out and "set-based" not in quiet


def test_explain_says_how_the_objects_a_journey_passed_decided(
    make_project: Callable[..., Project],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = make_project(SETTINGS, {"dutch": DUTCH})
    root = str(project.root)
    (project.root / "people.csv").write_text(
        "external_id,email,first_name,country\nC1,c1@example.com,ann,NL\nC2,c2@example.com,bo,BE\n"
    )
    code, _, err = run_sluis(
        monkeypatch,
        capsys,
        "start",
        "dutch",
        "--customers",
        f"{root}/people.csv",
        "--project",
        root,
    )
    assert code == 0, err
    assert run_sluis(monkeypatch, capsys, "run", "--once", "--project", root)[0] == 0
    code, out, _ = run_sluis(monkeypatch, capsys, "explain", "C1", "--project", root)
    assert code == 0
    paths = [line for line in out.splitlines() if line.startswith("  ") and ": " in line]
    assert paths == [
        "  nl: set-based",
        "  mark: set-based",
        "  greet: per journey: the value of 'first_name' is a template the database cannot "
        "render (it renders text, customer fields and their |lower or |upper)",
    ]
    code, out, _ = run_sluis(monkeypatch, capsys, "explain", "C2", "--project", root)
    assert [line for line in out.splitlines() if line.startswith("  nl")] == ["  nl: set-based"]
    assert "  mark:" not in out  # C2 never reached it
