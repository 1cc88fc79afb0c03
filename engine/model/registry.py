"""Object types, found through the ``sluis.objects`` entry points.

The built-in types register there exactly as a third-party package would, so the runtime never
imports a concrete object module. A type's module is imported when the type is first looked up:
a flow loads the types it uses, not all of them (importing every built-in type costs a process
some 70 ms).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from engine.errors import SluisError
from engine.sdk.campaign import CampaignObject

GROUP = "sluis.objects"


class ObjectTypes(Mapping[str, type[CampaignObject[Any]]]):
    """Every registered object type by its ``type`` name, in name order; each loaded when it
    is first looked up."""

    def __init__(self, points: Mapping[str, EntryPoint]) -> None:
        self._points = dict(sorted(points.items()))
        self._loaded: dict[str, type[CampaignObject[Any]]] = {}

    def __getitem__(self, name: str) -> type[CampaignObject[Any]]:
        cls = self._loaded.get(name)
        if cls is None:
            cls = self._loaded[name] = _load(self._points[name])
        return cls

    def __contains__(self, name: object) -> bool:
        return name in self._points

    def __iter__(self) -> Iterator[str]:
        return iter(self._points)

    def __len__(self) -> int:
        return len(self._points)


@cache
def object_types() -> ObjectTypes:
    """Every registered object type by its ``type`` name."""
    return ObjectTypes({point.name: point for point in entry_points(group=GROUP)})


def _load(point: EntryPoint) -> type[CampaignObject[Any]]:
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
            f"entry point '{point.name}' loads a class whose type is '{cls.type}'; make them equal"
        )
    result: type[CampaignObject[Any]] = cls
    return result
