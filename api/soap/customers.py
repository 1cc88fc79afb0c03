"""Deployteq's ``Customer`` element and sluis's customer fields, both ways.

Built-in fields have fixed elements (``id`` = system_id, ``externalId``, ``emailAddress``,
``softBounceCount``, ``createdAt``, ``modifiedAt``). A profile field is reached by the element
of the same name in snake case (``zipCode`` -> ``zip_code``; ``firstname``, ``middlename`` and
``lastname`` -> ``first_name``, ``middle_name``, ``last_name``), by ``soap.fields`` in
sluis.yaml (element -> field, which wins), or else as a ``CustomerOption`` of its own name.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cached_property
from typing import Any

from engine.model.fields import to_json
from engine.model.project import Project

BUILTIN = {"externalId": "external_id", "emailAddress": "email"}
READ_ONLY = {
    "softBounceCount": "soft_bounces",
    "createdAt": "created_at",
    "modifiedAt": "updated_at",
}
MAIL_STATUS = {"active": False, "unsubscribed": True}  # mailStatus -> unsubscribed
SPECIAL = {"firstname": "first_name", "middlename": "middle_name", "lastname": "last_name"}
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def snake(element: str) -> str:
    return SPECIAL.get(element) or _CAMEL.sub("_", element).lower()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    shown = to_json(value)
    if isinstance(shown, bool):
        return "true" if shown else "false"
    return str(shown)


class CustomerMap:
    """The mapping for one project."""

    def __init__(self, project: Project, elements: tuple[str, ...]) -> None:
        self.profile = project.settings.profile
        self.configured = dict(project.settings.soap.fields)
        self.elements = elements

    @cached_property
    def element_field(self) -> dict[str, str]:
        """Customer element -> profile field, for the profile fields that have one."""
        found: dict[str, str] = {}
        for element in self.elements:
            if element in BUILTIN or element in READ_ONLY or element in ("id", "options"):
                continue
            field = self.configured.get(element) or snake(element)
            if field in self.profile:
                found[element] = field
        return found

    @cached_property
    def options(self) -> list[str]:
        """Profile fields without an element: they travel as ``CustomerOption``s."""
        mapped = set(self.element_field.values())
        return [name for name in self.profile if name not in mapped]

    def to_row(self, customer: dict[str, Any]) -> dict[str, Any]:
        """Field values of a request's Customer (elements not mapped are ignored, as
        Deployteq ignores read-only ones); options by name."""
        row: dict[str, Any] = {}
        for element, value in customer.items():
            if element in BUILTIN:
                row[BUILTIN[element]] = value
            elif element in self.element_field:
                row[self.element_field[element]] = value
        for option in customer.get("options") or []:
            name = (option or {}).get("name")
            if name in self.profile:
                row[name] = option.get("value")
        return row

    def criteria(self, customer: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """What a search by a request's Customer matches: (field -> value of every element and
        option given, and the elements and options given that no field answers to)."""
        fields: dict[str, Any] = {}
        unknown: list[str] = []
        for element, value in customer.items():
            if value is None or element == "options":
                continue
            if element == "id":
                fields["system_id"] = value
            elif element in BUILTIN:
                fields[BUILTIN[element]] = value
            elif element in self.element_field:
                fields[self.element_field[element]] = value
            elif element == "mailStatus" and value in MAIL_STATUS:
                fields["unsubscribed"] = MAIL_STATUS[value]
            else:
                unknown.append(element)
        for option in customer.get("options") or []:
            name, value = (option or {}).get("name"), (option or {}).get("value")
            if name in self.profile and value is not None:
                fields[name] = value
            elif value is not None:
                unknown.append(f"option '{name}'")
        return fields, unknown

    def to_element(self, customer: dict[str, Any]) -> dict[str, Any]:
        """A loaded customer as Deployteq's Customer."""
        shown: dict[str, Any] = {"id": customer["system_id"]}
        for element, field in (*BUILTIN.items(), *READ_ONLY.items()):
            shown[element] = _text(customer.get(field))
        shown["softBounceCount"] = customer.get("soft_bounces", 0)
        shown["mailStatus"] = next(
            k for k, v in MAIL_STATUS.items() if v == bool(customer.get("unsubscribed"))
        )
        for element, field in self.element_field.items():
            shown[element] = _text(customer.get(field))
        shown["options"] = [
            {"customerId": customer["system_id"], "name": name, "value": _text(customer.get(name))}
            for name in self.options
        ]
        return shown
