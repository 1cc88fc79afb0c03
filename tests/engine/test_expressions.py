"""Tests for engine.model.expressions: syntax, null rules, types, functions, errors and properties."""

from __future__ import annotations

import pickle
import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, localcontext
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import ExpressionError
from engine.model.expressions import (
    FUNCTIONS,
    MAX_DEPTH,
    MAX_LENGTH,
    ROOT_NAMES,
    Expression,
    Reference,
)

NOW = datetime(2026, 1, 31, 12, 30, tzinfo=UTC)
TODAY = date(2026, 1, 31)
CUSTOMER = {
    "country": "NL",
    "newsletter": True,
    "age": 30,
    "score": 2.5,
    "balance": Decimal("10.10"),
    "email": "Ann@Example.com",
    "groups": ["vip", "beta"],
    "joined": date(2026, 1, 1),
    "last_seen": datetime(2026, 1, 30, 12, 30, tzinfo=UTC),
    "address": {"city": "Utrecht", "street": {"name": "Oudegracht"}},
    "empty": "",
    "nothing": None,
}
DATA = {"order": {"total": 120, "lines": [{"sku": "a"}]}, "source": "web"}


def scope(customer: Any = None, data: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "customer": CUSTOMER if customer is None else customer,
        "data": DATA if data is None else data,
        "now": NOW,
        "today": TODAY,
        **extra,
    }


def ev(source: str, **kwargs: Any) -> Any:
    return Expression.parse(source).evaluate(scope(**kwargs))


# --- literals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1", 1),
        ("0", 0),
        ("1.5", Decimal("1.5")),
        ("-3", -3),
        ("- 1.25", Decimal("-1.25")),
        ('"NL"', "NL"),
        ("'NL'", "NL"),
        ('"it\'s"', "it's"),
        ("'say \"hi\"'", 'say "hi"'),
        (r'"a\"b"', 'a"b'),
        (r"'it\'s'", "it's"),
        (r'"tab\there\nnew\\line\r"', "tab\there\nnew\\line\r"),
        (r'"\u00e9t\u00C9"', "étÉ"),
        ('""', ""),
        ("true", True),
        ("false", False),
        ("null", None),
        ('[1, "a"]', (1, "a")),
        ("[]", ()),
        ("[1, 2,]", (1, 2)),
        ("[[1], []]", ((1,), ())),
        ("  \t\n 7 \n", 7),
    ],
)
def test_literals(source: str, expected: Any) -> None:
    value = ev(source)
    assert value == expected
    assert type(value) is type(expected)


# --- references -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("customer.country", "NL"),
        ("customer.missing", None),
        ("customer.nothing", None),
        ("customer.address.city", "Utrecht"),
        ("customer.address.street.name", "Oudegracht"),
        ("customer.address.zip", None),
        ("customer.address.street.name.first", None),
        ("customer.country.code", None),
        ("customer.groups.first", None),
        ("data.order.total", 120),
        ("data.source", "web"),
        ("data.order.missing.deeper", None),
        ("now", NOW),
        ("today", TODAY),
        ("customer", CUSTOMER),
        ("data", DATA),
    ],
)
def test_references_read_the_scope(source: str, expected: Any) -> None:
    assert ev(source) == expected


def test_references_work_on_any_mapping_and_missing_roots() -> None:
    expr = Expression.parse("customer.address.city")
    proxy = MappingProxyType({"address": MappingProxyType({"city": "Gent"})})
    assert expr.evaluate({"customer": proxy}) == "Gent"
    assert Expression.parse("customer.country").evaluate({}) is None
    assert Expression.parse("data.x").evaluate({"data": None}) is None
    assert Expression.parse("customer.country").evaluate({"customer": "not a record"}) is None


def test_keywords_and_unicode_are_allowed_as_field_names() -> None:
    customer = {"in": 1, "and": 2, "null": 3, "straße": "x", "_id": 4}
    assert ev("customer.in + customer.and + customer.null", customer=customer) == 6
    assert ev('customer.straße == "x"', customer=customer) is True
    assert ev("customer._id", customer=customer) == 4


def test_references_lists_every_use_in_source_order() -> None:
    expr = Expression.parse(
        "days_since(customer.joined) < 3 and data.order.total > 10 or today > now or customer.x"
        ' or "x" in customer.x'
    )
    assert expr.references == (
        Reference(("customer", "joined"), 11),
        Reference(("data", "order", "total"), 36),
        Reference(("today",), 61),
        Reference(("now",), 69),
        Reference(("customer", "x"), 76),
        Reference(("customer", "x"), 97),
    )
    for reference in expr.references:
        assert expr.source.startswith(reference.path[0], reference.offset)


