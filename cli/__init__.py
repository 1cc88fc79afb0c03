"""The ``sluis`` command. Each group of commands lives in its own module; this one builds the
app and turns every ``SluisError`` into one readable line and an exit status, never a
traceback."""

from __future__ import annotations

import logging
import os
import sys

import typer

from cli import (
    dbcmd,
    deploycmd,
    files,
    flows,
    integrate,
    mailcmd,
    ops,
    pull,
    recovery,
    running,
    serve,
    tuicmd,
    users,
)
from cli.common import err_console
from engine.errors import FlowError, SluisError
from engine.runtime.gctune import tune_collector

app = typer.Typer(
    name="sluis",
    help="sluis moves customers through campaign flows written in YAML.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
for module in (
    flows,
    running,
    deploycmd,
    files,
    pull,
    integrate,
    serve,
    mailcmd,
    tuicmd,
    ops,
    dbcmd,
    recovery,
    users,
):
    module.register(app)


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("SLUIS_LOG_LEVEL", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    tune_collector()
    try:
        app()
    except FlowError as exc:
        for problem in exc.problems:
            err_console.print(str(problem), markup=False, highlight=False, soft_wrap=True)
        count = len(exc.problems)
        err_console.print(f"{count} problem{'s' if count != 1 else ''} found", style="bold red")
        sys.exit(exc.exit_code)
    except SluisError as exc:
        err_console.print(
            f"error: {exc}", markup=False, highlight=False, soft_wrap=True, style="red"
        )
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("SLUIS_DEBUG"):
            raise
        err_console.print(
            f"internal error: {type(exc).__name__}: {exc}\nThis is a bug in sluis; run again "
            "with SLUIS_DEBUG=1 for the details and report them.",
            markup=False,
            style="red",
        )
        sys.exit(70)


if __name__ == "__main__":
    main()
