"""Safe names inside a folder.

Every path that reaches a folder passes through here first: paths rendered from templates, names
from file listings and names from payloads. A name never leaves its folder: ``..`` segments,
absolute paths, NUL and other control characters and backslashes are refused with a
``LocationError`` that says which name and which folder. Empty and ``.`` segments are dropped,
so ``a//./b.csv`` is ``a/b.csv``.
"""

from __future__ import annotations

from engine.errors import LocationError


def clean_path(path: str, folder: str) -> str:
    """``path`` as a clean relative POSIX path inside ``folder`` (named in messages); ``""`` is
    the folder itself."""
    _refuse_characters(path, folder)
    if path.startswith("/"):
        raise LocationError(
            f"'{path}' is an absolute path; names must stay inside {folder}, so write it "
            "relative to that folder"
        )
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise LocationError(f"'{path}' goes up with '..'; names must stay inside {folder}")
    return "/".join(parts)


def clean_name(name: str, folder: str) -> str:
    """One file name (no folders) inside ``folder``."""
    _refuse_characters(name, folder)
    if "/" in name or name in ("", ".", ".."):
        raise LocationError(
            f"'{name}' is not a plain file name; names inside {folder} may not hold '/' or be "
            "'.' or '..'"
        )
    return name


def join(folder_path: str, name: str) -> str:
    """A clean relative path joined with a clean name."""
    return f"{folder_path}/{name}" if folder_path else name


def numbered(path: str, number: int) -> str:
    """``exports/a.csv`` with ``-N`` before the extension (``exports/a-2.csv``); number 1 is
    the path itself."""
    if number <= 1:
        return path
    head, _, name = path.rpartition("/")
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        stem, suffix = name, ""
    new = f"{stem}-{number}" + (f".{suffix}" if suffix else "")
    return f"{head}/{new}" if head else new


def _refuse_characters(text: str, folder: str) -> None:
    shown = text.encode("unicode_escape").decode("ascii")
    if "\x00" in text:
        raise LocationError(f"the name '{shown}' contains a NUL character; {folder} refuses it")
    if "\\" in text:
        raise LocationError(
            f"the name '{text}' contains a backslash; use '/' between folders ({folder})"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise LocationError(f"the name '{shown}' contains a control character; {folder} refuses it")
