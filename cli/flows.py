"""Commands for writing flows: init, validate, graph, schema."""

from __future__ import annotations

import json
import shutil
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import ProjectOpt, console, err_console, open_flow, open_project
from cli.paths import INIT_PROJECT
from engine.errors import FlowError, ProjectError

if TYPE_CHECKING:
    from engine.model.flow import Flow
    from engine.model.project import Project


class GraphFormat(StrEnum):
    text = "text"
    mermaid = "mermaid"
    dot = "dot"


def init(
    folder: Annotated[Path, typer.Argument(help="Where to make the project.")] = Path("."),
) -> None:
    """Make a new project: sluis.yaml, an example flow and a mail template."""
    target = folder.resolve()
    if (target / "sluis.yaml").exists():
        raise ProjectError(f"{target} already holds a sluis.yaml; pick an empty folder")
    target.mkdir(parents=True, exist_ok=True)
    for source in INIT_PROJECT.rglob("*"):
        if source.is_file() and "__pycache__" not in source.parts:
            dest = target / source.relative_to(INIT_PROJECT)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
    console.print(f"Made a sluis project in {folder}.")
    console.print(f"Next: cd {folder} && sluis validate && sluis graph welcome")


def validate(
    flows: Annotated[
        list[str] | None, typer.Argument(help="Flow names or files; default: every flow.")
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Warnings (unset ${VAR}s, missing keys) are problems too (exit 2)."
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Also say how each instant object decides its batches: set-based (in the "
            "database) or per journey, and why.",
        ),
    ] = False,
    project: ProjectOpt = None,
) -> None:
    """Check flows and report every problem as FILE:LINE:COL with the fix (exit status 2).
    What would fail at run time here (an unset ${VAR}, a missing key) is a warning."""
    from engine.deployed import content_hash, running_hashes
    from engine.model.flow import check_flows

    proj = _project_for(project, flows)
    valid, problems, invalid_warnings = check_flows(proj, flows or None)
    try:
        running = running_hashes(proj.database_url) if valid else {}
    except ProjectError:  # a database URL naming an unset variable: nothing to compare with
        running = {}
    for flow in valid:
        if strict and flow.warnings:
            continue
        console.print(
            f"[green]ok[/green] {flow.file}: flow '{flow.name}', {len(flow.objects)} objects"
        )
        if verbose:
            _print_paths(flow, proj)
        if flow.name in running and running[flow.name] != content_hash(flow.source):
            console.print(
                f"   note: {flow.name} changed since started; see sluis plan {flow.name}",
                markup=False,
                highlight=False,
            )
    warnings = sorted(
        [*invalid_warnings, *(w for flow in valid for w in flow.warnings)],
        key=lambda p: (p.file, p.line, p.column),
    )
    if strict:
        problems = sorted([*problems, *warnings], key=lambda p: (p.file, p.line, p.column))
    else:
        for warning in warnings:
            place = f"{warning.file}:{warning.line}:{warning.column}"
            err_console.print(f"{place}: warning: {warning.message}", markup=False, soft_wrap=True)
    if not valid and not problems:
        console.print(f"no flows in {proj.flows_dir}; add flows/NAME.yaml")
    if problems:
        raise FlowError(problems)


def _print_paths(flow: Flow, project: Project) -> None:
    """How each instant object of the flow decides its batches (see engine/runtime/setbased)."""
    from engine.runtime.setbased import paths

    for oid, path in paths(flow, project).items():
        console.print(f"   {oid}: {path}", markup=False, highlight=False, soft_wrap=True)


def _project_for(folder: Path | None, flows: list[str] | None) -> Project:
    """The project; a flow file given by path validates even outside a project (with no
    profile fields or connections known)."""
    from engine.model.project import Project, find_project

    if folder is not None or find_project() is not None:
        return open_project(folder)
    if flows and all(Path(f).suffix in (".yaml", ".yml") for f in flows):
        return Project.empty()
    return open_project(folder)


def graph(
    flow: Annotated[str, typer.Argument(help="The flow's name or file.")],
    format: Annotated[
        GraphFormat, typer.Option("--format", "-f", help="text, mermaid or dot.")
    ] = GraphFormat.text,
    project: ProjectOpt = None,
) -> None:
    """Draw a flow: a readable tree for the terminal, or Mermaid / Graphviz dot."""
    from engine.model.graphdraw import draw

    proj = _project_for(project, [flow])
    console.print(draw(open_flow(proj, flow), format.value), markup=False)


def schema() -> None:
    """Print the JSON Schema of flow files, for editors that validate and complete YAML."""
    from engine.model.flow import flow_model

    document = flow_model().model_json_schema(mode="validation")
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "sluis flow"
    print(json.dumps(document, indent=2))


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(validate)
    app.command()(graph)
    app.command()(schema)
