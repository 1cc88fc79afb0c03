"""The property: an expression compiled to SQL chooses, on SQLite and on PostgreSQL, exactly the
customers the Python evaluator chooses, nulls and time zones included, reading profile fields
from their typed columns and from the JSON alike; and an export's fields read straight from the
table are the values of the typed customers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from engine.model.expressions import Expression
from engine.model.project import Project
from engine.store import Database, Store, profile_columns
from engine.store.customers import add_to_groups, load_customers, upsert_customers
from engine.store.records import typed_record, upsert_records
from engine.store.recordsets import records_of_customers
from engine.store.segments import matching_ids, matching_rows
from engine.store.sqlexpr import compile_where, fields_of

NOW = datetime(2026, 6, 15, 12, 0, 0, 250_000, tzinfo=UTC)
TODAY = date(2026, 6, 15)
SETTINGS = """\
timezone: UTC
profile:
  name: str
  score: int
  ratio: float
  amount: decimal
  vip: bool
  born: date
  seen: datetime
datamodel:
  orders:
    key: order_id
    fields: {order_id: str, total: decimal, status: str}
  visits:
    key: visit_id
    fields: {visit_id: str, created_at: datetime, pages: int}
"""

PROFILE = ["name", "score", "ratio", "amount", "vip", "born", "seen"]
_ZONES = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))]
names = st.one_of(st.none(), st.sampled_from(["", "a", "A", "ab", "B", "ba", "é", "É"]))
moments = st.builds(
    lambda days, seconds, zone: (
        (NOW - timedelta(days=days, seconds=seconds)).replace(microsecond=0).astimezone(zone)
    ),
    st.integers(-40, 40),
    st.sampled_from([0, 1, 3600, 43_200, 86_399, 86_400]),
    st.sampled_from(_ZONES),
)
customers = st.lists(
    st.fixed_dictionaries(
        {
            "name": names,
            "score": st.one_of(st.none(), st.integers(-3, 60)),
            "ratio": st.one_of(st.none(), st.sampled_from([-2.5, 0.0, 0.1, 50.0, 51.5])),
            "amount": st.one_of(st.none(), st.sampled_from(["0.1", "50.10", "-1", "50"])),
            "vip": st.one_of(st.none(), st.booleans()),
            "born": st.one_of(
                st.none(), st.builds(lambda d: TODAY - timedelta(days=d), st.integers(-3, 40))
            ),
            "seen": st.one_of(st.none(), moments),
            "groups": st.lists(st.sampled_from(["g1", "g2"]), unique=True),
            "orders": st.lists(
                st.tuples(
                    st.sampled_from([None, "10", "250.5", "0.25", "-3"]),
                    st.sampled_from([None, "paid", "open"]),
                    st.integers(0, 40),
                ),
                max_size=4,
            ),
            "visits": st.lists(
                st.tuples(st.one_of(st.none(), moments), st.one_of(st.none(), st.integers(0, 5))),
                max_size=2,
            ),
        }
    ),
    min_size=1,
    max_size=8,
)

# expressions by the kind of their value, so that most of them compile
int_atoms = st.sampled_from(
    [
        "customer.score",
        "len(customer.name)",
        "days_since(customer.born)",
        "days_until(customer.born)",
        "days_since(customer.seen)",
        "days_until(customer.seen)",
        "hours_since(customer.seen)",
        "hours_since(customer.born)",
        "len(customer.groups)",
        "count(records.orders)",
        'count(records.orders where status == "paid")',
        "count(records.orders where days_since(created_at) <= 30)",
        "count(records.orders where hours_since(created_at) > 24 * 3)",
        "count(records.orders.total)",
        "count(records.visits where pages > 2 or customer.score > 10)",
        "days_since(max(records.orders.created_at))",
        "days_since(last(records.visits).created_at)",
        "days_since(min(records.visits.created_at))",
        "null",
        "data.missing",
        *[str(n) for n in (-1, 0, 1, 2, 3, 30, 50)],
    ]
)
ints = st.recursive(
    int_atoms,
    lambda inner: st.builds(
        lambda a, op, b: f"({a} {op} {b})", inner, st.sampled_from("+-*/"), inner
    ),
    max_leaves=3,
)
nums = st.one_of(
    ints,
    st.sampled_from(
        [
            "customer.ratio",
            "customer.amount",
            "50.1",
            "0.1",
            "-2.5",
            "sum(records.orders.total)",
            'sum((records.orders where status == "paid").total)',
            "max(records.orders.total)",
            "min(records.orders.total)",
            "avg(records.orders.total)",
            "first(records.orders).total",
            "last(records.orders).total",
            "first(records.orders.total)",
            "max(records.visits.pages)",
        ]
    ),
)
# aggregates meet small numbers often, so empty lists and nulls among records get compared
aggregates = st.sampled_from(
    [
        "count(records.orders)",
        'count(records.orders where status == "paid" and days_since(created_at) <= 30)',
        "sum(records.orders.total)",
        'sum((records.orders where status == "paid").total)',
        "max(records.orders.total)",
        "avg(records.orders.total)",
        "last(records.orders).total",
        "first(records.orders.total)",
        "days_since(max(records.orders.created_at))",
        "days_since(last(records.visits).created_at)",
        "max(records.visits.pages)",
        "0",
        "1",
        "2",
        "-1",
        "250",
        "null",
    ]
)
texts = st.sampled_from(
    [
        "customer.name",
        '"a"',
        '"A"',
        '""',
        '"ab"',
        "lower(customer.name)",
        "upper(customer.name)",
        'customer.name + "b"',
        '"é"',
    ]
)
days = st.sampled_from(["customer.born", "today", 'date("2026-06-01")', '"2026-06-15"'])
instants = st.sampled_from(["customer.seen", "now", "customer.born"])
ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])


def _compare(kind: Any) -> Any:
    return st.builds(lambda a, op, b: f"{a} {op} {b}", kind, ops, kind)


atoms = st.one_of(
    _compare(aggregates),
    _compare(nums),
    _compare(texts),
    _compare(days),
    _compare(instants),
    _compare(st.one_of(nums, texts, days, st.sampled_from(["customer.vip", "true"]))),
    st.builds(
        lambda a, op: f"{a} {op} null", st.one_of(nums, texts, days), st.sampled_from(["==", "!="])
    ),
    st.builds(lambda a, w: f'{a} {w} [1, 50, "a", null]', nums, st.sampled_from(["in", "not in"])),
    st.builds(lambda a, w: f'{a} {w} ["a", "ab", 3]', texts, st.sampled_from(["in", "not in"])),
    st.builds(
        lambda a, w: f"{a} {w} customer.groups",
        st.sampled_from(['"g1"', '"g2"', "customer.name", "customer.score"]),
        st.sampled_from(["in", "not in"]),
    ),
    st.builds(lambda a, w, b: f"{a} {w} {b}", texts, st.sampled_from(["in", "not in"]), texts),
    st.builds(
        lambda a: f"exists({a})",
        st.sampled_from(
            ["customer.name", "customer.score", "customer.seen", "customer.groups", "data.x"]
        ),
    ),
    st.sampled_from(
        [
            'any(records.orders where status == "paid")',
            "any(records.orders.total)",
            '"paid" in records.orders.status',
            '"paid" not in (records.orders where total > 1).status',
            'max(records.orders.status) == "paid"',
            "min(records.visits.created_at) < now",
            "last(records.visits).created_at > customer.born",
            "customer.vip",
            "customer.vip == true",
            "customer.vip != false",
            "customer.name",
            "customer.score",
            "customer.groups",
            "customer.seen",
        ]
    ),
)
predicates = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.builds(lambda p: f"not ({p})", inner),
        st.builds(
            lambda a, op, b: f"({a}) {op} ({b})", inner, st.sampled_from(["and", "or"]), inner
        ),
    ),
    max_leaves=4,
)


def _store(url: str, project: Project) -> Store:
    store = Store(Database(url), project)
    profile_columns.sync(store.db, project)
    with store.db.read() as conn:  # segments read these fields from their typed columns
        assert profile_columns.typed_fields(conn, project) == set(PROFILE)
    return store


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("segments")
    (root / "flows").mkdir()
    (root / "sluis.yaml").write_text(SETTINGS)
    return Project.load(root)


@pytest.fixture(scope="module")
def stores(
    project: Project, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[list[Store]]:
    made = [_store(f"sqlite:///{Path(tmp_path_factory.mktemp('db')) / 'test.db'}", project)]
    if request.config.getoption("-m") != "not postgres":
        url: str = request.getfixturevalue("postgres_url")
        made.append(_store(url, project))  # _fill empties the tables it uses
    yield made
    for store in made:
        store.db.dispose()


def _fill(store: Store, rows: list[dict[str, Any]]) -> None:
    with store.db.write() as conn:
        for table in ("memberships", "groups", "customers", "records"):
            conn.execute(text(f"DELETE FROM {table}"))
        typed = []
        for number, row in enumerate(rows):
            fields = {k: v for k, v in row.items() if k not in ("groups", "orders", "visits")}
            fields["amount"] = None if fields["amount"] is None else Decimal(fields["amount"])
            typed.append({"external_id": f"c{number}", **fields})
        done = upsert_customers(conn, typed, key="external_id", project=store.project, now=NOW)
        for (system_id, _), row in zip(done, rows, strict=True):
            if row["groups"]:
                add_to_groups(conn, [system_id], row["groups"], NOW)
            for n, (total, status, days) in enumerate(row["orders"]):
                data = {"order_id": f"{system_id}-{n}", "total": total, "status": status}
                at = NOW - timedelta(days=days, hours=n)
                _record(conn, store, "orders", data, system_id, at)
            for n, (moment, pages) in enumerate(row["visits"]):
                data = {"visit_id": f"{system_id}-{n}", "created_at": moment, "pages": pages}
                _record(conn, store, "visits", data, system_id, NOW - timedelta(days=n))


def _record(
    conn: Any, store: Store, collection: str, data: dict[str, Any], owner: int, at: datetime
) -> None:
    typed = typed_record(
        collection, {k: v for k, v in data.items() if v is not None}, store.project
    )
    upsert_records(conn, collection, [(typed, owner)], project=store.project, now=at)


def _by_python(store: Store, expr: Expression) -> list[str]:
    with store.db.read() as conn:
        ids = list(conn.execute(text("SELECT system_id FROM customers")).scalars())
        loaded = load_customers(conn, ids, store.project)
        records = {
            name: records_of_customers(conn, name, ids, store.project)
            for name in ("orders", "visits")
        }
    scope = {"data": {}, "now": NOW, "today": TODAY}
    chosen = []
    for c in loaded.values():
        mine = {name: found.get(c["system_id"], ()) for name, found in records.items()}
        if expr.test({**scope, "customer": c, "records": mine}):
            chosen.append(c["external_id"])
    return sorted(chosen)


def _by_sql(store: Store, expr: Expression) -> list[str]:
    """Through the typed columns (as segments run), checked equal to the JSON's answer."""
    with store.db.read() as conn:
        ids = [
            i
            for chunk in matching_ids(conn, store.project, expr, now=NOW, today=TODAY)
            for i in chunk
        ]
        profile, datamodel = fields_of(store.project)
        from_json = compile_where(expr, conn.dialect.name, profile, NOW, TODAY, datamodel)
        assert "profile_" not in from_json.sql
        found = conn.execute(
            text(f"SELECT c.system_id FROM customers c WHERE {from_json.sql}"), from_json.params
        ).scalars()
        assert sorted(found) == ids, ("from the JSON", expr.source)
        loaded = load_customers(conn, ids, store.project, groups=False)
    return sorted(c["external_id"] for c in loaded.values())


