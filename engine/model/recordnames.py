"""Names of the datamodel in expressions and templates, checked against ``datamodel:`` in
``sluis.yaml`` at validation: ``records.COLLECTION`` and the fields of its records (its own
fields, ``key``, ``created_at`` and ``updated_at``), with did-you-mean."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from engine.model.validation import did_you_mean

if TYPE_CHECKING:
    from engine.model.project import Project

# what every record has besides its collection's fields
RECORD_BUILTINS = ("key", "created_at", "updated_at")


def record_fields(project: Project, collection: str) -> list[str]:
    """The names a record of ``collection`` answers to."""
    found = project.settings.datamodel[collection]
    return [*found.fields, *(name for name in RECORD_BUILTINS if name not in found.fields)]


def record_name_problem(project: Project, path: Iterable[str]) -> tuple[str, int] | None:
    """For ``("records", COLLECTION[, FIELD])``: the message and the offset within the dotted
    text where the wrong name starts, or None when both names exist."""
    _, collection, *rest = path
    collections = list(project.settings.datamodel)
    if collection not in collections:
        hint = did_you_mean(collection, collections) or (
            f"; the collections are {', '.join(collections)}"
            if collections
            else "; add it under datamodel in sluis.yaml"
        )
        return f"unknown collection '{collection}'{hint}", len("records.")
    if rest:
        field, known = rest[0], record_fields(project, collection)
        if field not in known:
            hint = did_you_mean(field, known) or f"; its fields are {', '.join(known)}"
            message = f"unknown field '{field}' of collection '{collection}'{hint}"
            return message, len(f"records.{collection}.")
    return None
