"""The standard integrations at scale, each beside a plain httpx script making the same calls
in the same run, against the vendor stand-ins of the tests (in their own process):

- HubSpot push: the flow of ``sluis integrate hubspot`` upserting 100,000 contacts, 100 a
  call (batch body, items read per contact, ``hubspot_id`` saved), through the runtime on
  SQLite; the baseline posts the same 1,000 batches one after another and reads the ids.
- Magento pull: the ``magento-orders`` flow of ``sluis integrate magento2`` pulling 100,000
  orders, 100 a page (searchCriteria, total_count), into the ``orders`` collection and their
  150,000 line items into ``order_lines`` on SQLite in one transaction; the baseline GETs the
  same 1,000 pages and parses them.

Peak memory is this process's maximum resident size after the engine's runs (ru_maxrss).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.harness import Result, scenario

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
SC = "searchCriteria"


@contextmanager
def peers(orders: int, customers: int) -> Iterator[tuple[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.vendor_peer", str(orders), str(customers)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        hubspot, magento = proc.stdout.readline().split()
        yield hubspot, magento
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=30)


def _project(folder: Path, name: str, env: dict[str, str], base_urls: dict[str, str]) -> Any:
    import os

    from cli.integrate import integrate
    from engine.model.project import Project

    (folder / "flows").mkdir(parents=True)
    (folder / "sluis.yaml").write_text("timezone: UTC\nhttp: {allow_private: true}\n")
    integrate(name, dry_run=False, project=folder)
    settings = folder / "sluis.yaml"
    text = settings.read_text()
    for old, new in base_urls.items():
        text = text.replace(old, new)
    settings.write_text(text)
    os.environ.update(env)
    return Project.load(folder)


def _runtime(project: Any, flow: str) -> tuple[Any, Any, Any]:
    from engine.http.client import HttpClient
    from engine.model.flow import load_flow
    from engine.runtime.clock import VirtualClock
    from engine.runtime.runner import Runtime
    from engine.sdk.effects import Effects
    from engine.store import Store

    store = Store.open(project)
    clock = VirtualClock(NOW)
    client = HttpClient.for_project(project, clock=clock)
    loaded = load_flow(project.flows_dir / f"{flow}.yaml", project)
    return Runtime(store, [loaded], clock, Effects(http=client)), store, client


def _hubspot_engine(folder: Path, url: str, count: int) -> float:
    from datetime import timedelta

    from engine.store.customers import upsert_customers

    project = _project(
        folder,
        "hubspot",
        {"HUBSPOT_PRIVATE_APP_TOKEN": "pat-bench", "HUBSPOT_CLIENT_SECRET": "x"},
        {"https://api.hubapi.com": url},
    )
    runtime, store, client = _runtime(project, "hubspot-push")
    for first in range(0, count, 10_000):  # the customers, loaded in chunks (not measured)
        rows = [
            {"external_id": f"E{i}", "email": f"e{i}@example.com", "first_name": f"A{i}"}
            for i in range(first, min(first + 10_000, count))
        ]
        with store.db.write() as conn:
            upsert_customers(conn, rows, key="external_id", project=project, now=NOW)
    runtime.start("hubspot-push")
    runtime.clock.advance(timedelta(hours=1, minutes=31))  # 02:31: the nightly selection
    start = time.perf_counter()
    runtime.fire_due()
    runtime.run_until_idle()
    seconds = time.perf_counter() - start
    with store.db.read() as conn:
        from sqlalchemy import func, select

        from engine.store.customers import CUSTOMERS

        saved = conn.execute(
            select(func.count()).select_from(CUSTOMERS).where(CUSTOMERS.c.profile.isnot(None))
        ).scalar_one()
    assert saved == count
    client.close()
    store.db.dispose()
    return seconds


def _hubspot_baseline(url: str, count: int) -> float:
    start = time.perf_counter()
    with httpx.Client(headers={"Authorization": "Bearer pat-bench"}) as client:
        ids = {}
        for first in range(0, count, 100):
            inputs = [
                {
                    "idProperty": "email",
                    "id": f"e{i}@example.com",
                    "properties": {
                        "email": f"e{i}@example.com",
                        "firstname": f"A{i}",
                        "lastname": "",
                    },
                }
                for i in range(first, min(first + 100, count))
            ]
            answer = client.post(
                f"{url}/crm/v3/objects/contacts/batch/upsert",
                content=json.dumps({"inputs": inputs}).encode(),
                headers={"Content-Type": "application/json"},
            )
            assert answer.status_code == 200
            for result in answer.json()["results"]:
                ids[result["properties"]["email"]] = result["id"]
    assert len(ids) == count
    return time.perf_counter() - start


def _magento_engine(folder: Path, url: str, orders: int, customers: int) -> float:
    from datetime import timedelta

    from sqlalchemy import func, select

    from engine.store.customers import upsert_customers
    from engine.store.records import RECORDS

    project = _project(
        folder,
        "magento2",
        {"MAGENTO_BASE_URL": url, "MAGENTO_ACCESS_TOKEN": "magento-bench"},
        {},
    )
    runtime, store, client = _runtime(project, "magento-orders")
    rows = [{"external_id": str(i), "email": f"m{i}@example.com"} for i in range(1, customers + 1)]
    with store.db.write() as conn:
        upsert_customers(conn, rows, key="external_id", project=project, now=NOW)
    runtime.start("magento-orders")
    runtime.clock.advance(timedelta(minutes=16))
    start = time.perf_counter()
    runtime.fire_due()
    runtime.run_until_idle()
    seconds = time.perf_counter() - start
    with store.db.read() as conn:
        count = select(func.count()).select_from(RECORDS)
        stored = conn.execute(count.where(RECORDS.c.collection == "orders")).scalar_one()
        lines = conn.execute(count.where(RECORDS.c.collection == "order_lines")).scalar_one()
    assert stored == orders, stored
    assert lines == orders + orders // 2, lines  # one or two line items an order
    client.close()
    store.db.dispose()
    return seconds


def _magento_baseline(url: str, orders: int) -> float:
    start = time.perf_counter()
    read, page = 0, 1
    with httpx.Client(headers={"Authorization": "Bearer magento-bench"}) as client:
        while True:
            answer = client.get(
                f"{url}/rest/V1/orders",
                params={
                    f"{SC}[filterGroups][0][filters][0][field]": "updated_at",
                    f"{SC}[filterGroups][0][filters][0][value]": "1970-01-01 00:00:00",
                    f"{SC}[filterGroups][0][filters][0][conditionType]": "gt",
                    f"{SC}[pageSize]": "100",
                    f"{SC}[currentPage]": str(page),
                },
            )
            found = answer.json()
            read += len(found["items"])
            if read >= found["total_count"] or not found["items"]:
                break
            page += 1
    assert read == orders
    return time.perf_counter() - start


@scenario("integrations")
def integrations(scale: float) -> list[Result]:
    contacts = max(1000, int(100_000 * scale))
    orders = max(1000, int(100_000 * scale))
    with peers(orders, 500) as (hubspot, magento), tempfile.TemporaryDirectory() as tmp:
        push = _hubspot_engine(Path(tmp) / "hubspot", hubspot, contacts)
        push_base = _hubspot_baseline(hubspot, contacts)
        pull = _magento_engine(Path(tmp) / "magento", magento, orders, 500)
        pull_base = _magento_baseline(magento, orders)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return [
        Result(
            "hubspot push",
            "contacts/s",
            contacts / push,
            contacts / push_base,
            target="<= 1.5x, peak < 200 MB",
            notes={
                "calls": str(contacts // 100),
                "engine_s": f"{push:.1f}",
                "baseline_s": f"{push_base:.1f}",
                "peak_mb": f"{peak_mb:.0f}",
            },
        ),
        Result(
            "magento pull",
            "orders/s",
            orders / pull,
            orders / pull_base,
            target="<= 1.5x, peak < 200 MB",
            notes={
                "pages": str(orders // 100),
                "engine_s": f"{pull:.1f}",
                "baseline_s": f"{pull_base:.1f}",
                "peak_mb": f"{peak_mb:.0f}",
            },
        ),
    ]
