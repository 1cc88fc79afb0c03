"""Replay's folders: every write lands in a temporary folder, reads see those writes on top of
the real folder (when it is on this machine), and deletes and moves of real files only hide
them. So a replay reads the project's import files but never changes the project, and never
connects to an SFTP server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from engine.errors import EffectError
from engine.files.folder import FileInfo, Folder, LocalFolder, NameTaken


class OverlayFolder(Folder):
    """``top`` (a temporary local folder) over ``real`` (read only; None: nothing below)."""

    def __init__(self, top: LocalFolder, real: Folder | None, label: str) -> None:
        self.top = top
        self.real = real
        self.label = label
        self.hidden: set[str] = set()

    def _real_info(self, path: str) -> FileInfo | None:
        if self.real is None or path in self.hidden:
            return None
        return self.real.info(path)

    def info(self, path: str) -> FileInfo | None:
        return self.top.info(path) or self._real_info(path)

    def list(self, path: str) -> list[FileInfo]:
        found: dict[str, FileInfo] = {}
        if self._real_info(path) is not None and self.real is not None:
            prefix = f"{path}/" if path else ""
            for entry in self.real.list(path):
                if f"{prefix}{entry.name}" not in self.hidden:
                    found[entry.name] = entry
        if self.top.info(path) is not None:
            found.update({entry.name: entry for entry in self.top.list(path)})
        elif not found and self._real_info(path) is None:
            raise EffectError(f"cannot list {self.shown(path)}: no such folder")
        return sorted(found.values(), key=lambda f: f.name)

    @contextmanager
    def reader(self, path: str) -> Iterator[BinaryIO]:
        if self.top.info(path) is not None:
            with self.top.reader(path) as handle:
                yield handle
        elif self._real_info(path) is not None and self.real is not None:
            with self.real.reader(path) as handle:
                yield handle
        else:
            raise EffectError(f"cannot read {self.shown(path)}: no such file")

    @contextmanager
    def writer(self, path: str, *, replace: bool = False) -> Iterator[BinaryIO]:
        if not replace and self._real_info(path) is not None:
            raise NameTaken(f"{self.shown(path)} exists already")
        with self.top.writer(path, replace=replace) as handle:
            yield handle
        self.hidden.discard(path)

    def move(self, source: str, target: str) -> None:
        if self.info(target) is not None:
            raise NameTaken(f"{self.shown(target)} exists already")
        if self.top.info(source) is not None:
            self.top.move(source, target)
        else:
            with self.reader(source) as data, self.top.writer(target) as out:
                while chunk := data.read(1 << 20):
                    out.write(chunk)
        self.hidden.discard(target)
        self.delete(source)

    def delete(self, path: str) -> None:
        self.top.delete(path)
        if self.real is not None and self.real.info(path) is not None:
            self.hidden.add(path)

    def makedirs(self, path: str) -> None:
        self.top.makedirs(path)

    def close(self) -> None:
        if self.real is not None:
            self.real.close()
