"""``sluis user``: the users who hold API tokens: create, list, deactivate, reactivate, delete.

A person's account lapses after 60 days without activity (its tokens stop until it is
reactivated); service accounts never lapse.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import ProjectOpt, console, err_console, open_project

if TYPE_CHECKING:
    from engine.model.project import Project
    from engine.store import Store

user_app = typer.Typer(help="Users who hold API tokens.", no_args_is_help=True)
NameArg = Annotated[str, typer.Argument(help="The user's name.")]


def _now() -> datetime:
    return datetime.now(UTC)


def _store(project: Project) -> Store:
    from engine.store import Store

    return Store.open(project)


@user_app.command("create")
def user_create(
    name: NameArg,
    service: Annotated[
        bool, typer.Option("--service", help="A service account: it never lapses.")
    ] = False,
    project: ProjectOpt = None,
) -> None:
    """Create a user (a person, whose tokens stop after 60 days without activity, or a
    service account)."""
    from engine.store import tokens as store_tokens

    store = _store(open_project(project))
    with store.db.write() as conn:
        store_tokens.create_user(conn, name, service=service, now=_now())
    console.print(f"created {'service account' if service else 'user'} {name}")


@user_app.command("reactivate")
def user_reactivate(name: NameArg, project: ProjectOpt = None) -> None:
    """Let a user whose account lapsed use its tokens again."""
    from engine.store import tokens as store_tokens

    store = _store(open_project(project))
    with store.db.write() as conn:
        store_tokens.reactivate_user(conn, name, _now())
    console.print(f"reactivated {name}")


@user_app.command("list")
def user_list(project: ProjectOpt = None) -> None:
    """Every user: kind, state, last activity, last use of a token, live tokens; a warning
    for a person whose account lapses within 7 days."""
    from rich.table import Table

    from engine.store.users import list_users

    store = _store(open_project(project))
    with store.db.read() as conn:
        users = list_users(conn, _now())
    if not users:
        console.print("no users; create one with 'sluis user create NAME'")
        return
    table = Table("user", "kind", "state", "last activity", "last token use", "tokens")
    for user in users:
        table.add_row(
            user["name"],
            "service" if user["service"] else "person",
            user["state"],
            _when(user["last_activity_at"]),
            _when(user["last_used_at"]),
            str(user["tokens"]),
        )
    console.print(table)
    for user in users:
        if user["warning"]:
            err_console.print(f"warning: user {user['name']} {user['warning']}")


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "never"


@user_app.command("deactivate")
def user_deactivate(name: NameArg, project: ProjectOpt = None) -> None:
    """Stop a user's tokens at once ('sluis user reactivate' lets them work again)."""
    from engine.store.users import deactivate_user

    store = _store(open_project(project))
    with store.db.write() as conn:
        deactivate_user(conn, name)
    console.print(f"deactivated {name}: its tokens stop within a second")


@user_app.command("delete")
def user_delete(name: NameArg, project: ProjectOpt = None) -> None:
    """Delete a user with its tokens. It cannot be undone."""
    from engine.store.users import delete_user

    store = _store(open_project(project))
    with store.db.write() as conn:
        removed = delete_user(conn, name)
    console.print(f"deleted {name} and its {removed} token(s)")


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
