"""Shown instead of the graph when the chosen flow is invalid: its validation problems as
``FILE:LINE:COL: message``, the same lines as ``sluis validate``."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from engine.errors import Problem


class ProblemsView(Static):
    """The problems of an invalid flow."""

    def show_problems(self, name: str, problems: Sequence[Problem]) -> None:
        count = len(problems)
        text = Text.assemble(
            (f"The flow '{name}' is invalid", "bold"),
            f" ({count} problem{'s' if count != 1 else ''}); fix the file and restart "
            "sluis tui, or run 'sluis validate' to check:\n\n",
        )
        for problem in problems:
            text.append(f"{problem}\n")
        self.update(text)
