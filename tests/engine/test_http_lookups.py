"""Per-customer values compiled for speed give exactly what the Jinja template gives."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from engine.http.lookups import compile_value
from engine.model.templates import Template

CUSTOMER = {
    "external_id": "C1",
    "email": "ann@example.com",
    "first_name": None,
    "birthday": date(1990, 4, 1),
    "total": Decimal("12.50"),
    "vip": True,
    "groups": ["a", "b"],
    "address": {"city": "Utrecht"},
    "items": "shadowed by dict.items in Jinja",
}
DATA = {"order": {"id": 7, "lines": [1, 2]}, "source": "web"}
SCOPE = {"customer": CUSTOMER, "data": DATA, "flow": "f", "object": "o"}


@pytest.mark.parametrize(
    "source",
    [
        "{{ customer.email }}",
        "{{customer.external_id}}",
        "/crm/{{ customer.external_id }}?e={{ customer.email }}",
        "{{ customer.first_name }}",
        "{{ customer.missing }}",
        "{{ customer.birthday }}",
        "{{ customer.total }}",
        "{{ customer.vip }}",
        "{{ customer.groups }}",
        "{{ customer.address.city }}",
        "{{ customer.address.city.x }}",
        "{{ customer.email.upper }}",
        "{{ customer.items }}",
        "{{ data.order.id }}-{{ data.source }}",
        "{{ data.nothing.deeper }}",
        "{{ customer.email | upper }}",
        "{% if customer.vip %}vip{% endif %}",
        "{{ flow }}/{{ object }}",
        'plain {"json": true}',
        " {{ customer.email }} ",
    ],
)
def test_compiled_templates_render_like_jinja(source):
    template = Template.parse(source)
    assert compile_value(template)(CUSTOMER, DATA, lambda: SCOPE) == template.render(SCOPE)


def test_fields_keep_literals_and_nesting():
    fields = {
        "id": Template.parse("{{ customer.external_id }}"),
        "n": 3,
        "flag": False,
        "nested": {"city": Template.parse("{{ customer.address.city }}"), "k": [1, None]},
    }
    assert compile_value(fields)(CUSTOMER, DATA, lambda: SCOPE) == {
        "id": "C1",
        "n": 3,
        "flag": False,
        "nested": {"city": "Utrecht", "k": [1, None]},
    }


def test_plain_lookup_fields_render_like_jinja():
    names = ["email", "first_name", "missing", "birthday", "total", "vip", "groups", "items"]
    fields = {name: Template.parse(f"{{{{ customer.{name} }}}}") for name in names}
    expected = {name: t.render(SCOPE) for name, t in fields.items()}
    assert compile_value(fields)(CUSTOMER, DATA, lambda: SCOPE) == expected


ANSWER = {
    "id": "51",
    "count": 3,
    "ratio": 0.5,
    "ok": False,
    "none": None,
    "properties": {"email": "ann@example.com", "tags": ["a"]},
    "keys": "shadowed by dict.keys in Jinja",
}


@pytest.mark.parametrize(
    "source",
    [
        "{{ response.json.id }}",
        "{{response.json.count}}",
        "{{ response.json.ratio }}",
        "{{ response.json.ok }}",
        "{{ response.json.none }}",
        "{{ response.json.missing }}",
        "{{ response.json.missing.deeper }}",
        "{{ response.json.properties.email }}",
        "{{ response.json.properties.tags }}",
        "{{ response.json.properties }}",
        "{{ response.json.keys }}",
        "{{ response.json.id.more }}",
        "{{ response.status }}",
        "{{ response.json.id | upper }}",
        "id {{ response.json.id }}",
    ],
)
def test_save_templates_read_the_answer_like_jinja(source):
    from engine.http.lookups import compile_response
    from engine.model.templates import TEMPLATE_NAMES

    template = Template.parse(source, TEMPLATE_NAMES | {"response"})
    for answer in (ANSWER, None, [1, 2], "text"):
        scope = {**SCOPE, "response": {"status": 207, "json": answer, "headers": {}}}
        expected = template.render(scope)
        assert compile_response(template)(answer, 207, lambda s=scope: s) == expected, answer


def test_plain_answer_lookups_build_no_scope():
    from engine.http.lookups import compile_response
    from engine.model.templates import TEMPLATE_NAMES

    def no_scope():
        raise AssertionError("the full scope was built")

    names = TEMPLATE_NAMES | {"response"}
    read = compile_response(Template.parse("{{ response.json.properties.email }}", names))
    assert read(ANSWER, 200, no_scope) == "ann@example.com"
    assert read({"properties": {}}, 200, no_scope) == ""
    assert (
        compile_response(Template.parse("{{ response.status }}", names))(None, 200, no_scope)
        == "200"
    )
