"""``sluis start``, ``plan``, ``start --drain``, ``validate`` and ``explain`` around an edit that
strands journeys (DESIGN section 5, "Flow versions and deploys")."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from deploying import V1, V2
from typer.testing import CliRunner

from cli import app
from engine.model.project import Project

SLUIS = (sys.executable, "-c", "from cli import main; main()")


def _run(project: Project, *args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, [*args, "--project", str(project.root)])
    return result.exit_code, result.output, result.exception


def _started(make_project: Callable[..., Project], tmp_path: Path) -> Project:
    project = make_project("timezone: UTC\ndatabase: sqlite:///deploy.db\n", {"hold": V1})
    customers = tmp_path / "c.csv"
    customers.write_text("external_id,email\nC1,c1@x.nl\nC2,c2@x.nl\n")
    code, out, _ = _run(project, "start", "hold", "--customers", str(customers))
    assert code == 0 and "started hold (version 1): 2 of 2 customer(s)" in out
    assert _run(project, "run", "--once")[0] == 0
    return project


def test_plan_refusal_and_moved(make_project: Callable[..., Project], tmp_path: Path) -> None:
    project = _started(make_project, tmp_path)
    code, out, _ = _run(project, "plan", "hold")
    assert code == 0 and "the file is the running version 1" in out
    (project.root / "flows" / "hold.yaml").write_text(V2)
    code, out, _ = _run(project, "validate")
    assert code == 0 and "note: hold changed since started; see sluis plan hold" in out
    code, out, _ = _run(project, "plan", "hold")
    assert code == 2
    assert "+ added   wait-all" in out
    assert "- removed wait-nl: 2 journey(s) wait there; stranded: nowhere to go" in out
    assert "> re-routed everyone.out: wait-nl -> wait-all" in out
    # start refuses with exit 2, naming the object, the count and both fixes
    done = subprocess.run(
        [*SLUIS, "start", "hold", "--project", str(project.root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    said = " ".join(done.stderr.split())
    assert "2 at 'wait-nl'" in said
    assert "'moved: {wait-nl: NEW_ID}'" in said and "'sluis start hold --drain'" in said
    # the file says where they go: safe, and start moves them
    (project.root / "flows" / "hold.yaml").write_text("moved: {wait-nl: wait-all}\n" + V2)
    code, out, _ = _run(project, "plan", "hold")
    assert code == 0 and "they go to 'wait-all' (moved)" in out
    code, out, _ = _run(project, "start", "hold")
    assert code == 0 and "version 2; 2 moved wait-nl -> wait-all" in out
    code, out, _ = _run(project, "explain", "C1")
    assert "hold (version 2)" in out and "moved to 'wait-all'" in out
    code, out, _ = _run(project, "validate")
    assert code == 0 and "changed since started" not in out


def test_drain_keeps_the_old_version_for_the_journeys_inside(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    project = _started(make_project, tmp_path)
    (project.root / "flows" / "hold.yaml").write_text(V2)
    code, out, _ = _run(project, "start", "hold", "--drain")
    assert code == 0
    assert "version 2; journeys on version 1 finish on it (draining)" in " ".join(out.split())
    code, out, _ = _run(project, "plan", "hold")  # nothing to deploy, and what still drains
    assert code == 0 and out.splitlines() == [
        "hold: the file is the running version 2; nothing to deploy",
        "  version 1 drains: 2 journey(s) finish on it",
    ]
    late = tmp_path / "late.csv"
    late.write_text("external_id,email\nC3,c3@x.nl\n")
    code, out, _ = _run(project, "start", "hold", "--customers", str(late))
    assert code == 0 and "started hold (version 2): 1 of 1" in out
    code, out, _ = _run(project, "explain", "C3")
    assert "hold (version 2) entered" in out  # a start by hand enters the running version
    (project.root / "flows" / "hold.yaml").write_text(V2 + "# a comment\n")
    code, out, _ = _run(project, "plan", "hold")
    assert code == 0 and "version 1 drains: 2 journey(s) finish on it" in out
    code, out, _ = _run(project, "explain", "C2")
    assert "hold (version 1)" in out and "waiting at wait-nl" in " ".join(out.split())


def test_moved_must_name_an_object_of_the_flow(
    make_project: Callable[..., Project],
) -> None:
    project = make_project("timezone: UTC\n", {"hold": "moved: {wait-nl: wait-al}\n" + V2})
    _, _, error = _run(project, "validate")
    assert getattr(error, "exit_code", None) == 2
    assert (
        "moved: 'wait-nl' goes to 'wait-al', which is not an object; did you mean 'wait-all'"
        in (str(getattr(error, "problems", error)))
    )
