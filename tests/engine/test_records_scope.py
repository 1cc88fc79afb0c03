"""Records in batch scopes: loaded per collection for a whole batch (one query, never one per
customer), newest first, typed; templates see at most ``records_limit``; names are checked at
validation; replay loads ``--records COLLECTION=CSV``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from engine.errors import FlowError, InputError
from engine.model.flow import load_flow
from engine.model.project import Project
from engine.model.templates import Template
from engine.store import Store
from engine.store.customers import upsert_customers
from engine.store.records import upsert_records
from engine.store.recordsets import records_of_customers

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
SETTINGS = """\
timezone: UTC
profile: {first_name: str}
datamodel:
  orders:
    key: order_id
    fields: {order_id: str, total: decimal, status: str, created_at: datetime}
  visits:
    key: id
    fields: {id: str, page: str}
"""


@pytest.fixture
def store(make_project: Callable[..., Project], store_for: Callable[[Project], Store]) -> Store:
    store = store_for(make_project(SETTINGS))
    project = store.project
    with store.db.write() as conn:
        ids = [
            sid
            for sid, _ in upsert_customers(
                conn,
                [{"external_id": f"C{n}", "first_name": f"N{n}"} for n in range(1, 5)],
                key="external_id",
                project=project,
                now=T0,
            )
        ]
        orders = [
            (
                {"order_id": "a1", "total": Decimal("10"), "created_at": "2026-01-02T10:00:00Z"},
                ids[0],
            ),
            (
                {"order_id": "a2", "total": Decimal("20.5"), "created_at": "2026-02-02T10:00:00Z"},
                ids[0],
            ),
            (
                {"order_id": "a0", "total": Decimal("5"), "created_at": "2025-12-02T10:00:00Z"},
                ids[0],
            ),
            ({"order_id": "b1", "total": Decimal("7"), "status": "paid"}, ids[1]),
        ]
        upsert_records(
            conn,
            "orders",
            [({k: v for k, v in d.items()}, c) for d, c in orders],
            project=project,
            now=T0,
        )
        upsert_records(
            conn, "visits", [({"id": "v1", "page": "/"}, ids[2])], project=project, now=T0
        )
    store.ids = ids  # type: ignore[attr-defined]
    return store


def test_records_of_customers_newest_first_and_typed(store: Store) -> None:
    ids = store.ids  # type: ignore[attr-defined]
    with store.db.read() as conn:
        found = records_of_customers(conn, "orders", ids, store.project)
    assert [r["key"] for r in found[ids[0]]] == ["a2", "a1", "a0"]  # by the order's created_at
    first = found[ids[0]][0]
    assert first["total"] == Decimal("20.5")
    assert first["created_at"] == datetime(2026, 2, 2, 10, tzinfo=UTC)
    assert first["updated_at"] == T0
    assert "status" not in first
    only = found[ids[1]][0]
    assert (only["key"], only["status"], only["created_at"]) == ("b1", "paid", T0)
    assert ids[2] not in found and ids[3] not in found


def test_the_newest_records_each_with_a_limit(store: Store) -> None:
    ids = store.ids  # type: ignore[attr-defined]
    with store.db.write() as conn:  # two more for C2 at one moment: the later stored first
        same = [({"order_id": f"b{n}", "total": Decimal(n)}, ids[1]) for n in (2, 3)]
        upsert_records(conn, "orders", same, project=store.project, now=T0)
    with store.db.read() as conn:
        found = records_of_customers(conn, "orders", [*ids, ids[0], 999_999], store.project, 2)
        everything = records_of_customers(conn, "orders", ids, store.project)
    assert [r["key"] for r in found[ids[0]]] == ["a2", "a1"]
    assert [r["key"] for r in found[ids[1]]] == ["b3", "b2"]
    assert sorted(found) == [ids[0], ids[1]]
    assert all(found[i] == everything[i][:2] for i in found)  # the same typed records


def _context(store: Store, flow_text: str, make_project: Callable[..., Project]) -> Any:
    from engine.sdk.context import RunContext
    from engine.sdk.effects import Effects  # noqa: F401

    project = store.project
    flow = load_flow_text(project, flow_text)
    return RunContext(
        now=T0,
        project=project,
        flow=flow,
        object_id="tell",
        store=store,
        effects=None,  # type: ignore[arg-type]
    )


def load_flow_text(project: Project, text: str) -> Any:
    path = project.root / "flows" / "f.yaml"
    path.write_text(text)
    return load_flow(path, project)


FLOW = """\
name: f
objects:
  start:
    type: selection
    where: count(records.orders) > 0
    next: tell
  tell:
    type: http-request
    url: "http://127.0.0.1:1/{{ records.orders[0].key }}"
    records_limit: 2
