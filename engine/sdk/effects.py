"""Effects on the outside world, as objects see them.

Production and replay each build an ``Effects``: production with real senders (SMTP, HTTP,
files), replay with sinks that capture mails and HTTP calls and write exports under a temporary
folder. Objects never ask which one they have; they call the sinks and ``record`` what they did,
which replay lists in its JSON. Each sink is a Protocol, so production's and replay's
implementations are checked against the same shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from engine.files import Files

if TYPE_CHECKING:
    from engine.files import Place
    from engine.http.calls import CallPolicy, HttpCall, HttpOutcome
    from engine.mail.senders import Sender
    from engine.model.project import Project
    from engine.store import Database

EFFECT_KINDS = ("mail", "http", "exports")
Recorded = Mapping[str, Any] | Callable[[], Mapping[str, Any]]


class MailSink(Protocol):
    """Where mail goes (SMTP in production, a capture in replay), with the keys that sign
    tracking links and encrypt link parameters."""

    @property
    def sender(self) -> Sender: ...

    def tracking_key(self, db: Database) -> bytes: ...

    @property
    def link_key(self) -> bytes: ...


class HttpSink(Protocol):
    """Where HTTP calls go: the client in production, a capture answering 200 in replay."""

    def send_all(self, calls: Sequence[HttpCall], policy: CallPolicy) -> list[HttpOutcome]: ...


class FileSink(Protocol):
    """Turns locations into places: the project's folders in production, a temporary overlay
    in replay."""

    def place(
        self,
        location: Any,
        project: Project,
        scope: Mapping[str, Any] | None = None,
        *,
        render: bool = True,
    ) -> Place: ...

    def close(self) -> None:
        """Let go of connections (SFTP sessions) opened for places."""


@dataclass
class Effects:
    """The effect sinks of one runtime. ``captured`` is not None in replay."""

    mail: MailSink | None = None
    http: HttpSink | None = None
    files: FileSink = field(default_factory=Files)  # replay's writes under a temporary folder
    captured: dict[str, list[dict[str, Any]]] | None = None

    @classmethod
    def capturing(
        cls, *, mail: MailSink | None = None, http: HttpSink | None = None, files: FileSink
    ) -> Effects:
        return cls(mail, http, files, captured={kind: [] for kind in EFFECT_KINDS})

    @property
    def replay(self) -> bool:
        """For the runtime (no lease heartbeat on a virtual clock); objects never ask."""
        return self.captured is not None

    def record(self, kind: str, entry: Recorded) -> None:
        """Note an effect for replay's output; nothing happens in production. ``entry`` may be
        a function making it, called only when recorded (labels cost nothing in production)."""
        if self.captured is not None:
            made = entry() if callable(entry) else entry
            self.captured.setdefault(kind, []).append(dict(made))
