"""Mail: 10,000 personalised mails through the runtime (templates, tracking links, link
parameters, send log, events; SMTP over the connection's parallel connections) to aiosmtpd in
another process, against a baseline that sends the same mails, rendered beforehand, with plain
smtplib over one connection.

    python -m bench mail [--scale 0.1]
"""

from __future__ import annotations

import os
import smtplib
import socket
import subprocess
import sys
import tempfile
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import Result, peak_rss_mb, scenario, timer
from engine.mail import linkparam
from engine.mail.senders import CapturedSender
from engine.mail.sink import MailSink
from engine.model.flow import load_flows
from engine.model.project import Project
from engine.runtime.clock import VirtualClock
from engine.runtime.production import production_effects
from engine.runtime.runner import Runtime
from engine.sdk.effects import Effects
from engine.store import Database, Store
from engine.store.customers import upsert_customers

SERVER = textwrap.dedent(
    """
    import asyncio, sys
    from aiosmtpd.controller import Controller

    class Count:
        received = 0
        async def handle_DATA(self, server, session, envelope):
            Count.received += 1
            return "250 OK"

    loop = asyncio.new_event_loop()
    controller = Controller(Count(), hostname="127.0.0.1", port=int(sys.argv[1]), loop=loop)
    controller.start()
    print("ready", flush=True)
    for line in sys.stdin:  # 'count' answers and resets the count
        print(Count.received, flush=True)
        Count.received = 0
    controller.stop()
    """
)
TEMPLATE = """\
<html><body>
<p>Hoi {{ customer.first_name }},</p>
<p>Nieuw in {{ customer.city }}: <a href="https://shop.example/nieuw?stad={{ customer.city }}">
bekijk de collectie</a>, of lees <a href="https://shop.example/blog">de blog</a>.</p>
<p><a href="{{ unsubscribe_url }}">Afmelden</a></p>
</body></html>
"""
FLOW = """\
objects:
  everyone:
    type: selection
    next: news
  news:
    type: mail
    template: news.html
    subject: "{{ customer.first_name }}, nieuw in {{ customer.city }}"
    link_params: [city]
"""


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _project(folder: Path, port: int) -> Project:
    (folder / "flows").mkdir()
    (folder / "templates").mkdir()
    (folder / "templates" / "news.html").write_text(TEMPLATE)
    (folder / "flows" / "news.yaml").write_text(FLOW)
    (folder / "sluis.yaml").write_text(
        textwrap.dedent(
            f"""\
            profile: {{first_name: str, city: str}}
            connections:
              smtp: {{type: smtp, host: 127.0.0.1, port: {port}, max_connections: 4}}
            mail: {{from: "Shop <news@shop.example>", connection: smtp}}
            tracking: {{base_url: "https://t.shop.example"}}
            """
        )
    )
    return Project.load(folder)


def _runtime(project: Project, url: str, effects: Effects, customers: int) -> Runtime:
    store = Store(Database(url), project)
    now = datetime(2026, 1, 5, 9, tzinfo=UTC)
    with store.db.write() as conn:
        rows = [
            {
                "external_id": f"C{n:06}",
                "email": f"klant{n}@example.com",
                "first_name": f"Klant{n}",
                "city": ("Delft", "Gouda", "Zwolle", "Assen")[n % 4],
            }
            for n in range(customers)
        ]
        upsert_customers(conn, rows, key="external_id", project=project, now=now)
    flows, problems = load_flows(project)
    assert not problems, problems
    runtime = Runtime(store, flows, VirtualClock(now), effects)
    runtime.start("news")
    runtime.fire_due()
    return runtime


@scenario("mail")
def mail(scale: float) -> list[Result]:
    count = max(10, int(10_000 * scale))
    os.environ.setdefault("SLUIS_TRACKING_KEY", "bench-tracking-key-0123456789abcdef")
    os.environ.setdefault("SLUIS_LINK_KEY", linkparam.new_key())
    port = _port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    assert server.stdout.readline().strip() == "ready"

    def received() -> int:
        server.stdin.write("count\n")  # type: ignore[union-attr]
        server.stdin.flush()  # type: ignore[union-attr]
        return int(server.stdout.readline())  # type: ignore[union-attr]

    try:
        with tempfile.TemporaryDirectory(prefix="sluis-bench-mail-") as tmp:
            project = _project(Path(tmp), port)
            runtime = _runtime(
                project, f"sqlite:///{tmp}/engine.db", production_effects(project), count
            )
            with timer() as engine_time:
                runtime.run_until_idle()
            runtime.effects.mail.close()
            engine_received = received()

            # the same mails, rendered beforehand by the same runtime with a capturing sink
            captured = MailSink.captured(keep=True)
            rendering = _runtime(
                project, f"sqlite:///{tmp}/render.db", Effects(mail=captured), count
            )
            rendering.run_until_idle()
            sender = captured.sender
            assert isinstance(sender, CapturedSender)
            ready = [(x.envelope_from, x.to, x.as_bytes(smtp=True)) for x in sender.letters]
            with timer() as baseline_time, smtplib.SMTP("127.0.0.1", port) as smtp:
                for envelope_from, to, data in ready:
                    smtp.sendmail(envelope_from, [to], data)
            baseline_received = received()
    finally:
        server.stdin.close()
        server.wait(timeout=30)
        server.stdout.close()
    assert engine_received == count, f"the server got {engine_received} of {count} mails"
    assert baseline_received == len(ready) == count
    return [
        Result(
            "personalised mails to aiosmtpd",
            "mails/s",
            count / engine_time[0],
            count / baseline_time[0],
            notes={
                "mails": str(count),
                "engine": f"{engine_time[0]:.1f}s over 4 connections",
                "baseline": f"{baseline_time[0]:.1f}s smtplib, 1 connection, pre-rendered",
                "peak_rss_mb": f"{peak_rss_mb():.0f}",
            },
        )
    ]
