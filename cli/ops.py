"""Commands for operating sluis: worker, status, db upgrade."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import ProjectOpt, console, err_console, open_project


def worker(
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency", "-c", min=1, max=64, help="Batches this process runs at once."
        ),
    ] = 1,
    project: ProjectOpt = None,
) -> None:
    """One more worker on the project's database (PostgreSQL for many): claims ready batches,
    and fires schedules when no other worker does. SIGTERM finishes the batches in hand."""
    from engine.model.flow import load_flows
    from engine.runtime.deploys import running_flows
    from engine.runtime.production import production_effects
    from engine.runtime.worker import Worker
    from engine.store import Store

    proj = open_project(project)
    flows, problems = load_flows(proj)
    for problem in problems:
        err_console.print(f"skipped invalid flow: {problem}", markup=False, soft_wrap=True)
    store = Store.open(proj)
    flows = running_flows(store, flows)  # what was started, not the files
    if store.db.dialect == "sqlite":
        err_console.print("note: on SQLite one process writes at a time; PostgreSQL scales out")
    running = Worker(store, flows, effects=production_effects(proj), concurrency=concurrency)
    running.install_signals()
    console.print(f"worker {running.id} on {len(flows)} flow(s), concurrency {concurrency}")
    ran = running.run()
    console.print(f"worker {running.id} stopped after {ran} batch(es)")


def status(project: ProjectOpt = None) -> None:
    """Workers alive, batches claimed and their leases, journeys ready and the lag."""
    from rich.table import Table

    from engine.model.durations import format_duration
    from engine.runtime.clock import SystemClock
    from engine.runtime.status import read_status
    from engine.store import Store

    proj = open_project(project)
    store = Store.open(proj)
    now = SystemClock().now()
    info = read_status(store, now)
    table = Table("worker", "host", "pid", "last heartbeat", "state")
    for w in info.workers:
        ago = format_duration(now - w.heartbeat_at)
        table.add_row(w.id, w.host, str(w.pid), f"{ago} ago", "alive" if w.alive else "gone")
    console.print(table if info.workers else "no workers registered")
    console.print(f"workers alive: {info.alive}")
    console.print(
        f"batches claimed: {info.claimed} ({info.claimed_journeys} journeys); "
        f"leases run out: {info.lapsed}"
    )
    lag = format_duration(info.lag) if info.lag is not None else "-"
    console.print(
        f"journeys ready: {info.ready}; lag of the oldest: {lag}"
        + (f" (at {info.oldest_ready_at})" if info.oldest_ready_at else "")
    )


db = typer.Typer(help="The database: schema upgrades.", no_args_is_help=True)


@db.command("upgrade")
def db_upgrade(project: ProjectOpt = None) -> None:
    """Bring the database's schema up to this version of sluis (in place)."""
    from engine.store.migrate import upgrade

    proj = open_project(project)
    before, after = upgrade(proj.database_url)
    console.print(f"database schema: {before or 'new'} -> {after}")


def register(app: typer.Typer) -> None:
    app.command()(worker)
    app.command()(status)
    app.add_typer(db, name="db")
