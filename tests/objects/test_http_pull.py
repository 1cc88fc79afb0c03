"""``import`` from an HTTP source against the Magento 2 and Salesforce stand-ins: paging to the
end (page numbers with total_count, nextRecordsUrl), "changed since the last successful pull"
kept in the database, a failure mid-way leaving nothing and the next pull resuming without
duplicates, and rejects as for CSV files."""

from __future__ import annotations

import pytest
from http_target import Campaign
from sqlalchemy import func, select
from vendors.magento import FILTER, SC, Magento
from vendors.salesforce import VERSION, Salesforce

from engine.errors import FlowError
from engine.http.oauth import forget_tokens
from engine.store.models import CUSTOMERS

SETTINGS = """\
timezone: UTC
profile: {first_name: str, newsletter: bool}
http: {allow_private: true}
connections:
  magento:
    type: bearer
    base_url: BASE
    token: ${MAGENTO_TOKEN}
"""
PULL = f"""\
objects:
  customers:
    type: import
    connection: magento
    from: /rest/V1/customers/search
    query:
      "{FILTER}[field]": updated_at
      "{FILTER}[value]": "{{{{ since }}}}"
      "{FILTER}[conditionType]": gt
      "{SC}[pageSize]": 100
    items: items
    paginate: {{page: "{SC}[currentPage]", total: total_count}}
    since: {{field: updated_at, initial: "1970-01-01 00:00:00"}}
    key: external_id
    columns:
      id: external_id
      email: email
      firstname: first_name
      extension_attributes.is_subscribed: newsletter
    continue: [new, changed, unchanged]
"""


@pytest.fixture
def magento(monkeypatch):
    stand_in = Magento(customers=250)
    monkeypatch.setenv("MAGENTO_TOKEN", stand_in.token)
    yield stand_in
    stand_in.close()


def _run(make_project, store_for, magento, flow=PULL, *, store=None):
    project = make_project(SETTINGS.replace("BASE", magento.base_url), {"pull": flow})
    run = Campaign(project, store or store_for(project), "pull", [])
    return run


def _count(run) -> int:
    with run.store.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(CUSTOMERS)).scalar_one())


def _pages(magento) -> list[str | None]:
    return [c.arg(f"{SC}[currentPage]") for c in magento.to("/rest/V1/customers/search")]


def test_pages_to_the_end_and_then_only_what_changed(make_project, store_for, magento):
    run = _run(make_project, store_for, magento)
    run.run()
    assert _pages(magento) == ["1", "2", "3"]  # 250 items, 100 a page; total_count ends it
    assert _count(run) == 250
    assert run.customer("2")["newsletter"] is True and run.customer("2")["first_name"] == "Mia2"
    assert all(c.headers["authorization"] == f"Bearer {magento.token}" for c in magento.calls)
    magento.calls.clear()
    magento.counts["customers"] = 260  # ten changed since
    run.runtime.stop("pull")
    run.run()
    [call] = magento.to("/rest/V1/customers/search")
    assert call.arg(f"{FILTER}[value]") == "2026-01-01 00:04:10"  # the newest seen before
    assert _count(run) == 260
    run.close()


def test_a_failure_mid_way_stores_nothing_and_the_next_pull_resumes(
    make_project, store_for, magento
):
    run = _run(make_project, store_for, magento, PULL + "    backoff: 1s\n")
    magento.calls.clear()
    # page 2 fails on every try (1 + 3 retries): the pull stops, nothing commits
    run.runtime.start("pull")
    original = magento.answer

    def failing(call):
        if call.arg(f"{SC}[currentPage]") == "2" and failing.left:
            failing.left -= 1
            from vendors import Answer

            return Answer(503, {"message": "Service Unavailable"})
        return original(call)

    failing.left = 4
    magento.answer = failing
    run.runtime.fire_due()
    run.runtime.run_until_idle()
    assert _count(run) == 0
    events = run.events("failed")
    assert events and "HTTP 503 after 4 tries" in events[-1].data["reason"]
    assert "next pull asks again from the same point" in events[-1].data["reason"]
    # the next pull (the flow started again) reads everything once
    run.runtime.stop("pull")
    run.run()
    assert _count(run) == 250
    run.close()


