"""Activity export: sent, bounce, open, click and unsubscribe events as CSV, incrementally per
target, never overwriting a file."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest
from mailtest import START, Harness, mail_flow, smtp_settings

from engine.errors import LocationError
from engine.files import Files
from engine.mail.activity import COLUMNS, export_activity
from engine.runtime.runner import IncomingEvent


def maildir_settings() -> str:
    return smtp_settings(0).replace(
        "    type: smtp\n    host: 127.0.0.1\n    port: 0\n", "    type: maildir\n    path: out\n"
    )


@pytest.fixture
def sent(harness) -> tuple[Harness, list[int]]:
    h = harness(maildir_settings(), {"welcome": mail_flow()})
    ids = h.customers({"external_id": "C001", "email": "ann@example.com"})
    ids += h.customers({"email": "bob@example.com"}, key="email")
    h.start()
    return h, ids


def export(h: Harness, target: str, now):
    files = Files()
    try:
        return export_activity(h.store, target, now, files)
    finally:
        files.close()


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return list(reader)


def test_incremental_export(sent) -> None:
    h, (ann, bob) = sent
    target = "exports/activity_{{ today|date('%Y%m%d') }}.csv"
    first = export(h, target, START)
    assert first.location == "exports/activity_20260105.csv"
    rows = read(h.project.root / first.location)
    assert [(r["event"], r["external_id"], r["email"]) for r in rows] == [
        ("sent", "C001", "ann@example.com"),
        ("sent", "", "bob@example.com"),
    ]
    assert rows[0]["time"] == "2026-01-05T09:00:00+00:00"
    assert (rows[0]["flow"], rows[0]["object"]) == ("welcome", "welcome-mail")
    assert rows[0]["message_id"].startswith("<20260105090000000000.")

    nothing = export(h, target, START)
    assert (nothing.location, nothing.rows) == (None, 0)

    later = START + timedelta(hours=1)
    h.runtime.record_events(
        [
            IncomingEvent("click", ann, later, "welcome", "welcome-mail", {"url": "https://s/x"}),
            IncomingEvent("bounce", bob, later, "welcome", "welcome-mail", {"bounce_type": "soft"}),
            IncomingEvent("failed", bob, later, "welcome", "welcome-mail"),  # not activity
        ]
    )
    second = export(h, target, later)
    assert second.location == "exports/activity_20260105-2.csv"
    assert [
        (r["event"], r["url"], r["bounce_type"]) for r in read(h.project.root / second.location)
    ] == [
        ("click", "https://s/x", ""),
        ("bounce", "", "soft"),
    ]
    assert len(read(h.project.root / first.location)) == 2  # the first file is as it was

    elsewhere = export(h, "exports/all.csv", later)  # a new target: everything
    assert elsewhere.rows == 4


def test_absolute_paths_and_unsupported_locations(sent, tmp_path: Path) -> None:
    h, _ids = sent
    done = export(h, f"file://{tmp_path}/out/activity.csv", START)
    assert done.location == f"file://{tmp_path}/out/activity.csv" and done.rows == 2
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["activity.csv"]  # no leftovers
    with pytest.raises(LocationError, match="unknown connection 'crm'"):
        export(h, "sftp://crm/activity.csv", START)


def test_a_folder_connection_stands_in_for_sftp(harness) -> None:
    settings = maildir_settings().replace("\nmail:", "\n  crm: {type: folder, path: crm}\nmail:")
    h = harness(settings, {"welcome": mail_flow()})
    h.customers({"external_id": "C001", "email": "ann@example.com"})
    h.start()
    done = export(h, "sftp://crm/activity/{{ today|date('%Y') }}.csv", START)
    assert done.location == "sftp://crm/activity/2026.csv"
    assert len(read(h.project.root / "crm" / "activity" / "2026.csv")) == 1
