"""Helpers for the mail tests: a real SMTP server (aiosmtpd on 127.0.0.1) that keeps what it
receives, TLS certificates for it, projects that send through it, and runtimes on a virtual
clock. Fixtures built on them are in ``conftest.py``; the object and tracking-route tests live
in this folder too, to share them."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import ipaddress
import socket
import ssl
import textwrap
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from engine.model.flow import load_flows
from engine.model.project import Project
from engine.runtime.clock import VirtualClock
from engine.runtime.explain import journeys_of
from engine.runtime.production import production_effects
from engine.runtime.runner import Runtime
from engine.store import Store
from engine.store.customers import upsert_customers
from engine.store.models import EVENTS, SEND_LOG

START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
TRACKING_KEY = "test-tracking-key-0123456789abcdef"
UNKNOWN_PREFIX = "unknown: "
LOG = SEND_LOG


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    """One mail as the server got it."""

    sender: str
    recipients: list[str]
    raw: bytes
    tls: bool
    login: str | None

    @property
    def message(self) -> EmailMessage:
        lines = self.raw.replace(b"\r\n", b"\n")
        parsed: EmailMessage = email.message_from_bytes(lines, policy=default)  # type: ignore[assignment]
        return parsed


@dataclass
class Inbox:
    """The aiosmtpd handler: keeps mails; refuses or defers recipients by their local part
    (``refuse...`` gets 550, ``later...`` 451 while ``defer`` is set); ``on_data`` runs
    before a mail is accepted."""

    received: list[Received] = field(default_factory=list)
    peers: set[Any] = field(default_factory=set)
    defer: bool = True
    on_data: Callable[[int], None] | None = None
    on_mail: Callable[[int], None] | None = None
    mails_started: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_MAIL(self, server, session, envelope, address, options):
        with self.lock:
            self.mails_started += 1
            number = self.mails_started
        if self.on_mail is not None:
            self.on_mail(number)
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        local = address.split("@")[0]
        if local.startswith("refuse"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if local.startswith("later") and self.defer:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else None
        with self.lock:
            self.peers.add(session.peer)
            self.received.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content or envelope.content,
                    server.transport.get_extra_info("ssl_object") is not None,
                    login,
                )
            )
            number = len(self.received)
        if self.on_data is not None:
            self.on_data(number)
        return "250 2.0.0 Ok: queued"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.recipients]


@dataclass
class SmtpServer:
    port: int
    inbox: Inbox


class _Controller(Controller):
    """aiosmtpd's controller, closing the connections it served when it stops (aiosmtpd
    leaves their transports open, which ResourceWarnings report)."""

    def factory(self) -> SMTP:
        server = super().factory()
        self.served = [*getattr(self, "served", []), server]
        return server

    def stop(self, no_assert: bool = False) -> None:
        async def close_all() -> None:
            for server in getattr(self, "served", []):
                if server.transport is not None:
                    server.transport.abort()
            await asyncio.sleep(0.05)

        asyncio.run_coroutine_threadsafe(close_all(), self.loop).result(timeout=5)
        super().stop(no_assert)


@contextmanager
def serve(handler: Inbox, **kwargs: Any) -> Iterator[SmtpServer]:
    """Run an aiosmtpd server with ``handler`` on a free port of 127.0.0.1."""
    port = free_port()
    loop = asyncio.new_event_loop()  # ours, so it is closed afterwards
    controller = _Controller(handler, hostname="127.0.0.1", port=port, loop=loop, **kwargs)
    controller.start()
    try:
        yield SmtpServer(port, handler)
    finally:
        controller.stop()
        loop.close()


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_certificate(folder: Path) -> Certificate:
    """A self-signed certificate for 127.0.0.1 (and localhost)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths = Certificate(folder / "cert.pem", folder / "key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"mailer" and auth_data.password == b"s3cret"
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


WELCOME_HTML = """\
<html><head><style>p { color: #333 }</style></head><body>
<p>Hoi {{ customer.first_name }},</p>
<p>Welkom! <a href="https://shop.example/nieuw?utm_source=mail&amp;utm_campaign=welkom">Bekijk
wat er nieuw is</a> of lees <a href='https://shop.example/blog#top'>de blog</a>.</p>
<p><a href="mailto:help@shop.example">Mail ons</a></p>
<p><a href="{{ unsubscribe_url }}">Afmelden</a></p>
</body></html>
"""


def smtp_settings(port: int, extra: str = "", **connection: Any) -> str:
    """sluis.yaml for a project that sends through the SMTP server on ``port``."""
    options = "".join(f"\n    {k}: {v}" for k, v in connection.items())
    return textwrap.dedent(
        """\
        timezone: UTC
        profile: {first_name: str, city: str}
        connections:
          smtp:
            type: smtp
            host: 127.0.0.1
            port: %d%s
        mail:
          from: "Shop <news@shop.example>"
          connection: smtp
        tracking:
          base_url: https://t.shop.example
        """
    ) % (port, options) + textwrap.dedent(extra)


MAIL_FLOW = """\
objects:
  everyone:
    type: selection
    next: welcome-mail
  welcome-mail:
    type: mail
    template: welcome.html
    subject: "Welkom, {{ customer.first_name }}!"
    %s
"""


def mail_flow(**settings: Any) -> str:
    """A flow: every customer gets the mail ``welcome-mail`` with extra ``settings``."""
    lines = "\n    ".join(f"{k}: {v}" for k, v in settings.items())
    return MAIL_FLOW % lines


@dataclass
class Harness:
    """A project, its store and a runtime on a virtual clock."""

    project: Project
    store: Store
    clock: VirtualClock
    runtime: Runtime
    runtimes: list[Runtime] = field(default_factory=list)

    def customers(self, *rows: dict[str, Any], key: str = "external_id") -> list[int]:
        with self.store.db.write() as conn:
            done = upsert_customers(
                conn, list(rows), key=key, project=self.project, now=self.clock.now()
            )
        return [system_id for system_id, _status in done]

    def start(self, flow: str = "welcome") -> None:
        self.runtime.start(flow)
        self.runtime.fire_due()
        self.runtime.run_until_idle()

    def another_worker(self, clock: VirtualClock | None = None) -> Runtime:
        runtime = make_runtime(self.project, self.store, clock or self.clock, owner="worker-2")
        self.runtimes.append(runtime)
        return runtime

    def steps(self, flow: str = "welcome") -> dict[int, list[tuple[str, str | None, str]]]:
        """(object, output, reason) of every step, by customer."""
        with self.store.db.read() as conn:
            return {
                view.customer_id: [(s.object, s.output, s.reason) for s in view.steps]
                for view in journeys_of(conn, flow=flow)
            }

    def events(self, kind: str) -> list[dict[str, Any]]:
        with self.store.db.read() as conn:
            query = select(EVENTS).where(EVENTS.c.kind == kind).order_by(EVENTS.c.id)
            return [dict(row._mapping) for row in conn.execute(query)]

    def send_log(self) -> dict[int, Any]:
        with self.store.db.read() as conn:
            return {row.journey_id: row for row in conn.execute(select(LOG))}

    def close(self) -> None:
        for runtime in (self.runtime, *self.runtimes):
            runtime.effects.mail.close()


def make_runtime(
    project: Project, store: Store, clock: VirtualClock, owner: str = "worker-1"
) -> Runtime:
    flows, problems = load_flows(project)
    assert not problems, problems
    return Runtime(store, flows, clock, production_effects(project), owner=owner)
