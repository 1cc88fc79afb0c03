"""The help screen (``?``): every key, what it does, and how to read the graph."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = [
    ("Everywhere", [
        ("?", "this help"), ("q", "quit"), ("f", "go to the flow list"),
        ("g", "go to the graph"), ("l", "show or hide the event log"),
        ("t", "switch between dark and light"), ("escape", "close the panel or screen"),
    ]),
    ("Graph", [
        ("arrows, tab", "move between objects"), ("enter, click", "open the object's panel"),
        ("z", "compact or normal boxes"), ("shift+arrows, wheel", "scroll"),
        ("r", "retry the failed journeys of the selected object"),
    ]),
    ("Object panel", [
        ("/", "search the waiting customers"), ("[ ]", "previous / next page"),
        ("enter", "open the customer's journeys"),
    ]),
    ("Step mode", [
        ("s", "run the next batch"),
        ("n", "run what is due now, then move the clock to the next timer"),
        ("e", "play on to the end (again to pause)"),
    ]),
]  # fmt: skip

READING = (
    "Each box is an object: its id, its type, how many customers wait there now and how many "
    "failed there, and how many left by each output. Arrows are labelled with the output names "
    "where an object has several; compact boxes read [id waiting ✗failed]. A double border "
    "marks the selected object; in step mode "
    "'ran' marks the object whose batch ran last. Counts refresh every second."
)


class HelpScreen(ModalScreen[None]):
    """Keys and how to read the graph; any of escape, ? or q closes it."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Close"),
        Binding("question_mark", "app.pop_screen", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for group, keys in KEYS:
            table.add_row(f"[underline]{group}[/]", "")
            for key, what in keys:
                table.add_row(key, what)
        with VerticalScroll(id="help"):
            yield Static("sluis tui: keys", classes="section")
            yield Static(table)
            yield Static(READING, id="reading")
