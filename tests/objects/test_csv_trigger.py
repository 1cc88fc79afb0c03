"""The ``csv-trigger`` object: a file dropped in upload/ starts the flow for exactly its
customers, once, even across restarts; growing files wait; failed files go to failed/ with the
reason beside them. On a folder connection and on a real SFTP server, with a virtual clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sftpd import SftpServer
from sqlalchemy import select

from engine.files.trigger import FileTrigger
from engine.model.flow import load_flow
from engine.model.project import Project
from engine.runtime.clock import VirtualClock
from engine.runtime.explain import journeys_of
from engine.runtime.runner import Runtime
from engine.sdk.effects import Effects
from engine.store import Database, Store
from engine.store.models import CUSTOMERS, EVENTS

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
POLL = timedelta(seconds=30)
FLOW = """
name: campaign
reentry: always
objects:
  dropped:
    type: csv-trigger
    watch: sftp://crm/campaigns
    key: external_id
    max_rejects: 1
    next: tag
  tag:
    type: group
    add: [spring]
"""
FILE = "external_id;email;first_name\nC1;a@x.nl;Ann\nC2;b@x.nl;Bob\n"


class Watch:
    """A project with the campaign flow, its watch folder and a runtime on a virtual clock."""

    def __init__(self, project: Project, folder: Path, db: str) -> None:
        self.project = project
        self.folder = folder
        self.clock = VirtualClock(START)
        self.flow = load_flow(project.flows_dir / "campaign.yaml", project)
        self.store = Store(Database(db), project)
        self.effects = Effects()
        self.runtime = Runtime(self.store, [self.flow], self.clock, self.effects, owner="t")
        self.runtime.start("campaign")

    def restart(self) -> None:
        """A new runtime on the same database, as after the engine stopped."""
        self.effects.files.close()
        self.flow = load_flow(self.project.flows_dir / "campaign.yaml", self.project)
        self.effects = Effects()
        self.runtime = Runtime(self.store, [self.flow], self.clock, self.effects, owner="t2")

    def drop(self, name: str, text: str | bytes) -> Path:
        path = self.folder / "upload" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return path

    def poll(self) -> None:
        self.runtime.fire_due()
        self.runtime.run_until_idle()
        self.clock.advance(POLL)

    def files(self) -> dict[str, list[str]]:
        return {
            sub: sorted(p.name for p in (self.folder / sub).iterdir())
            for sub in ("upload", "active", "done", "failed")
            if (self.folder / sub).is_dir()
        }

    def journeys(self) -> list[tuple[str | None, Any, list[str]]]:
        with self.store.db.read() as conn:
            labels = {r.system_id: r.external_id for r in conn.execute(select(CUSTOMERS))}
            views = journeys_of(conn, flow="campaign")
        return sorted(
            (labels.get(v.customer_id), v.data.get("file"), [s.reason for s in v.steps])
            for v in views
        )

    def customers(self) -> list[str]:
        with self.store.db.read() as conn:
            table = CUSTOMERS
            return list(
                conn.execute(select(table.c.external_id).order_by(table.c.system_id)).scalars()
            )


@pytest.fixture
def watch(make_project: Callable[..., Project], tmp_path: Path) -> Iterator[Watch]:
    settings = (
        "timezone: UTC\nprofile: {first_name: str}\nconnections:\n"
        "  crm: {type: folder, path: crm}\n"
    )
    project = make_project(settings, flows={"campaign": FLOW})
    made = Watch(project, project.root / "crm" / "campaigns", f"sqlite:///{tmp_path / 't.db'}")
    yield made
    made.effects.files.close()
    made.store.db.dispose()


def test_a_dropped_file_starts_the_flow_for_exactly_its_customers(watch: Watch) -> None:
    watch.drop("campaign-spring.csv", FILE)
    watch.drop("other.csv", FILE)  # does not match campaign*.csv
    watch.poll()
    assert watch.customers() == [] and watch.files()["upload"] == [
        "campaign-spring.csv",
        "other.csv",
    ]
    watch.poll()
    assert watch.journeys() == [
        ("C1", "campaign-spring.csv", ["imported: new", "added to spring"]),
        ("C2", "campaign-spring.csv", ["imported: new", "added to spring"]),
    ]
    assert watch.files() == {
        "upload": ["other.csv"],
        "active": [],
        "done": ["campaign-spring.csv"],
        "failed": [],
    }
    watch.poll()
    watch.poll()
    assert len(watch.journeys()) == 2  # processed once
    watch.drop("Campaign-Spring.CSV", FILE)  # the same name again later, any case: a new file
    watch.poll()
    watch.poll()
    assert len(watch.journeys()) == 4
    assert watch.files()["done"] == ["Campaign-Spring.CSV", "campaign-spring.csv"]


def test_a_growing_file_waits_until_it_holds_still(watch: Watch) -> None:
    path = watch.drop("campaign.csv", "external_id;email\nC1;a@x.nl\n")
    watch.poll()
    with path.open("a") as handle:
        handle.write("C2;b@x.nl\n")
    watch.poll()
    assert watch.customers() == []
    watch.poll()
    assert watch.customers() == ["C1", "C2"]


def test_a_failed_file_goes_to_failed_with_the_reason(watch: Watch) -> None:
    watch.drop("campaign.csv", "email;first_name\na@x.nl;Ann\n")
    watch.poll()
    watch.poll()
    assert watch.customers() == [] and watch.journeys() == []
    assert watch.files()["failed"] == ["campaign.csv", "campaign.csv.error.txt"]
    reason = (watch.folder / "failed" / "campaign.csv.error.txt").read_text()
    assert reason.startswith(
        "campaign.csv was not imported: sftp://crm/campaigns/active/campaign.csv: no column for "
        "the key field 'external_id'"
    )
    assert "Fix the file and upload it to upload/ again." in reason
    with watch.store.db.read() as conn:
        [event] = conn.execute(select(EVENTS).where(EVENTS.c.kind == "failed")).all()
    assert (event.flow, event.customer_id, event.data["file"]) == ("campaign", None, "campaign.csv")
    assert event.data["reason"].startswith("failed: campaign.csv: ")
    assert "no column for the key field 'external_id'" in event.data["reason"]


def test_one_failed_file_does_not_stop_the_others(watch: Watch) -> None:
    watch.drop("campaign-a.csv", FILE)
    watch.drop("campaign-b.csv", 'external_id;email\nX1;x@x.nl\nX2;"open\n')
    watch.drop("campaign-c.csv", FILE.replace("C1", "C3").replace("C2", "C4"))
    watch.poll()
    watch.poll()
    assert watch.customers() == ["C1", "C2", "C3", "C4"]
    assert watch.files()["done"] == ["campaign-a.csv", "campaign-c.csv"]
    assert watch.files()["failed"] == ["campaign-b.csv", "campaign-b.csv.error.txt"]


def test_rejected_rows_land_beside_the_done_file(watch: Watch) -> None:
    watch.drop("campaign.csv", FILE + "C3;not-a-mail;Cy\n")
    watch.poll()
    watch.poll()
    assert watch.customers() == ["C1", "C2"]
    assert watch.files()["done"] == ["campaign.csv", "campaign.rejects.csv"]
    rejects = (watch.folder / "done" / "campaign.rejects.csv").read_text().splitlines()
    assert (
        rejects[1]
        == "4;email;field 'email': 'not-a-mail' is not an e-mail address;C3;not-a-mail;Cy"
    )


def test_a_file_left_in_active_before_anything_committed_is_imported_once(
    watch: Watch,
) -> None:
    (watch.folder / "active").mkdir(parents=True)
    (watch.folder / "active" / "campaign.csv").write_text(FILE)  # the engine stopped here
    watch.poll()
    assert len(watch.journeys()) == 2
    assert watch.files()["done"] == ["campaign.csv"]
    watch.restart()
    watch.poll()
    watch.poll()
    assert len(watch.journeys()) == 2


def test_a_file_whose_import_committed_is_only_moved_on_after_a_restart(
    watch: Watch, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch.drop("campaign.csv", FILE)
    watch.poll()
    with monkeypatch.context() as patch:
        patch.setattr(FileTrigger, "_finish", lambda *args, **kw: None)  # stopped after commit
        watch.poll()
    assert len(watch.journeys()) == 2
    assert watch.files()["active"] == ["campaign.csv"]
    watch.restart()
    watch.poll()
    watch.poll()
    assert len(watch.journeys()) == 2
    assert watch.files()["active"] == [] and watch.files()["done"] == ["campaign.csv"]


def test_a_name_in_done_is_never_replaced(watch: Watch) -> None:
    (watch.folder / "done").mkdir(parents=True)
    (watch.folder / "done" / "campaign.csv").write_text("yesterday's\n")
    watch.drop("campaign.csv", FILE)
    watch.poll()
    watch.poll()
    assert watch.files()["done"] == ["campaign-2.csv", "campaign.csv"]
    assert (watch.folder / "done" / "campaign.csv").read_text() == "yesterday's\n"


def test_over_a_real_sftp_server(
    make_project: Callable[..., Project], tmp_path: Path, sftp: SftpServer
) -> None:
    settings = "timezone: UTC\nprofile: {first_name: str}\nconnections:\n" + sftp.connection()
    project = make_project(settings, flows={"campaign": FLOW})
    watch = Watch(project, sftp.files / "campaigns", f"sqlite:///{tmp_path / 's.db'}")
    try:
        watch.poll()  # makes the four folders on the server
        watch.drop("campaign.csv", FILE)
        watch.poll()
        watch.poll()
        assert [c for c, _, _ in watch.journeys()] == ["C1", "C2"]
        assert watch.files() == {"upload": [], "active": [], "done": ["campaign.csv"], "failed": []}
    finally:
        watch.effects.files.close()
        watch.store.db.dispose()


def test_a_lost_connection_keeps_the_file_for_the_next_polls(
    watch: Watch, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.files.trigger as trigger
    from engine.errors import TransientError

    real, lost = trigger.import_chunks, [0]

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if lost[0] < 2:
            lost[0] += 1
            raise TransientError("reading campaign.csv: the connection to crm broke")
        return real(*args, **kwargs)

    monkeypatch.setattr(trigger, "import_chunks", flaky)
    watch.drop("campaign.csv", FILE)
    watch.poll()
    watch.poll()  # taken; the connection breaks
    assert watch.files()["active"] == ["campaign.csv"] and watch.journeys() == []
    watch.poll()  # breaks again
    watch.poll()  # goes through
    assert lost[0] == 2
    assert [j[0] for j in watch.journeys()] == ["C1", "C2"]
    assert watch.files()["done"] == ["campaign.csv"]


def test_a_connection_lost_on_every_try_fails_the_file(
    watch: Watch, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.files.trigger as trigger
    from engine.errors import TransientError

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise TransientError("reading campaign.csv: the connection to crm broke")

    monkeypatch.setattr(trigger, "import_chunks", broken)
    watch.drop("campaign.csv", FILE)
    for _ in range(7):
        watch.poll()
    assert watch.files()["failed"] == ["campaign.csv", "campaign.csv.error.txt"]
    reason = (watch.folder / "failed" / "campaign.csv.error.txt").read_text()
    assert "the connection to crm broke after 4 tries over 1m30s" in reason
