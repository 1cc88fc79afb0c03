"""Fixtures of the mail tests (their helpers are in ``mailtest.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from mailtest import (
    START,
    TRACKING_KEY,
    WELCOME_HTML,
    Certificate,
    Harness,
    Inbox,
    SmtpServer,
    authenticator,
    make_certificate,
    make_runtime,
    serve,
)

from engine.mail import linkparam
from engine.model.project import Project
from engine.runtime.clock import VirtualClock
from engine.store import Store


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server on 127.0.0.1."""
    with serve(Inbox()) as server:
        yield server


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1; clients trust it through SSL_CERT_FILE."""
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def starttls_server(certificate: Certificate) -> Iterator[SmtpServer]:
    """An SMTP server that requires STARTTLS and a login (mailer / s3cret)."""
    kwargs = {
        "tls_context": certificate.server_context(),
        "require_starttls": True,
        "authenticator": authenticator,
        "auth_required": True,
    }
    with serve(Inbox(), **kwargs) as server:
        yield server


@pytest.fixture
def ssl_server(certificate: Certificate) -> Iterator[SmtpServer]:
    """An SMTP server with implicit TLS (SMTPS)."""
    with serve(Inbox(), ssl_context=certificate.server_context()) as server:
        yield server


@pytest.fixture(autouse=True)
def mail_keys(monkeypatch: pytest.MonkeyPatch) -> str:
    """Tracking and link-parameter keys in the environment; returns the link key."""
    key = linkparam.new_key()
    monkeypatch.setenv("SLUIS_TRACKING_KEY", TRACKING_KEY)
    monkeypatch.setenv("SLUIS_LINK_KEY", key)
    return key


@pytest.fixture
def harness(
    make_project: Callable[..., Project], store_for: Callable[[Project], Store]
) -> Iterator[Callable[..., Harness]]:
    """Make a project (settings, flows, templates) with a store and a runtime at START."""
    made: list[Harness] = []

    def make(
        settings: str, flows: dict[str, str], templates: dict[str, str] | None = None
    ) -> Harness:
        project = make_project(settings, flows, {"welcome.html": WELCOME_HTML, **(templates or {})})
        store = store_for(project)
        clock = VirtualClock(START)
        made.append(Harness(project, store, clock, make_runtime(project, store, clock)))
        return made[-1]

    yield make
    for each in made:
        each.close()
