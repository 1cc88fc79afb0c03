"""``sluis pull FLOW OBJECT``: run an import object's HTTP pull now, outside its schedule, with
a progress bar: the pages are read and imported all or nothing, the object's "changed since"
point moves on, and no journey starts (the flow's next scheduled pull goes on from there, and
the command says when that is)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer

from cli.common import ProjectOpt, console, open_flow, open_project
from engine.errors import InputError

if TYPE_CHECKING:
    from engine.model.flow import Flow
    from engine.store import Store


def pull(
    flow: Annotated[str, typer.Argument(help="The flow (name or file).")],
    object_id: Annotated[str, typer.Argument(help="Its import object with an HTTP source.")],
    project: ProjectOpt = None,
) -> None:
    """Pull an import object's HTTP source now (all or nothing), with a progress bar; no
    journeys start."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from engine.http.client import HttpClient
    from engine.pull.pickup import HttpPull
    from engine.sdk.context import RunContext
    from engine.sdk.effects import Effects
    from engine.store import Store

    proj = open_project(project)
    loaded = open_flow(proj, flow)
    instance = loaded.instance(object_id) if object_id in loaded.objects else None
    http = getattr(getattr(instance, "settings", None), "http", None)
    if instance is None or http is None:
        raise InputError(
            f"flow '{loaded.name}' has no import object '{object_id}' with an HTTP source "
            "(from: https://... or a connection)"
        )
    store = Store.open(proj)
    client = HttpClient.for_project(proj)
    columns = (
        BarColumn(),
        TextColumn("{task.fields[rows]:,} items"),
        TextColumn("{task.fields[kb]:,} kB"),
        TimeElapsedColumn(),
    )
    try:
        ctx = RunContext(datetime.now(UTC), proj, loaded, object_id, store, Effects(http=client))
        with Progress(TextColumn("{task.description}"), *columns, console=console) as bar:
            task = bar.add_task(f"pulling {http.url}", total=None, rows=0, kb=0)

            def progress(done: int, rows: int) -> None:
                bar.update(task, rows=rows, kb=done // 1024)

            spec = instance.settings.spec()
            puller = HttpPull(
                ctx, http, spec, wanted=(), retry=instance.settings, progress=progress
            )
            with store.db.write() as conn, ctx.inside(conn):
                for _ in puller.entries():
                    pass
    finally:
        client.close()
    report = puller.report
    console.print(report.summary() if report is not None else "nothing pulled", soft_wrap=True)
    console.print(_next_pull(store, loaded, object_id, instance.settings.schedule), soft_wrap=True)


def _next_pull(store: Store, flow: Flow, object_id: str, schedule: str | None) -> str:
    """When the object pulls again by itself: its next due time when the flow is started,
    else what its schedule would do once the flow starts."""
    from engine.model.schedule import next_fire
    from engine.store import triggers
    from engine.store.flowstate import started_flows

    if schedule is None:
        return "no schedule: it pulls when the flow starts or journeys reach it (or sluis pull)"
    zone = ZoneInfo(flow.timezone)
    with store.db.read() as conn:
        started = flow.name in started_flows(conn)
        due = triggers.due_of(conn, flow.name, object_id) if started else None
    if started:
        when = f"{due.astimezone(zone):%Y-%m-%d %H:%M %Z}" if due else "not planned"
        return f"next pull on its schedule ({schedule}): {when}"
    moment = next_fire(schedule, datetime.now(UTC), flow.timezone)
    return (
        f"flow '{flow.name}' is not started: its schedule ({schedule}) pulls next at "
        f"{moment.astimezone(zone):%Y-%m-%d %H:%M %Z} once it is (sluis start {flow.name})"
    )


def register(app: typer.Typer) -> None:
    app.command("pull")(pull)