"""


def test_a_batch_loads_each_collection_once(
    store: Store, make_project: Callable[..., Project]
) -> None:
    ctx = _context(store, FLOW, make_project)
    ids = store.ids  # type: ignore[attr-defined]
    ctx.batch_customers = ids
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM records" in statement:
            statements.append(statement)

    engine = store.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        views = [ctx.records_of(customer) for customer in ids]
        assert [len(v.complete("orders")) for v in views] == [3, 1, 0, 0]
        assert [len(v["orders"]) for v in views] == [2, 1, 0, 0]  # records_limit: 2
        assert [len(v["visits"]) for v in views] == [0, 0, 1, 0]
        assert len(statements) == 2  # one per collection, for the whole batch
        template = Template.parse("{{ records.orders[0].key }}/{{ records.orders|length }}")
        assert template.render({"records": views[0]}) == "a2/2"
        assert template.render({"records": views[3]}) == "/0"
        # a customer outside the batch still gets theirs
        ctx.batch_customers = ids[:1]
        assert ctx.records_of(ids[1]).complete("orders")[0]["key"] == "b1"
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_no_query_when_nothing_uses_records(
    store: Store, make_project: Callable[..., Project]
) -> None:
    ctx = _context(store, FLOW, make_project)
    ctx.batch_customers = store.ids  # type: ignore[attr-defined]
    statements: list[str] = []
    engine = store.db.engine

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        Template.parse("{{ customer.first_name }}").render(ctx.scope())
        assert statements == []
    finally:
        event.remove(engine, "before_cursor_execute", count)


BAD = {
    "where: count(records.order) > 0": "unknown collection 'order'; did you mean 'orders'?",
    "where: count(records.orders where statu == 1) > 0": "unknown field 'statu' of collection 'orders'; did you mean 'status'?",
    "where: max(records.orders.totl) > 0": "unknown field 'totl' of collection 'orders'; did you mean 'total'?",
    "where: sum((records.orders where key != null).totl) > 0": "unknown field 'totl'",
    "where: count(records.zzz) > 0": "unknown collection 'zzz'; the collections are orders, visits",
}


@pytest.mark.parametrize("setting", list(BAD))
def test_validation_of_collections_and_fields(
    make_project: Callable[..., Project], setting: str
) -> None:
    project = make_project(SETTINGS)
    text = FLOW.replace("where: count(records.orders) > 0", setting)
    with pytest.raises(FlowError) as caught:
        load_flow_text(project, text)
    messages = [p.message for p in caught.value.problems]
    assert any(BAD[setting] in m for m in messages), messages


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("{{ records.order[0].key }}", "unknown collection 'order'; did you mean 'orders'?"),
        (
            "{{ records.orders[0].kye }}",
            "unknown field 'kye' of collection 'orders'; did you mean 'key'?",
        ),
        ("{{ records['visit'] }}", "unknown collection 'visit'"),
        (
            "{% for o in records.orders %}{{ o.totl }}{% endfor %}",
            "unknown field 'totl' of collection 'orders'; did you mean 'total'?",
        ),
        (
            "{% for o in records.orders[:2]|reverse %}{{ o['stauts'] }}{% endfor %}",
            "unknown field 'stauts' of collection 'orders'; did you mean 'status'?",
        ),
        (  # an inner loop's own o is not a record; the outer one's still is after it
            "{% for o in records.visits %}{% for o in [1] %}{{ o.real }}{% endfor %}"
            "{{ o.pgae }}{% endfor %}",
            "unknown field 'pgae' of collection 'visits'; did you mean 'page'?",
        ),
    ],
)
def test_validation_of_template_records(
    make_project: Callable[..., Project], url: str, message: str
) -> None:
    project = make_project(SETTINGS)
    text = FLOW.replace("{{ records.orders[0].key }}", url)
    with pytest.raises(FlowError) as caught:
        load_flow_text(project, text)
    messages = [p.message for p in caught.value.problems]
    assert any(message in m for m in messages), messages


def test_loop_variables_over_records_read_known_fields(
    make_project: Callable[..., Project],
) -> None:
    project = make_project(SETTINGS)
    url = "{% for o in records.orders %}{{ o.total }}{{ o['key'] }}{{ loop.index }}{% endfor %}"
    load_flow_text(project, FLOW.replace("{{ records.orders[0].key }}", url))


def test_replay_with_records(
    make_project: Callable[..., Project], replay_on: Callable[..., Any], tmp_path: Path
) -> None:
    project = make_project(SETTINGS)
    load_flow_text(project, FLOW)
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "customer,order_id,total,status,created_at\n"
        "C1,x1,10,paid,2026-01-01T00:00:00Z\n"
        "c2@example.com,x2,5,,2026-01-03T00:00:00Z\n"
        "C1,x3,1,open,2026-01-04T00:00:00Z\n"
    )
    session = replay_on(
        project,
        "f",
        ["external_id,email", "C1,c1@example.com", "C2,c2@example.com", "C3,c3@example.com"],
        until="1h",
        records=[("orders", orders)],
    )
    document = session.document()
    assert [j["customer"] for j in document["journeys"]] == ["C1", "C2"]
    assert sorted(h["url"] for h in document["effects"]["http"]) == [
        "http://127.0.0.1:1/x2",
        "http://127.0.0.1:1/x3",
    ]


@pytest.mark.parametrize(
    ("header", "row", "message"),
    [
        ("order_id,total", "x1,1", "the header needs a customer column"),
        (
            "customer,order_id,totl",
            "C1,x1,1",
            "unknown field 'totl' of collection 'orders'; did you mean 'total'?",
        ),
        (
            "customer,order_id,total",
            "C9,x1,1",
            "orders.csv:2: no customer 'C9' in the customers file",
        ),
        ("customer,order_id,total", "C1,x1,lots", "orders.csv:2: field 'total'"),
        ("customer,order_id,total", ",x1,1", "orders.csv:2: no customer"),
    ],
)
def test_replay_records_errors(
    make_project: Callable[..., Project],
    replay_on: Callable[..., Any],
    tmp_path: Path,
    header: str,
    row: str,
    message: str,
) -> None:
    project = make_project(SETTINGS)
    load_flow_text(project, FLOW)
    orders = tmp_path / "orders.csv"
    orders.write_text(f"{header}\n{row}\n")
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace("?", r"\?")):
        replay_on(project, "f", ["external_id", "C1"], records=[("orders", orders)])


def test_replay_unknown_collection(
    make_project: Callable[..., Project], replay_on: Callable[..., Any], tmp_path: Path
) -> None:
    project = make_project(SETTINGS)
    load_flow_text(project, FLOW)
    orders = tmp_path / "o.csv"
    orders.write_text("customer,x\n")
    with pytest.raises(
        InputError, match="no collection 'order' in the datamodel; did you mean 'orders'"
    ):
        replay_on(project, "f", ["external_id", "C1"], records=[("order", orders)])
