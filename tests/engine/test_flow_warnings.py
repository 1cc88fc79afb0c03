"""What would fail every journey at run time is found by validation: an unset ``${VAR}`` in a
flow (headers, webhook secrets) or in a connection it uses, and ``SLUIS_LINK_KEY`` for
``link_params``. They are warnings of ``sluis validate``, problems with ``--strict``, and
``sluis start`` refuses them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from clirun import run_sluis

from engine.model.flow import find_flow
from engine.model.project import Project

SETTINGS = """
database: sqlite:///sluis.db
timezone: Europe/Amsterdam
profile: {first_name: str}
connections:
  crm:
    type: sftp
    host: 127.0.0.1
    username: deploy
    password: ${SFTP_SECRET_X}
"""
FLOW = """
objects:
  hook:
    type: webhook
    endpoint: orders
    auth: {type: hmac-sha256, header: X-Sig, secret: "${HOOK_SECRET_X}"}
    next: call
  call:
    type: http-request
    url: https://crm.example.com/contacts
    headers: {Authorization: "Bearer ${CRM_TOKEN_X}"}
    next: {ok: mail}
  mail:
    type: mail
    template: hi.html
    subject: Hoi
    link_params: true
    next: {sent: out}
  out:
    type: export
    to: sftp://crm/out/x.csv
    columns: [external_id]
"""
VARIABLES = ("HOOK_SECRET_X", "CRM_TOKEN_X", "SFTP_SECRET_X", "SLUIS_LINK_KEY")


@pytest.fixture
def project(make_project: Callable[..., Project], monkeypatch: pytest.MonkeyPatch) -> Project:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    made = make_project(SETTINGS, {"shop": FLOW}, {"hi.html": "<p>Hoi</p>"})
    monkeypatch.chdir(made.root)
    return made


sluis = run_sluis


def test_every_gap_of_the_environment_is_a_warning_at_its_place(project: Project) -> None:
    flow = find_flow(project, "shop")
    found = [(w.line, w.column, w.message) for w in flow.warnings]
    assert found == [
        (
            6,
            54,
            "object 'hook': 'auth.secret': reads ${HOOK_SECRET_X}, but HOOK_SECRET_X is not set "
            "here; export HOOK_SECRET_X where sluis runs (every journey would fail without it)",
        ),
        (
            11,
            30,
            "object 'call': 'headers.Authorization': reads ${CRM_TOKEN_X}, but CRM_TOKEN_X is not "
            "set here; export CRM_TOKEN_X where sluis runs (every journey would fail without it)",
        ),
        (
            17,
            18,
            "object 'mail': link_params needs the key SLUIS_LINK_KEY, which is not set here; make "
            "one with 'sluis linkparam new-key' and export SLUIS_LINK_KEY (or remove link_params)",
        ),
        (
            21,
            9,
            "object 'out': connection 'crm' reads ${SFTP_SECRET_X} (password), but SFTP_SECRET_X "
            "is not set here; export SFTP_SECRET_X where sluis runs",
        ),
    ]


def test_set_variables_leave_no_warning(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.setenv(name, "x" * 44)
    assert find_flow(project, "shop").warnings == ()


def test_validate_warns_strict_refuses_and_start_refuses(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = sluis(monkeypatch, capsys, "validate")
    assert code == 0
    assert "ok flows/shop.yaml" in out
    assert "flows/shop.yaml:11:30: warning: object 'call': 'headers.Authorization': reads" in err
    assert err.count("warning:") == 4

    code, out, err = sluis(monkeypatch, capsys, "validate", "--strict")
    assert code == 2
    assert "flows/shop.yaml:11:30: object 'call'" in err
    assert "4 problems found" in err
    assert "Traceback" not in err

    code, out, err = sluis(monkeypatch, capsys, "start", "shop")
    assert code == 2
    assert "export CRM_TOKEN_X" in err
    assert "started" not in out

    for name in VARIABLES:
        monkeypatch.setenv(name, "x" * 44)
    code, out, err = sluis(monkeypatch, capsys, "validate", "--strict")
    assert (code, err) == (0, "")


def test_an_invalid_file_reports_its_warnings_with_its_errors(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every problem of a file at once: fixing its errors reveals no warning not shown."""
    broken = FLOW.replace("next: {sent: out}", "next: {sent: ot}")
    (project.flows_dir / "shop.yaml").write_text(broken)
    code, _, err = sluis(monkeypatch, capsys, "validate")
    assert code == 2
    assert "'ot' is not an object in this flow; did you mean 'out'?" in err
    assert err.count("warning:") == 4
    assert "flows/shop.yaml:17:18: warning: object 'mail': link_params needs the key" in err
    code, _, err = sluis(monkeypatch, capsys, "validate", "--strict")
    assert code == 2 and "5 problems found" in err
