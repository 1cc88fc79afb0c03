"""Golden replays: each example flow, its customers and the expected ``sluis replay --json``
committed side by side; the replay must match field by field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from golden_replay import folders, replay


@pytest.mark.parametrize("folder", folders(), ids=lambda p: p.name)
def test_replay_matches_the_golden_file(folder: Path) -> None:
    expected = json.loads((folder / "expected.json").read_text())
    assert replay(folder) == expected


def test_every_example_flow_has_a_golden_replay() -> None:
    flows = {p.stem for p in (Path(__file__).parents[2] / "flows" / "flows").glob("*.yaml")}
    own = {p.name for p in folders() if "project" in json.loads((p / "args.json").read_text())}
    assert {p.name for p in folders()} - own == flows