def test_constant_expressions_have_no_references() -> None:
    assert Expression.parse('1 + 2 == 3 and lower("A") == "a"').references == ()


def test_names() -> None:
    assert {"customer", "data", "now", "today", "records"} == ROOT_NAMES
    assert {
        "days_since",
        "days_until",
        "hours_since",
        "lower",
        "upper",
        "len",
        "exists",
        "date",
    } == FUNCTIONS


# --- comparisons ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('customer.country == "NL"', True),
        ('customer.country != "NL"', False),
        ('"NL" == customer.country', True),
        ('customer.country == "nl"', False),
        ("customer.age == 30", True),
        ("customer.age == 30.0", True),
        ("customer.age < 30", False),
        ("customer.age <= 30", True),
        ("customer.age > 29.5", True),
        ("customer.age >= 31", False),
        ("29.5 < customer.age", True),
        ("customer.score == 2.5", True),
        ("customer.score > 2.49", True),
        ("customer.balance == 10.1", True),
        ("customer.balance > 10.09", True),
        ("customer.balance < customer.age", True),
        ('"abc" < "abd"', True),
        ('customer.country > "MA"', True),
        ("true == true", True),
        ("true != false", True),
        ("false < true", True),
        ("true == 1", False),
        ("customer.newsletter == 1", False),
        ('customer.age == "30"', False),
        ('customer.age != "30"', True),
        ("[1, 2] == [1, 2.0]", True),
        ("[1, 2] == [2, 1]", False),
        ('customer.groups == ["vip", "beta"]', True),
        ("customer.address == customer.address", True),
        ("customer.address == customer.groups", False),
    ],
)
def test_comparisons(source: str, expected: bool) -> None:
    assert ev(source) is expected


def test_float_meets_decimal_through_its_shortest_text() -> None:
    assert ev("customer.x == 1.1", customer={"x": 1.1}) is True
    assert ev("customer.x == customer.y", customer={"x": 1.1, "y": Decimal("1.1")}) is True
    assert ev("customer.x < 1.10000000000000000001", customer={"x": 1.1}) is True
    assert ev("customer.x > 0.1", customer={"x": float("inf")}) is True
    assert ev("customer.x < 0.1", customer={"x": float("nan")}) is False
    assert ev("customer.x == customer.x", customer={"x": float("nan")}) is False
    assert ev("customer.x < 1", customer={"x": Decimal("NaN")}) is False
    assert ev("customer.x < customer.y", customer={"x": Decimal("NaN"), "y": 2.5}) is False


@pytest.mark.parametrize(
    ("source", "customer", "message"),
    [
        ('"a" < 3', {}, "cannot compare text 'a' with number 3"),
        ("customer.name < 3", {"name": "a"}, "cannot compare text 'a' with number 3"),
        ("customer.flag > 1", {"flag": True}, "cannot compare true with number 1"),
        ("customer.x >= [1]", {"x": 1}, r"cannot compare number 1 with a list of 1 value"),
        ("customer.x < customer.y", {"x": [1], "y": [2]}, "cannot compare a list"),
        ("customer.x < 1", {"x": {"a": 1}}, "cannot compare a record with number 1"),
        ("customer.x < 1", {"x": object()}, "cannot compare a value of type object"),
        (
            'customer.joined < "soon"',
            {"joined": date(2026, 1, 1)},
            "cannot compare date 2026-01-01 with text 'soon'; write dates as \"YYYY-MM-DD\"",
        ),
    ],
)
def test_ordering_incompatible_values_is_an_error(
    source: str, customer: dict[str, Any], message: str
) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        ev(source, customer=customer)


def test_comparison_error_carries_the_operator_offset() -> None:
    expr = Expression.parse("customer.age < 3")
    with pytest.raises(ExpressionError) as info:
        expr.evaluate(scope(customer={"age": "old"}))
    assert info.value.offset == 13


# --- null -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("customer.missing == null", True),
        ("customer.missing != null", False),
        ("customer.country == null", False),
        ("customer.country != null", True),
        ("null == customer.missing", True),
        ("null != customer.country", True),
        ("null == null", True),
        ("null != null", False),
        ("customer.missing == (null)", True),
        ('customer.missing == "NL"', False),
        ('customer.missing != "NL"', False),
        ("customer.missing < 1", False),
        ("customer.missing <= 1", False),
        ("customer.missing > 1", False),
        ("customer.missing >= 1", False),
        ("1 > customer.missing", False),
        ("customer.missing == customer.other", False),
        ("customer.missing != customer.other", False),
        ("customer.missing != customer.country", False),
        ("null < 1", False),
        ('customer.missing in ["a"]', False),
        ('customer.missing not in ["a"]', False),
        ('"a" in customer.missing', False),
        ('"a" not in customer.missing', False),
        ("null in [null]", False),
        ("not customer.missing", True),
        ("customer.missing and true", False),
        ("customer.missing or true", True),
        ("not (customer.missing == 1)", True),
    ],
)
def test_null_rules(source: str, expected: bool) -> None:
    assert ev(source) is expected