@pytest.mark.postgres
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=customers, source=predicates)
def test_sql_and_python_choose_the_same_customers(
    stores: list[Store], rows: list[dict[str, Any]], source: str
) -> None:
    from engine.errors import ExpressionError
    from engine.store.sqlexpr import NotCompilable, check, fields_of

    try:
        expr = Expression(source)
    except ExpressionError:
        return  # a constant part fails: a validation error already
    try:
        check(expr, *fields_of(stores[0].project))
    except NotCompilable:
        event("refused at validation")
        return  # nothing runs
    for store in stores:
        _fill(store, rows)
        try:
            expected = _by_python(store, expr)
        except ExpressionError:
            event("refused by Python at run time")
            return
        assert _by_sql(store, expr) == expected, (store.db.engine.dialect.name, source)
        event("chosen: some" if expected else "chosen: none")


@pytest.mark.postgres
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=customers)
def test_fields_read_for_exports_are_the_typed_customers_values(
    stores: list[Store], rows: list[dict[str, Any]]
) -> None:
    fields = ["system_id", "external_id", "unsubscribed", "created_at", *PROFILE]
    for store in stores:
        _fill(store, rows)
        with store.db.read() as conn:
            read = [
                list(values)
                for _, chunk in matching_rows(
                    conn, store.project, None, fields, now=NOW, today=TODAY, chunk=3
                )
                for values in chunk
            ]
            loaded = load_customers(conn, [r[0] for r in read], store.project)
        expected = [[loaded[r[0]][f] for f in fields] for r in read]
        assert read == expected, store.db.engine.dialect.name
        assert [[type(v) for v in r] for r in read] == [[type(v) for v in r] for r in expected]
        assert len(read) == len(rows)
