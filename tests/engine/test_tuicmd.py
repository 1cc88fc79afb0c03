"""``sluis tui``: its options and errors (the app itself is tested in tests/tui), and that
other commands do not load Textual."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "flows"
runner = CliRunner()


def test_replay_options_need_replay() -> None:
    result = runner.invoke(app, ["tui", "welcome", "--until", "3d", "--project", str(EXAMPLES)])
    assert "--until only go with --replay CUSTOMERS.csv" in str(result.exception)


def test_step_mode_needs_a_flow() -> None:
    result = runner.invoke(app, ["tui", "--replay", "x.csv", "--project", str(EXAMPLES)])
    assert "step mode needs the flow to replay" in str(result.exception)


def test_unknown_flow_is_named() -> None:
    result = runner.invoke(app, ["tui", "welcom", "--project", str(EXAMPLES)])
    assert "no flow 'welcom'; did you mean 'welcome'?" in str(result.exception)


def test_other_commands_do_not_import_textual() -> None:
    code = (
        "import sys; from cli import app; "
        "print(any(m == 'textual' or m.startswith('textual.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_records_go_with_replay_and_are_checked_before_the_app_starts(tmp_path: Path) -> None:
    alone = ["tui", "welcome", "--records", "orders=o.csv", "--project", str(EXAMPLES)]
    result = runner.invoke(app, alone)
    assert "--records only go with --replay CUSTOMERS.csv" in str(result.exception)
    customers = tmp_path / "customers.csv"
    customers.write_text("external_id,email\nC1,c1@example.com\n")
    step = ["tui", "welcome", "--replay", str(customers), "--project", str(EXAMPLES)]
    result = runner.invoke(app, [*step, "--records", "orders"])
    assert "--records 'orders': write COLLECTION=CSV" in str(result.exception)
    orders = tmp_path / "orders.csv"
    orders.write_text("customer,order_id,total\nC1,o1,10\n")
    result = runner.invoke(app, [*step, "--records", f"order={orders}"])
    assert "no collection 'order' in the datamodel; did you mean 'orders'?" in str(result.exception)