@pytest.mark.parametrize(
    "source",
    [
        "customer.missing + 1",
        "1 - customer.missing",
        "customer.missing * 2",
        "customer.missing / 2",
        "-customer.missing",
        '"a" + customer.missing',
        "lower(customer.missing)",
        "upper(customer.missing)",
        "len(customer.missing)",
        "date(customer.missing)",
        "days_since(customer.missing)",
        "days_until(customer.missing)",
        "hours_since(customer.missing)",
    ],
)
def test_null_in_gives_null_out(source: str) -> None:
    assert ev(source) is None


def test_test_treats_null_as_false() -> None:
    assert Expression.parse("customer.missing").test(scope()) is False
    assert Expression.parse("customer.country").test(scope()) is True
    assert Expression.parse("customer.empty").test(scope()) is False
    assert Expression.parse("customer.groups").test(scope()) is True
    assert Expression.parse("[]").test(scope()) is False
    assert Expression.parse("0").test(scope()) is False


# --- membership -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('"vip" in customer.groups', True),
        ('"gold" in customer.groups', False),
        ('"gold" not in customer.groups', True),
        ('"vip" not in customer.groups', False),
        ('customer.country in ["NL", "BE"]', True),
        ('customer.country not in ["NL", "BE"]', False),
        ('customer.country in ["DE"]', False),
        ('customer.country in [lower("nl"), "BE"]', False),
        ('customer.country in [upper("nl"), "BE"]', True),
        ("customer.age in [1, 30]", True),
        ("customer.age in [30.0]", True),
        ("customer.score in [2.5]", True),
        ("customer.balance in [10.1]", True),
        ("1 in [true]", False),
        ("true in [1, true]", True),
        ('customer.joined in ["2026-01-01"]', True),
        ('"2026-01-01" in [customer.joined]', True),
        ("customer.age in []", False),
        ('"Exam" in customer.email', True),
        ('"exam" in customer.email', False),
        ('"exam" in lower(customer.email)', True),
        ('"" in customer.country', True),
        ('"city" in customer.address', True),
        ('"zip" in customer.address', False),
        ("[1] in customer.address", False),
        ('"a" in ["a"] and true', True),
    ],
)
def test_membership(source: str, expected: bool) -> None:
    assert ev(source) is expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("3 in customer.country", "cannot look for number 3 in text 'NL'"),
        ('"a" in customer.age', "'in' needs a list or text on its right, not number 30"),
        ('"a" not in customer.newsletter', "'in' needs a list or text on its right, not true"),
    ],
)
def test_membership_errors(source: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        ev(source)


# --- arithmetic -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2", 3),
        ("5 - 7", -2),
        ("6 * 7", 42),
        ("6 / 3", 2),
        ("7 / 2", Decimal("3.5")),
        ("-7 / 2", Decimal("-3.5")),
        ("1 / 3", Decimal("0.3333333333333333333333333333")),
        ("0.1 + 0.2", Decimal("0.3")),
        ("1.5 * 2", Decimal("3.0")),
        ("customer.age + 0.5", Decimal("30.5")),
        ("customer.score + 1", 3.5),
        ("customer.score * 2", 5.0),
        ("customer.score / 2", 1.25),
        ("customer.score + 0.25", Decimal("2.75")),
        ("customer.balance - 0.1", Decimal("10.00")),
        ("data.order.total * 1.21", Decimal("145.20")),
        ('"a" + "b"', "ab"),
        ('customer.country + "-" + data.source', "NL-web"),
        ("-customer.age", -30),
        ("-customer.balance", Decimal("-10.10")),
        ("- -2", 2),
        ("1 / 0", None),
        ("customer.age / 0", None),
        ("customer.score / 0", None),
        ("customer.balance / 0.0", None),
        ("customer.age / (customer.age - 30)", None),
        ("0 / 0", None),
    ],
)
def test_arithmetic(source: str, expected: Any) -> None:
    value = ev(source)
    assert value == expected
    assert type(value) is type(expected)


def test_decimal_results_ignore_the_callers_decimal_context() -> None:
    with localcontext() as context:
        context.prec = 2
        assert ev("1 / 3") == Decimal("0.3333333333333333333333333333")
        assert ev("customer.balance * 1.005") == Decimal("10.15050")


