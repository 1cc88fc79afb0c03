"""``sluis demo``: the example project in a folder of its own, with generated customers, run end
to end on SQLite: two simulated weeks on a virtual clock, real effects into local folders (mails
as .eml files, exports into the CRM's stand-in folder) and a local HTTP server for the CRM."""

from __future__ import annotations

import json
import random
import shutil
import socket
import tempfile
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from cli.paths import DEMO_PROJECT
from engine.errors import FlowError, ProjectError
from engine.model.flow import load_flows
from engine.model.project import Project
from engine.runtime.clock import VirtualClock
from engine.runtime.production import production_effects
from engine.runtime.runner import IncomingEvent, Runtime
from engine.sdk.batch import Entry
from engine.store import Store
from engine.store.customers import upsert_customers
from engine.store.models import JOURNEYS, STEPS

START = datetime(2026, 1, 5, 5, 0, tzinfo=UTC)  # a Monday, 06:00 in Amsterdam
DAYS = 14
FIRST = ["Ann", "Bas", "Cor", "Daan", "Eva", "Fleur", "Gijs", "Hanna", "Ivo", "Jet", "Kees", "Lot"]
LAST = ["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Peeters", "Maes", "Claes"]
COUNTRIES = ["NL", "NL", "NL", "BE", "BE", "DE"]


class _Crm(BaseHTTPRequestHandler):
    """The CRM's import endpoint: counts calls and the customers in them."""

    calls: list[int] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            payload = json.loads(body or b"{}")
        except json.JSONDecodeError:
            payload = {}
        self.calls.append(len(payload) if isinstance(payload, list) else 1)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, *args: Any) -> None:
        return


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _copy_project(target: Path, port: int) -> None:
    for source in DEMO_PROJECT.rglob("*"):
        if source.is_file() and source.suffix in (".yaml", ".html", ".txt", ".csv"):
            dest = target / source.relative_to(DEMO_PROJECT)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
    for name in ("flows/weekly-export.yaml", "sluis.yaml"):  # the call and its http.allow
        copied = target / name
        copied.write_text(copied.read_text().replace("127.0.0.1:8765", f"127.0.0.1:{port}"))