def test_items_that_do_not_fit_are_rejected_as_in_csv_imports(make_project, store_for, magento):
    flow = PULL.replace("extension_attributes.is_subscribed: newsletter", "email: newsletter")
    flow = flow.replace("      email: email\n", "")
    run = _run(make_project, store_for, magento, flow)
    run.run()
    assert _count(run) == 0  # every row has a bad bool: more than max_rejects (0)
    [event] = run.events("failed")
    assert "newsletter" in event.data["reason"]
    run.close()


def test_settings_of_an_http_source_are_checked(make_project, store_for, magento):
    with pytest.raises(FlowError, match="needs columns"):
        _run(make_project, store_for, magento, PULL.split("    columns:")[0])
    with pytest.raises(FlowError, match="works with files"):
        _run(make_project, store_for, magento, PULL + "    delimiter: ';'\n")


@pytest.fixture
def salesforce(monkeypatch):
    forget_tokens()
    stand_in = Salesforce(page_size=40)
    monkeypatch.setenv("SF_CLIENT_ID", stand_in.client_id)
    monkeypatch.setenv("SF_CLIENT_SECRET", stand_in.client_secret)
    yield stand_in
    stand_in.close()
    forget_tokens()


def test_a_soql_pull_follows_next_records_url(make_project, store_for, salesforce):
    salesforce.queried = [
        {
            "Id": f"003{i:012d}",
            "Email": f"s{i}@example.com",
            "FirstName": f"Sam{i}",
            "LastModifiedDate": f"2026-02-01T10:{i // 60:02d}:{i % 60:02d}.000+0000",
        }
        for i in range(100)
    ]
    settings = f"""\
timezone: UTC
profile: {{first_name: str}}
http: {{allow_private: true}}
connections:
  salesforce:
    type: oauth2
    token_url: {salesforce.base_url}/services/oauth2/token
    client_id: ${{SF_CLIENT_ID}}
    client_secret: ${{SF_CLIENT_SECRET}}
    base_url: {salesforce.base_url}
"""
    flow = f"""\
objects:
  contacts:
    type: import
    connection: salesforce
    from: /services/data/{VERSION}/query
    query:
      q: "SELECT Id, Email, FirstName, LastModifiedDate FROM Contact WHERE LastModifiedDate > {{{{ since }}}} ORDER BY LastModifiedDate"
    items: records
    paginate: {{cursor: nextRecordsUrl}}
    since: {{field: LastModifiedDate, initial: "1970-01-01T00:00:00Z"}}
    key: external_id
    columns: {{Id: external_id, Email: email, FirstName: first_name}}
"""
    project = make_project(settings, {"pull": flow})
    run = Campaign(project, store_for(project), "pull", [])
    run.run()
    assert _count(run) == 100
    paths = [c.path for c in salesforce.calls if c.path.startswith("/services/data")]
    assert paths[0].endswith("/query") and len(paths) == 3  # 40 + 40 + 20
    assert all(p.startswith(f"/services/data/{VERSION}/query/") for p in paths[1:])
    run.close()


def _failing(magento, page: str, *answers):
    """Page ``page`` answers ``answers`` (status, headers) in turn, then as the stand-in does."""
    from vendors import Answer

    original, left = magento.answer, list(answers)

    def answer(call):
        if call.arg(f"{SC}[currentPage]") == page and left:
            status, headers = left.pop(0)
            return Answer(status, {"message": f"planned {status}"}, headers)
        return original(call)

    magento.answer = answer