@pytest.mark.parametrize(
    ("source", "customer", "message"),
    [
        ('"a" + 1', {}, "cannot add text 'a' and number 1; both sides must be numbers, or both"),
        ("customer.x - 1", {"x": "a"}, "cannot subtract text 'a' and number 1"),
        ("customer.x * 2", {"x": "ab"}, "cannot multiply text 'ab' and number 2"),
        ("customer.x / 2", {"x": [1]}, "cannot divide a list of 1 value and number 2"),
        ("customer.x + 1", {"x": True}, "cannot add true and number 1"),
        ("-customer.x", {"x": "a"}, "cannot make text 'a' negative; '-' needs a number"),
        ("-customer.x", {"x": False}, "cannot make false negative"),
        ("customer.x + customer.y", {"x": 10**400, "y": 1.5}, "the result is too large"),
        ("customer.x * 100", {"x": Decimal("1e999999")}, "the result is too large"),
    ],
)
def test_arithmetic_errors(source: str, customer: dict[str, Any], message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        ev(source, customer=customer)


def test_constant_errors_surface_when_parsing() -> None:
    with pytest.raises(ExpressionError, match="cannot add text 'a' and number 1") as info:
        Expression.parse('customer.x == "a" + 1')
    assert info.value.offset == 18


# --- logic and precedence -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("true and true", True),
        ("true and false", False),
        ("false or true", True),
        ("false or false", False),
        ("not true", False),
        ("not null", True),
        ('"x" and 1', True),
        ('"" or 0', False),
        ("customer.groups and customer.age", True),
        ("customer.age or customer.missing", True),
        ("true and true and true and false", False),
        ("false or false or false or true", True),
        ("not not true", True),
    ],
)
def test_logic_uses_truthiness_and_gives_booleans(source: str, expected: bool) -> None:
    assert ev(source) is expected


def test_logic_short_circuits() -> None:
    customer = {"flag": False, "name": "a"}
    assert ev("customer.flag and customer.name < 3", customer=customer) is False
    assert ev("not customer.flag or customer.name < 3", customer=customer) is True
    with pytest.raises(ExpressionError):
        ev("customer.flag or customer.name < 3", customer=customer)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 2 - 3", 5),
        ("10 - (2 - 3)", 11),
        ("100 / 10 / 5", 2),
        ("100 / (10 / 5)", 50),
        ("2 * 3 / 4", Decimal("1.5")),
        ("-2 * 3", -6),
        ("-(2 + 3) * 2", -10),
        ("2 - -3", 5),
        ("1 + 1 == 2", True),
        ("2 * 3 > 5 and 1 < 2", True),
        ("not 1 == 2", True),
        ("not true and false", False),
        ("not (true and false)", True),
        ("true or false and false", True),
        ("(true or false) and false", False),
        ("false and false or true", True),
    ],
)
def test_precedence(source: str, expected: Any) -> None:
    assert ev(source) == expected


@pytest.mark.parametrize(
    "source", ["1 < 2 < 3", "1 == 1 == true", '"a" in ["a"] == true', "1 < 2 in [true]"]
)
def test_comparisons_do_not_chain(source: str) -> None:
    with pytest.raises(ExpressionError, match="comparisons cannot be chained"):
        Expression.parse(source)


def test_parenthesised_comparisons_may_be_compared() -> None:
    assert ev("(1 < 2) == true") is True
    assert ev('("a" in ["a"]) != false') is True


def test_long_flat_chains_evaluate_without_recursion() -> None:
    ors = " or ".join(["customer.missing"] * 450 + ["customer.country"])
    assert ev(ors) is True
    sums = " + ".join(["customer.age"] * 600)
    assert ev(sums) == 18_000
    constant = " + ".join(["1"] * 2400)
    assert ev(constant) == 2400


