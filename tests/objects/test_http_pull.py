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
from engine.store.customers import CUSTOMERS

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
    run = _run(make_project, store_for, magento)
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
