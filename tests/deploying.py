"""Flow texts of the deploy tests (engine, CLI, API): version 1 holds journeys at ``wait-nl``;
version 2 removes it and waits at ``wait-all`` instead."""

from __future__ import annotations

V1 = """\
objects:
  everyone: {type: selection, next: wait-nl}
  wait-nl: {type: wait, for: 3d, next: done}
  done: {type: end}
"""


def version_2(wait: str = "2d") -> str:
    """Version 2, waiting ``wait`` at ``wait-all``."""
    return f"""\
objects:
  everyone: {{type: selection, next: wait-all}}
  wait-all: {{type: wait, for: {wait}, next: done}}
  done: {{type: end}}
"""


V2 = version_2()
