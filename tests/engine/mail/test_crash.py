"""At most one mail per (journey, object) when the sending process is killed mid-batch.

A worker process runs the runtime on the shared database and sends to aiosmtpd; the server
kills it with SIGKILL at a chosen moment (while it waits for the answer to a mail's DATA, or as
the next window of mails starts). Then another runtime runs the same batch again once the
dead worker's lease has lapsed, and the server counts what arrived."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from mailtest import UNKNOWN_PREFIX, Harness, SmtpServer, mail_flow, make_runtime, smtp_settings

from engine.runtime.clock import VirtualClock

WORKER = textwrap.dedent(
    """
    import sys
    from engine.runtime.clock import SystemClock
    from engine.model.flow import load_flows
    from engine.runtime.production import production_effects
    from engine.model.project import Project
    from engine.runtime.runner import Runtime
    from engine.store import Store
    from pathlib import Path

    project = Project.load(Path(sys.argv[1]))
    flows, _ = load_flows(project)
    runtime = Runtime(Store.open(project), flows, SystemClock(), production_effects(project))
    print("ready", flush=True)
    runtime.run_until_idle()
    print("finished", flush=True)
    """
)


def run_worker(h: Harness, db_url: str) -> subprocess.Popen[str]:
    env = {**os.environ, "SLUIS_DATABASE_URL": db_url}
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(h.project.root)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    ("kill_on", "number", "unknown"),
    [
        # killed while it waits for the answer to mail 3's DATA: mails 1-3 were handed over
        # (marked sending, not yet sent), so they stay unknown; 4-10 were only queued and
        # 11-15 not yet: the batch that runs again sends those
        ("data", 3, {1, 2, 3}),
        # killed as mail 11 (the second window) starts: 1-10 were accepted and marked sent,
        # 11-15 were queued but none handed over
        ("mail", 11, set()),
    ],
)
def test_at_most_one_mail_after_a_crash(
    harness, smtp_server: SmtpServer, db_url: str, kill_on, number, unknown
) -> None:
    h = harness(smtp_settings(smtp_server.port, max_connections=1), {"welcome": mail_flow()})
    ids = h.customers(
        *({"external_id": f"C{n:02}", "email": f"c{n}@example.com"} for n in range(1, 16))
    )
    h.runtime.start("welcome")
    h.runtime.fire_due()  # the journeys wait at the mail object; the worker will run them
    worker = run_worker(h, db_url)
    assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"

    def kill(count: int) -> None:
        if count == number:
            os.kill(worker.pid, signal.SIGKILL)

    inbox = smtp_server.inbox
    if kill_on == "data":
        inbox.on_data = kill
    else:
        inbox.on_mail = kill
    assert worker.wait(timeout=60) == -signal.SIGKILL
    worker.stdout.close()
    inbox.on_data = inbox.on_mail = None
    assert len(h.events("sent")) == 0  # the batch's routing never committed

    later = VirtualClock(datetime.now(UTC) + timedelta(hours=1))  # the lease has lapsed
    again = make_runtime(h.project, h.store, later, owner="after-the-crash")
    h.runtimes.append(again)
    assert again.run_until_idle() == 1

    counts = Counter(r.recipients[0] for r in inbox.received)
    assert max(counts.values()) == 1
    assert set(counts) == {f"c{n}@example.com" for n in range(1, 16)}  # none lost
    steps = h.steps()
    for n, customer in enumerate(ids, 1):
        obj, output, reason = steps[customer][-1]
        assert (obj, output) == ("welcome-mail", "sent")
        assert reason.startswith(UNKNOWN_PREFIX) if n in unknown else reason == "sent"
    sent = Counter(e["customer_id"] for e in h.events("sent"))
    assert set(sent) == {ids[n - 1] for n in set(range(1, 16)) - unknown}
    assert max(sent.values()) == 1
    states = Counter(row.state for row in h.send_log().values())
    assert states == Counter({"sent": 15 - len(unknown), "unknown": len(unknown)})
