"""What the commands share: finding the project, consoles, option types."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from engine.errors import ProjectError

if TYPE_CHECKING:
    from engine.model.flow import Flow
    from engine.model.project import Project

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

ProjectOpt = Annotated[
    Path | None,
    typer.Option(
        "--project",
        "-p",
        help="The project folder (holding sluis.yaml); default: the current folder or above.",
        file_okay=False,
    ),
]


def open_project(folder: Path | None) -> Project:
    """The project in ``folder``, or the nearest one at or above the current folder."""
    from engine.model.project import Project, find_project

    if folder is not None:
        return Project.load(folder)
    found = find_project()
    if found is None:
        raise ProjectError(
            "no sluis.yaml here or in any folder above; run 'sluis init' to make a project, or "
            "pass --project DIR"
        )
    return Project.load(found)


def open_flow(project: Project, name: str) -> Flow:
    from engine.model.flow import find_flow

    return find_flow(project, name)
