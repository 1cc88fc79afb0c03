"""The API's customer search with an expression (``GET /api/v1/customers?where=...``): run in
the database, paged by cursor; an expression that cannot run there is a 422 naming it."""

from __future__ import annotations

from api_helpers import Setup


def _customer(setup: Setup, external_id: str, **fields: object) -> int:
    answer = setup.api.post("/api/v1/customers", json={"external_id": external_id, **fields})
    assert answer.status_code in (200, 201), answer.text
    return int(answer.json()["system_id"])


def test_customers_found_by_an_expression_page_by_page(setup: Setup) -> None:
    ann = _customer(setup, "C1", first_name="Ann", newsletter=True)
    _customer(setup, "C2", first_name="Bob", newsletter=False)
    cy = _customer(setup, "C3", first_name="Cy", newsletter=True)
    where = {"where": "customer.newsletter == true", "limit": 1}
    first = setup.api.get("/api/v1/customers", params=where).json()
    assert [c["system_id"] for c in first["items"]] == [ann]
    second = setup.api.get("/api/v1/customers", params={**where, "cursor": first["next"]}).json()
    assert [c["system_id"] for c in second["items"]] == [cy]
    assert second["next"] is None


def test_an_expression_that_cannot_run_in_the_database_is_a_422(setup: Setup) -> None:
    answer = setup.api.get("/api/v1/customers", params={"where": "customer.first_name < 3"})
    assert answer.status_code == 422
    assert "cannot compare text with number" in answer.text
