"""The file machinery objects that read and write files build on (``import``,
``csv-trigger``, ``export``): places in folders, CSV imports with their reports and rejects,
and CSV exports."""

from engine.files import FileInfo, NameTaken, Place
from engine.files.exports import columns_of, reserve, write_csv
from engine.files.folder import is_temporary
from engine.files.imports import (
    Imported,
    ImportReport,
    ImportSpec,
    TooManyRejects,
    check_spec,
    import_csv,
    rejects_place,
    write_rejects,
)
from engine.files.pickup import Pickup
from engine.files.trigger import FileTrigger

__all__ = [
    "FileInfo",
    "FileTrigger",
    "ImportReport",
    "ImportSpec",
    "Imported",
    "NameTaken",
    "Pickup",
    "Place",
    "TooManyRejects",
    "check_spec",
    "columns_of",
    "import_csv",
    "is_temporary",
    "rejects_place",
    "reserve",
    "write_csv",
    "write_rejects",
]
