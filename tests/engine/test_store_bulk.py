"""Column-wise typing and JSON for imports agree, value for value, with the per-value functions
every other writer uses (``convert``, ``typed_row``, ``json.dumps``), bad values and messages
included."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InputError
from engine.model.fields import FIELD_TYPES, convert, to_json
from engine.model.project import Project
from engine.store.bulk import json_column, json_objects, json_texts, typed_column
from engine.store.customers import typed_columns, typed_row

# texts near each type's edges: blanks, spaces, signs, underscores, case, bad values
SAMPLES = [
    "", " ", "\t", "0", "1", "-7", " 42 ", "1_000", "1.5", "-0.0", "1e3", "nan", "inf", "x",
    "true", "FALSE", " Yes", "nee", "j", "2", "12.50", "1,5", "2026-01-31", " 2026-01-31",
    "20260131", "2026-02-30", "2026-01-31T09:30:00", "2026-01-31T09:30:00Z",
    "2026-01-31 09:30:00+01:00", "31-01-2000", "Zoë", "ann@example.com",
]  # fmt: skip
texts = st.lists(st.one_of(st.sampled_from(SAMPLES), st.text(max_size=12)), max_size=30)


def outcome(text: str, kind: str) -> tuple[Any, str | None]:
    """What ``convert`` makes of one text: its value, or why it fails."""
    try:
        return convert(text, kind), None
    except ValueError as exc:
        return None, str(exc)


@pytest.mark.parametrize("kind", FIELD_TYPES)
@settings(max_examples=150, deadline=None)
@given(values=texts)
def test_a_typed_column_is_convert_value_for_value(kind: str, values: list[str]) -> None:
    typed, faults = typed_column(values, kind)
    outcomes = [outcome(text, kind) for text in values]
    assert faults == {i: reason for i, (_, reason) in enumerate(outcomes) if reason is not None}
    assert list(map(repr, typed)) == [repr(value) for value, _ in outcomes]  # NaN is not NaN


@pytest.mark.parametrize("kind", FIELD_TYPES)
def test_the_json_form_of_a_column_is_to_json(kind: str) -> None:
    typed, _ = typed_column(SAMPLES, kind)
    assert list(json_column(typed, kind)) == [to_json(v) for v in typed]
    clean = [v for v in typed if v is not None]
    assert list(json_column(clean, kind)) == [to_json(v) for v in clean]


json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)


@settings(max_examples=200, deadline=None)
@given(
    columns=st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True),
        st.one_of(
            st.lists(json_values, min_size=3, max_size=3),
            st.lists(st.one_of(st.none(), st.text(max_size=8)), min_size=3, max_size=3),
            st.lists(st.integers(), min_size=3, max_size=3),
            st.lists(st.booleans(), min_size=3, max_size=3),
        ),
        max_size=5,
    )
)
def test_json_objects_are_what_json_dumps_writes(columns: dict[str, list[Any]]) -> None:
    texts = {name: json_texts(values) for name, values in columns.items()}
    rows = [{name: values[i] for name, values in columns.items()} for i in range(3)]
    assert json_objects(texts, 3) == [json.dumps(row) for row in rows]


SETTINGS = """
timezone: UTC
profile: {first_name: str, newsletter: bool, birthday: date, score: int, total: decimal}
"""


@pytest.fixture
def project(make_project: Callable[..., Project]) -> Project:
    return make_project(SETTINGS)


ROWS = [
    ["C1", " a@x.nl ", "Europe/Amsterdam", "none", "Ann", "true", "1990-01-31", "3", "1.50"],
    ["C2", "not-an-address", "Mars/Olympus", "often", "Bob", "perhaps", "31-01", "x", "NaN"],
    ["C3", "", "", "", "", "", "", "", ""],
    ["", "c@x.nl", "UTC", "soft", " ", "0", "2000-02-29", " 7 ", "-0.001"],
    ["C5", "@", "Europe/Paris", "hard", "Eve", "no", "2000-02-30", "1", "1e2"],
]
NAMES = [
    "external_id", "email", "timezone", "bounced", "first_name", "newsletter", "birthday",
    "score", "total",
]  # fmt: skip


def test_typed_columns_say_what_typed_row_says_per_field(project: Project) -> None:
    columns = {name: [row[i] for row in ROWS] for i, name in enumerate(NAMES)}
    typed, faults = typed_columns(columns, project)
    for index, row in enumerate(ROWS):
        expected: dict[str, Any] = {}
        first: tuple[str, str] | None = None
        for name, text in zip(NAMES, row, strict=True):
            try:
                expected[name] = typed_row({name: text}, project)[name]
            except InputError as exc:
                first = first or (name, str(exc))
        assert faults.get(index) == first
        if first is None:
            assert {name: typed[name][index] for name in NAMES} == expected
            assert typed_row(dict(zip(NAMES, row, strict=True)), project) == expected
    assert faults[1] == ("email", "field 'email': 'not-an-address' is not an e-mail address")
    assert faults[4][0] == "birthday"


def test_typed_columns_refuse_an_unknown_field(project: Project) -> None:
    with pytest.raises(InputError, match="unknown customer field 'frist_name'; did you mean"):
        typed_columns({"frist_name": ["Ann"]}, project)