# --- dates and times ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "customer", "expected"),
    [
        ("customer.d < today", {"d": date(2026, 1, 30)}, True),
        ("customer.d == today", {"d": date(2026, 1, 31)}, True),
        ('customer.d == "2026-01-31"', {"d": date(2026, 1, 31)}, True),
        ('customer.d < "2026-02-01"', {"d": date(2026, 1, 31)}, True),
        ('customer.d >= "2026-01-31T00:00:00+00:00"', {"d": date(2026, 1, 31)}, True),
        ('"2026-01-31" <= customer.d', {"d": date(2026, 1, 31)}, True),
        ('customer.d < "20260201"', {"d": date(2026, 1, 31)}, True),
        ("customer.t > today", {"t": datetime(2026, 1, 31, 0, 1, tzinfo=UTC)}, True),
        ("customer.t == today", {"t": datetime(2026, 1, 31, tzinfo=UTC)}, True),
        ("customer.t < now", {"t": datetime(2026, 1, 31, 12, 29, tzinfo=UTC)}, True),
        ("customer.t < now", {"t": datetime(2026, 1, 31, 12, 29)}, True),
        ("customer.t < now", {"t": datetime(2026, 1, 31, 12, 31)}, False),
        ('customer.t > "2026-01-31T10:00:00Z"', {"t": datetime(2026, 1, 31, 11, tzinfo=UTC)}, True),
        (
            "customer.t == now",
            {"t": datetime(2026, 1, 31, 13, 30, tzinfo=timezone(timedelta(hours=1)))},
            True,
        ),
        (
            "customer.t < today",
            {"t": datetime(2026, 1, 31, 0, 30, tzinfo=timezone(timedelta(hours=1)))},
            False,
        ),
        ('today > date("2026-01-30")', {}, True),
        ("today == date(now)", {}, True),
        ("now > today", {}, True),
        ('customer.d == "not a date"', {"d": date(2026, 1, 31)}, False),
        ('customer.d != "not a date"', {"d": date(2026, 1, 31)}, True),
        ('customer.s > "2025"', {"s": "2026-01-01"}, True),
    ],
)
def test_date_comparisons(source: str, customer: dict[str, Any], expected: bool) -> None:
    assert ev(source, customer=customer) is expected


# --- functions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "customer", "expected"),
    [
        ("days_since(customer.d)", {"d": date(2026, 1, 1)}, 30),
        ("days_since(customer.d)", {"d": date(2026, 1, 31)}, 0),
        ("days_since(customer.d)", {"d": date(2026, 2, 2)}, -2),
        ("days_since(customer.d)", {"d": "2026-01-21"}, 10),
        ("days_since(customer.t)", {"t": datetime(2026, 1, 30, 12, 31, tzinfo=UTC)}, 0),
        ("days_since(customer.t)", {"t": datetime(2026, 1, 30, 12, 30, tzinfo=UTC)}, 1),
        ("days_since(customer.t)", {"t": datetime(2026, 1, 31, 12, 31, tzinfo=UTC)}, -1),
        ("days_since(customer.t)", {"t": "2026-01-29T12:30:00+00:00"}, 2),
        ("days_since(customer.t)", {"t": datetime(2026, 1, 29, 12, 30)}, 2),
        ('days_since("2025-01-31")', {}, 365),
        ("days_until(customer.d)", {"d": date(2026, 2, 14)}, 14),
        ("days_until(customer.d)", {"d": date(2026, 1, 30)}, -1),
        ("days_until(customer.t)", {"t": datetime(2026, 2, 1, 12, 29, tzinfo=UTC)}, 0),
        ("days_until(customer.t)", {"t": datetime(2026, 2, 1, 12, 30, tzinfo=UTC)}, 1),
        ("hours_since(customer.t)", {"t": datetime(2026, 1, 31, 10, 31, tzinfo=UTC)}, 1),
        ("hours_since(customer.t)", {"t": datetime(2026, 1, 31, 13, 0, tzinfo=UTC)}, -1),
        ("hours_since(customer.d)", {"d": date(2026, 1, 31)}, 12),
        ("hours_since(customer.t)", {"t": "2026-01-31T12:00:00+01:00"}, 1),
        ("lower(customer.s)", {"s": "ÀbC"}, "àbc"),
        ("upper(customer.s)", {"s": "àbc"}, "ÀBC"),
        ("len(customer.s)", {"s": "abc"}, 3),
        ("len(customer.s)", {"s": ""}, 0),
        ("len(customer.s)", {"s": [1, 2]}, 2),
        ("len(customer.s)", {"s": {"a": 1}}, 1),
        ("exists(customer.s)", {"s": "x"}, True),
        ("exists(customer.s)", {"s": ""}, False),
        ("exists(customer.s)", {"s": None}, False),
        ("exists(customer.s)", {}, False),
        ("exists(customer.s)", {"s": 0}, True),
        ("exists(customer.s)", {"s": False}, True),
        ("exists(customer.s)", {"s": []}, True),
        ('date("2026-01-31")', {}, date(2026, 1, 31)),
        ("date(customer.s)", {"s": "2026-01-31"}, date(2026, 1, 31)),
        ("date(customer.s)", {"s": "2026-01-31T23:59:00+02:00"}, date(2026, 1, 31)),
        ("date(customer.s)", {"s": datetime(2026, 1, 31, 8)}, date(2026, 1, 31)),
        ("date(customer.s)", {"s": date(2026, 1, 31)}, date(2026, 1, 31)),
        ("len(lower(customer.s)) + 1", {"s": "AB"}, 3),
    ],
)
def test_functions(source: str, customer: dict[str, Any], expected: Any) -> None:
    value = ev(source, customer=customer)
    assert value == expected
    assert type(value) is type(expected)


