"""The deleted-object scenario end to end with the real command: customers wait at a
``wait``, the wait is removed from the YAML, ``sluis run --once`` ends (exit 1 with a
summary, no loop), and ``sluis retry`` puts them back once the object is restored."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from test_commands import sluis

WITH_WAIT = (
    "objects:\n"
    "  sel: {type: selection, next: wait-nl}\n"
    "  wait-nl: {type: wait, for: 1d, next: done}\n"
    "  done: {type: end}\n"
)
WITHOUT_WAIT = "objects:\n  sel: {type: selection, next: done}\n  done: {type: end}\n"


def _a_day_passes(project: Path) -> None:
    """The waiting journeys become ready (the wait's day is over)."""
    past = "'2000-01-01T00:00:00+00:00'"
    with sqlite3.connect(project / "sluis.db") as db:
        db.execute(f"UPDATE journeys SET ready_at = {past} WHERE ready_at IS NOT NULL")
        db.execute(f"UPDATE journeys SET arrived_at = {past}")


def _running_version_reads(project: Path, text: str) -> None:
    """The running version edited by hand in the database (what a deploy never does: it
    refuses to strand journeys): the runtime cannot find the object its journeys wait at."""
    with sqlite3.connect(project / "sluis.db") as db:
        db.execute("UPDATE flow_versions SET yaml = ? WHERE flow = 'acc'", (text,))


def test_a_removed_object_fails_its_journeys_then_retry_puts_them_back(tmp_path: Path) -> None:
    sluis("init", "p", cwd=tmp_path)
    project = tmp_path / "p"
    flow = project / "flows" / "acc.yaml"
    flow.write_text(WITH_WAIT)
    (project / "people.csv").write_text("external_id,email\nC1,c1@example.com\nC2,c2@example.com\n")
    started = sluis("start", "acc", "--customers", "people.csv", cwd=project)
    assert started.returncode == 0, started.stderr
    waiting = sluis("run", "--once", cwd=project)
    assert waiting.returncode == 0, waiting.stderr  # nothing failed: they wait
    _running_version_reads(project, WITHOUT_WAIT)
    _a_day_passes(project)
    began = time.monotonic()
    ran = sluis("run", "--once", cwd=project)
    assert time.monotonic() - began < 30
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "2 journeys failed at wait-nl: flow 'acc' has no object 'wait-nl' any more" in (
        ran.stderr
    )
    assert "put them back with 'sluis retry acc' once the cause is fixed" in ran.stderr
    again = sluis("run", "--once", cwd=project)
    assert again.returncode == 0, again.stderr  # only failures of this run count
    _running_version_reads(project, WITH_WAIT)
    unknown = sluis("retry", "acc", "--object", "nope", cwd=project)
    assert unknown.returncode == 2 and "no object 'nope'" in unknown.stderr
    (project / "one.csv").write_text("external_id\nC1\n")
    one = sluis("retry", "acc", "--customers", "one.csv", "--since", "1h", cwd=project)
    assert one.returncode == 0, one.stderr
    assert "1 journey(s) back at wait-nl" in one.stdout
    rest = sluis("retry", "acc", "--object", "wait-nl", cwd=project)
    assert "1 journey(s) back at wait-nl" in rest.stdout
    assert "no failed journeys" in sluis("retry", "acc", cwd=project).stdout
    _a_day_passes(project)
    done = sluis("run", "--once", cwd=project)
    assert done.returncode == 0, done.stderr
    explained = sluis("explain", "C1", cwd=project)
    assert "done" in explained.stdout and "finished" in explained.stdout
