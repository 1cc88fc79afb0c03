"""One time-zone rule for flows and commands (DESIGN section 7): ``today`` in a template is the
date in the flow's time zone, and in the project's for ``sluis import`` and ``sluis export``, so
the same template names the same file from both; across the DST changes of Europe/Amsterdam
(last Sunday of March and of October) and around midnight."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

import cli.files
from cli import main
from engine.model.flow import find_flow
from engine.model.project import Project
from engine.model.templates import local_today
from engine.runtime.clock import VirtualClock
from engine.runtime.runner import Runtime
from engine.store import Store
from engine.store.customers import upsert_customers

SETTINGS = """
database: sqlite:///sluis.db
timezone: Europe/Amsterdam
profile: {first_name: str}
"""
NAME = "out/c_{{ today|date('%Y%m%d') }}.csv"
FLOW = f"""
objects:
  everyone: {{type: selection, next: dump}}
  dump: {{type: export, to: "{NAME}", columns: [external_id]}}
"""

# (moment in UTC, its date in Amsterdam): 00:20 and 23:59 local on both sides of each change
MOMENTS = [
    ("2026-03-28T23:20:00", "20260329"),  # 00:20 CET on the day summer time starts
    ("2026-03-29T21:59:00", "20260329"),  # 23:59 CEST that day (UTC has the same date)
    ("2026-03-29T22:20:00", "20260330"),  # 00:20 CEST the day after
    ("2026-10-24T22:20:00", "20261025"),  # 00:20 CEST on the day winter time starts
    ("2026-10-25T22:59:00", "20261025"),  # 23:59 CET that day
    ("2026-10-25T23:20:00", "20261026"),  # 00:20 CET the day after
]


@pytest.mark.parametrize(("moment", "local"), MOMENTS)
def test_local_today_follows_amsterdam_across_dst(moment: str, local: str) -> None:
    now = datetime.fromisoformat(moment).replace(tzinfo=UTC)
    assert f"{local_today(now, 'Europe/Amsterdam'):%Y%m%d}" == local
    assert local_today(now, "UTC") == now.date()


@pytest.mark.parametrize(("moment", "local"), MOMENTS)
def test_export_command_and_flow_name_the_same_file(
    make_project: Callable[..., Project],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    moment: str,
    local: str,
) -> None:
    project = make_project(SETTINGS, {"dump": FLOW})
    monkeypatch.chdir(project.root)
    now = datetime.fromisoformat(moment).replace(tzinfo=UTC)
    store = Store.open(project)
    try:
        with store.db.write() as conn:
            upsert_customers(
                conn, [{"external_id": "C1"}], key="external_id", project=project, now=now
            )
        runtime = Runtime(store, [find_flow(project, "dump")], VirtualClock(now))
        runtime.start("dump")
        runtime.fire_due()
        runtime.run_until_idle()
    finally:
        store.db.dispose()
    from_flow = sorted(p.name for p in Path("out").iterdir())
    assert from_flow == [f"c_{local}.csv"]

    monkeypatch.setattr(cli.files, "_now", lambda: now)
    monkeypatch.setattr(sys, "argv", ["sluis", "export", "--to", NAME, "--columns", "external_id"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code in (0, None), capsys.readouterr().err
    # the command took the flow's name, found it taken and wrote beside it
    assert sorted(p.name for p in Path("out").iterdir()) == [f"c_{local}-2.csv", f"c_{local}.csv"]


@pytest.mark.parametrize(("moment", "local"), MOMENTS)
def test_import_reads_the_file_of_the_local_day(
    make_project: Callable[..., Project],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    moment: str,
    local: str,
) -> None:
    project = make_project(SETTINGS)
    monkeypatch.chdir(project.root)
    now = datetime.fromisoformat(moment).replace(tzinfo=UTC)
    Path("in").mkdir()
    Path(f"in/k_{local}.csv").write_text("external_id\nC1\n")
    monkeypatch.setattr(cli.files, "_now", lambda: now)
    template = "in/k_{{ today|date('%Y%m%d') }}.csv"
    monkeypatch.setattr(sys, "argv", ["sluis", "import", template])
    with pytest.raises(SystemExit) as done:
        main()
    out, err = capsys.readouterr()
    assert done.value.code in (0, None), err
    assert f"in/k_{local}.csv" in out
