"""The generated projects of ``sluis integrate NAME`` run end to end against the vendor
stand-ins (tests/vendors): the flows as written, only their vendor addresses pointed at
127.0.0.1. ``Shop`` drives one such project: the real runtime on a virtual clock (starting
now, so vendors' signed timestamps agree), the production HTTP client, and the real ASGI app
for webhooks."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from cli.integrate import integrate
from engine.http.client import HttpClient
from engine.http.oauth import forget_tokens
from engine.model.flow import load_flows
from engine.model.project import Project
from engine.runtime.clock import VirtualClock
from engine.runtime.explain import journeys_of
from engine.runtime.runner import Runtime
from engine.sdk.effects import Effects
from engine.store import Store
from engine.store.customers import find_ids
from engine.store.models import CUSTOMERS

STARTER = "timezone: UTC\n"


class Shop:
    def __init__(self, root: Path, store_for: Callable[[Project], Store]) -> None:
        self.root = root
        self.project = Project.load(root)
        flows, problems = load_flows(self.project)
        assert not problems, problems
        self.flows = {f.name: f for f in flows}
        self.store = store_for(self.project)
        self.clock = VirtualClock(datetime.now(UTC).replace(microsecond=0))
        self.client = HttpClient.for_project(self.project, clock=self.clock)
        self.runtime = Runtime(self.store, flows, self.clock, Effects(http=self.client))
        self._app: Any = None

    def start(self, *names: str) -> None:
        for name in names:
            self.runtime.start(name)

    def run(self) -> None:
        self.runtime.fire_due()
        self.runtime.run_until_idle()

    def at(self, hour: int, minute: int) -> None:
        """Move the clock to the next HH:MM and run what is due."""
        now = self.clock.now()
        moment = now.replace(hour=hour, minute=minute, second=0)
        if moment <= now:
            moment += timedelta(days=1)
        self.clock.set(moment + timedelta(seconds=1))
        self.run()

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        from api.app import create_app

        if self._app is None:
            self._app = create_app(self.project, self.store, self.clock)

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self._app)
            async with httpx.AsyncClient(transport=transport, base_url="http://sluis") as c:
                return await c.post(path, content=body, headers=headers)

        answer = asyncio.run(go())
        self.run()  # the journeys the webhook started go on
        return answer

    def count(self, table: Any = CUSTOMERS) -> int:
        with self.store.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

    def customer(self, key: str, value: Any) -> dict[str, Any]:
        with self.store.db.read() as conn:
            [system_id] = find_ids(conn, key, [value]).values()
        return self.store.customers([system_id])[system_id]

    def steps(self, flow: str, object_id: str) -> dict[int, tuple[str | None, str]]:
        with self.store.db.read() as conn:
            views = journeys_of(conn, flow=flow)
        return {
            v.customer_id: (s.output, s.reason)
            for v in views
            for s in v.steps
            if s.object == object_id
        }

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def shop_for(
    tmp_path: Path, store_for: Callable[[Project], Store], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Shop]]:
    """Make a project with ``sluis integrate NAME``, point its vendor addresses (``urls``:
    text -> replacement in sluis.yaml and flows) at the stand-ins, set ``env``."""
    made: list[Shop] = []
    forget_tokens()

    def make(name: str, *, urls: dict[str, str], env: dict[str, str], people: str = "") -> Shop:
        root = tmp_path / name
        (root / "flows").mkdir(parents=True)
        (root / "sluis.yaml").write_text(STARTER + "http: {allow_private: true}\n" + people)
        integrate(name, dry_run=False, project=root)
        for path in [root / "sluis.yaml", *sorted((root / "flows").glob("*.yaml"))]:
            text = path.read_text()
            for old, new in urls.items():
                text = text.replace(old, new)
            path.write_text(text)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        shop = Shop(root, store_for)
        made.append(shop)
        return shop

    yield make
    for shop in made:
        shop.close()
    forget_tokens()


def only_path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)
