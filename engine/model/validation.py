"""Turning pydantic's validation errors into ``Problem``s at YAML positions, with the fix.

Shared by the project file and flow files: both are loaded with ``engine.model.yamlsrc`` and
validated by pydantic models; this module speaks the marketer's language for every error type.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from engine.errors import Problem
from engine.model.yamlsrc import Document, Path

_TYPE_WORDS = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping (key: value lines)",
    "list_type": "a list",
    "model_type": "a mapping (key: value lines)",
    "model_attributes_type": "a mapping (key: value lines)",
}


_BOUNDS = {
    "less_than_equal": "at most",
    "less_than": "less than",
    "greater_than_equal": "at least",
    "greater_than": "more than",
    "too_short": "at least as long as",
    "too_long": "at most as long as",
}


def article(word: str) -> str:
    """``a`` or ``an`` before ``word``."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to ``word``, when one is close enough to be a likely typo."""
    match = difflib.get_close_matches(str(word), sorted(set(choices)), n=1, cutoff=0.6)
    return match[0] if match else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` when a choice is close to ``word``, else ``""``."""
    match = closest(word, choices)
    return f"; did you mean '{match}'?" if match else ""


def describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def fields_of(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def error_message(
    error: ErrorDetails, known_fields: Sequence[str], subject: str
) -> tuple[str, bool]:
    """A readable message for one pydantic error, and whether it points at the key (True) or the
    value (False). ``subject`` prefixes it (``object 'x': ``)."""
    kind = error["type"]
    loc = tuple(p for p in error["loc"] if p != "[key]")
    name = str(loc[-1]) if loc else ""
    where = ".".join(str(p) for p in loc)
    if kind == "extra_forbidden":
        hint = did_you_mean(name, known_fields)
        if not hint and known_fields:
            hint = f"; known settings are {', '.join(sorted(known_fields))}"
        return f"{subject}unknown setting '{name}'{hint}", True
    if kind == "missing":
        return f"{subject}missing setting '{where}'; add it", True
    if kind in ("literal_error", "enum"):
        expected = (error.get("ctx") or {}).get("expected", "")
        return (
            f"{subject}'{where}' is {describe(error['input'])}; it must be one of {expected}",
            False,
        )
    if kind in _TYPE_WORDS:
        return (
            f"{subject}'{where}' must be {_TYPE_WORDS[kind]}, not {describe(error['input'])}",
            False,
        )
    if kind in _BOUNDS:
        limit = next(iter((error.get("ctx") or {}).values()), "")
        return (
            f"{subject}'{where}' must be {_BOUNDS[kind]} {limit}, not {describe(error['input'])}",
            False,
        )
    if kind == "sluis_union":
        return f"{subject}'{where}' {error['msg']}", False
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return f"{subject}'{where}': {message}" if where else f"{subject}{message}", False


def problems_from(
    exc: ValidationError,
    doc: Document,
    *,
    base: Path = (),
    subject: Callable[[tuple[Any, ...]], tuple[str, Path, Sequence[str], int]] | None = None,
) -> list[Problem]:
    """Problems for every error of ``exc``, placed at their YAML positions under ``base``.
    ``subject`` maps an error's loc to (message prefix, path, known fields, how many leading
    path parts the message leaves out) when the model is nested (flows strip the union tag
    from the path and name the object instead of its path)."""
    problems = []
    for error in _without_union_members(exc.errors(include_url=False), doc, base):
        loc = tuple(error["loc"])
        prefix, path, known, shown = subject(loc) if subject else ("", loc, (), len(base))
        is_key = "[key]" in path
        path = tuple(p for p in path if p != "[key]")
        local = dict(error)
        local["loc"] = path[shown:]
        message, at_key = error_message(local, known, prefix)  # type: ignore[arg-type]
        # a problem of a whole object or key points at its name
        at_key = at_key or is_key or not local["loc"]
        offset = int((error.get("ctx") or {}).get("offset", -1))
        full = (*base, *path)
        pos = doc.pos(full, key=at_key)
        column = pos.column
        if offset >= 0 and not at_key and full in doc.values:
            column += offset + (1 if doc.quoted.get(full) else 0)
        problems.append(Problem(doc.file, pos.line, column, message))
    return problems


# errors that only say "the value is not of this member's type": dropped when another member of
# the same union got further (the value has that member's shape)
_SHALLOW = {*_TYPE_WORDS, "literal_error", "enum", "is_instance_of", "none_required"}


def _without_union_members(
    errors: list[ErrorDetails], doc: Document, base: Path
) -> list[ErrorDetails]:
    """Errors without pydantic's names of union members in their locations (``str``,
    ``literal['delete']``, ``ExportColumn``): a part of a location that is no key or index of
    the YAML is a member's name. Of the members of one union, those whose type does not fit
    the value are left out when a member that fits has errors; when none fits, their
    expectations become one error ("must be 'delete' or a mapping")."""
    kept: list[ErrorDetails] = []
    unions: dict[tuple[Any, ...], list[tuple[ErrorDetails, bool]]] = {}
    for error in errors:
        loc = tuple(error["loc"])
        real: list[Any] = []
        union: tuple[Any, ...] | None = None
        for i, part in enumerate(loc):
            last_missing = i == len(loc) - 1 and error["type"] == "missing"
            if part == "[key]" or last_missing or (*base, *real, part) in doc.values:
                real.append(part)
            elif union is None:
                union = tuple(real)
        if union is None:
            kept.append(error)
            continue
        clean = dict(error)
        clean["loc"] = tuple(real)
        shallow = error["type"] in _SHALLOW and tuple(real) == union
        unions.setdefault(union, []).append((clean, shallow))  # type: ignore[arg-type]
    for members in unions.values():
        deep = [e for e, shallow in members if not shallow]
        if deep:
            kept.extend(deep)
            continue
        first = members[0][0]
        expected = []
        for error, _ in members:
            if error["type"] in ("literal_error", "enum"):
                wanted = str((error.get("ctx") or {}).get("expected", ""))
            else:
                wanted = _TYPE_WORDS.get(error["type"], error["msg"])
            if wanted not in expected:
                expected.append(wanted)
        merged = dict(first)
        merged["type"] = "sluis_union"
        merged["msg"] = f"must be {' or '.join(expected)}, not {describe(first['input'])}"
        kept.append(merged)  # type: ignore[arg-type]
    return kept
