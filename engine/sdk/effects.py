"""Effects on the outside world, as objects see them.

Production and replay each build an ``Effects``: production with real senders (SMTP, HTTP,
files), replay with sinks that capture mails and HTTP calls and write exports under a temporary
folder. Objects never ask which one they have; they call the sinks and ``record`` what they did,
which replay lists in its JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.files import Files

EFFECT_KINDS = ("mail", "http", "exports")


@dataclass
class Effects:
    """The effect sinks of one runtime. ``captured`` is not None in replay."""

    mail: Any = None
    http: Any = None
    files: Files = field(default_factory=Files)  # replay's writes under a temporary folder
    captured: dict[str, list[dict[str, Any]]] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def capturing(cls, **sinks: Any) -> Effects:
        return cls(captured={kind: [] for kind in EFFECT_KINDS}, **sinks)

    @property
    def replay(self) -> bool:
        return self.captured is not None

    def record(self, kind: str, entry: dict[str, Any]) -> None:
        """Note an effect for replay's output; nothing happens in production."""
        if self.captured is not None:
            self.captured.setdefault(kind, []).append(entry)
