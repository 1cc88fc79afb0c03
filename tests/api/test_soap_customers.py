"""Deployteq's Customer element and sluis's fields: the default names, soap.fields, options."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from api.soap.customers import CustomerMap
from api.soap.wsdl import schema
from engine.model.project import Project

SETTINGS = """\
timezone: UTC
profile: {first_name: str, zip_code: str, postcode_alt: str, loyalty: int}
soap:
  fields: {city: postcode_alt}
"""


def test_elements_map_to_fields_by_name_setting_and_option(
    make_project: Callable[..., Project],
) -> None:
    elements = tuple(c.name for c in schema().types["Customer"])
    mapping = CustomerMap(make_project(SETTINGS), elements)
    assert mapping.element_field == {
        "firstname": "first_name",
        "zipCode": "zip_code",
        "city": "postcode_alt",
    }
    assert mapping.options == ["loyalty"]
    row = mapping.to_row(
        {
            "id": 9,  # read-only: ignored
            "externalId": "c-1",
            "emailAddress": "a@example.com",
            "firstname": "Ann",
            "city": "3511",
            "status": "ignored",
            "options": [{"name": "loyalty", "value": "3"}, {"name": "unknown", "value": "x"}],
        }
    )
    assert row == {
        "external_id": "c-1",
        "email": "a@example.com",
        "first_name": "Ann",
        "postcode_alt": "3511",
        "loyalty": "3",
    }
    now = datetime(2026, 1, 5, tzinfo=UTC)
    shown = mapping.to_element(
        {"system_id": 9, "external_id": "c-1", "email": None, "first_name": "Ann", "loyalty": 3,
         "soft_bounces": 1, "unsubscribed": True, "created_at": now, "updated_at": now}
    )  # fmt: skip
    assert shown["id"] == 9 and shown["firstname"] == "Ann" and shown["emailAddress"] is None
    assert shown["mailStatus"] == "unsubscribed" and shown["softBounceCount"] == 1
    assert shown["createdAt"] == "2026-01-05T00:00:00+00:00"
    assert shown["options"] == [{"customerId": 9, "name": "loyalty", "value": "3"}]
