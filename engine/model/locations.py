"""Locations: where files are read and written.

A location is a plain or relative path (inside the project), ``file:///abs/path``, or
``sftp://CONNECTION/path`` naming a connection of ``sluis.yaml``. The path part may hold
templates (``exports/customers_{{ today|date('%Y%m%d') }}.csv``), rendered when used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import LocationError
from engine.model.validation import did_you_mean


@dataclass(frozen=True)
class Location:
    """A parsed location; ``path`` may still contain template text."""

    scheme: str  # "local" (relative to the project), "file" (absolute) or "sftp"
    path: str
    connection: str | None = None

    def __str__(self) -> str:
        if self.scheme == "sftp":
            return f"sftp://{self.connection}/{self.path}"
        if self.scheme == "file":
            return f"file://{self.path}"
        return self.path


def parse_location(text: str, connections: Mapping[str, Any] | None = None) -> Location:
    """Parse a location; an unknown or wrong-typed connection is a ``LocationError`` naming
    the connections that exist. ``connections`` maps names to objects with a ``type``."""
    raw = str(text).strip()
    if not raw:
        raise LocationError(
            "the location is empty; write a path, file:///abs/path or sftp://NAME/path"
        )
    if "\x00" in raw:
        raise LocationError("the location contains a NUL character")
    if raw.startswith("sftp://"):
        rest = raw[len("sftp://") :]
        name, _, path = rest.partition("/")
        if not name:
            raise LocationError(f"'{raw}' names no connection; write sftp://CONNECTION/path")
        if connections is not None:
            if name not in connections:
                known = ", ".join(sorted(connections)) or "none are defined"
                raise LocationError(
                    f"unknown connection '{name}'{did_you_mean(name, connections)}; connections "
                    f"in sluis.yaml: {known}"
                )
            kind = getattr(connections[name], "type", None)
            if kind not in ("sftp", "folder"):
                raise LocationError(
                    f"connection '{name}' is of type {kind}; files need an sftp or folder "
                    "connection"
                )
        return Location("sftp", path, name)
    if raw.startswith("file://"):
        path = raw[len("file://") :]
        if not path.startswith("/"):
            raise LocationError(f"'{raw}' must be an absolute path: file:///abs/path")
        return Location("file", path)
    if "://" in raw.split("{", 1)[0]:
        scheme = raw.split("://", 1)[0]
        raise LocationError(
            f"'{scheme}://' locations are not supported; use a path, file:// or sftp://"
        )
    if raw.startswith("/"):
        raise LocationError(
            f"'{raw}' is an absolute path; write file://{raw} to leave the project folder on "
            "purpose"
        )
    return Location("local", raw)
