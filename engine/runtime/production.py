"""Effects for production: the real senders, built from the project's connections. Each part
(mail, HTTP, files) adds its sink here."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.mail.sink import MailSink
from engine.model.project import Project
from engine.runtime.clock import Clock
from engine.sdk.effects import Effects

if TYPE_CHECKING:
    from engine.http.calls import CallPolicy, HttpCall, HttpOutcome
    from engine.http.client import HttpClient


def production_effects(project: Project, *, clock: Clock | None = None) -> Effects:
    """The effect sinks that act on the outside world for ``project``; ``clock`` is where
    HTTP retries wait (the system clock unless given)."""
    return Effects(mail=MailSink.production(project), http=HttpOnFirstCall(project, clock))


class HttpOnFirstCall:
    """Production's HTTP sink: the project's ``HttpClient``, made at the first call. Most
    workers run flows that call no HTTP, and importing httpx costs a process some 50 ms."""

    def __init__(self, project: Project, clock: Clock | None) -> None:
        self.project = project
        self.clock = clock
        self._client: HttpClient | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> HttpClient:
        with self._lock:  # one client per process: its pool and rate limits are shared
            if self._client is None:
                from engine.http.client import HttpClient

                self._client = HttpClient.for_project(self.project, clock=self.clock)
            return self._client

    def send_all(self, calls: Sequence[HttpCall], policy: CallPolicy) -> list[HttpOutcome]:
        return self.client.send_all(calls, policy)