def test_today_falls_back_to_the_date_of_now() -> None:
    expr = Expression.parse("days_since(customer.d)")
    assert expr.evaluate({"customer": {"d": date(2026, 1, 1)}, "now": NOW}) == 30


@pytest.mark.parametrize(
    ("source", "customer", "message"),
    [
        ("lower(customer.x)", {"x": 1}, "lower() needs text, not number 1"),
        ("upper(customer.x)", {"x": [1]}, "upper() needs text, not a list of 1 value"),
        ("len(customer.x)", {"x": 5}, "len() needs text or a list, not number 5"),
        ("days_since(customer.x)", {"x": "soon"}, "days_since() needs a date"),
        ("days_until(customer.x)", {"x": 3}, "days_until() needs a date"),
        ("hours_since(customer.x)", {"x": True}, "hours_since() needs a date"),
        (
            "date(customer.x)",
            {"x": "31-01-2026"},
            'date() needs a real date written as "YYYY-MM-DD"',
        ),
        ("date(customer.x)", {"x": 20260131}, "date() needs a real date"),
    ],
)
def test_function_errors(source: str, customer: dict[str, Any], message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)) as info:
        ev(source, customer=customer)
    assert info.value.offset == 0


def test_clock_functions_need_the_clock() -> None:
    expr = Expression.parse("hours_since(customer.t)")
    with pytest.raises(ExpressionError, match=r"the current time \('now'\) is not available"):
        expr.evaluate({"customer": {"t": NOW}})


def test_bad_date_literal_fails_at_parse_time_with_its_offset() -> None:
    with pytest.raises(ExpressionError, match="date\\(\\) needs a real date") as info:
        Expression.parse('customer.joined > date("2026-02-30")')
    assert info.value.offset == 18


