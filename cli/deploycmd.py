"""Commands that deploy flows: start (stores a changed file as a new version), plan (what a
start would change), stop. What runs is what was started, never the file on disk."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import ProjectOpt, console, open_flow, open_project
from cli.running import _runtime
from engine.errors import FlowError, InputError

if TYPE_CHECKING:
    from engine.model.expressions import Expression
    from engine.model.project import Project
    from engine.runtime.plan import Plan


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
    drain: Annotated[
        bool,
        typer.Option(
            "--drain",
            help="Journeys inside finish on the version they are on; new entries take the new one.",
        ),
    ] = False,
    project: ProjectOpt = None,
) -> None:
    """Deploy and start a flow: a file that differs from the running version is stored as a
    new version (what runs is what was started, never the file on disk); its schedules,
    triggers and webhooks act from now on. Refused (exit 2) when journeys would be stranded
    at removed objects: say where they go with 'moved:' in the file, or use --drain. With
    --customers, --where or --group exactly those customers enter now (and its own selection
    does not fire for this start)."""
    from engine.files.customers_csv import load_customers_csv
    from engine.runtime.deploys import ensure_safe
    from engine.runtime.entering import HAND_REASON
    from engine.sdk.batch import Entry
    from engine.sdk.segments import Segment

    proj = open_project(project)
    runtime = _runtime(proj, strict=False)
    target = open_flow(proj, flow)
    if target.warnings:  # what would fail every journey: refuse before anything runs
        raise FlowError(list(target.warnings))
    runtime.adopt(target)
    given = [o for o in (customers, where, group) if o is not None]
    if len(given) > 1:
        raise InputError("give one of --customers, --where or --group")
    if not given:
        deployed = runtime.start(target.name, drain=drain)
        console.print(f"started {target.name} ({_started(deployed, drain)})")
        return
    ensure_safe(runtime.plan(target), drain=drain)  # refuse before any customer is written
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
    if customers is not None:
        with runtime.store.db.write() as conn:
            ids = load_customers_csv(conn, customers, proj, runtime.clock.now())
        deployed = runtime.start(target.name, fire=False, drain=drain)
        entries = [Entry(i, {}, HAND_REASON) for i in ids]
        made, chosen = len(runtime.enter(target.name, start_id, entries)), len(ids)
    else:  # chosen in the database, entered by one statement however many
        segment = Segment(_where(proj, where), group)
        deployed = runtime.start(target.name, fire=False, drain=drain)
        made, chosen = runtime.enter_chosen(target.name, start_id, segment)
    console.print(
        f"started {target.name} ({_started(deployed, drain)}): {made} of {chosen} "
        f"customer(s) entered at {start_id}"
    )


def _where(project: Project, where: str | None) -> Expression | None:
    """``--where`` as an expression the database runs, or a clear refusal."""
    from engine.errors import ExpressionError
    from engine.model.expressions import Expression
    from engine.store.sqlexpr import check as check_where
    from engine.store.sqlexpr import fields_of

    if where is None:
        return None
    try:
        expr = Expression.parse(where)
        check_where(expr, *fields_of(project))
    except ExpressionError as exc:
        raise InputError(f"--where: {exc} (at column {exc.offset + 1})") from None
    return expr


def stop(
    flow: Annotated[str, typer.Argument(help="The flow to stop.")], project: ProjectOpt = None
) -> None:
    """Stop a flow; journeys already in it wait where they are until it starts again."""
    proj = open_project(project)
    runtime = _runtime(proj, strict=False)
    name = flow
    if name not in runtime.flows:  # a deployed flow stops even when its file is gone
        target = open_flow(proj, flow)
        name = target.name
        runtime.flows.setdefault(name, target)
    runtime.stop(name)
    console.print(f"stopped {name}")


def plan(
    flow: Annotated[str, typer.Argument(help="The flow to compare with its running version.")],
    project: ProjectOpt = None,
) -> None:
    """What 'sluis start FLOW' would change: objects added, removed and changed, outputs
    re-routed, and for every removed object how many journeys wait there and where they go.
    Exit 0 when the deploy is safe, 2 when journeys would be stranded."""
    from engine.runtime.plan import describe

    proj = open_project(project)
    runtime = _runtime(proj, strict=False)
    target = open_flow(proj, flow)
    found = runtime.plan(target)
    for line in describe(found):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if not found.safe:
        stranded = ", ".join(f"{r.waiting} at '{r.object}'" for r in found.stranded)
        console.print(
            f"not safe: journeys would be stranded ({stranded}); add 'moved: {{OLD_ID: NEW_ID}}' "
            f"to the flow file, or start with 'sluis start {found.flow} --drain'",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2)


def _started(plan: Plan, drain: bool) -> str:
    """How a start went, in a few words."""
    if not plan.changed_file:
        return f"version {plan.running}" if plan.running else "not stored"
    number = plan.running + 1 if plan.running else 1
    said = f"version {number}"
    if drain and plan.running:
        said += f"; journeys on version {plan.running} finish on it (draining)"
    moved = [r for r in plan.removed if r.waiting and r.goes_to]
    if moved and not (drain and plan.running):
        said += "; " + ", ".join(f"{r.waiting} moved {r.object} -> {r.goes_to}" for r in moved)
    return said


def register(app: typer.Typer) -> None:
    for command in (start, plan, stop):
        app.command()(command)
