"""Expressions over datamodel records: records.C, where, .FIELD and each aggregate, their null
rules and their errors (DESIGN.md section 7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from engine.errors import ExpressionError
from engine.model.expressions import Expression

NOW = datetime(2026, 1, 10, 12, tzinfo=UTC)


def order(key: str, total: Any, status: str, days_ago: int) -> dict[str, Any]:
    return {
        "key": key,
        "total": total,
        "status": status,
        "created_at": NOW - timedelta(days=days_ago),
    }


# newest first, as the store gives them
ORDERS = [
    order("o4", None, "open", 1),
    order("o3", Decimal("30.5"), "paid", 2),
    order("o2", Decimal("600"), "open", 10),
    order("o1", 20, "paid", 100),
]


def value(source: str, orders: list[dict[str, Any]] | None = None, **customer: Any) -> Any:
    scope = {
        "customer": customer,
        "data": {},
        "now": NOW,
        "today": NOW.date(),
        "records": {"orders": ORDERS if orders is None else orders},
    }
    return Expression.parse(source).evaluate(scope)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("count(records.orders)", 4),
        ('count(records.orders where status == "paid")', 2),
        ('count(records.orders where status == "paid" and days_since(created_at) <= 30)', 1),
        ("count(records.orders.total)", 3),  # nulls are not counted
        ("count(records.returns)", 0),  # a collection without records
        ("sum(records.orders.total)", Decimal("650.5")),
        ('sum((records.orders where status == "paid").total)', Decimal("50.5")),
        ('sum((records.orders where status == "none").total)', 0),
        ("min(records.orders.total)", 20),
        ("max(records.orders.total)", Decimal("600")),
        ("max(records.orders.created_at)", NOW - timedelta(days=1)),
        ("days_since(max(records.orders.created_at))", 1),
        ("min(records.orders.status)", "open"),
        ("avg(records.orders.total)", Decimal("650.5") / 3),
        ('any(records.orders where status == "paid")', True),
        ('any(records.orders where status == "gone")', False),
        ("any(records.orders.total)", True),
        ("first(records.orders).key", "o1"),  # the oldest
        ("last(records.orders).key", "o4"),  # the newest
        ("first(records.orders.status)", "paid"),
        ('last(records.orders where status == "paid").total', Decimal("30.5")),
        ('"open" in records.orders.status', True),
        ('"gone" not in records.orders.status', True),
        ('count(records.orders where total > 25 and customer.country == "NL")', 2),
        ("count(records.orders where key == customer.favourite)", 1),
    ],
)
def test_aggregates(source: str, expected: Any) -> None:
    assert value(source, country="NL", favourite="o2") == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("count(records.orders)", 0),
        ("sum(records.orders.total)", 0),
        ("any(records.orders)", False),
        ("min(records.orders.total)", None),
        ("max(records.orders.total)", None),
        ("avg(records.orders.total)", None),
        ("first(records.orders)", None),
        ("last(records.orders).key", None),
        ("days_since(max(records.orders.created_at)) > 90", False),  # null compares false
        ("max(records.orders.created_at) == null", True),
    ],
)
def test_over_no_records(source: str, expected: Any) -> None:
    if source == "first(records.orders)":
        source = "first(records.orders).key == null"
        expected = True
    assert value(source, orders=[]) == expected


def test_without_records_in_the_scope() -> None:
    expr = Expression.parse("count(records.orders) == 0 and sum(records.orders.total) == 0")
    assert expr.test({"customer": {}, "data": {}, "now": NOW})


def test_a_scope_with_complete_sees_every_record() -> None:
    class View(dict[str, Any]):
        def complete(self, collection: str) -> list[dict[str, Any]]:
            return ORDERS

    scope = {"customer": {}, "now": NOW, "records": View(orders=ORDERS[:1])}
    assert Expression.parse("count(records.orders)").evaluate(scope) == 4


def test_a_field_missing_from_a_record_is_null() -> None:
    assert value("count(records.orders where coupon == null)") == 4
    assert value("count(records.orders where coupon != null)") == 0


def test_where_inside_where() -> None:
    source = 'count(records.orders where count(records.orders where status == "paid") > 1)'
    assert value(source) == 4


def test_references_name_collections_and_fields() -> None:
    expr = Expression.parse(
        'count(records.orders where status == "paid") > 0 and max(records.orders.total) > 1'
    )
    assert [r.path for r in expr.references] == [
        ("records", "orders"),
        ("records", "orders", "status"),
        ("records", "orders", "total"),
    ]
    assert [r.offset for r in expr.references] == [6, 27, 57]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("records.orders", "needs a value, not a list of records"),
        ("records", "'records' needs a collection"),
        ("records.orders.total.x", "a record's field has no fields"),
        ("sum(records.orders)", "sum() needs the values of a field, not records"),
        ("avg(first(records.orders))", "avg() needs the values of a field, not a record"),
        ("count(customer.x where y)", "'where' at column 18 needs a list of records"),
        ("records.orders.total > 3", "not a list of values; use sum(...)"),
        ("first(records.orders) == 1", "not a record; pick a field"),
        ("len(records.orders)", "len() needs a value, not a list of records"),
        ("not records.orders", "'not' needs a value"),
        ("cout(records.orders)", "did you mean 'count'?"),
        ("(customer.x).y", "picks a field of records"),
        ("count(records.orders where status.x == 1)", "'status' is a field of a record"),
        ("count(records.orders where status)", ""),  # a bare field is a value: fine
        ("status == 1", "unknown name 'status'"),  # bare names only inside where
        ("count(1, 2)", "count() takes exactly one value"),
    ],
)
def test_errors(source: str, message: str) -> None:
    if not message:
        Expression.parse(source)
        return
    with pytest.raises(ExpressionError, match=_escaped(message)):
        Expression.parse(source)


def _escaped(text: str) -> str:
    import re

    return re.escape(text)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("sum(records.orders.status)", "sum() needs numbers"),
        ("avg(records.orders.status)", "avg() needs numbers"),
        ("count(customer.name)", "count() needs a list"),
    ],
)
def test_evaluation_errors(source: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=_escaped(message)):
        value(source, name="Ann")


def test_aggregates_over_plain_lists() -> None:
    assert value("count(customer.groups)", groups=("a", None, "b")) == 2
    assert value("max([1, 5, 3])") == 5
    assert value("sum([1, 2.5])") == 3.5
    assert value("first(customer.groups)", groups=("a", "b")) == "a"
