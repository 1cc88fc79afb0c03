"""CLI start-up: ``sluis --help`` and ``sluis validate`` of the example project, whole processes.

DESIGN.md section 9 ("Commands answer fast"): ``sluis --help`` in under 0.3 s and ``sluis
validate`` in under 0.6 s of wall time, for the example project's four flows and for twenty (a
copy of the project with each flow five times, under other names). Each command runs as a fresh process from its start to
its exit, ``15 * scale`` times (at least 5) after one warm-up run, in turn with ``python -c pass``
(the same interpreter: the floor no command can go under), so drift of the machine's speed hits
all three alike. Figures are the median wall time; the notes give the minimum, the median CPU
time (user + system, of the child) and the ratio of the medians to bare Python.

On a busy machine wall time grows while CPU time hardly does: compare the two before reading a
slow wall figure as a regression.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import Result, scenario

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "flows"
TARGETS_MS = {"sluis --help": 300, "sluis validate": 600, "sluis validate (20 flows)": 600}


def _sluis() -> list[str]:
    """The installed ``sluis`` script beside this interpreter, else ``python -m cli``."""
    script = Path(sys.executable).parent / "sluis"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


def _twenty_flows(folder: Path) -> Path:
    """A copy of the example project with each of its four flows five times."""
    project = folder / "project"
    shutil.copytree(EXAMPLES, project, ignore=shutil.ignore_patterns("*.db", "__pycache__"))
    for flow in sorted((project / "flows").glob("*.yaml")):
        text = flow.read_text()
        for copy in range(2, 6):
            name = f"{flow.stem}-{copy}"
            renamed = text.replace(f"name: {flow.stem}\n", f"name: {name}\n", 1)
            (flow.parent / f"{name}.yaml").write_text(renamed)
    return project


def _run(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``command``, from its start to its exit."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    errors = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({proc.returncode}): {errors.decode()}")
    return wall, usage.ru_utime + usage.ru_stime


@scenario("cli")
def run(scale: float) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="sluis-bench-cli-") as folder:
        return _measure(scale, _twenty_flows(Path(folder)))


def _measure(scale: float, twenty: Path) -> list[Result]:
    runs = max(5, round(15 * scale))
    sluis = _sluis()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "sluis --help": [*sluis, "--help"],
        "sluis validate": [*sluis, "validate", "--project", str(EXAMPLES)],
        "sluis validate (20 flows)": [*sluis, "validate", "--project", str(twenty)],
    }
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for command in commands.values():  # warm-up: the OS file cache, .pyc files
        _run(command)
    for _ in range(runs):
        for name, command in commands.items():
            wall, cpu = _run(command)
            walls[name].append(wall * 1000)
            cpus[name].append(cpu * 1000)
    bare = statistics.median(walls["python -c pass"])
    bare_cpu = statistics.median(cpus["python -c pass"])
    results = [
        Result(
            "python -c pass: wall, median",
            "ms",
            bare,
            None,
            False,
            "(the floor)",
            {"min": f"{min(walls['python -c pass']):.0f} ms", "cpu": f"{bare_cpu:.0f} ms"},
        )
    ]
    for name, target in TARGETS_MS.items():
        median = statistics.median(walls[name])
        cpu = statistics.median(cpus[name])
        results.append(
            Result(
                f"{name}: wall, median",
                "ms",
                median,
                bare,
                False,
                f"< {target} ms" + (" (met)" if median < target else " (MISSED)"),
                {
                    "min": f"{min(walls[name]):.0f} ms",
                    "cpu": f"{cpu:.0f} ms ({cpu / bare_cpu:.1f}x python)",
                    "runs": str(runs),
                },
            )
        )
    return results
