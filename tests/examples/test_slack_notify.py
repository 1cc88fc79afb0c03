"""The example third-party object (``examples/slack-notify``), installed by ``make install``
as its own package: a flow using it validates, replays with its HTTP call captured, and
``sluis schema`` knows its settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from http_target import ALLOW_PRIVATE, Campaign, customers, flow_yaml

ROOT = Path(__file__).resolve().parents[2]
FLOW = """\
description: Tell the team on Slack how many new customers came in.
objects:
  newcomers:
    type: selection
    where: customer.newsletter == true
    next: notify
  notify:
    type: slack-notify
    webhook_url: https://hooks.slack.example/services/T1/B2/C3
    text: "Newcomers in {{ flow }}"
    next: {ok: done}
  done:
    type: end
"""

pytest.importorskip("slack_notify", reason="make install installs examples/slack-notify")


def sluis(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT)},
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "flows").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "sluis.yaml").write_text("timezone: UTC\nprofile: {newsletter: bool}\n")
    (root / "flows" / "team.yaml").write_text(FLOW)
    (tmp_path / "customers.csv").write_text(
        "external_id,email,newsletter\nC1,c1@example.com,true\nC2,c2@example.com,true\n"
        "C3,c3@example.com,false\n"
    )
    return root


def test_a_flow_with_the_plugin_validates(project: Path) -> None:
    result = sluis("validate", "--project", str(project))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_setting_of_the_plugin_is_reported_like_any_other(project: Path) -> None:
    flow = project / "flows" / "team.yaml"
    flow.write_text(FLOW.replace("webhook_url:", "webhook_ur:"))
    result = sluis("validate", "--project", str(project))
    assert result.returncode == 2
    assert "team.yaml" in result.stdout + result.stderr
    assert "webhook_ur" in result.stdout + result.stderr


def test_replay_captures_one_post_per_batch(project: Path) -> None:
    result = sluis(
        "replay",
        "team",
        "--project",
        str(project),
        "--customers",
        str(project.parent / "customers.csv"),
        "--start",
        "2026-01-05T09:00:00+00:00",
        "--until",
        "1d",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["effects"]["http"] == [
        {
            "object": "notify",
            "method": "POST",
            "url": "https://hooks.slack.example/services/T1/B2/C3",
            "customers": ["C1", "C2"],
            "at": "2026-01-05T09:00:00+00:00",
        }
    ]
    steps = {j["customer"]: [s["output"] for s in j["steps"]] for j in document["journeys"]}
    assert steps == {"C1": ["out", "ok", None], "C2": ["out", "ok", None]}


def test_the_schema_includes_the_plugin() -> None:
    result = sluis("schema")
    assert result.returncode == 0
    text = result.stdout
    assert '"slack-notify"' in text and "webhook_url" in text


def test_one_message_per_batch_reaches_the_webhook(target, make_project, store_for) -> None:  # type: ignore[no-untyped-def]
    settings = {
        "type": "slack-notify",
        "webhook_url": target.url("/hook"),
        "text": "New in {{ flow }}",
    }
    project = make_project(ALLOW_PRIVATE, flows={"notify": flow_yaml("notify", settings)})
    run = Campaign(project, store_for(project), "notify", customers(3))
    try:
        run.run()
    finally:
        run.close()
    [call] = target.to("/hook")
    assert call.method == "POST" and call.json() == {"text": "New in notify: 3 customers"}
    assert set(run.steps("notify").values()) == {("ok", "ok: HTTP 200")}
