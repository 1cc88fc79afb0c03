"""Where sluis finds its bundled files: the example project (``flows/`` in the source tree)."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent
DEMO_PROJECT = _HERE.parent / "flows"
INIT_PROJECT = _HERE / "starter"
