"""``sluis tui``: the live monitor of the project's flows, or step mode through a replay.

Textual and the ``tui`` package are imported inside the command, so other commands start
without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import ProjectOpt, open_flow, open_project
from engine.errors import FlowError, InputError

if TYPE_CHECKING:
    from engine.model.project import Project


def tui(
    flow: Annotated[
        str | None,
        typer.Argument(help="The flow to show first; with --replay, the flow to step through."),
    ] = None,
    replay: Annotated[
        Path | None,
        typer.Option("--replay", help="CSV of customers: step through a replay of FLOW."),
    ] = None,
    entries: Annotated[
        Path | None, typer.Option("--entries", help="JSON lines of entries (with --replay).")
    ] = None,
    events: Annotated[
        Path | None, typer.Option("--events", help="CSV customer,event,at,mail (with --replay).")
    ] = None,
    records: Annotated[
        list[str] | None,
        typer.Option(
            "--records",
            help="COLLECTION=CSV of datamodel records (with --replay; columns = fields, "
            "customer = external_id or email); repeatable.",
        ),
    ] = None,
    start_at: Annotated[
        str | None, typer.Option("--start", help="ISO start time of the replay; default now.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="How long the replay plays, e.g. 30d.")
    ] = None,
    project: ProjectOpt = None,
) -> None:
    """Watch live flows on the project's database, or step through a replay batch by batch
    (--replay CUSTOMERS.csv). Press ? in the app for its keys."""
    from cli.running import replay_session
    from engine.runtime.clock import SystemClock
    from engine.store import Store
    from tui.app import create_app

    proj = open_project(project)

    if replay is None:
        options = {
            "--entries": entries,
            "--events": events,
            "--records": records,
            "--start": start_at,
            "--until": until,
        }
        given = [name for name, value in options.items() if value is not None]
        if given:
            raise InputError(f"{', '.join(given)} only go with --replay CUSTOMERS.csv")
        store = Store.open(proj)
        try:
            create_app(proj, store, SystemClock(), flow=_flow_name(proj, flow)).run()
        finally:
            store.db.dispose()
        return
    if flow is None:
        raise InputError(
            "step mode needs the flow to replay: sluis tui FLOW --replay CUSTOMERS.csv"
        )
    session = replay_session(
        proj,
        open_flow(proj, flow),
        replay,
        entries=entries,
        events=events,
        records=records,
        start_at=start_at,
        until=until or "30d",
    )
    try:
        create_app(proj, session.store, session.clock, replay=session).run()
    finally:
        session.close()


def _flow_name(project: Project, name: str | None) -> str | None:
    """The name the flow list knows a flow by: its own name when valid, else its file's (an
    invalid flow opens on its problems). A flow that does not exist is an error."""
    from engine.model.flow import load_flow, resolve_flow_path

    if name is None:
        return None
    path = resolve_flow_path(project, name)
    if not path.exists():
        open_flow(project, name)  # raises, naming the flows there are
    try:
        return load_flow(path, project).name
    except FlowError:
        return path.stem


def register(app: typer.Typer) -> None:
    app.command()(tui)
