"""Commands for running flows: run, start, stop, replay, explain, demo."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import ProjectOpt, console, err_console, open_flow, open_project
from engine.errors import FlowError, InputError

if TYPE_CHECKING:
    from engine.model.project import Project
    from engine.runtime.replay import Replay
    from engine.runtime.runner import Runtime

SHOWN_CUSTOMERS = 20  # journeys listed one by one by `sluis replay` without --json


def _runtime(project: Project, *, strict: bool = True) -> Runtime:
    from engine.model.flow import load_flows
    from engine.runtime.clock import SystemClock
    from engine.runtime.production import production_effects
    from engine.runtime.runner import Runtime
    from engine.store import Store

    flows, problems = load_flows(project)
    if problems and strict:
        raise FlowError(problems)
    for problem in problems:
        err_console.print(f"skipped invalid flow: {problem}", markup=False)
    store = Store.open(project)
    return Runtime(store, flows, SystemClock(), production_effects(project))


def run(
    once: Annotated[bool, typer.Option("--once", help="Do everything due now, then exit.")] = False,
    project: ProjectOpt = None,
) -> None:
    """Run the scheduler and the executor in one process (the embedded default)."""
    from engine.runtime.worker import Worker

    proj = open_project(project)
    runtime = _runtime(proj, strict=False)
    if not runtime.started_flows():
        err_console.print("no flow is started; start one with 'sluis start FLOW'")
    worker = Worker(runtime.store, runtime.flows.values(), effects=runtime.effects)
    if not once:
        worker.install_signals()
    ran = worker.run(once=once)
    console.print(f"ran {ran} batch(es)")


def start(
    flow: Annotated[str, typer.Argument(help="The flow to start.")],
    customers: Annotated[
        Path | None, typer.Option("--customers", help="CSV of customers to upsert and enter now.")
    ] = None,
    where: Annotated[
        str | None, typer.Option("--where", help="An expression: those customers enter now.")
    ] = None,
    group: Annotated[
        str | None, typer.Option("--group", help="The members of this group enter now.")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="The start object to enter at, when there are several."),
    ] = None,
    project: ProjectOpt = None,
) -> None:
    """Start a flow: its schedules, triggers and webhooks act from now on. With --customers,
    --where or --group exactly those customers enter now (and its own selection does not fire
    for this start)."""
    from engine.sdk.batch import Entry

    proj = open_project(project)
    runtime = _runtime(proj, strict=False)
    target = open_flow(proj, flow)
    runtime.flows[target.name] = target
    chosen = [o for o in (customers, where, group) if o is not None]
    if len(chosen) > 1:
        raise InputError("give one of --customers, --where or --group")
    if not chosen:
        runtime.start(target.name)
        console.print(f"started {target.name}")
        return
    start_id = at or target.starts[0]
    if start_id not in target.starts:
        raise InputError(
            f"--at {start_id} is not a start object of {target.name}; its start "
            f"objects: {', '.join(target.starts)}"
        )
    if at is None and len(target.starts) > 1:
        raise InputError(
            f"{target.name} has several start objects ({', '.join(target.starts)}); "
            "choose one with --at"
        )
    ids = _chosen_customers(runtime, proj, customers, where, group)
    runtime.start(target.name, fire=False)
    made = runtime.enter(target.name, start_id, [Entry(i, {}, "started by hand") for i in ids])
    console.print(
        f"started {target.name}: {len(made)} of {len(ids)} customer(s) entered at {start_id}"
    )


def _chosen_customers(
    runtime: Runtime, project: Project, customers: Path | None, where: str | None, group: str | None
) -> list[int]:
    from engine.files.customers_csv import load_customers_csv
    from engine.model.expressions import Expression
    from engine.store.customers import iter_customers

    db = runtime.store.db
    if customers is not None:
        with db.write() as conn:
            return load_customers_csv(conn, customers, project, runtime.clock.now())
    expr = None
    if where is not None:
        from engine.errors import ExpressionError

        try:
            expr = Expression.parse(where)
        except ExpressionError as exc:
            raise InputError(f"--where: {exc} (at column {exc.offset + 1})") from None
    now = runtime.clock.now()
    chosen = []
    with db.read() as conn:
        for chunk in iter_customers(conn, project, group=group):
            for customer in chunk:
                if expr is None or expr.test(
                    {"customer": customer, "data": {}, "now": now, "today": now.date()}
                ):
                    chosen.append(customer["system_id"])
    return chosen


def stop(
    flow: Annotated[str, typer.Argument(help="The flow to stop.")], project: ProjectOpt = None
) -> None:
    """Stop a flow; journeys already in it wait where they are until it starts again."""
    proj = open_project(project)
    runtime = _runtime(proj, strict=False)
    target = open_flow(proj, flow)
    runtime.flows[target.name] = target
    runtime.stop(target.name)
    console.print(f"stopped {target.name}")


def replay(
    flow: Annotated[str, typer.Argument(help="The flow to replay.")],
    customers: Annotated[
        Path, typer.Option("--customers", help="CSV of customers (header = field names).")
    ],
    entries: Annotated[
        Path | None, typer.Option("--entries", help="JSON lines of entries.")
    ] = None,
    events: Annotated[
        Path | None, typer.Option("--events", help="CSV customer,event,at,mail.")
    ] = None,
    start_at: Annotated[
        str | None, typer.Option("--start", help="ISO start time; default now.")
    ] = None,
    until: Annotated[str, typer.Option("--until", help="How long to play, e.g. 30d.")] = "30d",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result as one JSON document.")
    ] = False,
    project: ProjectOpt = None,
) -> None:
    """Replay customers through a flow on a simulated clock; nothing is sent."""
    from engine.model.durations import parse_duration
    from engine.runtime.replay import Replay, parse_time

    proj = open_project(project)
    target = open_flow(proj, flow)
    try:
        span = parse_duration(until)
    except ValueError as exc:
        raise InputError(f"--until: {exc}") from None
    begin = parse_time(start_at, "--start") if start_at else None
    session = Replay(
        proj, target, customers, entries=entries, events=events, start=begin, until=span
    )
    try:
        _play(session)
        if as_json:
            session.write_json(sys.stdout)
        else:
            _print_replay(session)
    finally:
        session.close()


def _play(session: Replay) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    if not sys.stderr.isatty():
        session.run()
        return
    total = (session.end - session.start).total_seconds()
    with Progress(
        TextColumn("replaying [bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[clock]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(session.flow.name, total=total, clock="")

        def progress(now: datetime) -> None:
            bar.update(
                task, completed=(now - session.start).total_seconds(), clock=f"{now:%Y-%m-%d %H:%M}"
            )

        session.run(progress)


def _print_replay(session: Replay, shown: int = SHOWN_CUSTOMERS) -> None:
    """The readable summary: the paths taken with how many journeys took each, the first
    customers one by one, and the effects. Read as a stream, like ``--json``."""
    from collections import Counter

    from rich.table import Table

    start, end = session.start.isoformat(), session.end.isoformat()
    console.print(f"[bold]{session.flow.name}[/bold]  {start} → {end}")
    customers = Table("customer", "state", "path", title=f"the first {shown} journeys")
    paths: Counter[tuple[str, str]] = Counter()
    journeys = 0
    for j in session.journeys():
        path = " → ".join(f"{s['object']}({s['output'] or 'end'})" for s in j["steps"])
        if j["state"] == "waiting":
            path += f" → waiting at {j['at']}"
        if journeys < shown:
            customers.add_row(str(j["customer"]), j["state"], path)
        paths[(j["state"], path)] += 1
        journeys += 1
    if journeys:
        console.print(customers)
    summary = Table("journeys", "state", "path", title=f"{journeys:,} journeys by path")
    for (state, path), count in paths.most_common():
        summary.add_row(f"{count:,}", state, path)
    console.print(summary)
    effects = session.document_effects()
    console.print(
        f"effects: {len(effects['mail'])} mail(s), {len(effects['http'])} HTTP call(s), "
        f"{len(effects['exports'])} export file(s)"
    )


def explain(
    customer: Annotated[str, typer.Argument(help="external_id, email or system_id.")],
    flow: Annotated[str | None, typer.Option("--flow", help="Only journeys of this flow.")] = None,
    project: ProjectOpt = None,
) -> None:
    """Show a customer's journeys: every step with its time, output and reason."""
    from rich.table import Table

    from engine.model.fields import customer_label
    from engine.runtime.explain import find_customer, journeys_of
    from engine.store import Store

    proj = open_project(project)
    store = Store.open(proj)
    with store.db.read() as conn:
        row = find_customer(conn, customer)
        views = journeys_of(conn, [row.system_id], flow)
    label = customer_label(row._mapping)
    console.print(
        f"customer [bold]{label}[/bold] (system_id {row.system_id}, {row.email or 'no email'})"
    )
    if not views:
        console.print("no journeys" + (f" in {flow}" if flow else ""))
    for view in views:
        where = f" at {view.at}" if view.at else ""
        until = f" until {view.ready_at:%Y-%m-%d %H:%M} UTC" if view.at and view.ready_at else ""
        console.print(
            f"\n[bold]{view.flow}[/bold] entered {view.entered:%Y-%m-%d %H:%M:%S} UTC via "
            f"{view.via}: {view.state}{where}{until}"
        )
        table = Table("time (UTC)", "object", "output", "reason")
        for s in view.steps:
            table.add_row(f"{s.at:%Y-%m-%d %H:%M:%S}", s.object, s.output or "-", s.reason)
        console.print(table)


def demo(
    folder: Annotated[
        Path | None,
        typer.Option(
            "--folder", help="Where to make the demo project; default a temporary folder."
        ),
    ] = None,
    customers: Annotated[
        int, typer.Option("--customers", help="How many customers to generate.")
    ] = 2000,
) -> None:
    """Make a demo project with generated customers and run the example flows end to end."""
    from cli.demo import run_demo

    run_demo(folder, customers, console)


def register(app: typer.Typer) -> None:
    for command in (run, start, stop, replay, explain, demo):
        app.command()(command)
