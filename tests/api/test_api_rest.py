"""The REST API under /api/v1 through the real ASGI app: customers, datamodel records, groups,
flows, events, pagination and erasure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api_helpers import Setup, order_payload
from sqlalchemy import func, select

from engine.store.events import add_events
from engine.store.models import EVENTS, JOURNEYS, MEMBERSHIPS, RECORDS, STEPS


def _customer(setup: Setup, external_id: str, **fields: object) -> int:
    answer = setup.api.post("/api/v1/customers", json={"external_id": external_id, **fields})
    assert answer.status_code in (200, 201), answer.text
    return int(answer.json()["system_id"])


# -- customers -----------------------------------------------------------------------------


def test_customer_create_upsert_get_and_find(setup: Setup) -> None:
    made = setup.api.post(
        "/api/v1/customers",
        json={"external_id": "C1", "email": "Ann@Example.com", "birthday": "1990-02-03"},
    )
    assert made.status_code == 201
    system_id = made.json()["system_id"]
    again = setup.api.post("/api/v1/customers", json={"external_id": "C1", "first_name": "Ann"})
    assert again.status_code == 200
    assert again.json()["system_id"] == system_id
    assert again.json()["birthday"] == "1990-02-03"  # fields not named stay
    by_email = setup.api.get("/api/v1/customers", params={"email": "ann@example.com"}).json()
    assert [c["system_id"] for c in by_email["items"]] == [system_id]
    by_id = setup.api.get("/api/v1/customers", params={"external_id": "C1"}).json()
    assert by_id["items"][0]["first_name"] == "Ann"
    assert setup.api.get("/api/v1/customers/999").status_code == 404
    by_email_key = setup.api.post(
        "/api/v1/customers", params={"key": "email"}, json={"email": "ann@example.com"}
    )
    assert by_email_key.json()["system_id"] == system_id


def test_customer_validation_errors_name_the_field(setup: Setup) -> None:
    answer = setup.api.post(
        "/api/v1/customers",
        json={"external_id": "C1", "fist_name": "Ann", "birthday": "someday", "newsletter": 3},
    )
    assert answer.status_code == 422
    problems = {tuple(p["loc"]): p["msg"] for p in answer.json()["detail"]}
    assert "did you mean 'first_name'" in problems[("body", "fist_name")]
    assert "expected a date" in problems[("body", "birthday")]
    assert ("body", "newsletter") in problems
    missing = setup.api.post("/api/v1/customers", json={"email": "a@example.com"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "external_id"]
    typed = setup.api.post("/api/v1/customers", json={"external_id": 5})
    assert typed.status_code == 422  # pydantic: external_id is text


def test_customer_update(setup: Setup) -> None:
    system_id = _customer(setup, "C1", first_name="Ann", newsletter=True)
    answer = setup.api.patch(f"/api/v1/customers/{system_id}", json={"newsletter": False})
    assert answer.status_code == 200
    assert answer.json()["newsletter"] is False and answer.json()["first_name"] == "Ann"
    cleared = setup.api.patch(f"/api/v1/customers/{system_id}", json={"first_name": None})
    assert cleared.json()["first_name"] is None
    assert setup.api.patch("/api/v1/customers/999", json={}).status_code == 404
    other = _customer(setup, "C2")
    taken = setup.api.patch(f"/api/v1/customers/{other}", json={"external_id": "C1"})
    assert taken.status_code == 409
    assert "external_id" in taken.json()["detail"]
    read_only = setup.api.patch(f"/api/v1/customers/{other}", json={"system_id": 5})
    assert read_only.status_code == 422


def test_erasure_deletes_everything_that_refers_to_the_customer(setup: Setup) -> None:
    kept = _customer(setup, "KEEP")
    received = setup.api.post("/webhooks/orders", json=order_payload("e1", "C1", "O1")).json()
    [system_id] = received["customers"]
    setup.api.post("/api/v1/groups", json={"name": "vip"})
    setup.api.patch("/api/v1/groups/vip/members", json={"add": [system_id, kept]})
    with setup.store.db.write() as conn:
        add_events(
            conn,
            [
                {"kind": "open", "at": datetime.now(UTC), "customer_id": system_id},
                {"kind": "open", "at": datetime.now(UTC), "customer_id": kept},
            ],
        )
    answer = setup.api.delete(f"/api/v1/customers/{system_id}")
    assert answer.status_code == 200
    assert answer.json()["deleted"] == {
        "customers": 1,
        "memberships": 1,
        "records": 3,
        "journeys": 1,
        "steps": 1,
        "send_log": 0,
        "events": 1,
    }
    assert setup.api.get(f"/api/v1/customers/{system_id}").status_code == 404
    with setup.store.db.read() as conn:
        for table, left in ((RECORDS, 0), (JOURNEYS, 0), (STEPS, 0), (MEMBERSHIPS, 1), (EVENTS, 1)):
            count = conn.execute(select(func.count()).select_from(table)).scalar()
            assert count == left, table.name
    assert setup.api.delete(f"/api/v1/customers/{system_id}").status_code == 404


def test_customer_pagination_with_cursors(setup: Setup) -> None:
    made = [_customer(setup, f"C{i:02}") for i in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        params: dict[str, object] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = setup.api.get("/api/v1/customers", params=params).json()
        seen += [c["system_id"] for c in page["items"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == made and pages == 3
    bad = setup.api.get("/api/v1/customers", params={"cursor": "garbage!"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "cursor"]


# -- datamodel -------------------------------------------------------------------------------


def test_records_create_read_update_delete_and_filter(setup: Setup) -> None:
    system_id = _customer(setup, "C1")
    made = setup.api.post(
        "/api/v1/datamodel/orders",
        json={"customer_id": system_id, "data": {"order_id": "O1", "total": 10, "status": "new"}},
    )
    assert made.status_code == 201, made.text
    assert made.json()["data"] == {"order_id": "O1", "total": "10", "status": "new"}
    setup.api.post("/api/v1/datamodel/orders", json={"data": {"order_id": "O2", "status": "paid"}})
    changed = setup.api.patch("/api/v1/datamodel/orders/O1", json={"data": {"status": "paid"}})
    assert changed.status_code == 200
    assert changed.json()["data"]["total"] == "10" and changed.json()["customer_id"] == system_id
    assert setup.api.get("/api/v1/datamodel/orders/O1").json()["data"]["status"] == "paid"
    paid = setup.api.get("/api/v1/datamodel/orders", params={"filter": "status=paid"}).json()
    assert [r["key"] for r in paid["items"]] == ["O1", "O2"]
    mine = setup.api.get("/api/v1/datamodel/orders", params={"customer_id": system_id}).json()
    assert [r["key"] for r in mine["items"]] == ["O1"]
    assert setup.api.delete("/api/v1/datamodel/orders/O2").status_code == 204
    assert setup.api.get("/api/v1/datamodel/orders/O2").status_code == 404
    assert setup.api.delete("/api/v1/datamodel/orders/O2").status_code == 404


def test_records_errors(setup: Setup) -> None:
    unknown = setup.api.get("/api/v1/datamodel/ordres")
    assert unknown.status_code == 404 and "did you mean 'orders'" in unknown.json()["detail"]
    typed = setup.api.post(
        "/api/v1/datamodel/orders", json={"data": {"order_id": "O1", "total": "ten", "colour": 1}}
    )
    assert typed.status_code == 422
    locs = {tuple(p["loc"]) for p in typed.json()["detail"]}
    assert locs == {("body", "data", "total"), ("body", "data", "colour")}
    no_key = setup.api.post("/api/v1/datamodel/orders", json={"data": {"status": "new"}})
    assert no_key.json()["detail"][0]["loc"] == ["body", "data", "order_id"]
    no_customer = setup.api.post(
        "/api/v1/datamodel/orders", json={"customer_id": 99, "data": {"order_id": "O1"}}
    )
    assert no_customer.json()["detail"][0]["loc"] == ["body", "customer_id"]
    setup.api.post("/api/v1/datamodel/orders", json={"data": {"order_id": "O1"}})
    rekey = setup.api.patch("/api/v1/datamodel/orders/O1", json={"data": {"order_id": "O9"}})
    assert rekey.status_code == 422
    bad_filter = setup.api.get("/api/v1/datamodel/lines", params={"filter": "qty=many"})
    assert bad_filter.json()["detail"][0]["loc"] == ["query", "filter", "qty"]


def test_records_filter_by_typed_int(setup: Setup) -> None:
    for i, qty in enumerate((1, 2, 2)):
        setup.api.post("/api/v1/datamodel/lines", json={"data": {"line_id": f"L{i}", "qty": qty}})
    found = setup.api.get("/api/v1/datamodel/lines", params={"filter": "qty=2"}).json()
    assert [r["key"] for r in found["items"]] == ["L1", "L2"]


# -- groups ----------------------------------------------------------------------------------


def test_groups_create_and_change_members_in_bulk(setup: Setup) -> None:
    ids = [_customer(setup, f"C{i}") for i in range(5)]
    assert setup.api.post("/api/v1/groups", json={"name": "vip"}).status_code == 201
    assert setup.api.post("/api/v1/groups", json={"name": "vip"}).status_code == 409
    changed = setup.api.patch("/api/v1/groups/vip/members", json={"add": ids}).json()
    assert changed == {"added": 5, "removed": 0}
    changed = setup.api.patch(
        "/api/v1/groups/vip/members", json={"add": ids[:1], "remove": ids[3:]}
    ).json()
    assert changed == {"added": 0, "removed": 2}
    members = setup.api.get("/api/v1/groups/vip/members", params={"limit": 2}).json()
    assert members["items"] == ids[:2] and members["next"]
    rest = setup.api.get("/api/v1/groups/vip/members", params={"cursor": members["next"]}).json()
    assert rest["items"] == ids[2:3]
    assert setup.api.get("/api/v1/groups").json()[0]["members"] == 3
    assert setup.api.patch("/api/v1/groups/nope/members", json={}).status_code == 404
    unknown = setup.api.patch("/api/v1/groups/vip/members", json={"add": [999]})
    assert unknown.status_code == 422 and "999" in unknown.json()["detail"][0]["msg"]
    customer = setup.api.get(f"/api/v1/customers/{ids[0]}").json()
    assert customer["groups"] == ["vip"]


# -- flows and events ------------------------------------------------------------------------


def test_flows_list_counts_and_start(setup: Setup) -> None:
    flows = {f["name"]: f for f in setup.api.get("/api/v1/flows").json()}
    assert flows["orders"]["started"] is True and flows["paused"]["started"] is False
    ids = [_customer(setup, f"C{i}") for i in range(3)]
    started = setup.api.post(
        "/api/v1/flows/paused/start", json={"customers": ids, "data": {"why": "test"}}
    )
    assert started.status_code == 200, started.text
    assert started.json()["started"] is True and len(started.json()["journeys"]) == 3
    counts = setup.api.get("/api/v1/flows/paused").json()
    assert counts["started"] is True
    [hook] = counts["objects"]
    assert hook["outputs"] == {"out": 3} and hook["waiting"] == 0
    unknown = setup.api.post("/api/v1/flows/paused/start", json={"customers": [999]})
    assert unknown.status_code == 422
    assert setup.api.get("/api/v1/flows/nope").status_code == 404
    wrong_at = setup.api.post("/api/v1/flows/orders/start", json={"customers": ids, "at": "x"})
    assert wrong_at.json()["detail"][0]["loc"] == ["body", "at"]


def test_events_paged_by_time_and_filtered_by_kind(setup: Setup) -> None:
    system_id = _customer(setup, "C1")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with setup.store.db.write() as conn:
        add_events(
            conn,
            [
                {
                    "kind": "open" if i % 2 else "click",
                    "at": start + timedelta(minutes=i // 2),  # two events per minute
                    "customer_id": system_id,
                }
                for i in range(10)
            ],
        )
    seen, cursor = [], None
    while True:
        params: dict[str, object] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = setup.api.get("/api/v1/events", params=params).json()
        seen += [(e["at"], e["id"]) for e in page["items"]]
        cursor = page["next"]
        if not cursor:
            break
    assert len(seen) == 10 and seen == sorted(seen)
    opens = setup.api.get("/api/v1/events", params={"kind": "open"}).json()["items"]
    assert len(opens) == 5 and {e["kind"] for e in opens} == {"open"}
    window = setup.api.get(
        "/api/v1/events",
        params={"since": "2026-01-01T00:01:00Z", "until": "2026-01-01T00:03:00Z"},
    ).json()["items"]
    assert len(window) == 4


def test_healthz(setup: Setup) -> None:
    answer = setup.client(None).get("/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "ok", "database": "ok"}


def test_openapi_describes_profile_fields(setup: Setup) -> None:
    doc = setup.client(None).get("/openapi.json").json()
    create = doc["components"]["schemas"]["CustomerCreate"]
    assert create["additionalProperties"] is False
    assert {"type": "string", "format": "date"} in create["properties"]["birthday"]["anyOf"]
    assert "/webhooks/{endpoint}" in doc["paths"]
    assert "/api/v1/datamodel/{collection}/{key}" in doc["paths"]


def test_an_unknown_query_parameter_is_refused_naming_the_known_ones(setup: Setup) -> None:
    answer = setup.api.get("/api/v1/customers?customr=1")
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["query", "customr"]
    assert "known: cursor, email, external_id, limit" in problem["msg"]
    assert setup.api.get("/api/v1/customers?email=a@example.com&limit=5").status_code == 200


def test_group_delete(setup: Setup) -> None:
    assert setup.api.post("/api/v1/groups", json={"name": "vip"}).status_code == 201
    made = setup.api.post("/api/v1/customers", json={"external_id": "c-1"}).json()
    setup.api.patch("/api/v1/groups/vip/members", json={"add": [made["system_id"]]})
    gone = setup.api.delete("/api/v1/groups/vip")
    assert gone.status_code == 200 and gone.json() == {"name": "vip", "members": 1}
    assert setup.api.delete("/api/v1/groups/vip").status_code == 404
    assert setup.api.get(f"/api/v1/customers/{made['system_id']}").json()["groups"] == []


def test_flow_start_by_external_id_or_email(setup: Setup) -> None:
    ann = setup.api.post("/api/v1/customers", json={"external_id": "c-1", "email": "a@x.nl"})
    by_key = setup.api.post("/api/v1/flows/contacts/start", json={"external_ids": ["c-1"]})
    assert by_key.status_code == 200 and len(by_key.json()["journeys"]) == 1
    by_mail = setup.api.post("/api/v1/flows/orders/start", json={"emails": ["A@X.nl"]})
    assert by_mail.status_code == 200, by_mail.text
    unknown = setup.api.post("/api/v1/flows/orders/start", json={"emails": ["b@x.nl"]})
    assert unknown.status_code == 422 and "no customers with email b@x.nl" in unknown.text
    both = setup.api.post(
        "/api/v1/flows/orders/start",
        json={"emails": ["a@x.nl"], "customers": [ann.json()["system_id"]]},
    )
    assert both.status_code == 422 and "name the customers one way" in both.text
