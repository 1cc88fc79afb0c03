"""Files in and out: folders on this machine and on SFTP servers, places inside them, CSV in
(imports) and out (exports).

``Files`` (``Effects.files``) turns a location into a ``Place``; a place lists, streams, writes
atomically, moves and deletes through its ``Folder``. Names never leave their folder.
"""

from engine.files.folder import FileInfo, Folder, LocalFolder, NameTaken
from engine.files.places import Files, Place

__all__ = ["FileInfo", "Files", "Folder", "LocalFolder", "NameTaken", "Place"]
