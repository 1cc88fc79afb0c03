"""The file machinery objects that read and write files build on (``import``,
``csv-trigger``, ``export``): places in folders, how a CSV is imported (``ImportSpec``,
checked against the project by ``check_spec``), the file an import picks up (``Pickup``, from
``ctx.files.pickup``), the folder a CSV trigger watches (``FileTrigger``, from
``ctx.files.trigger``) and an export's columns (``columns_of``, or ``record_columns`` for an
export of datamodel records, for ``ctx.files.export``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.files import FileInfo, Place
from engine.files.exports import Column, columns_of
from engine.files.imports import ImportSpec, check_spec
from engine.files.record_exports import record_columns

if TYPE_CHECKING:  # they load the store: only when a run uses them (``ctx.files``)
    from engine.files.pickup import Pickup
    from engine.files.trigger import FileTrigger

__all__ = [
    "Column",
    "FileInfo",
    "FileTrigger",
    "ImportSpec",
    "Pickup",
    "Place",
    "check_spec",
    "columns_of",
    "record_columns",
]


def __getattr__(name: str) -> Any:
    if name == "Pickup":
        from engine.files.pickup import Pickup

        return Pickup
    if name == "FileTrigger":
        from engine.files.trigger import FileTrigger

        return FileTrigger
    raise AttributeError(f"module 'engine.sdk.files' has no attribute '{name}'")