def test_transient_failures_are_tried_again_with_the_objects_backoff(
    make_project, store_for, magento
):
    # a 503 and a 429 (Retry-After: 3) on page 2, then it answers: 3 + 2 calls in all
    run = _run(make_project, store_for, magento, PULL + "    backoff: 2s\n    retries: 2\n")
    _failing(magento, "2", (503, {}), (429, {"Retry-After": "3"}))
    started = run.clock.now()
    run.run()
    assert _pages(magento) == ["1", "2", "2", "2", "3"]
    assert _count(run) == 250 and run.events("failed") == []
    waited = (run.clock.now() - started).total_seconds()
    assert (
        2 + 3 <= waited < 2 * 1.25 + 3 + 1
    )  # the backoff (jitter adds up to a quarter), then Retry-After
    run.close()


def test_one_try_too_many_fails_the_pull_with_the_tries(make_project, store_for, magento):
    run = _run(make_project, store_for, magento, PULL + "    backoff: 1s\n    retries: 1\n")
    _failing(magento, "1", (502, {}), (502, {}))
    run.run()
    assert _pages(magento) == ["1", "1"]  # the first try and one retry
    [event] = run.events("failed")
    assert "HTTP 502 after 2 tries" in event.data["reason"] and _count(run) == 0
    run.close()


def test_a_long_wait_fires_the_pull_again_after_it(make_project, store_for, magento):
    # Retry-After: 120 is longer than a pull waits out: the pull stops, nothing is stored,
    # and the firing is due again 120 s later, when it reads everything
    from datetime import timedelta

    run = _run(make_project, store_for, magento)
    _failing(magento, "2", (503, {"Retry-After": "120"}))
    run.run()
    assert _pages(magento) == ["1", "2"] and _count(run) == 0
    [event] = run.events("failed")
    assert "HTTP 503" in event.data["reason"] and "goes again in 2m" in event.data["reason"]
    assert event.data["tries"] == 1
    run.clock.advance(timedelta(seconds=119))
    assert run.runtime.fire_due() == 0 and _count(run) == 0
    run.clock.advance(timedelta(seconds=1))
    run.runtime.fire_due()
    assert _pages(magento) == ["1", "2", "1", "2", "3"] and _count(run) == 250
    run.close()


def test_a_permanent_answer_fails_at_once(make_project, store_for, magento):
    run = _run(make_project, store_for, magento)
    _failing(magento, "2", (400, {}))
    run.run()
    assert _pages(magento) == ["1", "2"]  # no retry of a 400
    [event] = run.events("failed")
    assert "HTTP 400" in event.data["reason"] and "tries" not in event.data
    assert _count(run) == 0
    run.close()


@pytest.fixture
def unsure(monkeypatch):
    """Every fifth customer of the stand-in has a newsletter flag that is not a bool."""
    from vendors import magento as vendor

    plain = vendor.customer

    def customer(i):
        found = plain(i)
        if i % 5 == 0:
            found["extension_attributes"] = {"is_subscribed": "maybe"}
        return found

    monkeypatch.setattr(vendor, "customer", customer)


def test_rejected_items_go_to_a_rejects_file_as_for_csv_imports(
    make_project, store_for, magento, unsure
):
    run = _run(make_project, store_for, magento, PULL + "    max_rejects: 100\n")
    run.run()
    assert _count(run) == 200  # within max_rejects the rest is imported
    rejects = run.project.root / "rejects" / "pull.customers.rejects.csv"
    lines = rejects.read_text().splitlines()
    assert lines[0] == "row,column,reason,id,email,firstname,extension_attributes.is_subscribed"
    assert len(lines) == 1 + 50
    assert lines[1].startswith("5,extension_attributes.is_subscribed,")
    assert lines[1].endswith(",5,m5@example.com,Mia5,maybe")
    run.close()


