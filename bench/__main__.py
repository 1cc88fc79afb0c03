"""``python -m bench [SCENARIO ...] [--scale F]``: run benchmarks and print the table."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.harness import SCENARIOS, Result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help="scenarios to run (default: all)")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size")
    args = parser.parse_args()
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if module.name.startswith("s_"):
            importlib.import_module(f"bench.{module.name}")
    names = args.names or sorted(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(
            f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(sorted(SCENARIOS))}"
        )
    console = Console()
    table = Table("scenario", "figure", "engine", "baseline", "ratio", "target", "notes")
    for name in names:
        console.print(f"running {name} (scale {args.scale:g}) ...")
        results: list[Result] = SCENARIOS[name](args.scale)
        for r in results:
            table.add_row(
                name,
                f"{r.name} ({r.unit})",
                f"{r.engine:,.1f}",
                f"{r.baseline:,.1f}" if r.baseline is not None else "-",
                f"{r.ratio:.2f}x" if r.ratio is not None else "-",
                r.target,
                ", ".join(f"{k}={v}" for k, v in r.notes.items()),
            )
    console.print(table)


if __name__ == "__main__":
    main()
