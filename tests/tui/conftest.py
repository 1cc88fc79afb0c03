"""Fixtures of the TUI tests: the example project, a small seeded SQLite store with fixed data,
a fixed clock, and step mode on a replay of the welcome flow."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from engine.model.flow import find_flow
from engine.model.project import Project
from engine.runtime.clock import VirtualClock
from engine.runtime.replay import Replay
from engine.store import Database, Store
from engine.store.customers import upsert_customers
from engine.store.models import EVENTS, FLOW_STATES, JOURNEYS, STEPS

EXAMPLES = Path(__file__).resolve().parents[2] / "flows"
NOW = datetime(2026, 1, 6, 12, 0, tzinfo=UTC)
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (Textual's Pilot) run on asyncio, through anyio's pytest plugin."""
    return "asyncio"


@pytest.fixture
def example_project() -> Project:
    return Project.load(EXAMPLES)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(NOW)


def _at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


class Seeder:
    """Writes journeys with their steps and events the way the runtime leaves them."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.ids: dict[str, int] = {}

    def customers(self, rows: list[dict[str, Any]]) -> None:
        with self.store.db.write() as conn:
            made = upsert_customers(
                conn, rows, key="external_id", project=self.store.project, now=START
            )
        for row, (system_id, _) in zip(rows, made, strict=True):
            self.ids[row["external_id"]] = system_id

    def journey(
        self,
        flow: str,
        customer: str,
        steps: list[tuple[str, str | None, str]],
        *,
        at: str | None = None,
        state: str = "finished",
        ready_at: datetime | None = None,
        wake_on: str | None = None,
        events: list[tuple[str, str, dict[str, Any]]] = (),  # type: ignore[assignment]
    ) -> None:
        """A journey that took ``steps`` (object, output, reason), an hour apart, and now
        waits ``at`` an object (state active) or ended (finished or failed)."""
        customer_id = self.ids[customer]
        with self.store.db.write() as conn:
            journey_id = conn.execute(
                insert(JOURNEYS)
                .values(
                    flow=flow,
                    customer_id=customer_id,
                    object=at or steps[-1][0],
                    state=state,
                    ready_at=ready_at,
                    wake_on=wake_on,
                    entered_at=START,
                    arrived_at=_at(len(steps) - 1),
                    via=steps[0][0],
                    data={},
                )
                .returning(JOURNEYS.c.id)
            ).scalar_one()
            for hour, (oid, output, reason) in enumerate(steps):
                conn.execute(
                    insert(STEPS).values(
                        journey_id=journey_id,
                        flow=flow,
                        object=oid,
                        at=_at(hour),
                        output=output,
                        reason=reason,
                    )
                )
            for hour, (kind, oid, data) in enumerate(events):
                conn.execute(
                    insert(EVENTS).values(
                        kind=kind,
                        at=_at(hour + 0.5),
                        customer_id=customer_id,
                        flow=flow,
                        object=oid,
                        journey_id=journey_id,
                        data=data,
                    )
                )

    def started(self, flow: str, started: bool = True) -> None:
        with self.store.db.write() as conn:
            conn.execute(insert(FLOW_STATES).values(flow=flow, started=started, changed_at=START))


def seed(store: Store, waiting: int = 2) -> Seeder:
    """The welcome and order-confirmation flows with a handful of customers: finished,
    waiting (``waiting`` of them at 'opened'), skipped and failed."""
    seeder = Seeder(store)
    people = [f"C{n:03d}" for n in range(1, 5 + waiting)]
    seeder.customers(
        [{"external_id": p, "email": f"{p.lower()}@example.com", "first_name": p} for p in people]
    )
    welcome = [("new-subscribers", "out", "selected"), ("welcome-mail", "sent", "sent")]
    sent = [("sent", "welcome-mail", {})]
    seeder.journey(
        "welcome",
        "C001",
        [*welcome, ("opened", "yes", "opened within 3d")],
        events=[*sent, ("open", "welcome-mail", {})],
    )
    seeder.journey(
        "welcome",
        "C002",
        [*welcome, ("opened", "no", "no open within 3d"), ("reminder", "sent", "sent")],
        events=[*sent, ("sent", "reminder", {})],
    )
    seeder.journey(
        "welcome",
        "C003",
        [welcome[0], ("welcome-mail", "skipped", "skipped: unsubscribed"), ("end", None, "end")],
    )
    seeder.journey(
        "welcome",
        "C004",
        [welcome[0], ("welcome-mail", None, "failed: SMTP 550 mailbox unavailable")],
        state="failed",
        events=[("failed", "welcome-mail", {"reason": "failed: SMTP 550 mailbox unavailable"})],
    )
    for person in people[4:]:
        seeder.journey(
            "welcome",
            person,
            welcome,
            at="opened",
            state="active",
            ready_at=START + timedelta(days=3, hours=1),
            wake_on="open",
            events=sent,
        )
    order = [
        ("order-placed", "out", "webhook orders"),
        ("paid", "out", 'data.order.status == "paid" was true'),
        ("confirmation", "sent", "sent"),
    ]
    seeder.journey(
        "order-confirmation",
        "C001",
        order,
        at="wait-a-week",
        state="active",
        ready_at=START + timedelta(days=7, hours=1),
    )
    seeder.started("welcome")
    seeder.started("order-confirmation", False)
    return seeder


@pytest.fixture
def seeded_store(tmp_path: Path, example_project: Project) -> Iterator[Store]:
    store = Store(Database(f"sqlite:///{tmp_path / 'seeded.db'}"), example_project)
    seed(store)
    yield store
    store.db.dispose()


@pytest.fixture
def crowded_store(tmp_path: Path, example_project: Project) -> Iterator[Store]:
    """As the seeded store, with 25 customers waiting at 'opened' (three pages)."""
    store = Store(Database(f"sqlite:///{tmp_path / 'crowded.db'}"), example_project)
    seed(store, waiting=25)
    yield store
    store.db.dispose()


@pytest.fixture
def empty_store(tmp_path: Path, example_project: Project) -> Iterator[Store]:
    store = Store(Database(f"sqlite:///{tmp_path / 'empty.db'}"), example_project)
    yield store
    store.db.dispose()


CUSTOMERS_CSV = """external_id,email,first_name,newsletter,country
C001,c001@example.com,Ann,true,NL
C002,c002@example.com,Bob,true,BE
C003,c003@example.com,Cas,true,NL
C004,c004@example.com,Dee,false,DE
"""
EVENTS_CSV = """customer,event,at,mail
C001,open,2026-01-06T10:00:00+00:00,welcome-mail
"""


@pytest.fixture
def welcome_replay(tmp_path: Path, example_project: Project) -> Iterator[Replay]:
    """A replay of the welcome flow: three subscribers (one opens), from 2026-01-05 09:00."""
    customers = tmp_path / "customers.csv"
    customers.write_text(CUSTOMERS_CSV)
    events = tmp_path / "events.csv"
    events.write_text(EVENTS_CSV)
    replay = Replay(
        example_project,
        find_flow(example_project, "welcome"),
        customers,
        events=events,
        start=START,
        until=timedelta(days=10),
    )
    yield replay
    replay.close()