def _customers(count: int, rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for i in range(1, count + 1):
        ordered = rng.random() < 0.4
        rows.append(
            {
                "external_id": f"C{i:05d}",
                "email": f"customer{i}@example.com",
                "first_name": rng.choice(FIRST),
                "last_name": rng.choice(LAST),
                "country": rng.choice(COUNTRIES),
                "newsletter": rng.random() < 0.6,
                "segment": "new",
                "last_order_at": START - timedelta(days=rng.randint(0, 6), hours=rng.randint(0, 23))
                if ordered
                else None,
            }
        )
    return rows


def run_demo(folder: Path | None, count: int, console: Console) -> Path:
    """Make the demo project in ``folder`` (a temporary one when None) and run it."""
    root = (folder or Path(tempfile.mkdtemp(prefix="sluis-demo-"))).resolve()
    root.mkdir(parents=True, exist_ok=True)
    if (root / "sluis.yaml").exists():
        raise ProjectError(f"{root} already holds a project; give an empty --folder")
    rng = random.Random(2026)
    server = ThreadingHTTPServer(("127.0.0.1", _free_port()), _Crm)
    _Crm.calls = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _copy_project(root, server.server_address[1])
        project = Project.load(root)
        flows, problems = load_flows(project)
        if problems:
            raise FlowError(problems)
        console.print(f"[bold]sluis demo[/bold] in {root}")
        store = Store.open(project)
        clock = VirtualClock(START)
        runtime = Runtime(store, flows, clock, production_effects(project, clock=clock))
        with store.db.write() as conn:
            rows = _customers(count, rng)
            ids = [
                sid
                for sid, _ in upsert_customers(
                    conn, rows, key="external_id", project=project, now=clock.now()
                )
            ]
        console.print(f"{len(ids):,} customers generated; {len(flows)} flows started")
        for flow in flows:
            runtime.start(flow.name)
        _drop_campaign_file(root, rows, rng)
        _simulate(runtime, clock, rng, ids, console)
        _report(root, store, runtime, console)
    finally:
        server.shutdown()
        server.server_close()
    return root


def _drop_campaign_file(root: Path, rows: list[dict[str, Any]], rng: random.Random) -> None:
    upload = root / "crm" / "campaigns" / "upload"
    upload.mkdir(parents=True, exist_ok=True)
    chosen = rng.sample(rows, k=min(200, len(rows)))
    lines = ["external_id;email;first_name;country"] + [
        f"{r['external_id']};{r['email']};{r['first_name']};{r['country']}" for r in chosen
    ]
    (upload / "csv-campaign-spring.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _orders(runtime: Runtime, clock: VirtualClock, rng: random.Random, ids: list[int]) -> None:
    """A few web-shop orders, entered the way the webhook receiver enters them."""
    flow = runtime.flows.get("order-confirmation")
    if flow is None:
        return
    entries = []
    for n in range(25):
        customer = rng.choice(ids)
        order = {
            "id": f"O{n + 1:04d}",
            "total": f"{rng.randint(10, 300)}.95",
            "status": "paid" if rng.random() < 0.85 else "pending",
        }
        entries.append(Entry(customer, {"order": order, "event_id": f"evt-{n}"}, "received"))
    runtime.enter(flow.name, "order-placed", entries)
    del clock


def _opens(runtime: Runtime, clock: VirtualClock, rng: random.Random) -> None:
    """Some customers open their welcome mail within a day; the others get the reminder."""
    with runtime.store.db.read() as conn:
        mailed = conn.execute(
            select(STEPS.c.journey_id, JOURNEYS.c.customer_id)
            .join(JOURNEYS, JOURNEYS.c.id == STEPS.c.journey_id)
            .where(STEPS.c.object == "welcome-mail", STEPS.c.output == "sent")
        ).all()
    events = [
        IncomingEvent("open", customer, clock.now(), flow="welcome", object="welcome-mail")
        for _, customer in mailed
        if rng.random() < 0.45
    ]
    runtime.record_events(events)


def _simulate(
    runtime: Runtime, clock: VirtualClock, rng: random.Random, ids: list[int], console: Console
) -> None:
    end = START + timedelta(days=DAYS)
    happenings = {
        START + timedelta(hours=3): lambda: _orders(runtime, clock, rng, ids),
        START + timedelta(hours=20): lambda: _opens(runtime, clock, rng),
    }
    batches = 0
    with console.status("running two simulated weeks ...") as status:
        while True:
            for moment in [m for m in happenings if m <= clock.now()]:
                happenings.pop(moment)()
            runtime.fire_due()
            if runtime.run_batch() is not None:
                batches += 1
                status.update(
                    f"running two simulated weeks ... {clock.now():%a %d %b %H:%M}, "
                    f"{batches} batches"
                )
                continue
            upcoming = [m for m in (runtime.next_due(), *happenings) if m is not None]
            if not upcoming or min(upcoming) > end:
                break
            clock.set(max(min(upcoming), clock.now()))
    console.print(f"ran {batches} batches over {DAYS} simulated days")


def _report(root: Path, store: Store, runtime: Runtime, console: Console) -> None:
    with store.db.read() as conn:
        counts = conn.execute(
            select(STEPS.c.flow, STEPS.c.object, STEPS.c.output, func.count()).group_by(
                STEPS.c.flow, STEPS.c.object, STEPS.c.output
            )
        ).all()
        waiting = conn.execute(
            select(JOURNEYS.c.flow, JOURNEYS.c.object, func.count())
            .where(JOURNEYS.c.state == "active")
            .group_by(JOURNEYS.c.flow, JOURNEYS.c.object)
        ).all()
    per_flow: dict[str, Counter[str]] = {}
    for flow, obj, output, n in counts:
        per_flow.setdefault(flow, Counter())[f"{obj} → {output or 'end'}"] += n
    for flow, obj, n in waiting:
        per_flow.setdefault(flow, Counter())[f"{obj} (waiting)"] += n
    for flow in runtime.flows.values():
        console.print(f"\n[bold]{flow.name}[/bold]: {flow.description or ''}")
        table = Table()
        table.add_column("object → output")
        table.add_column("customers", justify="right")
        for label, n in per_flow.get(flow.name, Counter()).items():
            table.add_row(label, f"{n:,}")
        console.print(table)
    mails = list((root / "outbox").rglob("*.eml"))
    exports = sorted((root / "crm" / "exports").glob("*.csv")) if (root / "crm").exists() else []
    console.print(f"mails written to {root / 'outbox'}: {len(mails):,}")
    console.print(f"export files in {root / 'crm' / 'exports'}: {len(exports)}")
    console.print(
        f"calls to the CRM's HTTP endpoint: {len(_Crm.calls)} ({sum(_Crm.calls):,} customers)"
    )
    console.print(f"\nExplore: cd {root} && sluis explain C00001 && sluis tui")
