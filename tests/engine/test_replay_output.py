"""Replay at scale: the store is a file in the replay's folder (gone after close), the JSON is
streamed a journey a line and equals the document, and the readable summary counts paths and
lists only the first journeys. The CLI's output is checked end to end."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.model.flow import find_flow
from engine.model.project import Project
from engine.runtime.replay import Replay

FLOW = """
objects:
  everyone: {type: selection, next: by-country}
  by-country:
    type: split
    branches: {dutch: customer.country == "NL"}
    next: {dutch: pause, otherwise: done}
  pause: {type: wait, for: 40d, next: done}
  done: {type: end}
"""
SETTINGS = "timezone: UTC\nprofile: {country: str}\n"
HEADER = "external_id,email,country"


def customers(tmp_path: Path, count: int) -> Path:
    rows = [f"C{n:03d},c{n}@example.com,{'NL' if n % 3 == 0 else 'BE'}" for n in range(count)]
    path = tmp_path / "customers.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def test_the_streamed_json_is_the_document_a_journey_a_line(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    project = make_project(SETTINGS, {"f": FLOW})
    session = Replay(project, find_flow(project, "f"), customers(tmp_path, 30))
    try:
        store_file = session.folder / "replay.db"
        session.run()
        assert store_file.exists()  # on disk, not a growing in-memory database
        with session.store.db.read() as conn:  # thrown away at the end: no fsync
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 0
        out = io.StringIO()
        session.write_json(out)
        document = session.document()
    finally:
        session.close()
    assert not store_file.exists()
    text = out.getvalue()
    assert json.loads(text) == document
    lines = text.splitlines()
    journey_lines = [line for line in lines if line.lstrip().startswith('{"customer"')]
    assert len(journey_lines) == len(document["journeys"]) == 30
    assert [j["customer"] for j in document["journeys"]] == [f"C{n:03d}" for n in range(30)]
    assert {j["state"] for j in document["journeys"]} == {"finished", "waiting"}


def test_each_journey_line_is_what_json_dumps_writes(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    """The journeys are encoded with each distinct step encoded once: the lines must be
    json.dumps's, byte for byte (labels with quotes and non-ASCII letters included)."""
    project = make_project(SETTINGS, {"f": FLOW})
    path = tmp_path / "customers.csv"
    names = ["Zoë", 'say "hi"', "back\\slash", "C1", "日本"]
    rows = [
        f'"{name.replace(chr(34), chr(34) * 2)}",c{n}@example.com,NL'
        for n, name in enumerate(names)
    ]
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    session = Replay(project, find_flow(project, "f"), path)
    try:
        session.run()
        out = io.StringIO()
        session.write_json(out)
        document = session.document()
    finally:
        session.close()
    lines = [line.strip().rstrip(",") for line in out.getvalue().splitlines()]
    journey_lines = [line for line in lines if line.startswith('{"customer"')]
    assert journey_lines == [json.dumps(j, ensure_ascii=False) for j in document["journeys"]]
    assert sorted(j["customer"] for j in document["journeys"]) == sorted(names)
    assert all(j["steps"] for j in document["journeys"])


def test_an_empty_replay_is_valid_json(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    project = make_project(SETTINGS, {"f": FLOW})
    session = Replay(project, find_flow(project, "f"), customers(tmp_path, 0))
    try:
        session.run()
        out = io.StringIO()
        session.write_json(out)
    finally:
        session.close()
    document: dict[str, Any] = json.loads(out.getvalue())
    assert document["journeys"] == [] and document["effects"] == {
        "mail": [],
        "http": [],
        "exports": [],
    }


def sluis(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args, "--project", str(project)],
        capture_output=True,
        text=True,
        check=False,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )


def test_the_readable_summary_counts_paths_and_lists_the_first_journeys(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "sluis.yaml").write_text(SETTINGS)
    (tmp_path / "flows" / "f.yaml").write_text(textwrap.dedent(FLOW))
    args = ("replay", "f", "--customers", str(customers(tmp_path, 45)))
    args += ("--start", "2026-01-05T09:00:00+00:00")
    table = sluis(tmp_path, *args)
    assert table.returncode == 0, table.stderr
    assert "the first 20 journeys" in table.stdout and "45 journeys by path" in table.stdout
    assert "C019" in table.stdout and "C020" not in table.stdout
    # 15 of 45 are Dutch and wait; 30 end at once
    assert "│ 30 " in table.stdout and "│ 15 " in table.stdout
    as_json = sluis(tmp_path, *args, "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert len(json.loads(as_json.stdout)["journeys"]) == 45
