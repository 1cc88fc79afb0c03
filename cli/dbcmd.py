"""``sluis db check [--fix]``: list the rows whose text cannot be served (a lone surrogate in
a JSON value, stored before the API refused them), and repair them with U+FFFD."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import ProjectOpt, console, open_project
from cli.ops import db


def db_check(
    fix: Annotated[
        bool, typer.Option("--fix", help="Repair them: each lone surrogate becomes U+FFFD.")
    ] = False,
    project: ProjectOpt = None,
) -> None:
    """List rows holding text that cannot be served; --fix repairs them. Exits 1 when some stay."""
    from engine.store import Store
    from engine.store.textcheck import find_bad_text, repair

    proj = open_project(project)
    store = Store.open(proj)
    with store.db.write() if fix else store.db.read() as conn:
        found = list(find_bad_text(conn))
        for bad in found:
            console.print(str(bad), markup=False, soft_wrap=True)
            if fix:
                repair(conn, bad)
    store.db.dispose()
    if not found:
        console.print("no rows with text that cannot be served")
    elif fix:
        console.print(f"repaired {len(found)} row(s): lone surrogates are now U+FFFD")
    else:
        console.print(f"{len(found)} row(s) cannot be served; 'sluis db check --fix' repairs them")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    db.command("check")(db_check)
