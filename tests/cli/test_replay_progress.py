"""`sluis replay` shows a progress bar on stderr (journeys done out of those made, and the
simulated clock) when stderr is a terminal, and keeps stdout the document's alone; without a
terminal it writes no bar."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

FLOW = """
objects:
  everyone: {type: selection, next: pause}
  pause: {type: wait, for: 1d, next: done}
  done: {type: end}
"""


def _replay(tmp_path: Path, stderr: int) -> subprocess.Popen[bytes]:
    (tmp_path / "flows").mkdir()
    (tmp_path / "sluis.yaml").write_text("timezone: UTC\nprofile: {first_name: str}\n")
    (tmp_path / "flows" / "f.yaml").write_text(FLOW)
    customers = tmp_path / "customers.csv"
    customers.write_text("external_id,first_name\n" + "".join(f"C{i},N{i}\n" for i in range(37)))
    command = [sys.executable, "-m", "cli", "replay", "f", "--project", str(tmp_path)]
    command += ["--customers", str(customers), "--start", "2026-01-05T09:00:00+00:00", "--json"]
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "150"}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=env)


def test_on_a_terminal_replay_counts_the_journeys_done_on_stderr(tmp_path: Path) -> None:
    terminal, stderr = pty.openpty()
    proc = _replay(tmp_path, stderr)
    os.close(stderr)
    shown = b""
    while True:
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # the terminal closed: the process ended
            break
        if not chunk:
            break
        shown += chunk
    out, _ = proc.communicate(timeout=60)
    os.close(terminal)
    assert proc.returncode == 0, shown.decode(errors="replace")
    assert len(json.loads(out)["journeys"]) == 37  # the bar stayed off stdout
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode(errors="replace"))  # no styles
    assert "37/37 journeys done, clock 2026-01-06 09:00" in text, text


def test_without_a_terminal_replay_writes_no_bar(tmp_path: Path) -> None:
    proc = _replay(tmp_path, subprocess.PIPE)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert len(json.loads(out)["journeys"]) == 37
    assert b"journeys done" not in err
