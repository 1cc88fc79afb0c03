"""Mail commands: ``sluis linkparam decode|new-key``, ``sluis bounces ingest`` and
``sluis activity export`` (a group of its own, beside the files part's ``sluis export``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import ProjectOpt, console, open_project
from engine.errors import InputError

if TYPE_CHECKING:
    from engine.mail.bounces.verdict import Verdict

linkparam_app = typer.Typer(
    name="linkparam", help="Encrypted link parameters (link_params).", no_args_is_help=True
)
bounces_app = typer.Typer(name="bounces", help="Bounce messages.", no_args_is_help=True)
activity_app = typer.Typer(
    name="activity", help="Mail activity: sent, bounce, open, click.", no_args_is_help=True
)


@linkparam_app.command("decode", context_settings={"ignore_unknown_options": True})
def decode(
    value: Annotated[str, typer.Argument(help="The value of the link's 'sluis' parameter.")],
    key: Annotated[
        str | None, typer.Option("--key", help="The key in base64; default SLUIS_LINK_KEY.")
    ] = None,
) -> None:
    """Print the fields inside a link parameter as JSON."""
    from engine.mail import linkparam

    try:
        fields = linkparam.decode(value, key)
    except linkparam.LinkParamError as exc:
        raise InputError(f"cannot decode the link parameter: {exc}") from None
    sys.stdout.write(json.dumps(fields, ensure_ascii=False, sort_keys=True) + "\n")


@linkparam_app.command("new-key")
def new_key() -> None:
    """Print a fresh random key for SLUIS_LINK_KEY (share it with the website)."""
    from engine.mail import linkparam

    sys.stdout.write(linkparam.new_key() + "\n")


@bounces_app.command("classify")
def classify_bounces(
    paths: Annotated[
        list[Path], typer.Argument(help="Maildirs, mbox files, .eml files or folders of them.")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object a line per message.")
    ] = False,
) -> None:
    """Say what each message is (bounce, complaint, auto-reply, delivered, other) and, per
    failed recipient, the status, the reason and whether the address is bad for good.
    Touches no database."""
    from engine.mail.bounces.classify import classify_file
    from engine.mail.bounces.sources import read_messages

    rows: list[tuple[str, Verdict]] = []
    for path in paths:
        for name, raw in read_messages(path):
            verdict = classify_file(raw)
            if as_json:
                line = json.dumps(verdict.as_json(name), ensure_ascii=False)
                sys.stdout.write(line + "\n")
            else:
                rows.append((name, verdict))
    if not as_json:
        _print_verdicts(rows)


def _print_verdicts(rows: list[tuple[str, Verdict]]) -> None:
    from rich.table import Table

    table = Table("file", "kind", "recipient", "status", "reason", "hard", box=None)
    for name, verdict in rows:
        recipients = verdict.recipients or [None]
        for number, r in enumerate(recipients):
            first = (Path(name).name, verdict.kind) if number == 0 else ("", "")
            if r is None:
                table.add_row(*first, "", "", "", "")
            else:
                table.add_row(*first, r.address, r.status, r.reason, "hard" if r.hard else "soft")
    console.print(table)


@bounces_app.command("ingest")
def ingest_bounces(
    path: Annotated[Path, typer.Argument(help="A Maildir, an mbox file, or .eml file(s).")],
    project: ProjectOpt = None,
) -> None:
    """Read mail that came back: hard bounces stop mail to the customer, soft ones count,
    blocks of the sender alert the operator, complaints unsubscribe."""
    from cli.running import _runtime
    from engine.mail.bounces.ingest import ingest

    runtime = _runtime(open_project(project), strict=False)
    report = ingest(runtime, path)
    console.print(
        f"{report.messages} message(s): {report.hard} hard and {report.soft} soft bounce(s) "
        f"recorded, {report.sender_blocks} block(s) of the sender (see the sender-block "
        f"events), {report.complaints} complaint(s), {report.delivered} delivery notice(s), "
        f"{report.not_bounces} not a bounce, {report.already_seen} ingested before"
    )
    if report.unmatched:
        console.print(
            f"{len(report.unmatched)} bounced address(es) match no customer: "
            + ", ".join(report.unmatched[:10])
            + (" ..." if len(report.unmatched) > 10 else "")
        )


@activity_app.command("export")
def export(
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="Where to write the CSV: a path, file:///abs/path or sftp://NAME/path; "
            "templates such as {{ now|date('%Y%m%d') }} work.",
        ),
    ],
    project: ProjectOpt = None,
) -> None:
    """Export mail activity since the last export to the same --to as CSV."""
    from engine.files import Files
    from engine.mail.activity import export_activity
    from engine.runtime.clock import SystemClock
    from engine.store import Store

    proj = open_project(project)
    store = Store.open(proj)
    files = Files()
    try:
        result = export_activity(store, to, SystemClock().now(), files)
    finally:
        files.close()
        store.db.dispose()
    if result.location is None:
        console.print("no new activity; nothing written")
    else:
        console.print(f"wrote {result.rows} event(s) to {result.location}")


def register(app: typer.Typer) -> None:
    for group in (linkparam_app, bounces_app, activity_app):
        app.add_typer(group)
