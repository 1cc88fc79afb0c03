from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import TemplateError
from engine.model.durations import format_duration, parse_duration
from engine.model.schedule import check_cron, next_fire
from engine.model.templates import Template


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("3d", timedelta(days=3)),
        ("1w", timedelta(weeks=1)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("P3D", timedelta(days=3)),
        ("PT2H30M", timedelta(hours=2, minutes=30)),
        ("P1W", timedelta(weeks=1)),
        (90, timedelta(seconds=90)),
    ],
)
def test_durations(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "3 days", "d3", "P1M", "P1Y", "P", "PT", "-3d", "1x", True])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|years or months|empty"):
        parse_duration(text)


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3000)))
def test_format_roundtrip(delta: timedelta) -> None:
    whole = timedelta(seconds=int(delta.total_seconds()))
    assert parse_duration(format_duration(whole)) == whole


@given(st.text(max_size=30))
def test_parse_duration_only_raises_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        parse_duration(text)


def test_cron() -> None:
    assert check_cron("0 9 * * 1") == "0 9 * * 1"
    assert check_cron("@daily") == "@daily"
    with pytest.raises(ValueError, match="not a valid cron"):
        check_cron("every monday")
    after = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Amsterdam
    fired = next_fire("0 9 * * 1", after, "Europe/Amsterdam")
    assert fired.astimezone(UTC) == datetime(2026, 1, 12, 8, 0, tzinfo=UTC)


def test_template_renders_with_date_filter_and_missing_fields() -> None:
    template = Template.parse("customers_{{ today|date('%Y%m%d') }}_{{ customer.nothing }}.csv")
    assert template.render({"today": date(2026, 1, 5), "customer": {}}) == "customers_20260105_.csv"
    assert (
        Template.parse("{{ customer.first_name }}").render({"customer": {"first_name": None}}) == ""
    )


def test_template_errors() -> None:
    with pytest.raises(TemplateError, match="syntax"):
        Template.parse("{{ customer.first_name }")
    with pytest.raises(TemplateError, match="unknown template variable 'custmer'; did you mean"):
        Template.parse("{{ custmer.x }}")


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ customer.__class__.__init__.__globals__ }}",
        "{{ data.update.__self__ }}",
    ],
)
def test_sandbox_refuses_escapes(source: str) -> None:
    with pytest.raises(TemplateError):
        Template.parse(source).render({"customer": {}, "data": {}})


SCOPE = {
    "customer": {"first_name": "Ann", "total": 3, "groups": ["a", "b"], "zero": 0},
    "data": {"order": {"id": 7}},
    "now": datetime(2026, 1, 5, 9, tzinfo=UTC),
    "today": date(2026, 1, 5),
    "flow": "f",
    "object": "o",
}


@pytest.mark.parametrize(
    "source",
    [
        "Hi {{ customer.first_name | upper }}!",
        "{% for g in customer.groups %}{{ loop.index }}={{ g }};{% endfor %}",
        "{% set n = customer.total * 2 %}{{ n }} {{ range(3) | list }}",
        "{{ data.order.id }} {{ data.order.missing.deeper }}|{{ customer.none }}|",
        "{{ now|date('%H:%M') }} {{ today }} {{ flow }}/{{ object }}",
        "{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m(customer.first_name) }}",
        "{{ namespace(a=1).a }} {{ dict(a=1) }}",
    ],
)
def test_rendering_gives_what_jinja_gives(source: str) -> None:
    template = Template.parse(source)
    assert template.render(SCOPE) == template._compiled.render(SCOPE)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ 1 / customer.zero }}", "division by zero"),
        ("{{ customer.first_name + 1 }}", "can only concatenate str"),
        ("{{ customer.groups.nope() }}", "'list object' has no attribute 'nope'"),
    ],
)
def test_rendering_errors_name_the_template_and_jinja_message(source: str, message: str) -> None:
    with pytest.raises(TemplateError, match=f"template '.*' failed: {message}"):
        Template.parse(source).render(SCOPE)