# --- syntax errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message", "offset"),
    [
        ("", "empty expression", 0),
        ("   ", "empty expression", 0),
        ("customer.country ==", "expected a value after '==' at column 20", 19),
        ("customer.country == )", "expected a value after '==' at column 21 but found '\\)'", 20),
        ("and true", "expected a value at column 1 but found 'and'", 0),
        ('"abc', 'unterminated string starting at column 1; close it with "', 0),
        ("customer.x == 'abc", "unterminated string starting at column 15; close it with '", 14),
        ('"abc\\', "unterminated string starting at column 1", 0),
        ('"a\\qb"', r"unknown escape '\\q' at column 3", 2),
        ('"\\u12"', r"unknown escape '\\u' at column 2", 1),
        ("lowr(customer.email)", "unknown function 'lowr'; did you mean 'lower'?", 0),
        ("LOWER(customer.email)", "unknown function 'LOWER'; write it in lower case: 'lower'", 0),
        (
            "frobnicate(1)",
            "unknown function 'frobnicate'; the functions are any, avg, count, date",
            0,
        ),
        ("customer(1)", "'customer' is not a function", 0),
        ("custmer.country", "unknown name 'custmer'; did you mean 'customer'\\?", 0),
        ("x == dta.y", "unknown name 'x'; write a customer field as customer.x", 0),
        ("customer.a == dta.y", "unknown name 'dta'; did you mean 'data'\\?", 14),
        ("customer.a == nul", "unknown name 'nul'; did you mean 'null'\\?", 14),
        ("True", "unknown name 'True'; write it in lower case: 'true'", 0),
        ("customer.a == None", "unknown name 'None'; use 'null'", 14),
        ("lower", "'lower' is a function; call it as lower\\(customer.email\\)", 0),
        ("customer.a = 1", "'=' is not an operator; use '==' to compare", 11),
        ("customer.a <> 1", "'<>' is not an operator; use '!='", 11),
        ("true && false", "'&&' is not an operator; use 'and'", 5),
        ("true || false", "'\\|\\|' is not an operator; use 'or'", 5),
        ("!true", "'!' is not an operator; use 'not'", 0),
        ("7 % 2", "'%' is not supported", 2),
        ("customer.a @ 1", "unexpected character '@' at column 12", 11),
        ("customer.a \x00", "unexpected character U\\+0000 at column 12", 11),
        ("customer.a < 1 < 2", "comparisons cannot be chained \\('<' at column 16\\)", 15),
        ("(customer.a", "missing '\\)' to close '\\(' at column 1", 0),
        ("customer.a)", "unmatched '\\)' at column 11", 10),
        ("[1, 2", "missing '\\]' to close '\\[' at column 1", 0),
        ("[1, 2)", "expected '\\]' at column 6 to close '\\[' at column 1, but found '\\)'", 5),
        ("[1 2]", "missing ',' before '2' at column 4", 3),
        ("lower(customer.a customer.b)", "missing operator before 'customer' at column 18", 17),
        ('customer.country "NL"', "missing operator before '\"NL\"' at column 18", 17),
        (
            "lower()",
            "lower\\(\\) takes exactly one value, for example lower\\(customer.email\\); got 0",
            0,
        ),
        ("len(1, 2)", "len\\(\\) takes exactly one value.*got 2", 0),
        (
            "customer.email.lower()",
            "write lower\\(customer.email\\) instead of customer.email.lower",
            0,
        ),
        ("data.x()", "'data.x' is not a function", 0),
        ("customer.", "expected a field name after '.' at column 10", 9),
        ("customer.1", "expected a field name after '.' at column 10", 9),
        ("now.year", "'now' has no fields; remove '.year'", 0),
        ("today.day", "'today' has no fields", 0),
        ("1.", "malformed number '1.' at column 1; write decimals as 1.5", 0),
        ("1.2.3", "malformed number", 0),
        (".5", "expected a value at column 1 but found '.'; write 0.5 rather than .5", 0),
        ("1e5", "unexpected 'e' right after the number 1 at column 2", 1),
        ("1" * 101, "too long \\(at most 100 digits\\)", 0),
        ("customer.a AND customer.b", "write 'AND' in lower case \\('and'\\) at column 12", 11),
        ("customer.a is null", "'is' is not an operator \\(column 12\\); use '==' or '!='", 11),
        ("customer.a not 1", "unexpected 'not' at column 12; did you mean 'not in'\\?", 11),
        ("customer.a == 1 .", "unexpected '.' at column 17", 16),
        ("(1)(2)", "missing operator before '\\(' at column 4", 3),
        ("+1", "expected a value at column 1 but found '\\+'", 0),
        ("1 ++ 2", "expected a value after '\\+' at column 4 but found '\\+'", 3),
        ("not", "expected a value after 'not' at column 4", 3),
        ("[,]", "expected a value after '\\[' at column 2 but found ','", 1),
    ],
)
def test_syntax_errors(source: str, message: str, offset: int) -> None:
    with pytest.raises(ExpressionError, match=message) as info:
        Expression.parse(source)
    assert info.value.offset == offset


def test_limits() -> None:
    with pytest.raises(ExpressionError, match="expression is too long \\(10,001 characters"):
        Expression.parse("1" + " " * MAX_LENGTH)
    assert Expression.parse("(" * 90 + "1" + ")" * 90).evaluate({}) == 1
    for deep in (
        "(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1),
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
        "not " * (MAX_DEPTH + 1) + "true",
        "-" * (MAX_DEPTH + 1) + "1",
        "lower(" * (MAX_DEPTH + 1) + "customer.x" + ")" * (MAX_DEPTH + 1),
        "(" * 5000,
    ):
        with pytest.raises(ExpressionError, match="nested too deeply"):
            Expression.parse(deep)


def test_non_text_source_is_refused() -> None:
    with pytest.raises(ExpressionError, match="an expression must be text, not number 3"):
        Expression.parse(3)  # type: ignore[arg-type]


# --- the Expression object ------------------------------------------------------------------


def test_expression_value_semantics() -> None:
    first = Expression.parse('customer.country == "NL"')
    second = Expression('customer.country == "NL"')
    assert first == second
    assert hash(first) == hash(second)
    assert first != Expression.parse('customer.country == "BE"')
    assert first != 'customer.country == "NL"'
    assert str(first) == 'customer.country == "NL"'
    assert repr(first) == "Expression('customer.country == \"NL\"')"
    assert {first, second} == {first}
    copy = pickle.loads(pickle.dumps(first))
    assert copy == first
    assert copy.test(scope()) is True


