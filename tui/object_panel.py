"""The side panel of the object selected in the graph: its settings, the customers waiting
there (a page at a time, searchable by external_id or email), the journeys that failed there
with their reasons (``r`` retries them) and its recent events. Enter on a customer opens its
journeys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import yaml
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Input, Label, Static

from engine.model.durations import format_duration
from engine.model.flow import FlowObject
from engine.runtime.monitor import EventView, ObjectCounts, Page, WaitingCustomer
from tui.log_panel import when
from tui.reader import FailedView

PAGE = 10


def settings_text(spec: FlowObject) -> str:
    """An object's settings as YAML (durations as written, e.g. 3d), with where its outputs
    lead."""
    settings = spec.settings
    dumped = settings.model_dump(mode="json", by_alias=True, exclude_none=True)
    data: dict[str, Any] = {}
    for name, info in type(settings).model_fields.items():
        key = info.alias or name
        if key in ("type", "next", "description") or key not in dumped:
            continue
        value = getattr(settings, name)
        data[key] = format_duration(value) if isinstance(value, timedelta) else dumped[key]
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=60).strip()
    routes = [f"{o} → {spec.routes[o]}" for o in spec.outputs if o in spec.routes]
    ends = [o for o in spec.outputs if o not in spec.routes]
    lines = [text] if data else []
    if routes:
        lines.append("next: " + ", ".join(routes))
    if ends:
        lines.append("ends: " + ", ".join(ends))
    return "\n".join(lines) or "(no settings)"


def until(row: WaitingCustomer) -> str:
    """When a waiting customer moves on: a time, an event (an open), or the first of both."""
    parts = [f"{row.ready_at:%m-%d %H:%M}"] if row.ready_at else []
    if row.wake_on:
        parts.append(row.wake_on)
    return "/".join(parts) or "-"


class ObjectPanel(VerticalScroll):
    """Settings, waiting customers and recent events of one object."""

    BINDINGS = [
        Binding("left_square_bracket", "page(-1)", "Prev page"),
        Binding("right_square_bracket", "page(1)", "Next page"),
        Binding("slash", "search", "Search"),
    ]

    class CustomerChosen(Message):
        """A waiting customer was chosen: show its journeys."""

        def __init__(self, customer_id: int) -> None:
            super().__init__()
            self.customer_id = customer_id

    class Changed(Message):
        """The page or the search changed: read again."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.spec: FlowObject | None = None
        self.start = 0
        self.search = ""
        self.page: Page | None = None
        self.total = 0
        self._events: tuple[int, ...] | None = None
        self._rows: tuple[int, ...] | None = None
        self._failed: tuple[int, ...] | None = None
        self.failed_total = 0

    def compose(self) -> ComposeResult:
        yield Static(id="object-title")
        yield Static(id="object-settings")
        yield Label("", id="waiting-title", classes="section")
        yield Input(placeholder="search external_id or email", id="search")
        yield DataTable(id="waiting", cursor_type="row")
        yield Label("", id="failed-title", classes="section")
        yield Static(id="failed")
        yield Label("Recent events", classes="section")
        yield DataTable(id="object-events", cursor_type="row", show_cursor=False)

    def on_mount(self) -> None:
        waiting = self.query_one("#waiting", DataTable)
        waiting.add_column("customer", width=10)
        waiting.add_column("until (UTC)", width=16)
        events = self.query_one("#object-events", DataTable)
        for label, width in (("time", 14), ("event", 8), ("customer", 10)):
            events.add_column(label, width=width)
        self.query_one("#failed", Static).display = False

    def show_object(self, spec: FlowObject) -> None:
        """Switch to another object: its settings; page and search start over."""
        if self.spec is not None and spec.id == self.spec.id and spec.type == self.spec.type:
            return
        self.spec = spec
        self.start, self.search = 0, ""
        self.page, self._rows, self._events = None, None, None
        self.query_one("#search", Input).value = ""
        self.query_one("#object-title", Static).update(
            Text.assemble((spec.id, "bold"), "  ", (spec.type, "italic"))
        )
        self.query_one("#object-settings", Static).update(settings_text(spec))
        self.query_one("#waiting", DataTable).clear()
        self.query_one("#object-events", DataTable).clear()
        self._failed, self.failed_total = None, 0
        self.query_one("#failed", Static).update("")
        self.query_one("#failed-title", Label).update("Failed here: none")
        self._title()

    def show_failed(self, failed: Sequence[FailedView], total: int) -> None:
        """The newest failed journeys here with their reasons; ``r`` puts them back."""
        self.failed_total = total
        title = f"Failed here: {total} (r: retry)" if total else "Failed here: none"
        self.query_one("#failed-title", Label).update(title)
        ids = tuple(f.journey_id for f in failed)
        if ids == self._failed:
            return
        self._failed = ids
        lines = Text()
        for row in failed:  # the reasons wrap: they are the point
            at = f"{row.at:%m-%d %H:%M}" if row.at else ""
            lines.append(f"{row.customer} ", "bold")
            lines.append(f"{at}\n", "dim")
            lines.append(f"  {row.reason}\n", "red")
        widget = self.query_one("#failed", Static)
        widget.update(lines)
        widget.display = bool(failed)

    def show_data(
        self, counts: ObjectCounts | None, page: Page | None, events: Sequence[EventView]
    ) -> None:
        self.total = counts.waiting if counts is not None else 0
        if page is not None and page.offset == self.start:
            self.page = page
            self._show_page(page)
        self._title()
        ids = tuple(e.id for e in events)
        if ids != self._events:
            self._events = ids
            table = self.query_one("#object-events", DataTable)
            table.clear()
            for event in events:
                table.add_row(when(event), event.kind, event.customer or "")

    def _show_page(self, page: Page) -> None:
        ids = tuple(r.journey_id for r in page.rows)
        if ids == self._rows:
            return
        self._rows = ids
        table = self.query_one("#waiting", DataTable)
        cursor = table.cursor_row
        table.clear()
        for row in page.rows:
            table.add_row(row.label, until(row), key=str(row.customer_id))
        if page.rows:
            table.move_cursor(row=min(cursor, len(page.rows) - 1))

    def _title(self) -> None:
        shown = len(self.page.rows) if self.page is not None else 0
        more = self.page is not None and self.page.more
        if self.search:
            head = f"Waiting, matching '{self.search}'"
            tail = (
                f"{self.start + 1}–{self.start + shown}{'+' if more else ''}" if shown else "none"
            )
        else:
            head = "Waiting here"
            tail = f"{self.start + 1}–{self.start + shown} of {self.total}" if shown else "none"
        self.query_one("#waiting-title", Label).update(f"{head}: {tail}")

    def action_page(self, step: int) -> None:
        if step > 0 and not (self.page is not None and self.page.more):
            return
        offset = max(self.start + step * PAGE, 0)
        if offset != self.start:
            self.start = offset
            self.post_message(self.Changed())

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    @on(Input.Changed, "#search")
    def _searched(self, event: Input.Changed) -> None:
        event.stop()
        self.search = event.value.strip()
        self.start = 0
        self.post_message(self.Changed())

    @on(Input.Submitted, "#search")
    def _to_table(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#waiting", DataTable).focus()

    @on(DataTable.RowSelected, "#waiting")
    def _chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.CustomerChosen(int(event.row_key.value)))
