"""Files in and out: folders on this machine and on SFTP servers, places inside them, CSV in
(imports) and out (exports).

``Files`` (``Effects.files``) turns a location into a ``Place``; a place lists, streams, writes
atomically, moves and deletes through its ``Folder``. Names never leave their folder.
"""

from typing import TYPE_CHECKING, Any

from engine.files.folder import FileInfo, Folder, LocalFolder, NameTaken

if TYPE_CHECKING:
    from engine.files.places import Files, Place

__all__ = ["FileInfo", "Files", "Folder", "LocalFolder", "NameTaken", "Place"]


def __getattr__(name: str) -> Any:
    # places needs templates (Jinja) and locations: load them on first use, so importing a
    # light submodule such as engine.files.csvin (for the command line's help) stays cheap
    if name in ("Files", "Place"):
        from engine.files import places

        return getattr(places, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
