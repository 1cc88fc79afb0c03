"""Where messages that came back are read from: a Maildir, an mbox file, .eml files, or a
folder of them."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

from engine.errors import InputError


def read_messages(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, raw bytes) of every message at ``path``: a Maildir (``new/`` and ``cur/``), an
    mbox file, one .eml file, or a folder of .eml files."""
    try:
        yield from _read(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror or exc})") from None


def _read(path: Path) -> Iterator[tuple[str, bytes]]:
    if path.is_dir():
        if (path / "new").is_dir() or (path / "cur").is_dir():
            files = sorted(
                f for sub in ("new", "cur") if (path / sub).is_dir() for f in (path / sub).iterdir()
            )
        else:
            files = sorted(f for f in path.iterdir() if f.suffix.lower() == ".eml")
        for file in files:
            if file.is_file():
                yield str(file), file.read_bytes()
    elif path.is_file():
        with path.open("rb") as handle:
            mbox = handle.read(5) == b"From "
        if mbox:
            box = mailbox.mbox(path, create=False)
            try:
                for number, key in enumerate(box.keys(), 1):
                    yield f"{path}#{number}", box.get_bytes(key)
            finally:
                box.close()
        else:
            yield str(path), path.read_bytes()
    else:
        raise InputError(f"{path}: no such file or folder; give a Maildir, an mbox or .eml files")
