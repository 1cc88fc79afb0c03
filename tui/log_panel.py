"""Recent activity across the flow on screen, newest first: its events (sent, opens,
failures, ...) and its customers' steps (kind ``step``: the output and the reason)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from textual.widgets import DataTable

from engine.runtime.monitor import EventView

COLUMNS = (("time (UTC)", 14), ("event", 11), ("object", 16), ("customer", 14), ("detail", 60))


def detail(event: EventView) -> str:
    """What an event says besides its kind: its reason, else its data in short."""
    data = dict(event.data)
    reason = data.pop("reason", None)
    if reason:
        return str(reason)
    return json.dumps(data, ensure_ascii=False, default=str) if data else ""


def when(event: EventView) -> str:
    return f"{event.at:%m-%d %H:%M:%S}"


class LogPanel(DataTable[str]):
    """A table of the newest events of the flow."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, show_cursor=False)
        self.border_title = "Events"
        self._shown: tuple[int, ...] | None = None

    def on_mount(self) -> None:
        # fixed widths: the table keeps its shape as events come and go
        for label, width in COLUMNS:
            self.add_column(label, width=width)

    def show_events(self, events: Sequence[EventView]) -> None:
        ids = tuple(e.id for e in events)
        if ids == self._shown:
            return
        self._shown = ids
        self.clear()
        for event in events:
            self.add_row(
                when(event),
                event.kind,
                event.object or "",
                event.customer or "",
                detail(event),
                key=str(event.id),
            )
        if not events:
            self.add_row("", "", "", "", "nothing happened in this flow yet")