def test_too_many_rejects_import_nothing_and_still_list_them(
    make_project, store_for, magento, unsure
):
    flow = PULL + "    max_rejects: 2\n    rejects: pulled/bad-customers.csv\n"
    run = _run(make_project, store_for, magento, flow)
    run.run()
    assert _count(run) == 0
    [event] = run.events("failed")
    assert "more than 2 row(s) rejected" in event.data["reason"]
    assert "bad-customers.csv" in event.data["reason"]
    lines = (run.project.root / "pulled" / "bad-customers.csv").read_text().splitlines()
    assert len(lines) == 1 + 3  # the header, and the rejects up to the one too many
    run.close()


def test_a_pull_that_stops_early_stops_reading_ahead(make_project, store_for, magento, unsure):
    """Pages are read on a thread ahead of the storing; when the import stops (too many
    rejects in its first chunk), the reader stops too, within the pages it may read ahead."""
    import threading

    from engine.files.imports import CHUNK
    from engine.pull.pages import AHEAD

    magento.counts["customers"] = 10_000  # 100 pages; the first chunk already fails
    run = _run(make_project, store_for, magento, PULL + "    max_rejects: 2\n")
    run.run()
    assert _count(run) == 0
    assert len(_pages(magento)) <= CHUNK // 100 + AHEAD + 2 < 100
    assert not [t for t in threading.enumerate() if t.name == "sluis-pull"]
    run.close()


def test_nested_records_must_be_able_to_keep_their_parents_key(make_project, store_for, magento):
    settings = SETTINGS.replace(
        "connections:",
        "datamodel:\n"
        "  orders: {key: order_id, fields: {order_id: str}}\n"
        "  lines: {key: line_id, fields: {line_id: str, sku: str}}\n"
        "connections:",
    )
    flow = """\
objects:
  orders:
    type: import
    connection: magento
    from: /rest/V1/orders
    into: orders
    items: items
    columns: {entity_id: order_id}
    records:
      - {collection: lines, path: items, columns: {item_id: line_id, sku: sku}}
"""
    from engine.model.flow import load_flow

    def load(settings, flow):
        project = make_project(settings.replace("BASE", magento.base_url), {"pull": flow})
        return load_flow(project.flows_dir / "pull.yaml", project)

    with pytest.raises(FlowError, match="collection 'lines' has no field 'order_id'"):
        load(settings, flow)
    settings = settings.replace("sku: str", "sku: str, order_id: str")
    with pytest.raises(FlowError, match="'skus' is not a field of collection 'lines'"):
        load(settings, flow.replace("sku: sku", "sku: skus"))
    assert load(settings, flow).objects["orders"]


MID_FLOW = f"""\
objects:
  everyone:
    type: selection
    next: customers
  customers:
    type: import
    connection: magento
    from: /rest/V1/customers/search
    query:
      "{SC}[pageSize]": 100
    items: items
    paginate: {{page: "{SC}[currentPage]", total: total_count}}
    key: external_id
    columns:
      id: external_id
      email: email
    retries: 2
    backoff: 10s
"""


def test_an_import_reached_by_journeys_holds_them_after_a_transient_failure(
    make_project, store_for, magento
):
    # the pull runs in the batch's commit: a 503 with Retry-After: 120 holds the journeys
    # for 120 s (not failed), nothing is stored, and the next try imports everything
    from datetime import timedelta

    project = make_project(SETTINGS.replace("BASE", magento.base_url), {"pull": MID_FLOW})
    run = Campaign(project, store_for(project), "pull", [{"external_id": "seed"}])
    _failing(magento, "2", (503, {"Retry-After": "120"}))
    run.run()
    assert _pages(magento) == ["1", "2"] and _count(run) == 1
    assert run.events("failed") == []
    run.clock.advance(timedelta(seconds=119))
    run.runtime.run_until_idle()
    assert _pages(magento) == ["1", "2"]  # not sooner than the other side asked
    run.clock.advance(timedelta(seconds=1))
    run.runtime.run_until_idle()
    assert _pages(magento) == ["1", "2", "1", "2", "3"] and _count(run) == 251
    assert run.events("failed") == []
    run.close()
