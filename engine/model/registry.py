"""Object types, found through the ``sluis.objects`` entry points.

The built-in types register there exactly as a third-party package would, so the runtime never
imports a concrete object module.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any

from engine.errors import SluisError
from engine.sdk.campaign import CampaignObject

GROUP = "sluis.objects"


@cache
def object_types() -> dict[str, type[CampaignObject[Any]]]:
    """Every registered object type by its ``type`` name."""
    found: dict[str, type[CampaignObject[Any]]] = {}
    for point in entry_points(group=GROUP):
        try:
            cls = point.load()
        except Exception as exc:  # a broken plugin must say which one it is
            raise SluisError(
                f"object type '{point.name}' ({point.value}) failed to load: {exc}; reinstall or "
                "remove the package that provides it"
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, CampaignObject)):
            raise SluisError(f"entry point '{point.name}' ({point.value}) is not a CampaignObject")
        if cls.type != point.name:
            raise SluisError(
                f"entry point '{point.name}' loads a class whose type is '{cls.type}'; make them "
                "equal"
            )
        found[point.name] = cls
    return dict(sorted(found.items()))
