"""Commands of the HTTP API: ``sluis serve`` (uvicorn), users (``sluis user``), API tokens
(``sluis token``) and webhook token rotation (``sluis webhook rotate``).

The ``api`` package is imported inside ``serve`` only, so other commands start quickly.
"""

from __future__ import annotations

import errno
import logging
import socket
import sys
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import ProjectOpt, console, err_console, open_project
from engine.errors import InputError
from engine.runtime.gctune import tune_for_serving

if TYPE_CHECKING:
    from engine.model.project import Project
    from engine.store import Store

token_app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)
webhook_app = typer.Typer(help="Webhook tokens.", no_args_is_help=True)


def _now() -> datetime:
    return datetime.now(UTC)


def _store(project: Project) -> Store:
    from engine.store import Store

    return Store.open(project)


def _access_log() -> None:
    """Access log lines are JSON already: print them as they are, on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access = logging.getLogger("sluis.access")
    access.handlers[:] = [handler]
    access.setLevel(logging.INFO)
    access.propagate = False


def serve(
    host: Annotated[str, typer.Option("--host", help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The port to listen on.")] = 8000,
    project: ProjectOpt = None,
) -> None:
    """Serve the HTTP API: webhooks, the REST API under /api/v1, /healthz and /openapi.json.
    It runs the deployed flow versions and follows 'sluis start' and 'sluis stop' without a
    restart. SIGTERM shuts down gracefully (requests in flight finish)."""
    import uvicorn

    from api.app import create_app

    proj = open_project(project)
    app = create_app(proj)
    tune_for_serving()
    listening = _listen(host, port)  # a port in use fails here, before "serving"
    _access_log()
    console.print(f"serving {proj.root.name} on http://{host}:{port} (OpenAPI at /openapi.json)")
    limits = proj.settings.api
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,  # ours is structured and leaves out query strings
        log_level="warning",
        timeout_graceful_shutdown=30,
        timeout_keep_alive=limits.keep_alive_seconds,  # idle connections close after this
        limit_concurrency=limits.max_connections,  # more answer 503 at once
        h11_max_incomplete_event_size=limits.max_header_bytes,  # and the app answers 431
    )
    uvicorn.Server(config).run(sockets=[listening])


def _listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host``:``port``, or an ``InputError`` saying why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
        listening.listen(2048)
    except OSError as exc:
        listening.close()
        if exc.errno == errno.EADDRINUSE:
            raise InputError(
                f"port {port} on {host} is in use (another sluis serve?); stop that server or "
                "choose another port with --port"
            ) from None
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    listening.set_inheritable(True)
    return listening


def _parse_expiry(text: str) -> datetime:
    """A date (the token works through that day, UTC) or an ISO date and time."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC) + (
                timedelta(days=1)
            )
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"--expires '{text}' is not a date such as 2026-12-31 or a time such as "
            "2026-12-31T18:00:00+01:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _check_endpoint(project: Project, endpoint: str) -> None:
    from engine.model.flow import load_flows

    flows, _ = load_flows(project)
    known = sorted(
        served.name
        for flow in flows
        for oid in flow.starts
        if (served := flow.instance(oid).endpoint()) is not None
    )
    if endpoint not in known:
        raise InputError(
            f"no webhook endpoint '{endpoint}' in the valid flows of this project; "
            f"endpoints: {', '.join(known) or 'none'}"
        )


def _show_secret(token_id: int, secret: str, what: str) -> None:
    console.print(f"{what} {token_id}; it is shown once, store it now:")
    console.print(secret, markup=False, soft_wrap=True)


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option("--user", help="The user the token belongs to.")],
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="Limit the token to this webhook endpoint.")
    ] = None,
    expires: Annotated[
        str | None,
        typer.Option("--expires", help="Last day of validity (UTC), or an ISO date and time."),
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help="read, write, admin, or RESOURCE:read|write (customers, datamodel, groups, "
            "flows, mails, webhooks); repeat for more. Default: read write.",
        ),
    ] = None,
    project: ProjectOpt = None,
) -> None:
    """Create an API token (active at once). Without --webhook it reaches the REST API, the
    SOAP API and every webhook, as far as its scopes allow."""
    from engine.store import tokens as store_tokens
    from engine.store.scopes import DEFAULT, parse_scopes

    scopes = parse_scopes(scope) if scope else DEFAULT

    proj = open_project(project)
    if webhook is not None:
        _check_endpoint(proj, webhook)
    expires_at = _parse_expiry(expires) if expires else None
    store = _store(proj)
    with store.db.write() as conn:
        token_id, secret = store_tokens.create_token(
            conn, user, now=_now(), webhook=webhook, expires_at=expires_at, scopes=scopes
        )
    _show_secret(token_id, secret, "created token")


@token_app.command("list")
def token_list(project: ProjectOpt = None) -> None:
    """Every token with its user, scopes, last use and state (never the secret); a warning
    for a person whose account lapses within 7 days."""
    from rich.table import Table

    from engine.store import tokens as store_tokens

    store = _store(open_project(project))
    with store.db.read() as conn:
        rows = store_tokens.list_tokens(conn, _now())
    if not rows:
        console.print("no tokens; create one with 'sluis token create --user NAME'")
        return
    table = Table("id", "user", "reach", "scopes", "created", "expires", "last used", "state")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["user"] + (" (service)" if row["service"] else ""),
            f"webhook {row['webhook']}" if row["webhook"] else "all",
            row["scopes"],
            f"{row['created_at']:%Y-%m-%d %H:%M}",
            f"{row['expires_at']:%Y-%m-%d %H:%M}" if row["expires_at"] else "-",
            f"{row['last_used_at']:%Y-%m-%d %H:%M}" if row["last_used_at"] else "never",
            row["state"],
        )
    console.print(table)
    for row in rows:
        if row["warning"]:
            err_console.print(f"warning: token {row['id']}: user {row['user']} {row['warning']}")


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(metavar="ID", help="The token's id.")],
    project: ProjectOpt = None,
) -> None:
    """Revoke a token at once."""
    from engine.store import tokens as store_tokens

    store = _store(open_project(project))
    with store.db.write() as conn:
        store_tokens.revoke_token(conn, token_id, _now())
    console.print(f"revoked token {token_id}")


@webhook_app.command("rotate")
def webhook_rotate(
    endpoint: Annotated[str, typer.Argument(help="The webhook endpoint.")],
    user: Annotated[
        str | None,
        typer.Option("--user", help="Owner of the new token (default: that of the newest one)."),
    ] = None,
    project: ProjectOpt = None,
) -> None:
    """Issue a new token for a webhook and revoke its old ones."""
    from engine.store import tokens as store_tokens

    proj = open_project(project)
    _check_endpoint(proj, endpoint)
    store = _store(proj)
    with store.db.write() as conn:
        token_id, secret, revoked = store_tokens.rotate_webhook(
            conn, endpoint, now=_now(), user=user
        )
    _show_secret(token_id, secret, f"new token for webhook {endpoint}:")
    if revoked:
        err_console.print(f"revoked token(s) {', '.join(map(str, revoked))}")


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(token_app, name="token")
    app.add_typer(webhook_app, name="webhook")
