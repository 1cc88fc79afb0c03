"""One customer's journeys, the same data as ``sluis explain``: for each journey the flow,
when and where it entered, its state, and every step with its time, output and reason; then
its newest datamodel records per collection."""

from __future__ import annotations

from datetime import UTC

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from engine.files.exports import cell_text
from engine.model.fields import customer_label
from engine.runtime.explain import JourneyView
from tui.reader import CustomerJourneys


def heading(view: JourneyView) -> Text:
    text = Text.assemble(
        (view.flow, "bold"),
        (f" v{view.version}" if view.version else "", "dim"),
        f"  entered {view.entered:%Y-%m-%d %H:%M:%S} UTC via {view.via}: ",
        (view.state, "bold red" if view.state == "failed" else "bold"),
    )
    if view.at:
        text.append(f" at {view.at}")
        if view.ready_at:
            text.append(f" until {view.ready_at:%Y-%m-%d %H:%M} UTC")
        if view.wake_on:
            text.append(f" or an {view.wake_on}")
    return text


class CustomerScreen(Screen[None]):
    """A customer's journeys; escape goes back."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, found: CustomerJourneys) -> None:
        super().__init__()
        self.found = found

    def compose(self) -> ComposeResult:
        customer = self.found.customer
        label = customer_label(customer)
        yield Static(
            Text.assemble(
                ("customer ", ""),
                (str(label), "bold"),
                f"  system_id {customer['system_id']} · {customer.get('email') or 'no email'}",
            ),
            id="customer-title",
        )
        with VerticalScroll(id="journeys"):
            if not self.found.journeys:
                yield Static("no journeys")
            for index, view in enumerate(self.found.journeys):
                yield Static(heading(view), classes="journey-heading")
                table: DataTable[str] = DataTable(
                    id=f"journey-{index}", cursor_type="row", classes="steps"
                )
                table.add_columns("time (UTC)", "object", "output", "reason")
                for step in view.steps:
                    table.add_row(
                        f"{step.at:%Y-%m-%d %H:%M:%S}", step.object, step.output or "-", step.reason
                    )
                yield table
            yield from records_tables(self.found)
        yield Footer(compact=True, show_command_palette=False)


def records_tables(found: CustomerJourneys) -> ComposeResult:
    """The customer's datamodel records, newest first, a table per collection that has any."""
    for collection, records in found.records.items():
        if not records:
            continue
        yield Static(Text(f"records.{collection}", style="bold"), classes="journey-heading")
        fields = [name for name in records[0] if name not in ("key", "created_at", "updated_at")]
        table: DataTable[str] = DataTable(id=f"records-{collection}", classes="steps")
        table.add_columns("key", "created_at (UTC)", *fields[:5])
        for record in records:
            created = record.get("created_at")
            table.add_row(
                str(record["key"]),
                f"{created.astimezone(UTC):%Y-%m-%d %H:%M}" if created is not None else "-",
                *(cell_text(record.get(name)) for name in fields[:5]),
            )
        yield table
