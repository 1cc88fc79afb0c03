"""JSON bodies written column by column are byte for byte what ``json_body`` gives for the
fields rendered per customer, and a customer whose template fails gets its own error."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import TemplateError
from engine.http.bodies import JsonFields
from engine.http.lookups import compile_value
from engine.http.render import json_body, templated
from engine.sdk.batch import Journey

AT = datetime(2026, 1, 5, 9, tzinfo=UTC)
CUSTOMERS: list[dict[str, Any]] = [
    {
        "system_id": 1,
        "external_id": "C1",
        "email": "ann@example.com",
        "first_name": 'Ann "the" \\ 100%',
        "birthday": date(1990, 4, 1),
        "total": Decimal("12.50"),
        "vip": True,
        "n": 2,
        "address": {"city": "Utrecht"},
    },
    {"system_id": 2, "external_id": "C2", "email": None, "first_name": "Zoë\n\u2028", "n": 0},
    {"system_id": 3, "items": "shadowed", "groups": ["a", "b"], "n": 5},
]
DATA = [{"source": "web", "order": {"id": 7}}, {}, {"source": None}]


def journeys(customers: list[dict[str, Any]], data: list[dict[str, Any]]) -> list[Journey]:
    return [
        Journey(i, c, d, AT, AT, "start")
        for i, (c, d) in enumerate(zip(customers, data, strict=True), 1)
    ]


def scope_of(journey: Journey) -> Any:
    scope = {"customer": journey.customer, "data": journey.data, "flow": "f", "object": "o"}
    return lambda: scope


def expected(fields: Any, batch: list[Journey]) -> list[str]:
    render = compile_value(fields)
    return [json_body(render(j.customer, j.data, scope_of(j))).decode() for j in batch]


FIELDS = [
    {"id": "{{ customer.external_id }}", "email": "{{ customer.email }}"},
    {"name": "{{ customer.first_name }}", "missing": "{{ customer.nope }}"},
    {"b": "{{ customer.birthday }}", "t": "{{ customer.total }}", "v": "{{ customer.vip }}"},
    {"items": "{{ customer.items }}", "groups": "{{ customer.groups }}"},
    {
        "src": "{{ data.source }}",
        "order": "{{ data.order.id }}",
        "city": "{{ customer.address.city }}",
    },
    {"upper": "{{ customer.external_id | upper }}", "flow": "{{ flow }}/{{ object }}"},
    {"n": 3, "f": 1.5, "flag": False, "none": None, "day": date(2026, 1, 5), "pct": "100%"},
    {"nested": {"id": "{{ customer.external_id }}", "k": [1, None, "{{ data.source }}"]}},
    {"list": ["{{ customer.email }}", {"deep": "{{ customer.n }}"}], "empty": {}, "none": []},
    {"%s": "{{ customer.external_id }}", 'quote"d': "x", "é": "{{ customer.first_name }}"},
    {"odd keys": {1: "{{ customer.external_id }}", 2.5: "t", None: 2, False: 0}},
    {},
]


@pytest.mark.parametrize("fields", FIELDS)
def test_bodies_are_what_json_body_gives_for_the_rendered_fields(fields):
    batch = journeys(CUSTOMERS, DATA)
    texts = JsonFields(templated(fields)).texts(batch, scope_of)
    assert texts == (expected(templated(fields), batch), {})


def test_a_customer_whose_template_fails_gets_the_error_and_the_others_their_body():
    fields = templated({"id": "{{ customer.external_id }}", "ratio": "{{ 10 / customer.n }}"})
    texts, failures = JsonFields(fields).texts(journeys(CUSTOMERS, DATA), scope_of)
    assert texts[0] == '{"id":"C1","ratio":"5.0"}'
    assert texts[2] == '{"id":"","ratio":"2.0"}'
    assert list(failures) == [1]
    assert isinstance(failures[1], TemplateError) and "division by zero" in str(failures[1])


def test_the_first_failing_field_of_a_customer_names_the_error():
    fields = templated({"a": "{{ 1 / customer.n }}", "b": "{{ customer.n.x.y() }}"})
    _, failures = JsonFields(fields).texts(journeys(CUSTOMERS, DATA), scope_of)
    assert "division by zero" in str(failures[1])


values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(), st.dates(), st.decimals(allow_nan=False)
)


@given(
    st.lists(st.dictionaries(st.sampled_from(["a", "b", "c"]), values), min_size=1, max_size=5),
    st.dictionaries(
        st.text(max_size=5),
        st.sampled_from(
            [
                "{{ customer.a }}",
                "{{ data.b }}",
                "x{{ customer.c }}y",
                "lit",
                "{{ customer.a | string }}",
            ]
        ),
    ),
)
def test_any_customer_values_give_the_same_text(customers, fields):
    batch = journeys(customers, [{"b": c.get("b")} for c in customers])
    compiled = templated(fields)
    assert JsonFields(compiled).texts(batch, scope_of) == (expected(compiled, batch), {})
