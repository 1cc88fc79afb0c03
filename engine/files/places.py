"""Places: a location made concrete. ``Files`` (the files sink of ``Effects``) renders a
location's templates, checks the result stays inside its folder, and pairs it with the folder
that holds it: the project folder, ``file:///``, a ``folder`` connection (a local folder standing
in for an SFTP server) or an SFTP server. Replay's ``Files`` wraps every folder in an overlay
under a temporary folder, so the same object code never writes into the project or to SFTP.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from engine.errors import EffectError, LocationError
from engine.files.folder import FileInfo, Folder, LocalFolder, NameTaken
from engine.files.names import clean_name, clean_path, join, numbered
from engine.files.overlay import OverlayFolder
from engine.model.locations import Location, parse_location
from engine.model.templates import Template

if TYPE_CHECKING:
    from engine.model.project import Project

MAX_NUMBER = 10_000


@dataclass(frozen=True)
class Place:
    """A file or folder inside a folder; ``str(place)`` is its location as people write it."""

    folder: Folder
    path: str
    scheme: str
    connection: str | None = None

    @property
    def location(self) -> Location:
        if self.scheme == "file":
            return Location("file", "/" + self.path)
        return Location(self.scheme, self.path, self.connection)

    def __str__(self) -> str:
        return str(self.location)

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2]

    def _at(self, path: str) -> Place:
        return Place(self.folder, path, self.scheme, self.connection)

    def parent(self) -> Place:
        return self._at(self.path.rpartition("/")[0])

    def child(self, name: str) -> Place:
        """The file ``name`` inside this folder; names from listings and payloads are checked
        here, so they cannot leave it."""
        return self._at(join(self.path, clean_name(name, str(self))))

    def sibling(self, name: str) -> Place:
        return self.parent().child(name)

    def numbered(self, number: int) -> Place:
        """This place with ``-N`` before the extension (1: itself)."""
        return self._at(numbered(self.path, number))

    def info(self) -> FileInfo | None:
        return self.folder.info(self.path)

    def exists(self) -> bool:
        return self.info() is not None

    def list(self) -> list[FileInfo]:
        return self.folder.list(self.path)

    def reader(self) -> AbstractContextManager[BinaryIO]:
        return self.folder.reader(self.path)

    def writer(self, *, replace: bool = False) -> AbstractContextManager[BinaryIO]:
        return self.folder.writer(self.path, replace=replace)

    def delete(self) -> None:
        self.folder.delete(self.path)

    def makedirs(self) -> None:
        self.folder.makedirs(self.path)

    def free_names(self) -> Iterator[Place]:
        """This place, then ``-2``, ``-3``, ... before the extension: the names not in use."""
        for number in range(1, MAX_NUMBER):
            candidate = self.numbered(number)
            if candidate.info() is None:
                yield candidate
        raise EffectError(f"{self} and {MAX_NUMBER} numbered names beside it all exist")

    def move_to(self, target: Place) -> Place:
        """Move this file to ``target``, or to ``target`` numbered when the name exists (never
        replacing a file); across folders the data is copied, then this file removed. Returns
        where it went."""
        for candidate in target.free_names():
            try:
                if candidate.folder is self.folder:
                    self.folder.move(self.path, candidate.path)
                else:
                    with self.reader() as data, candidate.writer() as out:
                        while chunk := data.read(1 << 20):
                            out.write(chunk)
                    self.delete()
            except NameTaken:
                continue  # taken since we looked: the next number
            return candidate
        raise AssertionError("free_names ends with an error")  # pragma: no cover


class Files:
    """The files sink: opens the places that locations name. Folders stay open between uses
    (an SFTP connection per connection) until ``close``. With ``overlay`` (replay) every write
    goes under that folder instead (see ``engine.files.overlay``)."""

    def __init__(self, overlay: Path | None = None) -> None:
        self.overlay = overlay
        self._folders: dict[tuple[Path, str], Folder] = {}

    def place(
        self,
        location: Location | str,
        project: Project,
        scope: Mapping[str, Any] | None = None,
        *,
        render: bool = True,
    ) -> Place:
        """The place ``location`` names, its templates rendered with ``scope`` (``render``
        False: a location rendered before, taken as it is)."""
        if isinstance(location, str):
            location = parse_location(location, project.settings.connections)
        text = location.path
        if render and "{" in text:
            text = Template.parse(text).render(scope or {})
        if location.scheme == "file":
            if not text.startswith("/"):
                raise LocationError(f"'file://{text}' must be an absolute path: file:///abs/path")
            text = text[1:]
        folder = self.folder(location, project)
        return Place(folder, clean_path(text, folder.label), location.scheme, location.connection)

    def folder(self, location: Location, project: Project) -> Folder:
        """The folder that holds a location's files (made once, then reused)."""
        key = (project.root, location.connection or location.scheme)
        found = self._folders.get(key)
        if found is None:
            found = self._make(location, project)
            self._folders[key] = found
        return found

    def _make(self, location: Location, project: Project) -> Folder:
        real, label, name = self._real(location, project)
        if self.overlay is None:
            if real is None:
                raise AssertionError("production always has the real folder")  # pragma: no cover
            return real
        top = LocalFolder(self.overlay / name, label)
        return OverlayFolder(top, real, label)

    def _real(self, location: Location, project: Project) -> tuple[Folder | None, str, str]:
        if location.scheme == "local":
            return LocalFolder(project.root, str(project.root)), str(project.root), "project"
        if location.scheme == "file":
            return LocalFolder(Path("/"), "file:///"), "file:///", "file"
        name = location.connection or ""
        connections = project.settings.connections
        settings = connections.get(name)
        if settings is None or settings.type not in ("sftp", "folder"):
            parse_location(str(location), connections)  # raises the error that says why
            raise LocationError(f"connection '{name}' cannot hold files")  # pragma: no cover
        label = f"sftp://{name}"
        if settings.type == "folder":
            path = settings.secret("path")
            if not path:
                raise LocationError(
                    f"connection '{name}' of type folder has no path; add path: FOLDER to it "
                    "in sluis.yaml"
                )
            root = Path(path).expanduser()
            root = root if root.is_absolute() else project.root / root
            return LocalFolder(root, label), label, f"sftp-{name}"
        if self.overlay is not None:
            return None, label, f"sftp-{name}"  # replay never connects to a server
        from engine.files.sftp import SftpFolder  # paramiko loads only when a server is used

        return SftpFolder(name, settings, project.root), label, f"sftp-{name}"

    def close(self) -> None:
        """Close every open connection."""
        for folder in self._folders.values():
            folder.close()
        self._folders.clear()
