"""The top line: the project and flow on screen, and the time the counts are from: the
database's clock in live mode, the virtual clock in step mode (always visible there). In live
mode it also shows what ``sluis status`` shows: workers alive, batches claimed (and leases run
out), journeys ready and the lag of the oldest. On a narrow terminal the date and the project
name make room for those numbers."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from engine.model.durations import format_duration
from engine.runtime.status import Status


def workload(status: Status) -> str:
    """workers 2 · batches 3 (1 lease run out) · ready 1,204 (lag 2m)"""
    parts = [f"workers {status.alive}", f"batches {status.claimed:,}"]
    if status.lapsed:
        parts[-1] += f" ({status.lapsed} lease{'s' if status.lapsed > 1 else ''} run out)"
    ready = f"ready {status.ready:,}"
    if status.lag is not None and status.lag.total_seconds() >= 1:
        ready += f" (lag {format_duration(status.lag)})"
    return " · ".join([*parts, ready])


class StatusBar(Static):
    """One line of what is on screen and as of when."""

    def __init__(self, project: str, *, step_mode: bool, id: str | None = None) -> None:
        super().__init__(id=id)
        self.project = project
        self.step_mode = step_mode
        self.flow: str | None = None
        self.now: datetime | None = None
        self.note = ""
        self.status: Status | None = None

    def on_mount(self) -> None:
        self._update()

    def on_resize(self) -> None:
        self._update()

    def show(
        self,
        *,
        flow: str | None = None,
        now: datetime | None = None,
        note: str | None = None,
        status: Status | None = None,
    ) -> None:
        if status is not None:
            self.status = status
        if flow is not None:
            self.flow = flow
        if now is not None:
            self.now = now
        if note is not None:
            self.note = note
        self._update()

    def _update(self) -> None:
        """The fullest line that fits: on a narrow terminal the date and the project name go
        first, so the workload numbers stay in sight."""
        width = self.size.width or 10_000  # before the first layout: no limit yet
        lines = [
            self._line(full=True, project=True),
            self._line(full=False, project=True),
            self._line(full=False, project=False),
        ]
        self.update(next((line for line in lines if line.cell_len <= width), lines[-1]))

    def _line(self, *, full: bool, project: bool) -> Text:
        text = Text.assemble(("sluis ", "bold"), (self.project if project else "", ""))
        if self.flow:
            if project:
                text.append(" · ")
            text.append(self.flow, "bold")
        if self.step_mode:
            clock = f"{self.now:%Y-%m-%d %H:%M} UTC" if self.now else "…"
            text.append("  step mode ", "bold reverse")
            text.append(f" virtual time {clock}", "bold")
        elif self.now is not None:
            moment = f"as of {self.now:%Y-%m-%d %H:%M:%S} UTC" if full else f"{self.now:%H:%M:%S}"
            text.append(f"  live · {moment}")
            if self.status is not None:
                text.append(f" · {workload(self.status)}")
        if self.note:
            text.append(f" · {self.note}", "italic")
        return text
