"""Recovering from failures: ``sluis retry`` puts failed journeys back where they failed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import ProjectOpt, console, err_console, open_flow, open_project
from engine.errors import InputError


def retry(
    flow: Annotated[str, typer.Argument(help="The flow whose failed journeys run again.")],
    object_id: Annotated[
        str | None, typer.Option("--object", help="Only journeys that failed at this object.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only journeys that failed since (ISO time, or e.g. 2h)."),
    ] = None,
    customers: Annotated[
        Path | None,
        typer.Option("--customers", help="Only these customers (CSV with external_id or email)."),
    ] = None,
    project: ProjectOpt = None,
) -> None:
    """Failed journeys run again: each goes back to the object where it failed (so do
    journeys that ended through an unrouted 'failed' output)."""
    from datetime import UTC, datetime

    from engine.files.customers_csv import read_customer_keys
    from engine.runtime.retry import retry_failed, since_moment
    from engine.store import Store
    from engine.store.customers import find_ids

    proj = open_project(project)
    target = open_flow(proj, flow)
    if object_id is not None and object_id not in target.objects:
        raise InputError(
            f"flow '{flow}' has no object '{object_id}'; its objects are "
            f"{', '.join(target.objects)}"
        )
    now = datetime.now(UTC)
    moment = since_moment(since, now) if since is not None else None
    store = Store.open(proj)
    chosen: list[int] | None = None
    if customers is not None:
        keys, key = read_customer_keys(customers, proj)
        with store.db.read() as conn:
            chosen = list(find_ids(conn, key, keys).values())
        if len(chosen) < len(keys):
            err_console.print(f"{len(keys) - len(chosen)} customer(s) of {customers} not found")
    counts = retry_failed(
        store, target, now, object_id=object_id, since=moment, customer_ids=chosen
    )
    if not counts:
        console.print(f"no failed journeys of {flow} to retry")
        return
    for obj, count in sorted(counts.items()):
        console.print(f"{count} journey(s) back at {obj}")
    console.print("they run with the next 'sluis run' or worker")


def register(app: typer.Typer) -> None:
    app.command()(retry)
