"""Effects for production: the real senders, built from the project's connections. Each part
(mail, HTTP, files) adds its sink here."""

from __future__ import annotations

from engine.effects import Effects
from engine.project import Project


def production_effects(project: Project) -> Effects:
    """The effect sinks that act on the outside world for ``project``."""
    effects = Effects()
    effects.extras["project_root"] = project.root
    return effects
