"""Locations made concrete: templates in names, path safety for names from templates, listings
and payloads, the folders behind each kind of location, numbered names, moves, and replay's
overlay that never changes the real folder."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import LocationError
from engine.files import Files, LocalFolder
from engine.files.names import clean_name, clean_path, numbered
from engine.model.project import Project

SETTINGS = """
timezone: UTC
connections:
  crm: {type: folder, path: crm}
  mail: {type: smtp, host: 127.0.0.1}
"""


@pytest.fixture
def project(make_project: Callable[..., Project]) -> Project:
    return make_project(SETTINGS)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../secrets.csv", "goes up with '..'"),
        ("exports/../../x.csv", "goes up with '..'"),
        ("/etc/passwd", "is an absolute path"),
        ("a\x00b.csv", "contains a NUL character"),
        ("a\\..\\b.csv", "contains a backslash"),
        ("a\nb.csv", "contains a control character"),
    ],
)
def test_names_that_would_leave_the_folder_are_refused(name: str, message: str) -> None:
    with pytest.raises(LocationError, match=message):
        clean_path(name, "sftp://crm")


def test_clean_paths_drop_empty_and_dot_segments() -> None:
    assert clean_path("a//./b.csv", "x") == "a/b.csv"
    assert clean_path("", "x") == ""
    assert clean_path("..data/x..csv", "x") == "..data/x..csv"  # dots inside names are fine


@pytest.mark.parametrize("name", ["a/b", "..", ".", ""])
def test_file_names_from_listings_are_single_names(name: str) -> None:
    with pytest.raises(LocationError):
        clean_name(name, "the folder")


@settings(deadline=None)
@given(st.text())
def test_a_clean_path_never_goes_up_or_starts_at_the_root(text: str) -> None:
    try:
        cleaned = clean_path(text, "x")
    except LocationError:
        return
    parts = cleaned.split("/")
    assert not cleaned.startswith("/") and ".." not in parts and "\x00" not in cleaned


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a.csv", "a-2.csv"),
        ("exports/buyers.2026.csv", "exports/buyers.2026-2.csv"),
        ("README", "README-2"),
        (".hidden", ".hidden-2"),
    ],
)
def test_numbered_names(path: str, expected: str) -> None:
    assert numbered(path, 2) == expected
    assert numbered(path, 1) == path


def test_templates_render_in_names(project: Project) -> None:
    place = Files().place(
        "exports/c_{{ today|date('%Y%m%d') }}_{{ flow }}.csv",
        project,
        {"today": date(2026, 1, 5), "flow": "weekly"},
    )
    assert str(place) == "exports/c_20260105_weekly.csv"
    assert place.folder.label == str(project.root)


def test_a_template_cannot_lead_out_of_the_folder(project: Project) -> None:
    files = Files()
    with pytest.raises(LocationError, match=r"'exports/\.\./\.\./etc/x' goes up"):
        files.place("exports/{{ data.name }}", project, {"data": {"name": "../../etc/x"}})
    with pytest.raises(LocationError, match="is an absolute path"):
        files.place("{{ data.name }}", project, {"data": {"name": "/etc/passwd"}})
    with pytest.raises(LocationError, match="NUL"):
        files.place("sftp://crm/{{ data.name }}", project, {"data": {"name": "a\x00"}})
    with pytest.raises(LocationError, match="backslash"):
        files.place("sftp://crm/in/{{ data.name }}", project, {"data": {"name": "..\\x"}})


def test_a_name_from_a_listing_or_payload_stays_inside(project: Project) -> None:
    folder = Files().place("sftp://crm/campaigns", project)
    assert str(folder.child("upload")) == "sftp://crm/campaigns/upload"
    with pytest.raises(LocationError):
        folder.child("../../../etc/passwd")


def test_the_folders_behind_locations(project: Project, tmp_path: Path) -> None:
    files = Files()
    crm = files.place("sftp://crm/in/a.csv", project)
    assert isinstance(crm.folder, LocalFolder) and crm.folder.root == project.root / "crm"
    absolute = files.place(f"file://{tmp_path}/x.csv", project)
    assert str(absolute) == f"file://{tmp_path}/x.csv"
    with absolute.writer() as handle:
        handle.write(b"1")
    assert (tmp_path / "x.csv").read_bytes() == b"1"
    with pytest.raises(LocationError, match="connection 'mail' is of type smtp"):
        files.place("sftp://mail/x.csv", project)
    with pytest.raises(LocationError, match="unknown connection 'crn'; did you mean 'crm'"):
        files.place("sftp://crn/x.csv", project)


def test_moves_number_the_target_and_cross_folders(project: Project, tmp_path: Path) -> None:
    files = Files()
    source = files.place("in/a.csv", project)
    with source.writer() as handle:
        handle.write(b"data")
    taken = files.place("sftp://crm/archive/a.csv", project)
    with taken.writer() as handle:
        handle.write(b"older")
    moved = source.move_to(taken)
    assert str(moved) == "sftp://crm/archive/a-2.csv"
    assert (project.root / "crm" / "archive" / "a-2.csv").read_bytes() == b"data"
    assert (project.root / "crm" / "archive" / "a.csv").read_bytes() == b"older"
    assert not (project.root / "in" / "a.csv").exists()


def test_replay_writes_land_in_its_folder_and_real_files_stay(
    project: Project, tmp_path: Path
) -> None:
    (project.root / "in").mkdir()
    (project.root / "in" / "a.csv").write_bytes(b"real")
    files = Files(overlay=tmp_path / "replay")
    source = files.place("in/a.csv", project)
    with source.reader() as handle:
        assert handle.read() == b"real"
    with files.place("exports/out.csv", project).writer() as handle:
        handle.write(b"new")
    moved = source.move_to(files.place("archive/a.csv", project))
    assert str(moved) == "archive/a.csv"
    assert not source.exists() and moved.exists()
    assert [e.name for e in files.place("in", project).list()] == []
    assert (project.root / "in" / "a.csv").read_bytes() == b"real"
    assert not (project.root / "exports").exists() and not (project.root / "archive").exists()
    assert (tmp_path / "replay" / "project" / "exports" / "out.csv").read_bytes() == b"new"
    with files.place("in/a.csv", project).writer() as handle:
        handle.write(b"again")  # a name hidden by a move may be written again


def test_replay_never_connects_to_an_sftp_server(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    settings = "connections:\n  crm: {type: sftp, host: 192.0.2.1, username: x, password: y}\n"
    project = make_project(settings, folder="remote")
    files = Files(overlay=tmp_path / "replay")
    place = files.place("sftp://crm/exports/x.csv", project)
    with place.writer() as handle:
        handle.write(b"1")
    assert (tmp_path / "replay" / "sftp-crm" / "exports" / "x.csv").read_bytes() == b"1"
