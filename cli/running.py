"""Commands for running flows: run, start, stop, replay, explain, demo."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import ProjectOpt, console, err_console, open_flow, open_project
from engine.errors import FlowError, InputError

if TYPE_CHECKING:
    from engine.model.flow import Flow
    from engine.model.project import Project
    from engine.runtime.explain import StepView
    from engine.runtime.replay import Replay
    from engine.runtime.runner import Runtime

SHOWN_CUSTOMERS = 20  # journeys listed one by one by `sluis replay` without --json
PROGRESS_EVERY = 0.2  # seconds between counts of the journeys done for replay's progress bar


def _runtime(project: Project, *, strict: bool = True) -> Runtime:
    from engine.model.flow import load_flows
    from engine.runtime.clock import SystemClock
    from engine.runtime.deploys import running_flows
    from engine.runtime.production import production_effects
    from engine.runtime.runner import Runtime
    from engine.store import Store

    flows, problems = load_flows(project)
    if problems and strict:
        raise FlowError(problems)
    for problem in problems:
        err_console.print(f"skipped invalid flow: {problem}", markup=False)
    store = Store.open(project)
    # what runs is what was started: the deployed versions, not the files
    running = running_flows(store, flows)
    return Runtime(store, running, SystemClock(), production_effects(project))


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
    began = runtime.clock.now()
    ran = worker.run(once=once)
    console.print(f"ran {ran} batch(es)")
    if once:
        from engine.runtime.failures import failures_since

        failed = failures_since(runtime.store, runtime.flows.values(), began)
        for line in failed.lines:
            err_console.print(line, markup=False, soft_wrap=True)
        if failed.flows:
            again = ", ".join(f"'sluis retry {name}'" for name in failed.flows)
            err_console.print(f"put them back with {again} once the cause is fixed", markup=False)
        if failed:
            raise typer.Exit(1)


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
    records: Annotated[
        list[str] | None,
        typer.Option(
            "--records",
            help="COLLECTION=CSV of datamodel records (columns = fields, customer = "
            "external_id or email); repeatable.",
        ),
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
    proj = open_project(project)
    session = replay_session(
        proj,
        open_flow(proj, flow),
        customers,
        entries=entries,
        events=events,
        records=records,
        start_at=start_at,
        until=until,
    )
    try:
        _play(session)
        if as_json:
            session.write_json(sys.stdout)
        else:
            _print_replay(session)
    finally:
        session.close()


def replay_session(
    proj: Project,
    target: Flow,
    customers: Path,
    *,
    entries: Path | None,
    events: Path | None,
    records: list[str] | None,
    start_at: str | None,
    until: str,
) -> Replay:
    """The replay the options ask for (of ``sluis replay`` and ``sluis tui --replay``)."""
    from engine.files.records_csv import parse_records_option
    from engine.model.durations import parse_duration
    from engine.runtime.replay import Replay, parse_time

    try:
        span = parse_duration(until)
    except ValueError as exc:
        raise InputError(f"--until: {exc}") from None
    return Replay(
        proj,
        target,
        customers,
        entries=entries,
        events=events,
        records=[parse_records_option(text) for text in records or []],
        start=parse_time(start_at, "--start") if start_at else None,
        until=span,
    )


def _play(session: Replay) -> None:
    """Run the replay; on a terminal, with a bar on stderr of the journeys done out of those
    made so far, and the simulated clock (counted at most every ``PROGRESS_EVERY`` seconds:
    stdout stays the document's alone)."""
    if not sys.stderr.isatty():
        session.run()
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("replaying [bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("journeys done, clock {task.fields[clock]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(session.flow.name, total=None, clock="")
        counted = -PROGRESS_EVERY

        def show(now: datetime) -> None:
            done, total = session.progress()
            bar.update(task, completed=done, total=total or None, clock=f"{now:%Y-%m-%d %H:%M}")

        def progress(now: datetime) -> None:
            nonlocal counted
            if time.monotonic() - counted >= PROGRESS_EVERY:
                counted = time.monotonic()
                show(now)

        session.run(progress)
        show(session.clock.now())


def _print_replay(session: Replay, shown: int = SHOWN_CUSTOMERS) -> None:
    """The readable summary: the paths taken with how many journeys took each, the first
    customers one by one, and the effects. Read as a stream, like ``--json``."""
    from collections import Counter

    from rich.table import Table

    start, end = session.start.isoformat(), session.end.isoformat()
    console.print(f"[bold]{session.flow.name}[/bold]  {start} → {end}")
    customers = Table("customer", "state", "path", title=f"the first {shown} journeys")
    paths: Counter[tuple[str, str | None, tuple[tuple[str, str | None], ...]]] = Counter()
    journeys = 0
    for customer, state, at, steps in session.paths():
        if journeys < shown:
            customers.add_row(str(customer), state, _path_text(steps, at))
        paths[(state, at, steps)] += 1
        journeys += 1
    if journeys:
        console.print(customers)
    summary = Table("journeys", "state", "path", title=f"{journeys:,} journeys by path")
    for (state, at, steps), count in paths.most_common():
        summary.add_row(f"{count:,}", state, _path_text(steps, at))
    console.print(summary)
    effects = session.document_effects()
    console.print(
        f"effects: {len(effects['mail'])} mail(s), {len(effects['http'])} HTTP call(s), "
        f"{len(effects['exports'])} export file(s)"
    )


def _path_text(steps: Sequence[tuple[str, str | None]], waiting_at: str | None) -> str:
    path = " → ".join(f"{obj}({output or 'end'})" for obj, output in steps)
    return path if waiting_at is None else f"{path} → waiting at {waiting_at}"


def explain(
    customer: Annotated[str, typer.Argument(help="external_id, email or system_id.")],
    flow: Annotated[str | None, typer.Option("--flow", help="Only journeys of this flow.")] = None,
    project: ProjectOpt = None,
) -> None:
    """Show a customer's journeys: every step with its time, output and reason."""
    from rich.table import Table

    from engine.model.fields import customer_label
    from engine.runtime.explain import find_customer, journeys_of
    from engine.runtime.setbased import deployed_paths
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
            f"\n[bold]{view.flow}[/bold]{_version(view.version)} entered "
            f"{view.entered:%Y-%m-%d %H:%M:%S} UTC via {view.via}: {view.state}{where}{until}"
        )
        table = Table("time (UTC)", "object", "output", "reason")
        for s in view.steps:
            table.add_row(f"{s.at:%Y-%m-%d %H:%M:%S}", s.object, s.output or "-", s.reason)
        console.print(table)
        _print_paths(deployed_paths(store, view.flow, view.version), view.steps)


def _print_paths(paths: Mapping[str, object], steps: Sequence[StepView]) -> None:
    """How each instant object the journey passed decides its batches."""
    passed = [o for o in dict.fromkeys(s.object for s in steps) if o in paths]
    for oid in passed:
        console.print(f"  {oid}: {paths[oid]}", markup=False, highlight=False, soft_wrap=True)


def _version(number: int) -> str:
    return f" (version {number})" if number else ""


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
    for command in (run, replay, explain, demo):
        app.command()(command)