def test_evaluate_wraps_unexpected_failures() -> None:
    class Exploding(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            raise RuntimeError("boom")

    expr = Expression.parse("customer.a")
    with pytest.raises(ExpressionError, match="internal error \\(RuntimeError: boom\\)"):
        expr.evaluate(Exploding())
    with pytest.raises(ExpressionError, match="internal error"):
        expr.test(Exploding())
    with pytest.raises(ExpressionError, match="internal error"):
        expr.evaluate(None)  # type: ignore[arg-type]


def test_deeply_nested_values_are_an_expression_error() -> None:
    nested: list[Any] = []
    for _ in range(5000):
        nested = [nested]
    with pytest.raises(ExpressionError, match="nested too deeply"):
        ev("customer.x == customer.y", customer={"x": nested, "y": nested})


# --- properties -----------------------------------------------------------------------------

TOKENS = [
    "customer",
    "data",
    "now",
    "today",
    ".",
    "country",
    "groups",
    "order",
    "(",
    ")",
    "[",
    "]",
    ",",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    "!",
    "and",
    "or",
    "not",
    "in",
    "+",
    "-",
    "*",
    "/",
    "1",
    "2.5",
    "0",
    '"NL"',
    "'x'",
    '"2026-01-31"',
    '"',
    "\\",
    "true",
    "false",
    "null",
    "lower",
    "len",
    "days_since",
    "date",
    "exists",
    "customer.age",
    "data.order.total",
    "x",
]
FIELDS = ["country", "age", "score", "groups", "joined", "name", "flag", "missing"]
BINARY = ["==", "!=", "<", "<=", ">", ">=", "and", "or", "in", "not in", "+", "-", "*", "/"]


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


token_soup = st.lists(st.sampled_from(TOKENS), max_size=16).flatmap(
    lambda tokens: st.sampled_from([" ", ""]).map(lambda sep: sep.join(tokens))
)
references = st.sampled_from(FIELDS).map(lambda f: f"customer.{f}") | st.sampled_from(
    ["data.order.total", "data.items", "data", "customer", "now", "today"]
)
literals = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.tuples(st.integers(0, 999), st.integers(0, 99)).map(lambda t: f"{t[0]}.{t[1]:02d}"),
    st.text(st.characters(codec="utf-8"), max_size=6).map(quote),
    st.sampled_from(["true", "false", "null", '"2026-01-31"', '"vip"', '"NL"', "[]", '["vip"]']),
)


def _grow(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Composite expressions; each contains a reference, so none is folded to a constant."""
    operand = children | literals
    return st.one_of(
        st.tuples(children, st.sampled_from(BINARY), operand).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(operand, st.sampled_from(BINARY), children).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        children.map(lambda c: f"not {c}"),
        children.map(lambda c: f"-{c}"),
        st.tuples(st.sampled_from(sorted(FUNCTIONS)), children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(children, st.lists(operand, max_size=2)).map(
            lambda t: "[" + ", ".join([t[0], *t[1]]) + "]"
        ),
    )


well_formed = st.recursive(references, _grow, max_leaves=10)

offsets = st.builds(
    timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-5, 5),
    st.floats(),
    st.decimals(),
    st.text(max_size=8),
    st.sampled_from(["", "vip", "NL", "2026-01-31", "2026-01-31T10:00:00+02:00", "2026-13-01"]),
    st.dates(),
    st.datetimes(timezones=st.none() | st.just(UTC) | offsets),
)
values = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(FIELDS), c, max_size=3),
    max_leaves=6,
)
scopes = st.fixed_dictionaries(
    {
        "customer": st.dictionaries(st.sampled_from(FIELDS), values, max_size=8),
        "data": st.dictionaries(st.sampled_from(["order", "items"]), values, max_size=2),
        "now": st.datetimes(timezones=st.just(UTC) | offsets),
        "today": st.dates(),
    }
)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40) | token_soup)
def test_parse_raises_only_expression_error(source: str) -> None:
    try:
        expr = Expression.parse(source)
    except ExpressionError as exc:
        assert 0 <= exc.offset <= len(source)
        assert str(exc)
    else:
        assert str(expr) == source
        for reference in expr.references:
            assert source.startswith(reference.path[0], reference.offset)


@settings(max_examples=200, deadline=None)
@given(well_formed)
def test_well_formed_expressions_parse(source: str) -> None:
    expr = Expression.parse(source)
    assert expr.references
    assert Expression.parse(str(expr)) == expr


@settings(max_examples=200, deadline=None)
@given(well_formed | token_soup, scopes)
def test_evaluate_raises_only_expression_error(source: str, scope: dict[str, Any]) -> None:
    try:
        expr = Expression.parse(source)
    except ExpressionError:
        return
    try:
        result = expr.test(scope)
    except ExpressionError as exc:
        assert "internal error" not in str(exc)
        assert 0 <= exc.offset <= len(source)
    else:
        assert isinstance(result, bool)


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(codec="utf-8"), max_size=20))
def test_string_literals_round_trip(text: str) -> None:
    assert Expression.parse(quote(text)).evaluate({}) == text
    single = "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    assert Expression.parse(single).evaluate({}) == text
