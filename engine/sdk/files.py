"""The file machinery objects that read and write files build on (``import``,
``csv-trigger``, ``export``): places in folders, how a CSV is imported (``ImportSpec``,
checked against the project by ``check_spec``), the file an import picks up (``Pickup``, from
``ctx.files.pickup``), the folder a CSV trigger watches (``FileTrigger``, from
``ctx.files.trigger``) and an export's columns (``columns_of``, for ``ctx.files.export``)."""

from engine.files import FileInfo, Place
from engine.files.exports import Column, columns_of
from engine.files.imports import ImportSpec, check_spec
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
]
