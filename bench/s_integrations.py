"""The standard integrations at scale, each beside a plain script (httpx and sqlite3) making
the same calls and storing the same in the same run, against the vendor stand-ins of the tests
(in their own process):

- HubSpot push: the flow of ``sluis integrate hubspot`` upserting 100,000 contacts, 100 a
  call (batch body, items read per contact, ``hubspot_id`` saved), through the runtime on
  SQLite; the floor reads the same customers, posts the same 1,000 batches one after another
  and saves each batch's ids in the profiles (json_set).
- Magento pull: the ``magento-orders`` flow of ``sluis integrate magento2`` pulling 100,000
  orders, 100 a page (searchCriteria, total_count), into the ``orders`` collection and their
  150,000 line items into ``order_lines`` on SQLite in one transaction; the floor GETs the
  same 1,000 pages and upserts the same records, typed as the collections type them, linked to
  their customers by email, in one transaction.

Each floor writes a database of its own made as the engine's is (same schema, same customers),
and what the two store is compared: the saved ids, and every record (key, customer, data,
times). Peak memory is this process's maximum resident size after the runs (ru_maxrss),
before the comparing; the floors hold a page at a time.
"""

from __future__ import annotations

import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
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


def _seeded(folder: Path, name: str, env: dict[str, str], urls: dict[str, str], rows: Any) -> Any:
    """A project of the integration with its store and the customers of ``rows`` (a list of
    chunks), loaded before anything is measured; the engine's and the floor's are made alike."""
    from engine.store import Store
    from engine.store.customers import upsert_customers

    project = _project(folder, name, env, urls)
    store = Store.open(project)
    for chunk in rows:
        with store.db.write() as conn:
            upsert_customers(conn, chunk, key="external_id", project=project, now=NOW)
    return project, store


def _sqlite_path(store: Any) -> str:
    path = store.db.engine.url.database
    assert path, "the integration benchmarks run on SQLite"
    return str(path)


def _contacts(count: int) -> Iterator[list[dict[str, str]]]:
    for first in range(0, count, 10_000):
        yield [
            {"external_id": f"E{i}", "email": f"e{i}@example.com", "first_name": f"A{i}"}
            for i in range(first, min(first + 10_000, count))
        ]


HUBSPOT_ENV = {"HUBSPOT_PRIVATE_APP_TOKEN": "pat-bench", "HUBSPOT_CLIENT_SECRET": "x"}
MAGENTO_ENV = {"MAGENTO_ACCESS_TOKEN": "magento-bench"}


def _hubspot_engine(folder: Path, url: str, count: int) -> tuple[float, str]:
    urls = {"https://api.hubapi.com": url}
    project, store = _seeded(folder, "hubspot", HUBSPOT_ENV, urls, _contacts(count))
    store.db.dispose()
    runtime, store, client = _runtime(project, "hubspot-push")
    runtime.start("hubspot-push")
    runtime.clock.advance(timedelta(hours=1, minutes=31))  # 02:31: the nightly selection
    start = time.perf_counter()
    runtime.fire_due()
    runtime.run_until_idle()
    seconds = time.perf_counter() - start
    client.close()
    store.db.dispose()
    return seconds, _sqlite_path(store)


def _hubspot_floor(folder: Path, url: str, count: int) -> tuple[float, str]:
    """The customers with an email read 100 at a time, each 100 upserted in one call, and the
    ids of the answer saved in their profiles in the same statement per call."""
    urls = {"https://api.hubapi.com": url}
    _, store = _seeded(folder, "hubspot", HUBSPOT_ENV, urls, _contacts(count))
    path = _sqlite_path(store)
    store.db.dispose()
    at = (NOW + timedelta(hours=1, minutes=31)).isoformat(timespec="microseconds")
    save = (
        "UPDATE customers SET profile = json_set(profile, '$.hubspot_id', ?), updated_at = ? "
        "WHERE system_id = ?"
    )
    start = time.perf_counter()
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=NORMAL")
    found = db.execute(
        "SELECT system_id, email, json_extract(profile, '$.first_name'), "
        "json_extract(profile, '$.last_name') FROM customers WHERE email IS NOT NULL "
        "ORDER BY system_id"
    )
    saved = 0
    with httpx.Client(headers={"Authorization": "Bearer pat-bench"}) as client:
        while chunk := found.fetchmany(100):
            inputs = [
                {
                    "idProperty": "email",
                    "id": email,
                    "properties": {
                        "email": email,
                        "firstname": first or "",
                        "lastname": last or "",
                    },
                }
                for _, email, first, last in chunk
            ]
            answer = client.post(
                f"{url}/crm/v3/objects/contacts/batch/upsert",
                content=json.dumps({"inputs": inputs}).encode(),
                headers={"Content-Type": "application/json"},
            )
            assert answer.status_code == 200
            ids = {r["properties"]["email"]: r["id"] for r in answer.json()["results"]}
            with db:
                db.executemany(save, [(ids[email.lower()], at, sid) for sid, email, _, _ in chunk])
            saved += len(chunk)
    db.close()
    assert saved == count
    return time.perf_counter() - start, path


def _saved_ids(path: str) -> dict[str, str]:
    with sqlite3.connect(path) as db:
        query = "SELECT email, json_extract(profile, '$.hubspot_id') FROM customers"
        return dict(db.execute(query).fetchall())


def _buyers(customers: int) -> list[list[dict[str, str]]]:
    return [
        [{"external_id": str(i), "email": f"m{i}@example.com"} for i in range(1, customers + 1)]
    ]


