"""The list of the project's flows with their totals (entered, waiting, failed) and whether
they are started; invalid flows are marked and show their problems when chosen."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from engine.runtime.monitor import FlowTotals
from tui.canvas import number
from tui.catalog import Entry


class FlowList(OptionList):
    """Flows to choose from; moving the highlight shows that flow."""

    class Chosen(Message):
        """A flow was highlighted."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: list[Entry] = []
        self.totals: Mapping[str, FlowTotals] = {}
        self.started: Mapping[str, bool] = {}

    def show_entries(self, entries: Sequence[Entry], chosen: str | None) -> None:
        self.entries = list(entries)
        self.set_options(Option(self._prompt(e), id=e.name) for e in self.entries)
        names = [e.name for e in self.entries]
        if chosen in names:
            self.highlighted = names.index(chosen)

    def show_totals(self, totals: Mapping[str, FlowTotals], started: Mapping[str, bool]) -> None:
        if totals == self.totals and started == self.started:
            return
        self.totals, self.started = totals, started
        for entry in self.entries:
            self.replace_option_prompt(entry.name, self._prompt(entry))

    def _prompt(self, entry: Entry) -> Text:
        if not entry.valid:
            count = len(entry.problems)
            return Text.assemble(
                ("✗ ", "bold red"),
                (entry.name, "bold"),
                (f"\n  invalid: {count} problem{'s' if count != 1 else ''}", "red"),
            )
        started = self.started.get(entry.name, False)
        totals = self.totals.get(entry.name)
        line = (
            f"\n  {number(totals.entered)} in · {number(totals.waiting)} wait"
            if totals is not None
            else "\n  …"
        )
        parts: list[tuple[str, str]] = [
            ("▶ " if started else "■ ", "green" if started else "dim"),
            (entry.name, "bold"),
            (f" v{entry.flow.version}" if entry.flow and entry.flow.version else "", "dim"),
            (line, "dim"),
        ]
        if totals is not None and totals.failed:
            parts.append((f" · {number(totals.failed)} ✗", "red"))
        return Text.assemble(*parts)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Chosen(event.option.id))
