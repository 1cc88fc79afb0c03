"""Fixtures of the HTTP objects' tests (http-request, api): flows run by the real runtime
against a real HTTP server on 127.0.0.1 (the ``target`` fixture)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from http_target import ALLOW_PRIVATE, Campaign, flow_yaml

Make = Callable[..., Campaign]


@pytest.fixture
def campaign(make_project: Any, store_for: Any) -> Iterator[Make]:
    """Make a campaign: a flow that selects ``people`` into the object ``name`` (``obj``)."""
    made: list[Campaign] = []

    def make(
        obj: dict[str, Any],
        people: list[dict[str, Any]],
        *,
        name: str = "notify",
        settings: str = ALLOW_PRIVATE,
        batch_size: int | None = None,
    ) -> Campaign:
        project = make_project(settings, flows={name: flow_yaml(name, obj)})
        run = Campaign(project, store_for(project), name, people, batch_size=batch_size)
        made.append(run)
        return run

    yield make
    for run in made:
        run.close()