def _magento_engine(folder: Path, url: str, customers: int) -> tuple[float, str]:
    env = {**MAGENTO_ENV, "MAGENTO_BASE_URL": url}
    project, store = _seeded(folder, "magento2", env, {}, _buyers(customers))
    store.db.dispose()
    runtime, store, client = _runtime(project, "magento-orders")
    runtime.start("magento-orders")
    runtime.clock.advance(timedelta(minutes=16))
    start = time.perf_counter()
    runtime.fire_due()
    runtime.run_until_idle()
    seconds = time.perf_counter() - start
    client.close()
    store.db.dispose()
    return seconds, _sqlite_path(store)


UPSERT_RECORD = (
    "INSERT INTO records (collection, key, customer_id, data, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (collection, key) DO UPDATE SET "
    "customer_id = excluded.customer_id, data = excluded.data, "
    "created_at = excluded.created_at, updated_at = excluded.updated_at"
)


def _decimal(value: Any) -> str | None:
    return (
        None
        if value is None
        else str(Decimal(repr(value) if isinstance(value, float) else str(value)))
    )


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _magento_floor(folder: Path, url: str, customers: int) -> tuple[float, str]:
    """Every page of orders changed since 1970, each order typed as ``orders`` types it and
    its line items as ``order_lines`` do, linked to its customer by email (guest orders are
    left out), upserted page by page in one transaction."""
    env = {**MAGENTO_ENV, "MAGENTO_BASE_URL": url}
    _, store = _seeded(folder, "magento2", env, {}, _buyers(customers))
    path = _sqlite_path(store)
    store.db.dispose()
    at = (NOW + timedelta(minutes=16)).isoformat(timespec="microseconds")
    start = time.perf_counter()
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=NORMAL")
    owners = dict(db.execute("SELECT lower(email), system_id FROM customers"))
    read, page = 0, 1
    with httpx.Client(headers={"Authorization": "Bearer magento-bench"}) as client, db:
        while True:
            answer = client.get(
                f"{url}/rest/V1/orders",
                params={
                    f"{SC}[filterGroups][0][filters][0][field]": "updated_at",
                    f"{SC}[filterGroups][0][filters][0][value]": "1970-01-01 00:00:00",
                    f"{SC}[filterGroups][0][filters][0][conditionType]": "gt",
                    f"{SC}[sortOrders][0][field]": "updated_at",
                    f"{SC}[sortOrders][0][direction]": "ASC",
                    f"{SC}[pageSize]": "100",
                    f"{SC}[currentPage]": str(page),
                },
            )
            assert answer.status_code == 200
            found = answer.json()
            rows: list[tuple[Any, ...]] = []
            lines: list[tuple[Any, ...]] = []
            for order in found["items"]:
                owner = owners.get(str(order["customer_email"]).lower())
                if owner is None:
                    continue
                created = _utc(order["created_at"])
                key = str(order["entity_id"])
                data = {
                    "order_id": key,
                    "number": str(order["increment_id"]),
                    "total": _decimal(order["grand_total"]),
                    "currency": order.get("order_currency_code") or None,
                    "status": order["status"] or None,
                    "created_at": created.isoformat(),
                    "updated_at": _utc(order["updated_at"]).isoformat(),
                }
                stamp = created.isoformat(timespec="microseconds")
                rows.append(("orders", key, owner, json.dumps(data), stamp, at))
                for item in order["items"]:
                    line = {
                        "line_id": str(item["item_id"]),
                        "sku": item["sku"],
                        "name": item["name"],
                        "quantity": _decimal(item["qty_ordered"]),
                        "price": _decimal(item["price"]),
                        "row_total": _decimal(item["row_total"]),
                        "order_id": key,
                    }
                    lines.append(("order_lines", line["line_id"], owner, json.dumps(line), at, at))
            db.executemany(UPSERT_RECORD, rows)
            db.executemany(UPSERT_RECORD, lines)
            read += len(found["items"])
            if read >= found["total_count"] or not found["items"]:
                break
            page += 1
    db.close()
    return time.perf_counter() - start, path


def _records(path: str) -> dict[tuple[str, str], tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        query = "SELECT collection, key, customer_id, data, created_at, updated_at FROM records"
        return {
            (collection, key): (customer, json.loads(data), created, updated)
            for collection, key, customer, data, created, updated in db.execute(query)
        }


@scenario("integrations")
def integrations(scale: float) -> list[Result]:
    from engine.runtime.gctune import tune_collector

    tune_collector()  # as the sluis command does (the floors run in this process too)
    contacts = max(1000, int(100_000 * scale))
    orders = max(1000, int(100_000 * scale))
    with peers(orders, 500) as (hubspot, magento), tempfile.TemporaryDirectory() as tmp:
        push, pushed = _hubspot_engine(Path(tmp) / "hubspot", hubspot, contacts)
        push_base, pushed_base = _hubspot_floor(Path(tmp) / "hubspot-floor", hubspot, contacts)
        pull, pulled = _magento_engine(Path(tmp) / "magento", magento, 500)
        pull_base, pulled_base = _magento_floor(Path(tmp) / "magento-floor", magento, 500)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before comparing
        saved = _saved_ids(pushed)
        assert len(saved) == contacts and None not in saved.values()
        assert saved == _saved_ids(pushed_base), "the engine saved other ids than the floor"
        del saved
        stored = _records(pulled)
        kinds = [collection for collection, _ in stored]
        assert kinds.count("orders") == orders, kinds.count("orders")
        assert kinds.count("order_lines") == orders + orders // 2  # one or two lines an order
        assert stored == _records(pulled_base), "the engine stored other records than the floor"
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
