"""Two ``sluis serve`` processes on one PostgreSQL (issue 21, item 5): deliveries of one event
sent to both servers at the same moment each answer 200 (one stores, the other answers
``duplicate: true`` with the same ids), and first deliveries of one customer on a plain
endpoint (no event id) both answer 200 with one customer; exactly once, checked in the
database. The calls go in small waves, so each server mostly writes a call on its own: the
path that answered 409 before."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from api_helpers import FLOWS, SETTINGS, STARTED, order_payload
from served import prepare, serving
from sqlalchemy import text

from engine.model.project import Project
from engine.store import Store

EVENTS = 400
COPIES = 2  # deliveries of each event, one to each server at the same moment
WAVE = 2  # events per wave
PLAIN = """\
    reentry: always
    objects:
      hook:
        type: webhook
        endpoint: plain
        map: {id: external_id}
"""


async def _deliver(
    bases: list[str], token: str, calls: list[tuple[str, dict[str, object]]]
) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {token}"}
    answers: list[httpx.Response] = []
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
        for start in range(0, len(calls), WAVE * COPIES):
            wave = calls[start : start + WAVE * COPIES]
            answers += await asyncio.gather(
                *(client.post(f"{bases[n // 2 % 2]}{p}", json=b) for n, (p, b) in enumerate(wave))
            )
    return answers


@pytest.mark.postgres
def test_concurrent_redeliveries_over_two_servers_are_stored_once(
    make_project: Callable[..., Project],
    clean_postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOPIFY_SECRET", "shpss_test_secret")
    monkeypatch.setenv("STANDARD_SECRET", "whsec_c3RhbmRhcmQtd2ViaG9va3MtdGVzdC1rZXk=")
    project = make_project(SETTINGS, {**FLOWS, "plain": PLAIN})
    url = clean_postgres_url
    token = prepare(project, url, (*STARTED, "plain"))
    orders = [
        ("/webhooks/orders", order_payload(f"e{n}", customer=f"C{n % 100}", order=f"O{n}"))
        for n in range(EVENTS)
        for _ in range(COPIES)
    ]
    plain = [("/webhooks/plain", {"id": f"P{n}"}) for n in range(EVENTS) for _ in range(COPIES)]
    calls = [call for pair in zip(orders, plain, strict=True) for call in pair]
    with (
        serving(project.root, url, tmp_path / "one.log") as one,
        serving(project.root, url, tmp_path / "two.log") as two,
    ):
        answers = asyncio.run(_deliver([one, two], token, calls))

    wrong = [(a.status_code, a.text) for a in answers if a.status_code != 200]
    assert wrong == [], wrong[:5]
    journeys: dict[str, set[tuple[int, ...]]] = {}
    duplicates = 0
    for answer in answers:
        [item] = answer.json()["items"]
        if item["event_id"] is not None:
            journeys.setdefault(item["event_id"], set()).add(tuple(item["journeys"]))
            duplicates += item["duplicate"]
    assert len(journeys) == EVENTS
    assert all(len(ids) == 1 for ids in journeys.values())  # every copy answers the first's ids
    assert duplicates == EVENTS * (COPIES - 1)
    store = Store.open(project, url)
    with store.db.read() as conn:
        count = {
            name: conn.execute(text(query)).scalar_one()
            for name, query in {
                "deliveries": "SELECT count(*) FROM webhook_deliveries",
                "order journeys": "SELECT count(*) FROM journeys WHERE flow = 'orders'",
                "plain customers": "SELECT count(*) FROM customers WHERE external_id LIKE 'P%'",
                "plain journeys": "SELECT count(*) FROM journeys WHERE flow = 'plain'",
                "orders": "SELECT count(*) FROM records WHERE collection = 'orders'",
            }.items()
        }
    store.db.dispose()
    assert count == {
        "deliveries": EVENTS,
        "order journeys": EVENTS,
        "plain customers": EVENTS,
        "plain journeys": EVENTS * COPIES,
        "orders": EVENTS,
    }
