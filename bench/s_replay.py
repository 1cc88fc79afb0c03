"""Replay for testers at scale: `sluis replay` of the runtime benchmark's flow (selection ->
split -> update -> group -> bucket -> end) with 100,000 customers, as a tester runs it (a
process of its own, `--json` to a file, and the readable summary), against the hand-written
sqlite3 baseline of the runtime benchmark doing the same work in the same run. Peak memory is
the replay process's own (``wait4``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from bench.harness import Result, scenario
from bench.s_runtime import COUNTRIES, FLOW, SETTINGS, _baseline, _in_process


def _project(root: Path, count: int) -> Path:
    (root / "flows").mkdir()
    (root / "sluis.yaml").write_text(textwrap.dedent(SETTINGS))
    (root / "flows" / "bench.yaml").write_text(textwrap.dedent(FLOW))
    customers = root / "customers.csv"
    with customers.open("w") as out:
        out.write("external_id,email,first_name,country,newsletter\n")
        for i in range(count):
            out.write(f"C{i:07d},c{i}@example.com,N{i},{COUNTRIES[i % 4]},true\n")
    return customers


def _replay(root: Path, customers: Path, *extra: str) -> tuple[float, float, Path]:
    """Wall seconds, peak RSS (MB) and the output file of one `sluis replay`."""
    output = root / f"replay{'-'.join(extra)}.out"
    command = [sys.executable, "-m", "cli", "replay", "bench", "--project", str(root)]
    command += ["--customers", str(customers), "--start", "2026-01-05T09:00:00+00:00"]
    command += ["--until", "2d", *extra]
    start = time.perf_counter()
    with output.open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(
            f"sluis replay failed: {proc.stderr.read().decode() if proc.stderr else ''}"
        )
    return seconds, usage.ru_maxrss / 1024, output


@scenario("replay")
def replay_at_scale(scale: float) -> list[Result]:
    count = max(1000, int(100_000 * scale))
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        customers = _project(root, count)
        json_s, json_mb, output = _replay(root, customers, "--json")
        document = json.loads(output.read_text())
        journeys = document["journeys"]
        assert len(journeys) == count and all(len(j["steps"]) == 6 for j in journeys), (
            "the replay did not take every customer through the six objects"
        )
        del document, journeys
        table_s, table_mb, _ = _replay(root, customers)
    base = _in_process(_baseline, count)
    notes = {"customers": f"{count:,}", "baseline_s": f"{base['seconds']:.1f}"}
    return [
        Result("replay --json", "s", json_s, base["seconds"], False, "within 4x", notes),
        Result("replay, readable summary", "s", table_s, json_s, False, "<= 1x of --json"),
        Result("peak memory, --json", "MB", json_mb, base["rss"], False, "< 300 MB"),
        Result("peak memory, summary", "MB", table_mb, None, False, "< 300 MB"),
    ]
