"""Every flow ``sluis integrate`` writes replays: nothing is sent (replay captures the calls,
the token requests of oauth2 connections too), and the journeys end where the flow says."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cli.integrate import NAMES, integrate
from engine.model.flow import load_flows
from engine.model.project import Project
from engine.runtime.replay import Replay

ENV = {
    "SHOPIFY_SHOP": "shop",
    "SHOPIFY_ACCESS_TOKEN": "t",
    "SHOPIFY_WEBHOOK_SECRET": "s",
    "MAGENTO_BASE_URL": "https://magento.example",
    "MAGENTO_ACCESS_TOKEN": "t",
    "HUBSPOT_PRIVATE_APP_TOKEN": "t",
    "HUBSPOT_CLIENT_SECRET": "s",
    "SALESFORCE_DOMAIN": "https://sf.example",
    "SALESFORCE_CLIENT_ID": "i",
    "SALESFORCE_CLIENT_SECRET": "s",
    "SQUEEZELY_ACCOUNT": "a",
    "SQUEEZELY_API_KEY": "k",
}


@pytest.mark.parametrize("name", NAMES)
def test_the_generated_flows_replay(name: str, tmp_path: Path, monkeypatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    root = tmp_path / name
    (root / "flows").mkdir(parents=True)
    (root / "sluis.yaml").write_text("timezone: UTC\n")
    integrate(name, dry_run=False, project=root)
    project = Project.load(root)
    flows, problems = load_flows(project)
    assert not problems
    people = tmp_path / "people.csv"
    people.write_text(
        "external_id,email,first_name,last_name\nC1,c1@example.com,Ann,Smit\n"
        "C2,c2@example.com,Bo,Jansen\n"
    )
    for flow in flows:
        replay = Replay(project, flow, people, until=timedelta(days=2))
        try:
            replay.run()
            document = replay.document()
        finally:
            replay.close()
        for journey in document["journeys"]:
            last = journey["steps"][-1]
            assert not str(last["reason"]).startswith("failed"), (flow.name, last)
        if flow.name in ("hubspot-push", "salesforce-push", "squeezely-profiles"):
            assert document["effects"]["http"], flow.name
