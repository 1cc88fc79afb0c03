"""Folders: the one interface every place that holds files offers (a folder on this machine, an
SFTP server, replay's overlay), and its implementation for local folders.

Paths given to a folder are clean relative POSIX paths (see ``engine.files.names``); ``""`` is
the folder itself. Writes are atomic: the data goes to a temporary name beside the target and is
renamed into place when complete, so a reader never sees half a file. A write or move that must
not replace anything raises ``NameTaken`` when the name exists, so callers can number the name.
"""

from __future__ import annotations

import errno
import os
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from engine.errors import EffectError

TEMP_MARK = ".sluis-tmp-"


@dataclass(frozen=True)
class FileInfo:
    """One entry of a folder."""

    name: str
    size: int
    mtime: float
    is_dir: bool = False


class NameTaken(EffectError):
    """The target name exists and must not be replaced."""


def temp_name(path: str) -> str:
    """A hidden temporary name beside ``path`` (listings skip it)."""
    head, _, name = path.rpartition("/")
    temp = f".{name}{TEMP_MARK}{secrets.token_hex(4)}"
    return f"{head}/{temp}" if head else temp


def is_temporary(name: str) -> bool:
    return name.startswith(".") and TEMP_MARK in name


class Folder(ABC):
    """A place that holds files. ``label`` names its root in messages."""

    label: str

    def shown(self, path: str) -> str:
        """How a person sees ``path`` of this folder."""
        if not path:
            return self.label
        return self.label + ("" if self.label.endswith("/") else "/") + path

    @abstractmethod
    def info(self, path: str) -> FileInfo | None:
        """The file or folder at ``path``, or None when there is none."""

    @abstractmethod
    def list(self, path: str) -> list[FileInfo]:
        """The entries of the folder at ``path``, sorted by name."""

    @abstractmethod
    def reader(self, path: str) -> AbstractContextManager[BinaryIO]:
        """The file's bytes, streamed."""

    @abstractmethod
    def writer(self, path: str, *, replace: bool = False) -> AbstractContextManager[BinaryIO]:
        """Write a file atomically (temporary name, then rename). Without ``replace`` an
        existing name raises ``NameTaken`` when the write completes, and the data is dropped."""

    @abstractmethod
    def move(self, source: str, target: str) -> None:
        """Rename a file inside this folder; ``NameTaken`` when ``target`` exists."""

    @abstractmethod
    def delete(self, path: str) -> None:
        """Remove a file; a file that is already gone is fine."""

    @abstractmethod
    def makedirs(self, path: str) -> None:
        """Make the folder and its parents when missing."""

    def close(self) -> None:  # noqa: B027 - most folders hold no connection
        """Give back connections; the folder opens them again when used."""


class LocalFolder(Folder):
    """A folder on this machine: the project, ``file:///``, or a ``folder`` connection."""

    def __init__(self, root: Path, label: str) -> None:
        self.root = root
        self.label = label

    def _path(self, path: str) -> Path:
        return self.root / path if path else self.root

    def info(self, path: str) -> FileInfo | None:
        try:
            st = self._path(path).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise self._error("cannot look at", path, exc) from exc
        name = path.rpartition("/")[2]
        return FileInfo(name, st.st_size, st.st_mtime, os.path.isdir(self._path(path)))

    def list(self, path: str) -> list[FileInfo]:
        found = []
        try:
            with os.scandir(self._path(path)) as entries:
                for entry in entries:
                    st = entry.stat()
                    found.append(FileInfo(entry.name, st.st_size, st.st_mtime, entry.is_dir()))
        except OSError as exc:
            raise self._error("cannot list", path, exc) from exc
        return sorted(found, key=lambda f: f.name)

    @contextmanager
    def reader(self, path: str) -> Iterator[BinaryIO]:
        try:
            handle = open(self._path(path), "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise self._error("cannot read", path, exc) from exc
        with handle:
            yield handle

    @contextmanager
    def writer(self, path: str, *, replace: bool = False) -> Iterator[BinaryIO]:
        target = self._path(path)
        temp = self._path(temp_name(path))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle = open(temp, "xb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise self._error("cannot write", path, exc) from exc
        try:
            with handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            if replace:
                os.replace(temp, target)
            else:
                self._claim(temp, target, path)
        except BaseException as exc:
            temp.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise self._error("cannot write", path, exc) from exc
            raise

    def move(self, source: str, target: str) -> None:
        try:
            self._path(target).parent.mkdir(parents=True, exist_ok=True)
            self._claim(self._path(source), self._path(target), target)
        except OSError as exc:
            raise self._error("cannot move", source, exc) from exc

    def delete(self, path: str) -> None:
        try:
            self._path(path).unlink(missing_ok=True)
        except OSError as exc:
            raise self._error("cannot delete", path, exc) from exc

    def makedirs(self, path: str) -> None:
        try:
            self._path(path).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._error("cannot make the folder", path, exc) from exc

    def _claim(self, source: Path, target: Path, shown: str) -> None:
        """Give ``source`` the name ``target`` without replacing anything (a hard link fails
        atomically when the name exists), then drop the name ``source``. File systems without
        hard links get a checked rename."""
        try:
            os.link(source, target)
        except FileExistsError:
            raise NameTaken(f"{self.shown(shown)} exists already") from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            if target.exists():
                raise NameTaken(f"{self.shown(shown)} exists already") from None
            os.rename(source, target)
            return
        os.unlink(source)

    def _error(self, what: str, path: str, exc: OSError) -> EffectError:
        reason = exc.strerror or str(exc)
        return EffectError(f"{what} {self.shown(path)}: {reason}")
