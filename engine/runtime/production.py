"""Effects for production: the real senders, built from the project's connections. Each part
(mail, HTTP, files) adds its sink here."""

from __future__ import annotations

from engine.mail.sink import MailSink
from engine.model.project import Project
from engine.runtime.clock import Clock
from engine.sdk.effects import Effects


def production_effects(project: Project, *, clock: Clock | None = None) -> Effects:
    """The effect sinks that act on the outside world for ``project``; ``clock`` is where
    HTTP retries wait (the system clock unless given)."""
    from engine.http.client import HttpClient  # httpx loads only when effects are made

    return Effects(
        mail=MailSink.production(project), http=HttpClient.for_project(project, clock=clock)
    )
